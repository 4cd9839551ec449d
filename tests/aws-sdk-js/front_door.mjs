// The AWS SDK for JavaScript v3, configured only by the environment `eval "$(tollgate env)"`
// left: one scenario step per run, named by argv[2], printing one JSON line. Service errors
// come out as {"error": name, "message": ..., "status": ...}.
import { createReadStream, statSync, writeFileSync } from "node:fs";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { S3Client, GetObjectCommand, ListBucketsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const [step, arg = ""] = process.argv.slice(2);

async function run() {
  if (step === "reads") {
    const tables = await new DynamoDBClient({}).send(new ListTablesCommand({}));
    const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    const buckets = await new S3Client({}).send(new ListBucketsCommand({}));
    return { tables: tables.TableNames, account: who.Account, buckets: (buckets.Buckets ?? []).map((b) => b.Name) };
  }
  if (step === "put") {
    const [bucket, key, path] = arg.split(",");
    // A stream: the SDK's default for it is aws-chunked with a CRC32 checksum trailer.
    await new S3Client({}).send(new PutObjectCommand({
      Bucket: bucket, Key: key, Body: createReadStream(path), ContentLength: statSync(path).size,
    }));
    return { put: key };
  }
  if (step === "get") {
    const [bucket, key, path] = arg.split(",");
    const out = await new S3Client({}).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await out.Body.transformToByteArray();
    writeFileSync(path, bytes);
    return { bytes: bytes.length };
  }
  throw new Error(`unknown step ${step}`);
}

try {
  console.log(JSON.stringify(await run()));
} catch (e) {
  if (!e.$metadata) throw e;
  console.log(JSON.stringify({ error: e.name, message: e.message, status: e.$metadata.httpStatusCode }));
}
