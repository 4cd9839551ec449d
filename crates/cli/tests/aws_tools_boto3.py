"""boto3, configured only by the environment `eval "$(tollgate env)"` left (or a profile with
`credential_process = tollgate credentials`): one scenario step per run, named by argv[1],
printing one JSON line. Errors come out as {"error": code, "message": ..., "status": ...}."""

import datetime
import json
import sys

import boto3
import botocore.auth
import botocore.exceptions


def client(service):
    return boto3.client(service)


def run(step, arg):
    if step == "reads":
        return {
            "tables": client("dynamodb").list_tables()["TableNames"],
            "account": client("sts").get_caller_identity()["Account"],
            "reservations": client("ec2").describe_instances()["Reservations"],
            "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        }
    if step == "put":
        bucket, key, path = arg.split(",")
        with open(path, "rb") as f:
            body = f.read()
        client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        return {"put": key}
    if step == "get":
        bucket, key, path = arg.split(",")
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        with open(path, "wb") as f:
            f.write(body)
        return {"bytes": len(body)}
    if step == "presigned-get":
        # A presigned URL, fetched by a plain HTTP client that holds no credentials; then the
        # same URL for another key, which its signature does not cover.
        import urllib.error
        import urllib.request
        from botocore.config import Config
        bucket, key, path = arg.split(",")
        v4 = boto3.client("s3", config=Config(signature_version="s3v4"))
        url = v4.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        with urllib.request.urlopen(url) as r:
            body = r.read()
        with open(path, "wb") as f:
            f.write(body)
        tampered = url.replace(f"/{key}?", f"/other-{key}?", 1)
        try:
            urllib.request.urlopen(tampered)
            refused = None
        except urllib.error.HTTPError as e:
            refused = {"status": e.code, "body": e.read().decode()}
        # boto3's default presigner for S3 signs with SigV2: refused by name.
        v2 = client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        try:
            urllib.request.urlopen(v2)
            sigv2 = None
        except urllib.error.HTTPError as e:
            sigv2 = {"status": e.code, "body": e.read().decode()}
        return {"bytes": len(body), "presigned": "X-Amz-Signature=" in url,
                "tampered": refused, "sigv2": sigv2, "sigv2_url": "AWSAccessKeyId=" in v2}
    if step == "retried-delete":
        # botocore's own retry of the held call, as after a lost answer: the same request
        # re-signed with the same amz-sdk-invocation-id and `attempt=2`.
        ddb = client("dynamodb")
        seen = []

        def retry_once(**kwargs):
            seen.append(kwargs.get("attempts"))
            return 0 if len(seen) == 1 else None

        sent = []
        ddb.meta.events.register("needs-retry.dynamodb.DeleteTable", retry_once)
        ddb.meta.events.register(
            "before-send.dynamodb.DeleteTable",
            lambda request, **_: sent.append(
                (request.headers.get("amz-sdk-invocation-id"), request.headers.get("amz-sdk-request"))) and None)
        try:
            ddb.delete_table(TableName=arg)
            return {"error": None}
        except botocore.exceptions.ClientError as e:
            err = e.response.get("Error", {})
            return {"error": err.get("Code"), "message": err.get("Message"),
                    "sent": [[i.decode() if isinstance(i, bytes) else i,
                              r.decode() if isinstance(r, bytes) else r] for i, r in sent]}
    if step == "skewed":
        # A clock 10 minutes fast: botocore signs with it.
        real = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda: real() + datetime.timedelta(minutes=10)
        return {"tables": client("dynamodb").list_tables()["TableNames"]}
    if step == "fixture-bucket":
        # Straight to the emulator, as a test fixture (not through Tollgate).
        endpoint, bucket = arg.split(",")
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", aws_session_token=None,
                          region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        return {"bucket": bucket}
    if step == "list-tables":
        return {"tables": client("dynamodb").list_tables()["TableNames"]}
    raise SystemExit(f"unknown step {step}")


def main():
    step = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else ""
    try:
        out = run(step, arg)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        out = {
            "error": err.get("Code"),
            "message": err.get("Message"),
            "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            "attempts": e.response.get("ResponseMetadata", {}).get("RetryAttempts"),
        }
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
