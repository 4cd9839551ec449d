"""Checks infra/template.yaml: every role grants only the actions its function needs, on the
resources it needs, each secret is readable by exactly the functions that use it, no secret
is in a parameter, an environment variable or an output, and the state machine is the file
in statemachines/.

Run as `template_check.py infra/template.yaml`; prints one line per check and
"N passed, M failed"; exits 1 if any failed.
"""

import sys

from cfnlint.decode import decode

# What each function's code calls, and nothing else. Resource "*" is allowed only where the
# action has no resource-level permissions (task tokens are not resources).
ALLOWED = {
    "ApiFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem", "secretsmanager:GetSecretValue",
        "states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure",
        "lambda:InvokeFunction", "ssm:GetParameter", "s3:GetObject",
    },
    "NotifierFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
        "sns:Publish", "states:SendTaskSuccess", "states:SendTaskFailure",
        "kms:GenerateDataKey", "kms:Decrypt", "secretsmanager:GetSecretValue",
        # The impact preview's read session.
        "sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession",
    },
    "ExecutorFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
        "sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession",
        "secretsmanager:GetSecretValue",
    },
    "SlackFunction": {
        "secretsmanager:GetSecretValue", "dynamodb:GetItem", "dynamodb:PutItem",
    },
    "AuditExportFunction": {
        "s3:PutObject", "dynamodb:DescribeStream", "dynamodb:GetRecords",
        "dynamodb:GetShardIterator", "dynamodb:ListStreams",
    },
    # Reads records and workflow states, closes stuck requests and tells approvers; it can
    # neither run a call nor touch a workflow.
    "SweeperFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "states:DescribeExecution",
        "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt",
    },
    "ApprovalStateMachine": {
        "lambda:InvokeFunction",
        # Step Functions' log delivery (no resource-level permissions).
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    },
}
STAR_OK = {"states:SendTaskSuccess", "states:SendTaskFailure"} | {
    a for a in ALLOWED["ApprovalStateMachine"] if a.startswith("logs:")}


# Who may read each secret: a template resource, or the parameter holding an operator's ARN.
SECRET_READERS = {
    "LinkKeySecret": {"ApiFunction", "NotifierFunction"},
    "SessionKeySecret": {"ApiFunction"},
    "CsrfKeySecret": {"ApiFunction"},
    "ResultsKeySecret": {"ApiFunction", "ExecutorFunction"},
    "GatewayCredentialsKeySecret": {"ApiFunction"},
    "SlackActionsSecretArn": {"ApiFunction"},
    "SlackSecretArn": {"SlackFunction"},
}
# Environment variable names that would hold a secret if they held anything but an ARN.
SECRETISH = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL")


def refs(v):
    """Every Ref / GetAtt target and !Sub'd name in a template value."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "Ref" and isinstance(x, str):
                yield x
            elif k == "Fn::GetAtt":
                yield (x[0] if isinstance(x, list) else str(x).split(".")[0])
            elif k == "Fn::Sub":
                text = x if isinstance(x, str) else x[0]
                import re
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(x, str):
                    yield from refs(x[1])
            else:
                yield from refs(x)
    elif isinstance(v, list):
        for x in v:
            yield from refs(x)


def secret_arn_only(v, resources, parameters):
    """True when an environment value can only be a secret's ARN (or empty)."""
    if v == "":
        return True
    if isinstance(v, dict) and list(v) == ["Ref"]:
        name = v["Ref"]
        if resources.get(name, {}).get("Type") == "AWS::SecretsManager::Secret":
            return True
        pattern = parameters.get(name, {}).get("AllowedPattern", "")
        return "secretsmanager" in pattern
    if isinstance(v, dict) and "Fn::If" in v:
        return all(secret_arn_only(b, resources, parameters) for b in v["Fn::If"][1:])
    return False


def branches(stmt):
    """A statement, or both branches of an `Fn::If` that yields one."""
    if isinstance(stmt, dict) and "Fn::If" in stmt:
        for branch in stmt["Fn::If"][1:]:
            yield from branches(branch)
    elif isinstance(stmt, dict) and "Effect" in stmt:
        yield stmt


def statements(resource):
    for policy in resource.get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, dict) and "Statement" in policy:
            for stmt in policy["Statement"]:
                yield from branches(stmt)


def as_list(v):
    return v if isinstance(v, list) else [v]


