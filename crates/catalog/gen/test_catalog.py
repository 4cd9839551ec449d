#!/usr/bin/env python3
"""Self-check for the generated IAM catalog (stdlib only).

Usage: python crates/catalog/gen/test_catalog.py crates/catalog/data/iam-catalog.json.gz
"""

from __future__ import annotations

import gzip
import json
import sys
import traceback


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with gzip.open(sys.argv[1], "rb") as fh:
        cat = json.load(fh)

    levels = cat["levels"]
    services = cat["services"]
    operations = cat["operations"]

    def action(name: str) -> dict:
        prefix, act = name.split(":", 1)
        return services[prefix]["actions"][act]

    def level(name: str) -> str:
        return levels[action(name)["level"]]

    def check_counts():
        assert len(services) >= 400, len(services)
        n = sum(len(s["actions"]) for s in services.values())
        assert n >= 15000, n

    def check_levels_list():
        assert levels == ["List", "Read", "Write", "Tagging", "Permissions management"], levels

    def check_passrole():
        assert level("iam:PassRole") == "Permissions management", level("iam:PassRole")

    def check_common_levels():
        for name, want in [("dynamodb:DescribeTable", "Read"), ("dynamodb:DeleteTable", "Write"),
                           ("s3:ListAllMyBuckets", "List"), ("ec2:CreateTags", "Tagging")]:
            assert level(name) == want, (name, level(name), want)

    def check_credentials_exposure():
        # The first from policy_sentry's list, the rest Tollgate's additions to it.
        for name in ("ecr:GetAuthorizationToken", "ec2:GetPasswordData", "secretsmanager:GetSecretValue",
                     "ssm:GetParameter", "lambda:GetFunctionConfiguration"):
            assert "credentials-exposure" in action(name).get("risk", []), (name, action(name))

    def check_tollgate_flags():
        # Reads that return secrets masking cannot know, and reads with effects or cost.
        for name in ("lambda:ListFunctions", "ecs:DescribeTaskDefinition", "codebuild:BatchGetProjects",
                     "ec2:DescribeInstanceAttribute", "glue:GetConnections", "states:DescribeExecution"):
            assert "credentials-exposure" in action(name).get("risk", []), (name, action(name))
        for name in ("sqs:ReceiveMessage", "bedrock:InvokeAgent"):
            assert "side-effects" in action(name).get("risk", []), (name, action(name))
        for name in ("bedrock:InvokeModel", "sagemaker:InvokeEndpoint", "logs:StartQuery",
                     "athena:StartQueryExecution"):
            assert "cost" in action(name).get("risk", []), (name, action(name))
        assert "risk" not in action("dynamodb:DescribeTable"), action("dynamodb:DescribeTable")

    def check_privilege_escalation():
        for name in ("iam:CreatePolicyVersion", "iam:PassRole", "iam:AttachRolePolicy"):
            assert "privilege-escalation" in action(name).get("risk", []), (name, action(name))

    def check_operation_examples():
        assert operations["s3:ListObjectsV2"] == ["s3:ListBucket"], operations.get("s3:ListObjectsV2")
        assert operations["lambda:Invoke"] == ["lambda:InvokeFunction"], operations.get("lambda:Invoke")

    def check_operation_targets_exist():
        missing = [(op, t) for op, ts in operations.items() for t in ts
                   if t.split(":", 1)[0] not in services
                   or t.split(":", 1)[1] not in services[t.split(":", 1)[0]]["actions"]]
        assert not missing, missing[:10]
        assert all(ts for ts in operations.values())

    def check_dynamodb_table_arn():
        arn = services["dynamodb"]["resources"]["table"]
        assert "${TableName}" in arn, arn

    def check_shape():
        allowed_risk = {"privilege-escalation", "credentials-exposure", "resource-exposure", "data-exfiltration",
                        "side-effects", "cost"}
        for prefix, svc in services.items():
            for name, a in svc["actions"].items():
                assert 0 <= a["level"] < len(levels), (prefix, name)
                assert set(a) <= {"level", "resources", "conditions", "risk"}, (prefix, name, a)
                for key in ("resources", "conditions", "risk"):
                    assert key not in a or a[key], (prefix, name, key)
                assert set(a.get("risk", [])) <= allowed_risk, (prefix, name)
        assert action("dynamodb:DeleteTable")["resources"] == ["table*"], action("dynamodb:DeleteTable")

    checks = [v for k, v in locals().items() if k.startswith("check_")]
    passed = failed = 0
    for fn in checks:
        try:
            fn()
            passed += 1
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
