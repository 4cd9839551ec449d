"""A deploy rehearsal: infra/template.yaml, after the SAM transform, created in moto's
CloudFormation with the example parameters file, then checked for what the linters cannot
see: the stack creates, every reference resolves to something that exists, and each function
finds the resources its code reads, with the names and settings the code expects.

Run as `deploy_rehearsal.py infra/template.yaml PARAMS.json`, where PARAMS.json holds the
parameters as SAM CLI reads them from the example file (the Makefile converts it with SAM
CLI's own parser). Prints one line per check and "N passed, M failed"; exits 1 if any failed.

moto's CloudFormation has no provider for a few resource types the template uses. For the
ones a function reads (Secrets Manager secrets, the HTTP API) this file adds a provider that
creates the resource in moto's own service backend, so references to them resolve to what
moto's Secrets Manager and API Gateway then answer for. For the ones nothing reads (alarms,
the bucket policy, subscriptions, API routes and stages), it records the properties as
CloudFormation resolved them, so every reference in them is still checked. The list is
printed. What no emulator can show (IAM evaluating the policies, Lambda running the code, the
API answering) is in the note of issue 16.
"""

import ast
import io
import json
import logging
import os
import re
import secrets
import string
import sys
import warnings
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError
from moto.apigatewayv2.models import apigatewayv2_backends
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import ThreadedMotoServer

from checklist import Checks
from sam_transform import ARTIFACT_BUCKET, transformed

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "tollgate"

# What each function's code requires from its environment (crates/aws/src/settings.rs,
# crates/aws/src/keys.rs and each function's main.rs): the setting, and what it must name.
SHARED = {
    "TOLLGATE_TABLE": "table",
    "TOLLGATE_STATE_MACHINE_ARN": "state_machine",
    "TOLLGATE_TOPIC_ARN": "topic",
    "TOLLGATE_EXECUTOR_FUNCTION": "function",
    "TOLLGATE_PUBLIC_URL": "url",
    "TOLLGATE_TARGETS": "json",
    "TOLLGATE_ACCOUNT_ID": "account",
    "TOLLGATE_AGENT_ISSUERS": "json",
    "TOLLGATE_APPROVER_ISSUERS": "json",
}
REQUIRED = {
    "ApiFunction": SHARED | {
        "TOLLGATE_LINK_KEY_SECRET": "key_ring",
        "TOLLGATE_SESSION_KEY_SECRET": "key_ring",
        "TOLLGATE_CSRF_KEY_SECRET": "key_ring",
        "TOLLGATE_RESULTS_KEY_SECRET": "key_ring",
        "TOLLGATE_GATEWAY_CREDENTIALS_KEY_SECRET": "key_ring",
        "TOLLGATE_SLACK_APPROVERS": "json",
        "TOLLGATE_FRONT_DOOR_URL": "front_door_url",
        "TOLLGATE_PAYLOAD_BUCKET": "bucket",
    },
    "NotifierFunction": SHARED | {"TOLLGATE_LINK_KEY_SECRET": "key_ring"},
    "ExecutorFunction": SHARED | {"TOLLGATE_RESULTS_KEY_SECRET": "key_ring",
                                  "TOLLGATE_PAYLOAD_BUCKET": "bucket"},
    "AuditExportFunction": {"TOLLGATE_AUDIT_BUCKET": "bucket"},
}
LISTING = (ROOT / "crates/aws/src/store/listing.rs").read_text()
INDEXES = {  # the listing indexes the store queries, by the names it queries them by
    re.search(r'AGENT_INDEX: &str = "([^"]+)"', LISTING).group(1): ["agent", "created_at"],
    re.search(r'STATUS_INDEX: &str = "([^"]+)"', LISTING).group(1): ["status_shard", "created_at"],
}


# ---------------------------------------------------------------- providers moto lacks

