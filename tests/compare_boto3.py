"""Compares Tollgate's answers with boto3's for the same calls against the same emulator.

Run as `compare_boto3.py ENDPOINT`; reads one call per line on stdin and answers each with
one line {"ok": bool, "detail": str}, so the caller can interleave its own calls. A call is
  {"service": botocore name, "operation": "GetObject", "params": {...}, "tollgate": answer,
   "mode": "equal" | "shape", "boto3_params": {...} (shape mode), "ignore": [keys]}
where `answer` is Tollgate's result object, or {"error": {"code", ...}} when the call failed.

"equal": boto3 makes the same call; the answers must be equal after normalisation
(timestamps to epoch seconds, bytes and streams to base64, ResponseMetadata dropped, ignored
keys dropped). "shape": boto3 makes the call with `boto3_params` (other names, since the call
changes state); the answers must have the same keys and value types at every depth.

"""

import base64
import datetime
import json
import sys

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.response import StreamingBody

MASK = "****MASKED****"


def to_epoch(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return round(v.timestamp(), 3)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(float(v), 3)
    if isinstance(v, str):
        s = v.replace("Z", "+00:00")
        try:
            d = datetime.datetime.fromisoformat(s)
        except ValueError:
            try:
                d = datetime.datetime.strptime(v, "%a, %d %b %Y %H:%M:%S %Z")
            except ValueError:
                return v
        if d.tzinfo is None:
            d = d.replace(tzinfo=datetime.timezone.utc)
        return round(d.timestamp(), 3)
    return v


def normalise(v, ignore, ref=None):
    """boto3's value `v` as JSON; `ref` is Tollgate's counterpart, used to tell timestamps."""
    if isinstance(v, dict):
        return {k: normalise(x, ignore, (ref or {}).get(k) if isinstance(ref, dict) else None)
                for k, x in v.items() if k not in ignore and k != "ResponseMetadata"}
    if isinstance(v, list):
        refs = ref if isinstance(ref, list) else []
        return [normalise(x, ignore, refs[i] if i < len(refs) else None) for i, x in enumerate(v)]
    if isinstance(v, StreamingBody):
        return base64.b64encode(v.read()).decode()
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, datetime.datetime):
        return to_epoch(v)
    return v


def tollgate_side(v, ignore, ref):
    if isinstance(v, dict):
        return {k: tollgate_side(x, ignore, (ref or {}).get(k) if isinstance(ref, dict) else None)
                for k, x in v.items() if k not in ignore}
    if isinstance(v, list):
        refs = ref if isinstance(ref, list) else []
        return [tollgate_side(x, ignore, refs[i] if i < len(refs) else None) for i, x in enumerate(v)]
    if isinstance(ref, float) or isinstance(ref, int) and not isinstance(ref, bool):
        # boto3 produced a number here (a timestamp or a number): compare as numbers.
        return to_epoch(v)
    return v


def mask_like(boto, tollgate):
    """Where Tollgate masked a secret, the boto3 side is masked too before comparing."""
    if isinstance(boto, dict) and isinstance(tollgate, dict):
        return {k: mask_like(v, tollgate.get(k)) for k, v in boto.items()}
    if isinstance(boto, list) and isinstance(tollgate, list):
        return [mask_like(v, tollgate[i] if i < len(tollgate) else None) for i, v in enumerate(boto)]
    if tollgate == MASK:
        return MASK
    return boto


def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


def call(client, operation, params):
    method = getattr(client, xform_name(operation))
    try:
        return {"ok": method(**params)}
    except client.exceptions.ClientError as e:
        return {"error": {"code": e.response["Error"]["Code"]}}


def compare(clients, endpoint, c):
    svc = c["service"]
    if svc not in clients:
        clients[svc] = boto3.client(
            svc, endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            # Checksums only when the API requires them, as Tollgate sends: botocore's default
            # (always) would add checksum members the call as made never returns.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))
    ignore = set(c.get("ignore", []))
    mode = c.get("mode", "equal")
    params = c["params"] if mode == "equal" else c["boto3_params"]
    got = call(clients[svc], c["operation"], params)
    ours = c["tollgate"]
    if "error" in ours or "error" in got:
        ok = ours.get("error", {}).get("code") == got.get("error", {}).get("code")
        return ok, f"tollgate {ours.get('error')} boto3 {got.get('error')}"
    theirs = normalise(got["ok"], ignore, ours)
    mine = tollgate_side(ours, ignore, theirs)
    if mode == "equal":
        theirs = mask_like(theirs, mine)
    else:
        theirs, mine = shape(theirs), shape(mine)
    ok = theirs == mine
    detail = "" if ok else (f"tollgate: {json.dumps(mine, sort_keys=True, default=str)} "
                            f"boto3: {json.dumps(theirs, sort_keys=True, default=str)}")
    return ok, detail


def main():
    endpoint = sys.argv[1]
    clients = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            ok, detail = compare(clients, endpoint, json.loads(line))
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            ok, detail = False, f"{type(e).__name__}: {e}"
        print(json.dumps({"ok": ok, "detail": detail}), flush=True)


if __name__ == "__main__":
    main()