def main():
    template, matches = decode(sys.argv[1])
    if matches:
        print(f"FAIL template does not parse: {matches}")
        print("0 passed, 1 failed")
        return 1
    resources = template["Resources"]
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        passed += bool(ok)
        failed += not ok

    for name, allowed in ALLOWED.items():
        res = resources.get(name)
        check(res is not None, f"{name} exists")
        if res is None:
            continue
        stmts = list(statements(res))
        check(stmts, f"{name} has an inline least-privilege policy")
        for s in stmts:
            actions = set(as_list(s.get("Action", [])))
            extra = actions - allowed
            check(not extra, f"{name} {s.get('Sid', '?')}: no action beyond its list {sorted(extra) if extra else ''}")
            check(not any("*" in a for a in actions), f"{name} {s.get('Sid', '?')}: no wildcard actions")
            if s.get("Resource") == "*":
                check(actions <= STAR_OK, f"{name} {s.get('Sid', '?')}: Resource * only for actions without resources")
        managed = res.get("Properties", {}).get("Policies", [])
        strings = [p for p in as_list(managed) if isinstance(p, str)]
        check(not strings, f"{name}: no managed policies by name {strings}")

    # Only the api and the notifier may resume the workflow; only the executor (the call) and
    # the notifier (the preview's reads) may assume roles.
    for name, res in resources.items():
        acts = {a for s in statements(res) for a in as_list(s.get("Action", []))}
        if acts & {"states:SendTaskSuccess", "states:SendTaskFailure"}:
            check(name in ("ApiFunction", "NotifierFunction"), f"{name} may resume the workflow")
        if "sts:AssumeRole" in acts:
            check(name in ("ExecutorFunction", "NotifierFunction"), f"{name} may assume target roles")

    # They assume exactly the configured target roles, nothing else.
    for fn in ("ExecutorFunction", "NotifierFunction"):
        assume = [s for s in statements(resources[fn])
                  if "sts:AssumeRole" in as_list(s.get("Action", []))]
        check(assume and all(s.get("Resource") == {"Ref": "TargetRoleArns"} for s in assume),
              f"{fn} assumes only the roles in TargetRoleArns")

    # Every function has an errors alarm, and every alarm notifies the alarm topic.
    alarms = {n: r for n, r in resources.items() if r.get("Type") == "AWS::CloudWatch::Alarm"}
    for name, res in resources.items():
        if res.get("Type") == "AWS::Serverless::Function":
            check(any(a["Properties"].get("MetricName") == "Errors"
                      and a["Properties"]["Dimensions"][0]["Value"] == {"Ref": name}
                      for a in alarms.values()), f"{name} has an errors alarm")
    for name, a in alarms.items():
        check({"Ref": "AlarmTopic"} in a["Properties"].get("AlarmActions", []),
              f"{name} notifies AlarmTopic")
    for name, res in resources.items():
        if res.get("Type") == "AWS::SNS::Topic":
            check(res["Properties"].get("KmsMasterKeyId") == {"Ref": "NoticesKey"},
                  f"{name} is encrypted with the customer managed key")

    # No secret in a parameter: secrets are generated into Secrets Manager or passed by ARN.
    parameters = template.get("Parameters", {})
    for name, p in parameters.items():
        check(not p.get("NoEcho"), f"parameter {name} is not NoEcho (a secret belongs in Secrets Manager)")

    # No secret in an environment variable: names that sound secret hold only secret ARNs,
    # and no value comes from a secret's content.
    envs = [("Globals", template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))]
    for name, res in resources.items():
        if res.get("Type") == "AWS::Serverless::Function":
            envs.append((name, res["Properties"].get("Environment", {}).get("Variables", {})))
    for where, variables in envs:
        for var, value in variables.items():
            text = repr(value)
            check("resolve:secretsmanager" not in text and "resolve:ssm-secure" not in text,
                  f"{where} {var}: no dynamic reference to a secret's value")
            if any(w in var for w in SECRETISH):
                check(secret_arn_only(value, resources, parameters),
                      f"{where} {var}: holds a secret's ARN, not a secret")
    check(all("TOLLGATE_LINK_KEY" not in variables for _, variables in envs),
          "no function gets TOLLGATE_LINK_KEY")

    # Each secret is readable by exactly the functions that use it, never through "*".
    readers = {s: set() for s in SECRET_READERS}
    for name, res in resources.items():
        for st in statements(res):
            if "secretsmanager:GetSecretValue" not in as_list(st.get("Action", [])):
                continue
            targets = set(refs(st.get("Resource")))
            check(st.get("Resource") != "*" and targets and targets <= set(SECRET_READERS),
                  f"{name} {st.get('Sid', '?')}: reads only named secrets {sorted(targets)}")
            for t in targets & set(SECRET_READERS):
                readers[t].add(name)
    for secret, expected in SECRET_READERS.items():
        check(readers[secret] == expected,
              f"{secret} is readable by exactly {sorted(expected)} (found {sorted(readers[secret])})")
    for name, res in resources.items():
        if res.get("Type") == "AWS::SecretsManager::Secret":
            check(name in SECRET_READERS, f"{name}: its readers are declared in template_check.py")
            gen = res["Properties"].get("GenerateSecretString", {})
            check(gen.get("GenerateStringKey") == "current" and gen.get("PasswordLength", 0) >= 32,
                  f"{name}: generated as a key ring with a current key of at least 32 characters")

    # No output reveals a secret (an ARN is fine; a secret's content is not).
    for name, out in template.get("Outputs", {}).items():
        text = repr(out.get("Value"))
        check("resolve:secretsmanager" not in text and not any(
            resources.get(r, {}).get("Type") == "AWS::SecretsManager::Secret" for r in refs(out.get("Value"))),
            f"output {name} names no secret")

    sm = resources["ApprovalStateMachine"]["Properties"]
    check(sm.get("DefinitionUri") == "../statemachines/approval.asl.json", "the state machine is statemachines/approval.asl.json")
    subs = set(sm.get("DefinitionSubstitutions", {}))
    with open("statemachines/approval.asl.json") as f:
        asl = f.read()
    import re
    used = set(re.findall(r"\$\{(\w+)\}", asl))
    check(used == subs, f"every ASL substitution is provided and used ({sorted(used)} vs {sorted(subs)})")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
