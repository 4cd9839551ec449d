#!/usr/bin/env python3
"""Signed requests made by botocore itself, as test vectors for tollgate-sigv4.

Each request is what botocore would put on the wire: it is built and signed by a real
botocore client (its own serializers, checksum and aws-chunked code, SigV4 signers) and
caught in the `before-send` event, just before the HTTP send, so nothing leaves the machine.
Presigned URLs come from `generate_presigned_url`. The output (gzipped JSON, a list of
vectors) is committed as `tests/data/botocore-vectors.json.gz`, so the Rust tests run
without Python; `tests/botocore.rs` also reruns this script when the project's `.venv`
exists, so a botocore upgrade is checked against fresh signatures.

Usage: botocore_vectors.py OUT.json.gz
CRC32C and CRC64NVME trailers need awscrt (botocore[crt]); without it those cases are left
out and the script says so on stderr.
"""

import base64
import gzip
import json
import sys
from urllib.parse import urlsplit

import botocore
import botocore.session
from botocore.compat import HAS_CRT
from botocore.config import Config

AKID = "ASIATOLLGATETEST0001"
SECRET = "tollgate/test+secret/key/not/an/aws/key0"
TOKEN = "tollgate-session-token/for+tests=="
REGION = "us-east-1"

# A body over botocore's 1 MiB aws-chunked chunk size, so uploads span several chunks.
BIG = bytes((i * 7 + 3) % 251 for i in range(1024 * 1024 + 300))


class Captured(Exception):
    def __init__(self, vector):
        self.vector = vector


def host_of(url):
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    if parts.port is None or parts.port == default:
        return parts.hostname
    return f"{parts.hostname}:{parts.port}"


def body_bytes(body):
    if body is None:
        return b""
    if hasattr(body, "read"):
        return body.read()
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


def capture(request, **_):
    parts = urlsplit(request.url)
    # urllib3 sends Host from the URL unless the signer set it (the CRT signer, used when
    # awscrt is installed, does).
    headers = [] if "host" in request.headers else [["host", host_of(request.url)]]
    for name, value in request.headers.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        headers.append([name, value])
    raise Captured(
        {
            "method": request.method,
            "path": parts.path,
            "query": parts.query,
            "headers": headers,
            "body_b64": base64.b64encode(body_bytes(request.body)).decode("ascii"),
        }
    )


SESSION = botocore.session.get_session()
CLIENTS = {}


def client(service, endpoint, **config):
    key = (service, endpoint, tuple(sorted(config.items())))
    if key in CLIENTS:
        return CLIENTS[key]
    c = SESSION.create_client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )
    c.meta.events.register("before-send", capture)
    CLIENTS[key] = c
    return c


vectors = []


def call(name, service, endpoint, op, params, expect_body=None, **config):
    c = client(service, endpoint, **config)
    try:
        getattr(c, op)(**params)
    except Captured as done:
        v = done.vector
    else:
        raise SystemExit(f"{name}: botocore sent nothing")
    v.update(name=name, service=service, operation=op)
    if expect_body is not None:
        v["decoded_b64"] = base64.b64encode(expect_body).decode("ascii")
    vectors.append(v)


def presign(name, service, endpoint, op, params, method="GET", expires=900, body=b"", sigv4=True):
    # botocore presigns S3 URLs with SigV2 unless told otherwise; SigV2 is kept for one
    # vector, which the verifier must refuse.
    c = client(service, endpoint, **({"signature_version": "s3v4"} if sigv4 and service == "s3" else {}))
    url = c.generate_presigned_url(op, Params=params, ExpiresIn=expires, HttpMethod=method)
    parts = urlsplit(url)
    vectors.append(
        {
            "name": name,
            "service": service,
            "operation": op,
            "method": method,
            "path": parts.path,
            "query": parts.query,
            "headers": [["host", host_of(url)]],
            "body_b64": base64.b64encode(body).decode("ascii"),
        }
    )


HTTPS = "https://tollgate.example.com/aws"
HTTP = "http://127.0.0.1:3000/aws/"
ROOT = "https://tollgate.example.com"

# JSON, query, ec2 and rest-json services, with both base-path spellings.
for base in (HTTPS, HTTP, ROOT):
    tag = {HTTPS: "https-aws", HTTP: "http-aws-slash", ROOT: "root"}[base]
    call(f"dynamodb-getitem-{tag}", "dynamodb", base, "get_item",
         {"TableName": "orders", "Key": {"id": {"S": "42 + ü"}}})
    call(f"sts-getcalleridentity-{tag}", "sts", base, "get_caller_identity", {})
call("iam-getuser-plus", "iam", HTTPS, "get_user", {"UserName": "a+b=c"})
call("ec2-describeinstances-filters", "ec2", HTTPS, "describe_instances",
     {"Filters": [{"Name": "tag:env", "Values": ["prod & test", "ü/ß"]}]})