class Secret(CloudFormationModel):
    """AWS::SecretsManager::Secret in moto's Secrets Manager: Ref is the ARN, as in AWS."""

    # moto files models by the service in their module's name.
    __module__ = "rehearsal.secretsmanager"

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Id"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        gen = props.get("GenerateSecretString")
        if gen:
            value = json.loads(gen.get("SecretStringTemplate", "{}"))
            alphabet = string.ascii_letters + string.digits
            if not gen.get("ExcludePunctuation", False):
                alphabet += string.punctuation
            value[gen["GenerateStringKey"]] = "".join(
                secrets.choice(alphabet) for _ in range(gen.get("PasswordLength", 32)))
            secret_string = json.dumps(value)
        else:
            secret_string = props.get("SecretString")
        created = json.loads(backend.create_secret(
            name=props.get("Name", resource_name), secret_string=secret_string, secret_binary=None,
            description=props.get("Description"), tags=None, kms_key_id=props.get("KmsKeyId"),
            client_request_token=None, replica_regions=[], force_overwrite=False))
        obj = cls()
        obj.physical_resource_id = created["ARN"]
        return obj

    def get_cfn_attribute(self, attr):
        return self.physical_resource_id


class HttpApi(CloudFormationModel):
    """AWS::ApiGatewayV2::Api in moto's API Gateway v2: Ref is the API id, as in AWS."""

    __module__ = "rehearsal.apigatewayv2"

    @staticmethod
    def cloudformation_type():
        return "AWS::ApiGatewayV2::Api"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("ApiEndpoint", "ApiId")

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        body = props.get("Body") or {}
        api = apigatewayv2_backends[account_id][region_name].create_api(
            api_key_selection_expression=None, cors_configuration=None,
            description=props.get("Description"), disable_schema_validation=False,
            disable_execute_api_endpoint=props.get("DisableExecuteApiEndpoint", False),
            name=props.get("Name", body.get("info", {}).get("title", resource_name)),
            protocol_type=props.get("ProtocolType", "HTTP"), route_selection_expression=None,
            tags=None, version=None)
        obj = cls()
        obj.api = api
        obj.physical_resource_id = api.api_id
        return obj

    def get_cfn_attribute(self, attr):
        return self.api.api_endpoint if attr == "ApiEndpoint" else self.api.api_id


RECORDED = {}  # logical id -> properties as CloudFormation resolved them
PROVIDERS = []  # moto finds providers among CloudFormationModel's live subclasses: keep them


# The attributes a recorded type has in CloudFormation (its documented Fn::GetAtt names): a
# reference to one resolves to a placeholder naming it, as nothing was created to ask.
RECORDED_ATTRIBUTES = {
    "AWS::ApiGatewayV2::DomainName": {"RegionalDomainName", "RegionalHostedZoneId", "DomainNameArn"},
    "AWS::Lambda::Url": {"FunctionUrl", "FunctionArn"},
}


def recorder(resource_type):
    """A provider that records its resolved properties and creates nothing."""

    class Recorded(CloudFormationModel):
        __module__ = "rehearsal.recorded"

        @staticmethod
        def cloudformation_type():
            return resource_type

        @staticmethod
        def cloudformation_name_type():
            return ""

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr in RECORDED_ATTRIBUTES.get(resource_type, ())

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            RECORDED[kwargs["LogicalId"]] = cloudformation_json.get("Properties", {})
            obj = cls()
            obj.physical_resource_id = resource_name
            obj.logical_id = kwargs["LogicalId"]
            return obj

        def get_cfn_attribute(self, attr):
            if not self.has_cfn_attr(attr):
                raise KeyError(f"{resource_type} has no attribute {attr}")
            return f"placeholder-{self.logical_id}-{attr}"

    return Recorded


