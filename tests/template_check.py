"""Checks infra/template.yaml as CloudFormation will see it, after the SAM transform
(tests/sam_transform.py): every role grants only the actions its function needs, on the
resources it needs, and nothing else (no managed policy: SAM's generated roles would carry
AWSLambdaBasicExecutionRole, AWSLambdaDynamoDBExecutionRole or AWSXrayWriteOnlyAccess), each
secret is readable by exactly the functions that use it, no secret is in a parameter, an
environment variable or an output, and the state machine is the file in statemachines/.

Run as `template_check.py infra/template.yaml`; prints one line per check and
"N passed, M failed"; exits 1 if any failed.
"""

import json
import re
import sys

from checklist import Checks
from sam_transform import transformed

# Writing to its own log group (never to "*": each role names its function's log group).
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}

# What each function's code calls, and nothing else. Resource "*" is allowed only where the
# action has no resource-level permissions (task tokens are not resources).
ALLOWED = {
    "ApiFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue",
        "states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure",
        "lambda:InvokeFunction", "ssm:GetParameter", "s3:GetObject",
        # The notice after each vote (the Slack message shows every vote).
        "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt",
        # Front-door bodies too large for the record, into the payload bucket.
        "s3:PutObject",
    } | LOGS,
    "NotifierFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
        "sns:Publish", "states:SendTaskSuccess", "states:SendTaskFailure",
        "kms:GenerateDataKey", "kms:Decrypt", "secretsmanager:GetSecretValue",
        # The impact preview's read session.
        "sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession",
        # Settings given as ssm:<name>.
        "ssm:GetParameter",
    } | LOGS,
    "ExecutorFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
        "sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession",
        "secretsmanager:GetSecretValue", "ssm:GetParameter",
        # The approved body of a front-door upload, from the payload bucket.
        "s3:GetObject",
    } | LOGS,
    "SlackFunction": {
        "secretsmanager:GetSecretValue", "dynamodb:GetItem", "dynamodb:PutItem",
        # Which version of the request the posted message shows (a conditional update).
        "dynamodb:UpdateItem",
    } | LOGS,
    "AuditExportFunction": {
        "s3:PutObject", "dynamodb:DescribeStream", "dynamodb:GetRecords",
        "dynamodb:GetShardIterator", "dynamodb:ListStreams",
        # SSE-KMS under the audit key; the stream trigger's failure destination.
        "kms:GenerateDataKey", "sqs:SendMessage",
    } | LOGS,
    # Reads records and workflow states, closes stuck requests and tells approvers; it can
    # neither run a call nor touch a workflow. UpdateItem: the once-only flag on an expired
    # grant (its notice goes out once).
    "SweeperFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
        "states:DescribeExecution",
        "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt",
    } | LOGS,
    "ApprovalStateMachine": {
        "lambda:InvokeFunction",
        # Step Functions' log delivery (no resource-level permissions).
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        # Its X-Ray tracing (no resource-level permissions).
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    },
}
# Actions with no resource-level permissions: the only ones that may have Resource "*"
# (task tokens are not resources; listing a table's streams, log delivery and X-Ray are not
# scoped by IAM).
STAR_OK = {"states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:ListStreams"} | {
    a for a in ALLOWED["ApprovalStateMachine"] if a.startswith(("logs:", "xray:"))}


# Who may read each secret: a template resource, or the parameter holding an operator's ARN.
SECRET_READERS = {
    "LinkKeySecret": {"ApiFunction", "NotifierFunction"},
    "SessionKeySecret": {"ApiFunction"},
    "CsrfKeySecret": {"ApiFunction"},
    "ResultsKeySecret": {"ApiFunction", "ExecutorFunction"},
    "GatewayCredentialsKeySecret": {"ApiFunction"},
    "SlackActionsSecretArn": {"ApiFunction"},
    "ApproverClientSecretArns": {"ApiFunction"},
    "SlackSecretArn": {"SlackFunction"},
}
# Environment variable names that would hold a secret if they held anything but an ARN.
SECRETISH = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL")


def envs_of(resources):
    """(function, its environment variables) for every function, after the transform."""
    for name, res in resources.items():
        if res.get("Type") == "AWS::Lambda::Function":
            yield name, res["Properties"].get("Environment", {}).get("Variables", {})


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