call("sqs-listqueues", "sqs", HTTPS, "list_queues", {"QueueNamePrefix": "a b"})
call("lambda-invoke-arn-label", "lambda", HTTPS, "invoke",
     {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fn", "Qualifier": "v1",
      "InvocationType": "RequestResponse", "Payload": b'{"k": "v"}'})
call("lambda-getfunction-dots", "lambda", HTTP, "get_function", {"FunctionName": "a..b"})
# A label with every reserved character: `/` goes on the wire as %2F, `%` as %25, and the
# canonical URI encodes them again.
call("lambda-getfunction-reserved", "lambda", HTTPS, "get_function",
     {"FunctionName": "a/b?c%d e+f#g", "Qualifier": "x y+z/1"})
call("logs-filter-json", "logs", HTTPS, "filter_log_events",
     {"logGroupName": "/aws/lambda/x", "filterPattern": "\"ERROR\" ?x"})

# S3 object keys with every character that trips path handling.
KEYS = {
    "slash": "dir/sub/file.txt",
    "double-slash": "dir//file",
    "dots": "a/./b/../c",
    "dotdot-start": "../up",
    "leading-slash": "/lead",
    "pct2f": "a%2Fb",
    "question": "q?x=1&y",
    "percent": "100%",
    "space": "space name.txt",
    "plus": "plus+sign",
    "unicode": "unicodé/ключ/🦀",
    "tilde-star": "~tilde*(x)!",
    "hash": "#frag",
}
for tag, key in KEYS.items():
    # https: botocore's default CRC32 trailer over aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
    call(f"s3-putobject-trailer-{tag}", "s3", HTTPS, "put_object",
         {"Bucket": "bkt", "Key": key, "Body": b"hello " + tag.encode()},
         expect_body=b"hello " + tag.encode())
    call(f"s3-getobject-{tag}", "s3", HTTP, "get_object", {"Bucket": "bkt", "Key": key})
    presign(f"s3-presigned-get-{tag}", "s3", HTTPS, "get_object", {"Bucket": "bkt", "Key": key})

call("s3-putobject-trailer-big", "s3", HTTPS, "put_object",
     {"Bucket": "bkt", "Key": "big.bin", "Body": BIG}, expect_body=BIG)
call("s3-putobject-trailer-empty", "s3", HTTPS, "put_object",
     {"Bucket": "bkt", "Key": "empty", "Body": b""}, expect_body=b"")
call("s3-putobject-trailer-gzip", "s3", HTTPS, "put_object",
     {"Bucket": "bkt", "Key": "z.gz", "Body": b"gz", "ContentEncoding": "gzip"}, expect_body=b"gz")
algorithms = ["SHA1", "SHA256", "SHA512"] + (["CRC32C", "CRC64NVME"] if HAS_CRT else [])
if not HAS_CRT:
    print("awscrt not installed: no CRC32C/CRC64NVME trailer vectors", file=sys.stderr)
for alg in algorithms:
    call(f"s3-putobject-trailer-{alg.lower()}", "s3", HTTPS, "put_object",
         {"Bucket": "bkt", "Key": "k", "Body": b"checksummed " + alg.encode(), "ChecksumAlgorithm": alg},
         expect_body=b"checksummed " + alg.encode())
# http: the body's SHA-256 signed, the checksum in a header.
call("s3-putobject-signed-http", "s3", HTTP, "put_object",
     {"Bucket": "bkt", "Key": "dir/a b+c.txt", "Body": b"signed body"}, expect_body=b"signed body")
# https with checksums only when required: the body's SHA-256 signed.
call("s3-putobject-when-required", "s3", HTTPS, "put_object",
     {"Bucket": "bkt", "Key": "k", "Body": b"plain"}, expect_body=b"plain",
     request_checksum_calculation="when_required")
call("s3-listobjectsv2-query", "s3", HTTPS, "list_objects_v2",
     {"Bucket": "bkt", "Prefix": "a b/+ü", "Delimiter": "/", "ContinuationToken": "tok+en=="})
call("s3-deleteobjects", "s3", HTTPS, "delete_objects",
     {"Bucket": "bkt", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b c"}]}})
presign("s3-presigned-put", "s3", HTTPS, "put_object", {"Bucket": "bkt", "Key": "up/load.bin"},
        method="PUT", body=b"uploaded through a presigned URL")
presign("s3-presigned-get-week", "s3", HTTPS, "get_object", {"Bucket": "bkt", "Key": "k"},
        expires=7 * 24 * 3600)
presign("s3-presigned-sigv2", "s3", HTTPS, "get_object", {"Bucket": "bkt", "Key": "k"}, sigv4=False)
presign("sts-presigned-getcalleridentity", "sts", HTTPS, "get_caller_identity", {})

out = {
    "botocore": botocore.__version__,
    "access_key_id": AKID,
    "secret_access_key": SECRET,
    "session_token": TOKEN,
    "vectors": vectors,
}
with gzip.open(sys.argv[1], "wt", encoding="utf-8", compresslevel=9) as f:
    json.dump(out, f, indent=1, sort_keys=True)
print(f"wrote {len(vectors)} vectors to {sys.argv[1]}", file=sys.stderr)
