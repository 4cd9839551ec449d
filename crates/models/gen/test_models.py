#!/usr/bin/env python3
"""Checks on the generated models: python crates/models/gen/test_models.py crates/models/data

Standard library only. Prints "N passed, M failed" and exits non-zero on failure.
"""

import gzip
import json
import os
import sys
import traceback

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data")
_cache = {}


def load(name):
    if name not in _cache:
        with gzip.open(os.path.join(DATA, name + ".json.gz"), "rb") as f:
            _cache[name] = json.loads(f.read().decode("utf-8"))
    return _cache[name]


def service_names():
    return sorted(f[:-len(".json.gz")] for f in os.listdir(DATA)
                  if f.endswith(".json.gz") and f != "index.json.gz")


def meta(name):
    return load(name)["metadata"]


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def at_least_350_services():
    assert len(service_names()) >= 350, len(service_names())


@test
def index_matches_blobs():
    idx = load("index")
    assert idx["source"]["botocore"], idx["source"]
    assert sorted(idx["services"]) == service_names()
    for prefix, names in idx["prefixes"].items():
        assert names, prefix
        for n in names:
            assert n in idx["services"], (prefix, n)
    for n, s in idx["services"].items():
        assert s["operations"] == len(load(n)["operations"]), n
        assert s["protocol"] == meta(n)["protocol"], n


@test
def supported_protocols_only():
    for n in service_names():
        assert meta(n)["protocol"] in ("json", "query", "ec2", "rest-json", "rest-xml"), n


@test
def json_services_have_target_and_version():
    for n in service_names():
        m = meta(n)
        if m["protocol"] == "json":
            assert m["targetPrefix"] and m["jsonVersion"] in ("1.0", "1.1"), (n, m)


@test
def dynamodb_json_10():
    m = meta("dynamodb")
    assert m["protocol"] == "json" and m["jsonVersion"] == "1.0", m
    assert m["targetPrefix"] == "DynamoDB_20120810", m
    assert m["globalEndpoint"] is None, m
    op = load("dynamodb")["operations"]["DeleteTable"]
    assert op["http"] == {"method": "POST", "requestUri": "/"}, op
    assert op["input"] == "DeleteTableInput" and op["output"] == "DeleteTableOutput", op


@test
def sqs_supported_protocol():
    m = meta("sqs")
    assert m["protocol"] in ("json", "query"), m
    if m["protocol"] == "json":
        assert m["targetPrefix"] == "AmazonSQS" and m["jsonVersion"] == "1.0", m


@test
def s3_rest_xml_put_object():
    s3 = load("s3")
    assert s3["metadata"]["protocol"] == "rest-xml"
    op = s3["operations"]["PutObject"]
    assert op["http"]["method"] == "PUT" and op["http"]["requestUri"] == "/{Bucket}/{Key+}", op
    req = s3["shapes"][op["input"]]
    assert req["payload"] == "Body", req.get("payload")
    assert req["members"]["Key"]["location"] == "uri", req["members"]["Key"]
    assert req["members"]["Key"]["locationName"] == "Key"
    assert req["members"]["Bucket"]["location"] == "uri"
    assert req["members"]["ACL"] == {"location": "header", "locationName": "x-amz-acl",
                                      "shape": "ObjectCannedACL"}, req["members"]["ACL"]
    assert s3["shapes"]["Body"]["type"] == "blob"


@test
def s3_xml_input_root_kept():
    s3 = load("s3")
    op = s3["operations"]["PutBucketTagging"]
    req = s3["shapes"][op["input"]]
    tagging = req["members"][req["payload"]]
    assert tagging["locationName"] == "Tagging", tagging
    assert tagging["xmlNamespace"]["uri"].startswith("http://s3.amazonaws.com/doc/"), tagging
    assert op["httpChecksum"]["requestChecksumRequired"] is True, op
    r53 = load("route53")["operations"]["ChangeResourceRecordSets"]
    assert r53["inputLocationName"] == "ChangeResourceRecordSetsRequest", r53
    assert "uri" in r53["inputXmlNamespace"], r53


@test
def ec2_protocol():
    assert meta("ec2")["protocol"] == "ec2"
    shapes = load("ec2")["shapes"]
    inp = shapes[load("ec2")["operations"]["RunInstances"]["input"]]
    assert inp["members"]["ImageId"]["shape"] in shapes
    # ec2 serialization relies on queryName/locationName on members
    assert any("queryName" in m or "locationName" in m for m in inp["members"].values())


@test
def iam_query_global():
    m = meta("iam")
    assert m["protocol"] == "query", m
    assert m["globalEndpoint"] == {"hostname": "iam.amazonaws.com", "region": "us-east-1"}, m
    op = load("iam")["operations"]["ListRoles"]
    assert op["resultWrapper"] == "ListRolesResult", op


@test
def other_global_endpoints():
    assert meta("cloudfront")["globalEndpoint"] == {"hostname": "cloudfront.amazonaws.com", "region": "us-east-1"}
    assert meta("route53")["globalEndpoint"] == {"hostname": "route53.amazonaws.com", "region": "us-east-1"}
    assert meta("organizations")["globalEndpoint"]["region"] == "us-east-1"
    assert meta("s3")["globalEndpoint"] is None


@test
def lambda_rest_json():
    lam = load("lambda")
    assert lam["metadata"]["protocol"] == "rest-json"
    assert lam["operations"]["ListFunctions"]["http"]["method"] == "GET"
    inv = lam["shapes"][lam["operations"]["Invoke"]["input"]]
    assert inv["members"]["FunctionName"]["location"] == "uri"


