#!/usr/bin/env python3
"""Generate Tollgate's compact AWS operation models from botocore's service models.

Usage:
    python3 -m venv /tmp/modvenv && /tmp/modvenv/bin/pip install botocore
    /tmp/modvenv/bin/python crates/models/gen/models.py --out crates/models/data

For every botocore service (newest API version directory) this writes
<out>/<service>.json.gz: a model stripped down to what is needed to serialize a
request and parse its response (protocol metadata, operations, shapes), plus
<out>/index.json.gz mapping IAM action prefixes to services.

The output is byte-reproducible for a given botocore version (sorted keys,
minimal separators, gzip level 9 with mtime 0 and no file name).
"""

import argparse
import collections
import gzip
import io
import json
import os
import re
import sys

import botocore
from botocore.endpoint_provider import EndpointProvider

SUPPORTED_PROTOCOLS = ("json", "query", "ec2", "rest-json", "rest-xml")

# Shape-level keys kept (everything else, notably documentation, deprecation
# text, retryable/fault hints and xmlOrder, is dropped).
SHAPE_KEYS = {
    "type", "members", "required", "member", "key", "value", "enum", "min",
    "max", "pattern", "payload", "flattened", "locationName", "xmlNamespace",
    "timestampFormat", "exception", "error", "streaming", "document", "union",
    "sensitive", "box", "wrapper", "resultWrapper", "event", "eventstream",
    "requiresLength",
}
# Keys kept on a shape reference (structure members, list member, map key/value).
REF_KEYS = {
    "shape", "location", "locationName", "queryName", "xmlNamespace",
    "xmlAttribute", "flattened", "jsonvalue", "timestampFormat", "hostLabel",
    "idempotencyToken", "eventpayload", "eventheader", "streaming",
}
ERROR_KEYS = {"code", "httpStatusCode", "senderFault"}
HTTP_KEYS = {"method", "requestUri", "responseCode"}

# IAM action prefixes that differ from the model's signingName/endpointPrefix.
# The service is listed under BOTH its signing-name prefix and these aliases,
# so `cloudwatch:PutMetricData` and `monitoring:PutMetricData` both resolve.
IAM_PREFIX_ALIASES = {
    "cloudwatch": ["cloudwatch"],            # signs as "monitoring"
    "resourcegroupstaggingapi": ["tag"],     # signs as "tagging"
    "iot-data": ["iot"],                     # signs as "iotdata"
    "iotsecuretunneling": ["iot"],           # signs as "IoTSecuredTunneling"
    "iot-jobs-data": ["iotjobsdata"],        # signs as "iot-jobs-data"
    "mturk": ["mechanicalturk"],             # signs as "mturk-requester"
    "cloudcontrol": ["cloudformation"],      # signs as "cloudcontrolapi"
}

# Endpoint rule sets are evaluated (aws partition, no FIPS, no dual-stack) for
# every aws-partition region, plus any region literal a rule set mentions, to
# derive a hostname template and its per-region exceptions.
REGION_RE = re.compile(r'"([a-z]{2}(?:-[a-z]+)+-\d+)"')