def statements(role):
    """Every statement of a role's inline policies (both branches of each `Fn::If`)."""
    for policy in (role or {}).get("Properties", {}).get("Policies", []) or []:
        for stmt in policy.get("PolicyDocument", {}).get("Statement", []):
            yield from branches(stmt)


def role_of(resource, resources):
    """(logical id, resource) of the role a function or state machine runs as."""
    props = resource.get("Properties", {})
    arn = props.get("Role", props.get("RoleArn"))
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        name = arn["Fn::GetAtt"][0]
        return name, resources.get(name)
    return None, None


def as_list(v):
    return v if isinstance(v, list) else [v]


def main():
    try:
        sam, template = transformed(sys.argv[1])
    except ValueError as e:
        print(f"FAIL {e}")
        print("0 passed, 1 failed")
        return 1
    resources = template["Resources"]
    check = Checks()

    # Every role belongs to a function or the state machine listed above, and carries no
    # managed policy: what it may do is exactly its inline statements.
    owners = {}
    for name, res in resources.items():
        if res.get("Type") in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
            role_name, _ = role_of(res, resources)
            check(role_name in resources, f"{name} runs as a role of this template ({role_name})")
            owners[role_name] = name
    for name, res in resources.items():
        if res.get("Type") == "AWS::IAM::Role":
            check(owners.get(name) in ALLOWED,
                  f"role {name}: its function ({owners.get(name)}) is listed in template_check.py")
            managed = res.get("Properties", {}).get("ManagedPolicyArns") or []
            check(not managed, f"role {name}: no managed policy {managed if managed else ''}")

    for name, allowed in ALLOWED.items():
        res = resources.get(name)
        check(res is not None, f"{name} exists")
        if res is None:
            continue
        _, role = role_of(res, resources)
        stmts = list(statements(role))
        check(stmts, f"{name} has an inline least-privilege policy")
        for s in stmts:
            actions = set(as_list(s.get("Action", [])))
            extra = actions - allowed
            check(not extra, f"{name} {s.get('Sid', '?')}: no action beyond its list {sorted(extra) if extra else ''}")
            check(not any("*" in a for a in actions), f"{name} {s.get('Sid', '?')}: no wildcard actions")
            if s.get("Resource") == "*":
                check(actions <= STAR_OK, f"{name} {s.get('Sid', '?')}: Resource * only for actions without resources")
            if actions & LOGS:
                group = re.fullmatch(
                    r"arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:log-group:\$\{(\w+)\}:\*",
                    str(s.get("Resource", {}).get("Fn::Sub", "")) if isinstance(s.get("Resource"), dict) else "")
                check(group and resources.get(group.group(1), {}).get("Type") == "AWS::Logs::LogGroup",
                      f"{name} {s.get('Sid', '?')}: writes only to a log group of this template")

    # Only the api and the notifier may resume the workflow; only the executor (the call) and
    # the notifier (the preview's reads) may assume roles.
    for role_name, name in owners.items():
        acts = {a for s in statements(resources.get(role_name)) for a in as_list(s.get("Action", []))}
        if acts & {"states:SendTaskSuccess", "states:SendTaskFailure"}:
            check(name in ("ApiFunction", "NotifierFunction"), f"{name} may resume the workflow")
        if "sts:AssumeRole" in acts:
            check(name in ("ExecutorFunction", "NotifierFunction"), f"{name} may assume target roles")

    # They assume exactly the configured target roles, or the organisation's roles of the
    # target role's name in accounts of the organisation, nothing else.
    org_role = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${TargetRoleName}"}
    for fn in ("ExecutorFunction", "NotifierFunction"):
        assume = [s for s in statements(role_of(resources[fn], resources)[1])
                  if "sts:AssumeRole" in as_list(s.get("Action", []))]
        check(assume and all(
            s.get("Resource") == {"Ref": "TargetRoleArns"}
            or (s.get("Resource") == org_role
                and s.get("Condition") == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}})
            for s in assume), f"{fn} assumes only the roles in TargetRoleArns or the organisation's target roles")

    # Every function has an errors alarm, and every alarm notifies the alarm topic.
    alarms = {n: r for n, r in resources.items() if r.get("Type") == "AWS::CloudWatch::Alarm"}
    for name, res in resources.items():
        if res.get("Type") == "AWS::Lambda::Function":
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

    # Each topic has a policy that lets exactly the roles whose IAM may publish to it (or, for
    # the alarm topic, CloudWatch) publish, and refuses subscriptions to unlisted endpoints.
    policies = {}
    for name, res in resources.items():
        if res.get("Type") == "AWS::SNS::TopicPolicy":
            for topic in res["Properties"]["Topics"]:
                policies[topic.get("Ref")] = res["Properties"]["PolicyDocument"]["Statement"]
    for name, res in resources.items():
        if res.get("Type") != "AWS::SNS::Topic":
            continue
        stmts = [s for st in policies.get(name, []) for s in branches(st)]
        check(stmts, f"{name} has a topic policy")
        publishers = {role for role, _ in owners.items()
                      if any("sns:Publish" in as_list(s.get("Action", [])) and {"Ref": name} in as_list(s.get("Resource"))
                             for s in statements(resources.get(role)))}
        deny_pub = [s for s in stmts if s["Effect"] == "Deny" and s.get("Principal") == "*"
                    and "sns:Publish" in as_list(s["Action"])]
        exempt = set()
        for s in deny_pub:
            for arn in as_list(s.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", [])):
                exempt.add(arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else arn)
        service_only = any(s.get("Condition", {}).get("StringNotEquals", {}).get("aws:PrincipalServiceName")
                           == "cloudwatch.amazonaws.com" for s in deny_pub)
        check(deny_pub and (exempt == publishers if exempt else (service_only and not publishers)),
              f"{name}: only its publishers may publish ({sorted(publishers) or 'CloudWatch'}, policy exempts {sorted(exempt) or 'CloudWatch'})")
        check(any(s["Effect"] == "Deny" and s.get("Principal") == "*" and "sns:Subscribe" in as_list(s["Action"])
                  and "sns:Endpoint" in s.get("Condition", {}).get("StringNotEquals", {}) for s in stmts),
              f"{name}: refuses subscriptions to unlisted endpoints")

    # Anyone may invoke a function only through the front door's Function URL (AuthType NONE:
    # the function verifies SigV4 itself), and only the api function; every other grant names
    # its caller (API Gateway, the state machine, SNS, ...).
    for name, res in resources.items():
        if res.get("Type") != "AWS::Lambda::Permission":
            continue
        p = res["Properties"]
        if p.get("Principal") != "*":
            continue
        via_url = (p.get("Action") == "lambda:InvokeFunctionUrl" and p.get("FunctionUrlAuthType") == "NONE") or (
            p.get("Action") == "lambda:InvokeFunction" and p.get("InvokedViaFunctionUrl") is True)
        check(via_url and p.get("FunctionName") == {"Ref": "ApiFunction"},
              f"{name}: a public grant is only for the api function, only through its URL")
    urls = [r["Properties"] for r in resources.values() if r.get("Type") == "AWS::Lambda::Url"]
    check(all(u.get("TargetFunctionArn") == {"Fn::GetAtt": ["ApiFunction", "Arn"]} for u in urls),
          "only the api function has a Function URL (the front door)")
    api_env = next((v for n, v in envs_of(resources) if n == "ApiFunction"), {})
    check(urls and api_env.get("TOLLGATE_FRONT_DOOR_URL"),
          "the api function is told where its front door is (TOLLGATE_FRONT_DOOR_URL)")

    # E-mail gets every notice but the one after each vote (one e-mail per vote would bury
    # the inbox; the Slack message is updated in place instead).
    email = resources.get("ApprovalEmailSubscription", {}).get("Properties", {})
    check(email.get("FilterPolicyScope") == "MessageAttributes"
          and email.get("FilterPolicy") == {"type": [{"anything-but": ["vote_recorded"]}]},
          "the e-mail subscription skips vote notices")

    # The audit bucket is under its own customer managed key (grantable to other accounts), and
    # a batch the stream trigger gives up on goes to a queue instead of being dropped.
    enc = resources["AuditBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    check(enc["ServerSideEncryptionByDefault"].get("KMSMasterKeyID") == {"Fn::GetAtt": ["AuditKey", "Arn"]},
          "AuditBucket is encrypted with AuditKey")
    # The payload bucket: SSE-KMS, never public, TLS only, its objects expiring after
    # PayloadRetentionDays; only the api function writes there and only the executor reads,
    # each under payloads/ alone.
    pb = resources["PayloadBucket"]["Properties"]
    penc = pb["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    check(penc.get("SSEAlgorithm") == "aws:kms", "PayloadBucket is encrypted with KMS")
    check(all(pb["PublicAccessBlockConfiguration"].get(k) for k in
              ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")),
          "PayloadBucket blocks public access")
    rules = pb.get("LifecycleConfiguration", {}).get("Rules", [])
    check(any(r.get("Status") == "Enabled" and r.get("ExpirationInDays") == {"Ref": "PayloadRetentionDays"}
              for r in rules), "PayloadBucket expires objects after PayloadRetentionDays")
    ppol = resources["PayloadBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    check(any(st.get("Effect") == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
              for st in ppol), "PayloadBucket refuses calls without TLS")
    payload_grants = {}
    for role_name, name in owners.items():
        for st in statements(resources.get(role_name)):
            if "PayloadBucket" in repr(st.get("Resource")):
                payload_grants.setdefault(name, set()).update(as_list(st.get("Action", [])))
                check("/payloads/*" in repr(st.get("Resource")),
                      f"{name} {st.get('Sid', '?')}: the payload bucket under payloads/ only")
    check(payload_grants == {"ApiFunction": {"s3:PutObject"}, "ExecutorFunction": {"s3:GetObject"}},
          f"the api function puts payloads and the executor reads them, nothing else ({payload_grants})")
    mappings = [r for r in resources.values() if r.get("Type") == "AWS::Lambda::EventSourceMapping"]
    check(mappings and all(r["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                           for r in mappings), "every stream trigger has a failure destination")

    # No secret in a parameter: secrets are generated into Secrets Manager or passed by ARN.
    parameters = template.get("Parameters", {})
    for name, p in parameters.items():
        check(not p.get("NoEcho"), f"parameter {name} is not NoEcho (a secret belongs in Secrets Manager)")

    # No secret in an environment variable: names that sound secret hold only secret ARNs,
    # and no value comes from a secret's content.
    # (The transform has merged Globals into each function.)
    envs = list(envs_of(resources))
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
    for role_name, name in owners.items():
        for st in statements(resources.get(role_name)):
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

    # Stored requests and audit objects outlive the stack, but a failed first create leaves
    # nothing behind to collide with the retry.
    for name in ("RequestsTable", "AuditBucket"):
        res = sam["Resources"].get(name, {})
        check(res.get("DeletionPolicy") == "RetainExceptOnCreate" and res.get("UpdateReplacePolicy") == "Retain",
              f"{name}: retained on deletion and replacement, removed when the first create fails")

    # Partitions: nothing names the `aws` partition or its domain, so the stack deploys in
    # aws-cn and aws-us-gov too (ARNs use ${AWS::Partition}, URLs ${AWS::URLSuffix} or the
    # API's own endpoint). Service principals (`lambda.amazonaws.com`) are the same in every
    # partition, and AllowedPattern regexes are not names.
    def strings(v, path=""):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("AllowedPattern", "Description", "AssertDescription"):
                    continue
                yield from strings(x, f"{path}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                yield from strings(x, f"{path}[{i}]")
        elif isinstance(v, str):
            yield path, v
    with open("statemachines/approval.asl.json") as f:
        asl_doc = json.load(f)
    for where, doc in (("template", template), ("state machine", asl_doc)):
        named = [(p, v) for p, v in strings(doc)
                 if ("arn:aws:" in v or "amazonaws.com" in v)
                 and not re.fullmatch(r"[a-z0-9-]+\.amazonaws\.com", v)]  # a service principal
        check(not named, f"{where}: no hard-coded partition or domain {named if named else ''}")

    sm = sam["Resources"]["ApprovalStateMachine"]["Properties"]
    check(sm.get("DefinitionUri") == "../statemachines/approval.asl.json", "the state machine is statemachines/approval.asl.json")
    subs = set(sm.get("DefinitionSubstitutions", {}))
    with open("statemachines/approval.asl.json") as f:
        asl = f.read()
    used = set(re.findall(r"\$\{(\w+)\}", asl))
    check(used == subs, f"every ASL substitution is provided and used ({sorted(used)} vs {sorted(subs)})")

    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