@test
def sts_query_regional():
    m = meta("sts")
    assert m["protocol"] == "query", m
    assert m["globalEndpoint"] is None, m
    assert m["hostname"] == "sts.{region}.amazonaws.com", m
    assert load("sts")["operations"]["GetCallerIdentity"]["resultWrapper"] == "GetCallerIdentityResult"


@test
def json_11_services():
    for n in ("kms", "secretsmanager", "ssm"):
        m = meta(n)
        assert m["protocol"] == "json" and m["jsonVersion"] == "1.1", (n, m)
        assert m["targetPrefix"], (n, m)
    assert meta("kms")["targetPrefix"] == "TrentService"
    assert meta("secretsmanager")["targetPrefix"] == "secretsmanager"
    assert meta("ssm")["targetPrefix"] == "AmazonSSM"


@test
def sns_query():
    assert meta("sns")["protocol"] == "query"
    assert load("sns")["operations"]["Publish"]["resultWrapper"] == "PublishResult"


@test
def hostnames_present():
    for n in service_names():
        m = meta(n)
        if n == "cloudfront-keyvaluestore":  # host depends on the KVS ARN
            continue
        assert m["hostname"], n
        if m["globalEndpoint"] is None:
            assert "{region}" in m["hostname"], (n, m["hostname"])
        else:
            assert m["hostname"] == m["globalEndpoint"]["hostname"], n


@test
def shape_references_resolve():
    for n in service_names():
        model = load(n)
        shapes = model["shapes"]
        for op_name, op in model["operations"].items():
            assert "http" in op and "method" in op["http"] and "requestUri" in op["http"], (n, op_name)
            for k in ("input", "output"):
                if k in op:
                    assert isinstance(op[k], str) and op[k] in shapes, (n, op_name, k, op[k])
        for sn, sh in shapes.items():
            assert "type" in sh, (n, sn)
            for mn, m in sh.get("members", {}).items():
                assert m["shape"] in shapes, (n, sn, mn, m["shape"])
            for k in ("member", "key", "value"):
                if k in sh:
                    assert sh[k]["shape"] in shapes, (n, sn, k)
            if "payload" in sh:
                assert sh["payload"] in sh["members"], (n, sn)
            for r in sh.get("required", []):
                assert r in sh["members"], (n, sn, r)


@test
def uri_labels_bound():
    # Every {Label} in a requestUri is a member with location "uri".
    import re
    for n in service_names():
        model = load(n)
        if model["metadata"]["protocol"] not in ("rest-json", "rest-xml"):
            continue
        for op_name, op in model["operations"].items():
            labels = re.findall(r"\{([^}+]+)\+?\}", op["http"]["requestUri"])
            if not labels:
                continue
            members = model["shapes"][op["input"]]["members"]
            names = {m.get("locationName", mn) for mn, m in members.items() if m.get("location") == "uri"}
            for label in labels:
                assert label in names, (n, op_name, label)


@test
def no_documentation_anywhere():
    def walk(obj, path, in_members):
        if isinstance(obj, dict):
            for k, v in obj.items():
                # a key directly under "members" is a member name, not a trait
                assert in_members or k not in ("documentation", "documentationUrl", "examples",
                                               "deprecatedMessage"), path + [k]
                walk(v, path + [k], k == "members" and not in_members)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, path + [i], False)

    for n in service_names():
        walk(load(n), [n], False)


@test
def operations_have_no_error_lists_or_docs():
    allowed = {"http", "input", "output", "resultWrapper", "inputLocationName", "inputXmlNamespace",
               "endpoint", "httpChecksumRequired", "httpChecksum", "deprecated", "endpointdiscovery",
               "endpointoperation", "hostname", "signingRegion", "hostnameExceptions"}
    for n in service_names():
        for op_name, op in load(n)["operations"].items():
            assert set(op) <= allowed, (n, op_name, set(op) - allowed)


@test
def index_prefixes():
    prefixes = load("index")["prefixes"]
    for p in ("dynamodb", "s3", "ec2", "iam", "lambda", "sts", "sns", "sqs", "kms",
              "secretsmanager", "ssm", "states", "elasticloadbalancing"):
        assert p in prefixes, p
    assert "stepfunctions" in prefixes["states"]
    assert prefixes["elasticloadbalancing"][0] == "elbv2", prefixes["elasticloadbalancing"]
    assert set(prefixes["elasticloadbalancing"]) == {"elb", "elbv2"}
    assert prefixes["lambda"][0] == "lambda"
    assert prefixes["s3"][0] == "s3"
    assert prefixes["dynamodb"][0] == "dynamodb"
    assert "cloudwatch" in prefixes["cloudwatch"]  # IAM alias of "monitoring"


@test
def lookup_by_action():
    # What Tollgate does: prefix -> services -> first one with the operation.
    prefixes = load("index")["prefixes"]

    def find(action):
        prefix, op = action.split(":", 1)
        for svc in prefixes[prefix]:
            if op in load(svc)["operations"]:
                return svc
        return None

    assert find("dynamodb:DeleteTable") == "dynamodb"
    assert find("dynamodb:GetRecords") == "dynamodbstreams"
    assert find("elasticloadbalancing:DescribeTargetGroups") == "elbv2"
    assert find("elasticloadbalancing:DescribeLoadBalancerPolicies") == "elb"
    assert find("states:StartExecution") == "stepfunctions"
    assert find("s3:PutObject") == "s3"
    assert find("iam:CreateRole") == "iam"
    assert find("cloudwatch:PutMetricData") == "cloudwatch"


def main():
    passed = failed = 0
    for fn in TESTS:
        try:
            fn()
            passed += 1
            print("ok   %s" % fn.__name__)
        except Exception:
            failed += 1
            print("FAIL %s" % fn.__name__)
            traceback.print_exc(limit=1)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