def load_json(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def find_file(directory, stem):
    for name in (stem + ".json.gz", stem + ".json"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    return None


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def gzip_bytes(raw):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as gz:
        gz.write(raw)
    return buf.getvalue()


def choose_protocol(meta):
    proto = meta.get("protocol")
    if proto in SUPPORTED_PROTOCOLS:
        return proto, None
    for p in meta.get("protocols") or []:
        if p in SUPPORTED_PROTOCOLS:
            return p, None
    return None, "no supported protocol (protocol=%r, protocols=%r)" % (proto, meta.get("protocols"))


# --------------------------------------------------------------------------
# Endpoints

def aws_partition_services(endpoints):
    for part in endpoints["partitions"]:
        if part["partition"] == "aws":
            return part["services"]
    raise SystemExit("no aws partition in endpoints.json")


def global_endpoint_from_endpoints_json(entry):
    """endpoints.json rule: a partitionEndpoint and isRegionalized false."""
    if not entry or "partitionEndpoint" not in entry:
        return None
    if entry.get("isRegionalized", True) is not False:
        return None
    ep = entry.get("endpoints", {}).get(entry["partitionEndpoint"])
    if not ep or "hostname" not in ep:
        return None
    region = ep.get("credentialScope", {}).get("region", "us-east-1")
    return {"hostname": ep["hostname"], "region": region}


class RuleResolver:
    """Resolve hostnames from a service's endpoint rule set."""

    def __init__(self, ruleset, partitions):
        self.params = ruleset.get("parameters", {})
        self.provider = EndpointProvider(ruleset, partitions)
        regions = set()
        for part in partitions["partitions"]:
            if part["id"] == "aws":
                regions.update(r for r in part["regions"] if r != "aws-global")
                aws_re = re.compile(part["regionRegex"])
        regions.update(r for r in REGION_RE.findall(json.dumps(ruleset.get("rules", [])))
                       if aws_re.match(r))
        self.regions = sorted(regions)

    def _params(self, region, extra):
        p = {}
        if "Region" in self.params:
            p["Region"] = region
        for k in ("UseFIPS", "UseDualStack", "UseGlobalEndpoint", "Accelerate", "ForcePathStyle"):
            if k in self.params:
                p[k] = False
        p.update(extra or {})
        return {k: v for k, v in p.items() if k in self.params}

    def resolve(self, region, extra=None):
        try:
            ep = self.provider.resolve_endpoint(**self._params(region, extra))
        except Exception:
            return None
        rest = ep.url.split("://", 1)[-1]
        host = rest.split("/", 1)[0]
        auth = (ep.properties or {}).get("authSchemes") or []
        sig_region = None
        for scheme in auth:
            if scheme.get("name") == "sigv4" and scheme.get("signingRegion"):
                sig_region = scheme["signingRegion"]
        return {"host": host, "path": rest[len(host):], "auth": auth, "signingRegion": sig_region}

    def endpoint(self, extra=None):
        """Hostname for the aws partition: a dict with "hostname" (a template
        with {region}, or a fixed global host), "global" (bool), "signingRegion"
        (global hosts only), "exceptions" ({region: host} where the template
        does not apply), "auth" (auth schemes seen); None if unresolvable."""
        res = {r: self.resolve(r, extra) for r in self.regions}
        if any(v is None for v in res.values()) or any(v["path"] not in ("", "/") for v in res.values()):
            return None
        hosts = set(v["host"] for v in res.values())
        auth = next(iter(res.values()))["auth"]
        if len(hosts) == 1:
            first = res[self.regions[0]]
            return {"hostname": first["host"], "global": True, "exceptions": {},
                    "signingRegion": first["signingRegion"] or "us-east-1", "auth": auth}
        counts = collections.Counter(v["host"].replace(r, "{region}") for r, v in res.items())
        template = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        exceptions = {r: v["host"] for r, v in sorted(res.items())
                      if v["host"] != template.replace("{region}", r)}
        return {"hostname": template, "global": False, "exceptions": exceptions,
                "signingRegion": None, "auth": auth}


# --------------------------------------------------------------------------
# Model stripping

def strip_ref(ref):
    out = {k: v for k, v in ref.items() if k in REF_KEYS}
    return out


def strip_shape(shape):
    out = {}
    for k, v in shape.items():
        if k not in SHAPE_KEYS:
            continue
        if k == "members":
            v = {mn: strip_ref(m) for mn, m in v.items()}
        elif k in ("member", "key", "value"):
            v = strip_ref(v)
        elif k == "error":
            v = {ek: ev for ek, ev in v.items() if ek in ERROR_KEYS}
        out[k] = v
    return out


def shape_refs(shape):
    for m in shape.get("members", {}).values():
        yield m["shape"]
    for k in ("member", "key", "value"):
        if k in shape:
            yield shape[k]["shape"]


def strip_operation(op):
    out = {"http": {k: v for k, v in op["http"].items() if k in HTTP_KEYS}}
    if "input" in op:
        out["input"] = op["input"]["shape"]
        if "locationName" in op["input"]:
            out["inputLocationName"] = op["input"]["locationName"]
        if "xmlNamespace" in op["input"]:
            out["inputXmlNamespace"] = op["input"]["xmlNamespace"]
    if "output" in op:
        out["output"] = op["output"]["shape"]
        if "resultWrapper" in op["output"]:
            out["resultWrapper"] = op["output"]["resultWrapper"]
    if "endpoint" in op and "hostPrefix" in op["endpoint"]:
        out["endpoint"] = {"hostPrefix": op["endpoint"]["hostPrefix"]}
    if op.get("httpChecksumRequired"):
        out["httpChecksumRequired"] = True
    hc = op.get("httpChecksum")
    if hc and (hc.get("requestChecksumRequired") or hc.get("requestAlgorithmMember")):
        out["httpChecksum"] = {k: hc[k] for k in ("requestChecksumRequired", "requestAlgorithmMember") if k in hc}
    if op.get("deprecated"):
        out["deprecated"] = True
    if op.get("endpointdiscovery", {}).get("required"):
        # e.g. timestream: calls must go to a host returned by DescribeEndpoints.
        out["endpointdiscovery"] = {"required": True}
    if op.get("endpointoperation"):
        out["endpointoperation"] = True
    return out


def member_context_params(shapes, input_name):
    if not input_name:
        return []
    return [m["contextParam"]["name"] for m in shapes[input_name].get("members", {}).values()
            if "contextParam" in m]


def build_service(name, model, ruleset, partitions, endpoints_aws, notes):
    meta = model["metadata"]
    proto, why = choose_protocol(meta)
    if proto is None:
        return None, why
    if proto != meta.get("protocol"):
        notes["protocol_switch"].append("%s: %s -> %s" % (name, meta.get("protocol"), proto))

    src_shapes = model["shapes"]
    ops = {}
    for op_name in sorted(model["operations"]):
        ops[op_name] = strip_operation(model["operations"][op_name])

    # Endpoint: hostname template from the rule set (aws partition).
    signing_name = meta.get("signingName") or meta["endpointPrefix"]
    default_host = meta["endpointPrefix"] + ".{region}.amazonaws.com"
    hostname = None
    rule_global = None
    static_sets = collections.Counter()
    for op in model["operations"].values():
        if "staticContextParams" in op:
            static_sets[dumps({k: v["value"] for k, v in op["staticContextParams"].items()})] += 1
    resolver = RuleResolver(ruleset, partitions) if ruleset else None
    base_extra = {}
    exceptions = {}
    if resolver:
        ep = resolver.endpoint()
        if ep is None and static_sets:
            # Some rule sets need an operation-injected parameter (acm ServiceType,
            # neptune-graph ApiType): use the most common operation setting.
            base_extra = json.loads(sorted(static_sets.items(), key=lambda kv: (-kv[1], kv[0]))[0][0])
            ep = resolver.endpoint(base_extra)
        if ep is not None:
            hostname = ep["hostname"]
            exceptions = ep["exceptions"]
            if ep["global"]:
                rule_global = {"hostname": hostname, "region": ep["signingRegion"]}
            for scheme in ep["auth"]:
                sn = scheme.get("signingName")
                if scheme.get("name") == "sigv4" and sn and sn != signing_name:
                    notes["signing_name_rule"].append("%s: model %s, rule set %s" % (name, signing_name, sn))
            if ep["auth"] and not any(s.get("name") == "sigv4" for s in ep["auth"]):
                notes["non_sigv4"].append("%s: %s" % (name, [s.get("name") for s in ep["auth"]]))
            for reg, host in exceptions.items():
                notes["region_exceptions"].append("%s: %s -> %s" % (name, reg, host))
        else:
            notes["no_hostname"].append(name)
    else:
        notes["no_ruleset"].append(name)
        hostname = default_host
    if hostname and hostname != default_host and "{region}" in hostname:
        notes["nondefault_host"].append("%s: %s" % (name, hostname))

    # Per-operation hostnames forced by staticContextParams (only when the
    # operation has no member-bound context parameter we cannot know here).
    if resolver and hostname and static_sets:
        for op_name, op in model["operations"].items():
            if "staticContextParams" not in op:
                continue
            if member_context_params(src_shapes, op.get("input", {}).get("shape")):
                continue
            extra = dict(base_extra)
            extra.update({k: v["value"] for k, v in op["staticContextParams"].items()})
            if extra == base_extra:
                continue
            oep = resolver.endpoint(extra)
            if oep is not None and (oep["hostname"], oep["exceptions"]) != (hostname, exceptions):
                ops[op_name]["hostname"] = oep["hostname"]
                if oep["global"]:
                    ops[op_name]["signingRegion"] = oep["signingRegion"]
                if oep["exceptions"]:
                    ops[op_name]["hostnameExceptions"] = oep["exceptions"]
                notes["op_hostname"].append("%s.%s: %s %s" % (
                    name, op_name, oep["hostname"], oep["signingRegion"] or ""))

    # Global endpoint: endpoints.json rule first, rule set as fallback.
    entry = endpoints_aws.get(meta["endpointPrefix"])
    global_ep = global_endpoint_from_endpoints_json(entry)
    if global_ep is None and rule_global is not None:
        global_ep = rule_global
        notes["global_from_rules"].append("%s: %s (%s)" % (name, rule_global["hostname"], rule_global["region"]))
    elif global_ep is not None and rule_global is not None and global_ep != rule_global:
        notes["global_mismatch"].append("%s: endpoints.json %s, rules %s" % (name, global_ep, rule_global))
    elif global_ep is not None and rule_global is None:
        notes["global_mismatch"].append("%s: endpoints.json %s, rules regional %s" % (name, global_ep, hostname))
    if global_ep is not None:
        hostname = global_ep["hostname"]

    # Keep only shapes reachable from operations and exception shapes.
    roots = set()
    for op in ops.values():
        for k in ("input", "output"):
            if k in op:
                roots.add(op[k])
    for sn, sh in src_shapes.items():
        if sh.get("exception"):
            roots.add(sn)
    keep = set()
    stack = sorted(roots)
    while stack:
        sn = stack.pop()
        if sn in keep:
            continue
        keep.add(sn)
        stack.extend(shape_refs(src_shapes[sn]))
    shapes = {sn: strip_shape(src_shapes[sn]) for sn in sorted(keep)}

    out_meta = {
        "protocol": proto,
        "apiVersion": meta["apiVersion"],
        "endpointPrefix": meta["endpointPrefix"],
        "signingName": signing_name,
        "signatureVersion": meta.get("signatureVersion"),
        "jsonVersion": meta.get("jsonVersion"),
        "targetPrefix": meta.get("targetPrefix"),
        "globalEndpoint": global_ep,
        "hostname": hostname,
        "serviceId": meta["serviceId"],
    }
    if exceptions and global_ep is None:
        out_meta["hostnameExceptions"] = exceptions
    if "awsQueryCompatible" in meta:
        out_meta["awsQueryCompatible"] = True
    if proto in ("json",) and not meta.get("targetPrefix"):
        notes["json_no_target"].append(name)
    return {"metadata": out_meta, "operations": ops, "shapes": shapes}, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory (crates/models/data)")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(botocore.__file__), "data"),
                    help="botocore data directory (default: the installed botocore's)")
    args = ap.parse_args()

    data = args.data
    os.makedirs(args.out, exist_ok=True)
    endpoints_aws = aws_partition_services(load_json(find_file(data, "endpoints")))
    partitions = load_json(find_file(data, "partitions"))

    notes = collections.defaultdict(list)
    written, skipped, services_index = {}, {}, {}
    raw_total = 0
    for name in sorted(os.listdir(data)):
        sdir = os.path.join(data, name)
        if not os.path.isdir(sdir):
            continue
        versions = sorted(v for v in os.listdir(sdir) if os.path.isdir(os.path.join(sdir, v)))
        if not versions:
            continue
        vdir = os.path.join(sdir, versions[-1])
        mpath = find_file(vdir, "service-2")
        if mpath is None:
            skipped[name] = "no service-2.json in %s" % versions[-1]
            continue
        rpath = find_file(vdir, "endpoint-rule-set-1")
        model, why = build_service(name, load_json(mpath), load_json(rpath) if rpath else None,
                                   partitions, endpoints_aws, notes)
        if model is None:
            skipped[name] = why
            continue
        raw = dumps(model).encode("utf-8")
        blob = gzip_bytes(raw)
        with open(os.path.join(args.out, name + ".json.gz"), "wb") as f:
            f.write(blob)
        raw_total += len(raw)
        written[name] = len(blob)
        m = model["metadata"]
        services_index[name] = {
            "protocol": m["protocol"],
            "operations": len(model["operations"]),
            "apiVersion": m["apiVersion"],
            "prefix": m["signingName"],
        }

    # Remove blobs of services that no longer exist / are now skipped.
    for fn in sorted(os.listdir(args.out)):
        if fn.endswith(".json.gz") and fn != "index.json.gz" and fn[:-8] not in written:
            os.remove(os.path.join(args.out, fn))

    prefixes = collections.defaultdict(list)
    for name, s in services_index.items():
        prefixes[s["prefix"]].append(name)
        for alias in IAM_PREFIX_ALIASES.get(name, []):
            if name not in prefixes[alias]:
                prefixes[alias].append(name)
    order = lambda n: (-services_index[n]["operations"], [-ord(c) for c in services_index[n]["apiVersion"]], n)
    prefixes = {p: sorted(v, key=order) for p, v in sorted(prefixes.items())}

    index = {
        "source": {"botocore": botocore.__version__},
        "prefixes": prefixes,
        "services": services_index,
        "skipped": skipped,
    }
    iraw = dumps(index).encode("utf-8")
    iblob = gzip_bytes(iraw)
    with open(os.path.join(args.out, "index.json.gz"), "wb") as f:
        f.write(iblob)

    # Ambiguous prefix:Operation pairs (the first listed service wins).
    ambiguous = collections.Counter()
    op_names = {}
    for p, names in prefixes.items():
        if len(names) < 2:
            continue
        seen = {}
        for n in names:
            if n not in op_names:
                with gzip.open(os.path.join(args.out, n + ".json.gz"), "rb") as f:
                    op_names[n] = set(json.loads(f.read())["operations"])
            for o in op_names[n]:
                if o in seen:
                    ambiguous[p] += 1
                else:
                    seen[o] = n

    # Summary
    per_proto = collections.Counter(s["protocol"] for s in services_index.values())
    total_ops = sum(s["operations"] for s in services_index.values())
    comp_total = sum(written.values()) + len(iblob)
    print("botocore %s" % botocore.__version__)
    print("services written: %d" % len(written))
    print("skipped: %d" % len(skipped))
    for n, why in sorted(skipped.items()):
        print("  %s: %s" % (n, why))
    print("per protocol: " + ", ".join("%s=%d" % kv for kv in sorted(per_proto.items())))
    print("total operations: %d" % total_ops)
    print("IAM prefixes: %d" % len(prefixes))
    print("size: %.2f MB compressed (incl. index %d B), %.2f MB uncompressed" % (
        comp_total / 1e6, len(iblob), (raw_total + len(iraw)) / 1e6))
    print("largest blobs:")
    for n, sz in sorted(written.items(), key=lambda kv: (-kv[1], kv[0]))[:5]:
        print("  %-24s %8d B" % (n, sz))
    print("ambiguous prefix:Operation pairs (first service wins): %d %s" % (
        sum(ambiguous.values()), dict(sorted(ambiguous.items()))))
    for k in sorted(notes):
        items = notes[k]
        print("%s (%d):" % (k, len(items)))
        for it in items:
            print("  " + it)
    return 0


if __name__ == "__main__":
    sys.exit(main())