def apply_definition_substitutions():
    """moto's state machine provider ignores DefinitionSubstitutions; apply them as
    CloudFormation does (each `${key}` in the definition replaced by its resolved value)."""
    from moto.stepfunctions.models import StateMachine

    create = StateMachine.create_from_cloudformation_json.__func__

    def with_substitutions(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        for key, value in (props.pop("DefinitionSubstitutions", None) or {}).items():
            props["DefinitionString"] = props["DefinitionString"].replace("${" + key + "}", str(value))
        return create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    StateMachine.create_from_cloudformation_json = classmethod(with_substitutions)


def lambda_versions_as_in_aws():
    """moto's AWS::Lambda::Version publishes the version but resolves neither its Ref (the
    version's ARN, in AWS) nor Fn::GetAtt Version (its number, which SAM's alias names):
    give it both, from the version moto published."""
    from moto.awslambda.models import LambdaVersion, get_backend

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        fn = get_backend(account_id, region_name).publish_version(
            cloudformation_json["Properties"]["FunctionName"])
        v = LambdaVersion({"Version": fn.version})
        v.arn = fn.function_arn if fn.function_arn.endswith(f":{fn.version}") else f"{fn.function_arn}:{fn.version}"
        return v

    LambdaVersion.create_from_cloudformation_json = classmethod(create)
    LambdaVersion.physical_resource_id = property(lambda self: self.arn)
    LambdaVersion.has_cfn_attr = classmethod(lambda cls, attr: attr == "Version")
    LambdaVersion.get_cfn_attribute = lambda self, attr: str(self.version)


ROLE_PROPERTIES = {}  # role name -> its properties as CloudFormation resolved them


def record_role_properties():
    """moto's role provider ignores ManagedPolicyArns (and keeps no resolved copy): record
    what CloudFormation resolved, so the managed policies a role gets can be checked."""
    from moto.iam.models import Role

    create = Role.create_from_cloudformation_json.__func__

    def recording(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        role = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        ROLE_PROPERTIES[role.name] = cloudformation_json.get("Properties", {})
        return role

    Role.create_from_cloudformation_json = classmethod(recording)


def install_providers(types):
    """Adds a provider for each type moto lacks; returns {type: 'backend' | 'recorded'}."""
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    have = {m.cloudformation_type() for m in parsing.get_model_list() if m.__module__.startswith("moto.")}
    added = {}
    for t in sorted(types - have):
        if t in (Secret.cloudformation_type(), HttpApi.cloudformation_type()):
            added[t] = "backend"
        else:
            PROVIDERS.append(recorder(t))
            added[t] = "recorded"
    if Secret.cloudformation_type() not in added:
        # moto gained the provider: drop ours (subclasses register by existing).
        Secret.cloudformation_type = staticmethod(lambda: "Tollgate::Unused::Secret")
    if HttpApi.cloudformation_type() not in added:
        HttpApi.cloudformation_type = staticmethod(lambda: "Tollgate::Unused::HttpApi")
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    return added


# ---------------------------------------------------------------- checks

def leftovers(value, path=""):
    """Places in a resolved value where a reference did not resolve."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::Select", "Fn::Split"):
                yield f"{path}: unresolved {k}"
            yield from leftovers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            # moto keeps a policy statement `!If [..., !Ref AWS::NoValue]` as null; AWS drops it.
            if v is None and path.endswith(".Statement"):
                continue
            yield from leftovers(v, f"{path}[{i}]")
    elif value is None:
        yield f"{path}: resolved to nothing"
    elif isinstance(value, str) and "${" in value:
        yield f"{path}: `{value}` keeps a ${{...}}"


def arn_matches(pattern, arns):
    """Whether an IAM Resource (with `*` wildcards) names at least one of the given ARNs, or
    objects inside one (`<bucket ARN>/audit/*`, `<table ARN>/index/*`)."""
    rx = re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")
    literal = pattern.split("*", 1)[0]
    return any(rx.match(a) or literal.startswith(a + "/") for a in arns if a)


def main():
    template_path, params_path = sys.argv[1], sys.argv[2]
    with open(params_path) as f:
        params = json.load(f)
    check = Checks()

    sam, cfn = transformed(template_path)
    declared = sam.get("Parameters", {})
    for key, value in params.items():
        p = declared.get(key)
        if not check(p is not None, f"parameter {key} is a parameter of the template"):
            continue
        if "AllowedPattern" in p:
            check(re.fullmatch(p["AllowedPattern"], value) is not None, f"parameter {key} matches its AllowedPattern")
        if "AllowedValues" in p:
            check(value in [str(v) for v in p["AllowedValues"]], f"parameter {key} is one of its AllowedValues")
        if "MinLength" in p:
            check(len(value) >= int(p["MinLength"]), f"parameter {key} is at least {p['MinLength']} long")
        if p.get("Type") == "Number":
            check(re.fullmatch(r"-?\d+", value) and int(value) >= int(p.get("MinValue", -(2**63))),
                  f"parameter {key} is a number within its bounds")
        if value[:1] in "[{":
            check(is_json(value), f"parameter {key} is JSON")
    for key, p in declared.items():
        if "Default" not in p:
            check(key in params, f"required parameter {key} is in the example parameters")

    types = {r["Type"] for r in cfn["Resources"].values()}
    added = install_providers(types)
    apply_definition_substitutions()
    record_role_properties()
    lambda_versions_as_in_aws()
    for t, how in added.items():
        print(f"note moto's CloudFormation has no {t}: "
              + ("created in moto's own backend by this rehearsal" if how == "backend"
                 else "its resolved properties are recorded and checked, nothing is created"))

    warnings.simplefilter("ignore")
    if not os.environ.get("REHEARSAL_VERBOSE"):  # moto's and the server's own logs
        for quiet in ("moto", "werkzeug"):
            logging.getLogger(quiet).setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        kw = dict(endpoint_url=f"http://{host}:{port}", region_name=REGION,
                  aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
        c = {s: boto3.client(s, **kw) for s in (
            "s3", "cloudformation", "lambda", "dynamodb", "stepfunctions", "sns", "iam",
            "secretsmanager", "apigatewayv2", "logs", "kms", "route53", "ssm")}
        # What `sam deploy` uploads first: one bootstrap zip per function.
        c["s3"].create_bucket(Bucket=ARTIFACT_BUCKET)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        for r in cfn["Resources"].values():
            if r["Type"] == "AWS::Lambda::Function":
                c["s3"].put_object(Bucket=ARTIFACT_BUCKET, Key=r["Properties"]["Code"]["S3Key"], Body=buf.getvalue())

        zone = c["route53"].create_hosted_zone(Name="example.com", CallerReference="rehearsal")
        # What an operator puts in Parameter Store before a deploy that names it.
        for name, value in SEED_SSM.items():
            c["ssm"].put_parameter(Name=name, Value=value, Type="String")
        for stack_name, variant in variants(params):
            print(f"note stack {stack_name}: {variant}")
            extra = dict(VARIANTS[variant])
            if "HostedZoneId" in extra:
                extra["HostedZoneId"] = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
            rehearse(check, c, cfn, stack_name, {**params, **extra})
        rehearse_target_role(check, c)
    finally:
        server.stop()

    return check.summary()


# Each rehearsal: the example parameters, and with them these.
VARIANTS = {
    "the example parameters": {},
    "the example parameters, a custom domain, an executor reservation, a client secret": {
        "ExecutorReservedConcurrency": "10",
        "ApproverClientSecretArns": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tollgate/google-AbCdEf",
        "DomainName": "tollgate.example.com",
        "DomainCertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b2c3d-example",
        "HostedZoneId": "(the operator's zone, made in moto first)",
    },
    "the example parameters, audit readers, Object Lock, extra subscribers": {
        "AuditReaderAccountIds": "111111111111,222222222222",
        "AuditObjectLockDays": "365",
        "AuditObjectLockMode": "COMPLIANCE",
        "NoticeSubscribers": f"arn:aws:sqs:{REGION}:{ACCOUNT}:siem-notices",
        "AlarmSubscribers": "https://events.pagerduty.example/integration/abc/enqueue",
    },
    "the example parameters, an organisation's target roles and no listed role, targets in SSM": {
        "OrganizationId": "o-a1b2c3d4e5",
        "TargetRoleArns": "",
        "SettingsParameterPath": "/tollgate",
        "Targets": "ssm:/tollgate/targets",
        "PolicyParameterName": "/tollgate/policies",
        "PolicyParameterVersion": "3",
    },
}
SEED_SSM = {"/tollgate/targets": '{"sandbox": "arn:aws:iam::111111111111:role/tollgate-target"}',
            "/tollgate/policies": '@id("all") permit (principal, action, resource);'}


def rehearse_target_role(check_any, c):
    """infra/target-role.yaml as a member account (or a StackSet instance) gets it: its fixed
    name, the partition's managed policies and the optional boundary."""
    body = (ROOT / "infra/target-role.yaml").read_text()
    executor = f"arn:aws:iam::{ACCOUNT}:role/tollgate-ExecutorFunctionRole-X"
    boundary = c["iam"].create_policy(PolicyName="org-boundary", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    cases = [
        ("target-default", {}, "tollgate-target",
         {"arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/IAMFullAccess"}, None),
        ("target-no-iam", {"IamChanges": "false", "RoleName": "tg-target", "PermissionsBoundaryArn": boundary},
         "tg-target", {"arn:aws:iam::aws:policy/PowerUserAccess"}, boundary),
    ]
    for stack, extra, role_name, managed, wanted_boundary in cases:
        def check(ok, what):
            return check_any(ok, f"[{stack}] {what}")
        c["cloudformation"].create_stack(
            StackName=stack, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v}
                        for k, v in {"ExecutorRoleArn": executor, **extra}.items()])
        st = c["cloudformation"].describe_stacks(StackName=stack)["Stacks"][0]
        if not check(st["StackStatus"] == "CREATE_COMPLETE", f"the target role stack creates ({st['StackStatus']})"):
            continue
        role = c["iam"].get_role(RoleName=role_name)["Role"]
        check(True, f"the role is named {role_name}")
        got = set(ROLE_PROPERTIES.get(role_name, {}).get("ManagedPolicyArns") or [])
        check(got == managed, f"managed policies are {sorted(managed)} (found {sorted(got)})")
        got_boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        check(got_boundary == wanted_boundary, f"permissions boundary is {wanted_boundary} (found {got_boundary})")
        trust = role["AssumeRolePolicyDocument"]
        if isinstance(trust, str):
            trust = json.loads(trust)
        assume = [s for s in trust["Statement"] if s and "sts:AssumeRole" in
                  (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
        check(assume and all(s.get("Condition", {}).get("StringLike", {}).get("sts:RoleSessionName", "").startswith("tollgate-")
                             and s["Condition"]["Null"].get("aws:RequestTag/tollgate:request") == "false"
                             and s["Condition"]["Null"].get("sts:SourceIdentity") == "false" for s in assume),
              "every AssumeRole it trusts needs a tollgate-* session name, the request tag and a source identity")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}
        check(outputs.get("RoleArn") == role["Arn"], "output RoleArn is the role's ARN")


def variants(params):
    return [(STACK if i == 0 else f"{STACK}-{i}", name) for i, name in enumerate(VARIANTS)]


def rehearse(check_any, c, cfn, stack_name, params):
    """Creates one stack and checks it."""
    RECORDED.clear()

    def check(ok, what):
        return check_any(ok, f"[{stack_name}] {what}")

    cf = c["cloudformation"]
    cf.create_stack(StackName=stack_name, TemplateBody=json.dumps(cfn),
                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                    Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    stack = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    if not check(stack["StackStatus"] == "CREATE_COMPLETE",
                 f"the stack creates ({stack['StackStatus']} {stack.get('StackStatusReason', '')})"):
        return

    summaries = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId") for s in summaries}
    created = {n for n, r in cfn["Resources"].items() if n in physical}
    # Resources whose condition is false with these parameters are not created.
    for name, res in cfn["Resources"].items():
        if "Condition" not in res:
            check(name in created, f"{name} ({res['Type']}) is created")

    # Every reference resolved: outputs, recorded properties, function environments.
    for out in stack.get("Outputs", []):
        bad = list(leftovers(out["OutputValue"], out["OutputKey"]))
        check(not bad and out["OutputValue"], f"output {out['OutputKey']} resolves {bad if bad else ''}")
    declared_outputs = {n for n, o in cfn.get("Outputs", {}).items() if "Condition" not in o}
    got_outputs = {o["OutputKey"] for o in stack.get("Outputs", [])}
    check(declared_outputs <= got_outputs, f"every output is there {sorted(declared_outputs - got_outputs)}")
    for name, props in RECORDED.items():
        bad = list(leftovers(props, name))
        check(not bad, f"{name}: every reference in it resolves {bad if bad else ''}")

    # The topic policies let exactly the configured endpoints subscribe.
    for policy, own in (("ApprovalTopicPolicy", ("NotificationEmail", "NoticeSubscribers")),
                        ("AlarmTopicPolicy", ("AlarmEmail", "AlarmSubscribers"))):
        stmts = [s for s in RECORDED.get(policy, {}).get("PolicyDocument", {}).get("Statement", []) if s]
        allowed = {e for s in stmts if s.get("Action") == "sns:Subscribe"
                   for e in s["Condition"]["StringNotEquals"]["sns:Endpoint"]} - {""}
        wanted = {e for key in own for e in params.get(key, "").split(",")} - {""}
        if policy == "ApprovalTopicPolicy" and "SlackFunction" in physical:
            wanted.add(c["lambda"].get_function(FunctionName=physical["SlackFunction"])["Configuration"]["FunctionArn"])
        check(allowed == wanted, f"{policy}: exactly the configured endpoints may subscribe {sorted(allowed)}")

    # The ARNs and names a function or policy may name, from what was really created.
    functions = {n: c["lambda"].get_function(FunctionName=physical[n])["Configuration"]
                 for n, r in cfn["Resources"].items()
                 if r["Type"] == "AWS::Lambda::Function" and n in physical}
    tables = {n: c["dynamodb"].describe_table(TableName=physical[n])["Table"]
              for n, r in cfn["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table" and n in physical}
    known_arns = set()
    for n, r in cfn["Resources"].items():
        pid = physical.get(n)
        if not pid:
            continue
        if pid.startswith("arn:"):
            known_arns.add(pid)
    known_arns |= {f["FunctionArn"] for f in functions.values()}
    versions = {v["FunctionArn"] for f in functions.values()
                for v in c["lambda"].list_versions_by_function(FunctionName=f["FunctionName"])["Versions"]
                if v["Version"] != "$LATEST"}
    known_arns |= versions
    for t in tables.values():
        known_arns |= {t["TableArn"], t.get("LatestStreamArn", "")}
        known_arns |= {f"{t['TableArn']}/index/{i['IndexName']}" for i in t.get("GlobalSecondaryIndexes", [])}
    for n, r in cfn["Resources"].items():
        if r["Type"] == "AWS::S3::Bucket" and n in physical:
            known_arns.add(f"arn:aws:s3:::{physical[n]}")
        if r["Type"] == "AWS::Logs::LogGroup" and n in physical:
            known_arns.add(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical[n]}:log-stream:x")
        if r["Type"] == "AWS::KMS::Key" and n in physical:
            # (moto's DescribeKey fails on a key CloudFormation made: its policy is kept as a dict.)
            known_arns.add(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{physical[n]}")
        if r["Type"] == "AWS::SSM::Parameter" and n in physical:  # the physical id is its name
            known_arns.add(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{physical[n]}")
        if r["Type"] == "AWS::SQS::Queue" and n in physical:  # the physical id is the queue's URL
            known_arns.add(f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical[n].rsplit('/', 1)[-1]}")
        if r["Type"] == "AWS::IAM::Role" and n in physical:
            known_arns.add(c["iam"].get_role(RoleName=physical[n])["Role"]["Arn"])
        if r["Type"] == "AWS::StepFunctions::StateMachine" and n in physical:
            # Its executions (the sweeper describes them): `execution:<name>:<id>`.
            sm = physical[n].split(":")[-1]
            known_arns.add(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{sm}:x")
    # The parameters' ARNs, those in the settings they name in SSM, and those parameters.
    ssm_values = [SEED_SSM[v[len("ssm:"):]] for v in params.values() if v.startswith("ssm:")]
    params_arns = {a for v in list(params.values()) + ssm_values for a in re.findall(r"arn:[^\s\",]+", v)}
    params_arns |= {f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}" for name in SEED_SSM}

    # Each function: its environment resolved, and each setting names what its code expects.
    for name, fn in functions.items():
        env = fn.get("Environment", {}).get("Variables", {})
        template_env = cfn["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        dropped = sorted(set(template_env) - set(env))
        check(not dropped, f"{name}: every environment value resolves {dropped if dropped else ''}")
        bad = list(leftovers(env, name))
        check(not bad, f"{name}: no unresolved value in its environment {bad if bad else ''}")
        role_name = fn["Role"].rsplit("/", 1)[-1]
        check(role_name == physical.get(f"{name}Role"), f"{name} runs as its own role {name}Role")
        if name in ("ExecutorFunction", "NotifierFunction"):
            # Target roles in every account trust these by ARN: the name must not change.
            fixed = f"{stack_name}-{name.removesuffix('Function').lower()}"
            check(role_name == fixed, f"{name}'s role has the fixed name {fixed} (found {role_name})")
        if params.get("PolicyParameterName") and name == "ApiFunction":
            want = f"ssm:{params['PolicyParameterName']}" + (
                f":{params['PolicyParameterVersion']}" if params.get("PolicyParameterVersion") else "")
            check(env.get("TOLLGATE_POLICY_SOURCE") == want,
                  f"{name} reads the policies from {want} (found {env.get('TOLLGATE_POLICY_SOURCE')})")
        for setting, kind in REQUIRED.get(name, {}).items():
            value = env.get(setting)
            if not check(value not in (None, ""), f"{name} {setting} is set"):
                continue
            try:
                check_setting(check, c, name, setting, kind, value, functions, params)
            except ClientError as e:
                check(False, f"{name} {setting}: {value} names nothing that exists ({e.response['Error']['Code']})")
        # Its role's statements name only what exists (or the parameters' ARNs).
        policies = c["iam"].list_role_policies(RoleName=role_name)["PolicyNames"]
        check(policies, f"{name}: its role has its inline policy")
        for pol in policies:
            doc = c["iam"].get_role_policy(RoleName=role_name, PolicyName=pol)["PolicyDocument"]
            if isinstance(doc, str):  # moto keeps a CloudFormation policy as Python's repr
                doc = ast.literal_eval(doc) if doc.startswith("{'") else json.loads(doc)
            # (moto keeps a statement `!If [..., !Ref AWS::NoValue]` made as null; AWS drops it.)
            for st in filter(None, doc.get("Statement", [])):
                for res in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                    if res == "*":
                        continue
                    check(arn_matches(res, known_arns | params_arns),
                          f"{name} {st.get('Sid', '?')}: {res} names a created resource")

    # The executor's reservation is the parameter's, and 0 reserves nothing.
    reserved = c["lambda"].get_function(FunctionName=physical["ExecutorFunction"]).get(
        "Concurrency", {}).get("ReservedConcurrentExecutions")
    wanted = int(params.get("ExecutorReservedConcurrency", "0")) or None
    check(reserved == wanted, f"ExecutorFunction reserves {wanted} (found {reserved})")

    # The state machine calls the functions that were created, as the role may.
    for n, r in cfn["Resources"].items():
        if r["Type"] != "AWS::StepFunctions::StateMachine" or n not in physical:
            continue
        sm = c["stepfunctions"].describe_state_machine(stateMachineArn=physical[n])
        definition = json.loads(sm["definition"])
        called = {s["Parameters"]["FunctionName"] for s in definition["States"].values()
                  if s.get("Type") == "Task" and "FunctionName" in s.get("Parameters", {})}
        # Published versions, so an execution keeps the code it started with across a deploy.
        check(called and called <= versions,
              f"{n} calls only published versions of created functions {sorted(called)}")
        left = re.findall(r"\$\{\w+\}", sm["definition"])
        check(not left, f"{n}: every substitution in the definition is made {left if left else ''}")

    # The audit export reads the table's stream.
    mine = {f["FunctionArn"] for f in functions.values()}
    mappings = [m for m in c["lambda"].list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"] in mine]
    streams = {t.get("LatestStreamArn") for t in tables.values()}
    check(mappings and all(m["EventSourceArn"] in streams for m in mappings),
          "every event source mapping reads a created table's stream")


def check_setting(check, c, name, setting, kind, value, functions, params):
    """One setting of one function against what moto holds."""
    what = f"{name} {setting}"
    if kind == "table":
        t = c["dynamodb"].describe_table(TableName=value)["Table"]
        keys = [k["AttributeName"] for k in t["KeySchema"]]
        check(keys == ["pk", "sk"], f"{what}: the table has keys pk, sk ({keys})")
        got = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in t.get("GlobalSecondaryIndexes", [])}
        for index, schema in INDEXES.items():
            check(got.get(index) == schema, f"{what}: index {index} on {schema} (found {got.get(index)})")
        check(t.get("StreamSpecification", {}).get("StreamViewType") == "NEW_IMAGE",
              f"{what}: the table streams new images (the audit export reads them)")
    elif kind == "state_machine":
        sm = c["stepfunctions"].describe_state_machine(stateMachineArn=value)
        check(sm["stateMachineArn"] == value, f"{what}: the state machine exists at the ARN built for it")
    elif kind == "topic":
        attrs = c["sns"].get_topic_attributes(TopicArn=value)["Attributes"]
        check(attrs.get("KmsMasterKeyId"), f"{what}: the topic exists, encrypted")
    elif kind == "function":
        check(any(f["FunctionName"] == value for f in functions.values()),
              f"{what}: the function {value} exists")
    elif kind == "bucket":
        c["s3"].head_bucket(Bucket=value)
        check(True, f"{what}: the bucket exists")
    elif kind == "key_ring":
        s = json.loads(c["secretsmanager"].get_secret_value(SecretId=value)["SecretString"])
        check(len(s.get("current", "")) >= 32, f"{what}: the secret is a key ring with a current key")
    elif kind == "url":
        # PublicUrl, else the custom domain, else the API's own endpoint.
        if params.get("PublicUrl"):
            expected = params["PublicUrl"]
        elif params.get("DomainName"):
            expected = f"https://{params['DomainName']}"
        else:
            expected = [a["ApiEndpoint"] for a in c["apigatewayv2"].get_apis()["Items"]
                        if a["Name"].startswith(STACK)]
            expected = expected[-1] if expected else None
        check(value == expected, f"{what}: {value} is where this deploy answers ({expected})")
    elif kind == "front_door_url":
        # The Function URL, by the parameter the stack wrote it to (read on first use).
        check(value.startswith("ssm:/"), f"{what}: {value} names an SSM parameter")
        got = c["ssm"].get_parameter(Name=value[len("ssm:"):])["Parameter"]["Value"]
        check(got == "placeholder-ApiFunctionUrl-FunctionUrl",
              f"{what}: the parameter holds the api function's URL ({got})")
    elif kind == "account":
        check(re.fullmatch(r"\d{12}", value), f"{what}: an account id")
    elif kind == "json" and value.startswith("ssm:"):
        # Read at cold start from a parameter under SettingsParameterPath, which must exist.
        name = value[len("ssm:"):]
        path = params.get("SettingsParameterPath", "")
        check(path and name.startswith(path + "/"), f"{what}: {name} is under SettingsParameterPath ({path})")
        got = c["ssm"].get_parameter(Name=name)["Parameter"]["Value"]
        check(is_json(got), f"{what}: the parameter {name} exists and holds JSON")
    elif kind == "json":
        check(is_json(value), f"{what}: JSON")


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
