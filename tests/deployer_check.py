"""Checks infra/deployer-policy.yaml against infra/template.yaml after the SAM transform: the
deployer policy allows creating every resource type the template creates (so `make deploy`
with a role holding only that policy does not stop at AccessDenied halfway), and a resource
type the template gains fails here until the policy and this table cover it.

Run as `deployer_check.py infra/template.yaml infra/deployer-policy.yaml`; prints one line
per check and "N passed, M failed"; exits 1 if any failed.
"""

import fnmatch
import sys

import yaml

from checklist import Checks
from sam_transform import transformed

# The IAM actions CloudFormation calls to create each resource type (its resource handler's
# "create" permissions, the ones that matter for a first deploy).
CREATES = {
    "AWS::ApiGatewayV2::Api": ["apigateway:POST"],
    "AWS::ApiGatewayV2::ApiMapping": ["apigateway:POST"],
    "AWS::ApiGatewayV2::DomainName": ["apigateway:POST", "acm:DescribeCertificate"],
    "AWS::ApiGatewayV2::Integration": ["apigateway:POST"],
    "AWS::ApiGatewayV2::Route": ["apigateway:POST"],
    "AWS::ApiGatewayV2::Stage": ["apigateway:POST", "logs:CreateLogDelivery"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm"],
    "AWS::DynamoDB::Table": ["dynamodb:CreateTable", "dynamodb:UpdateContinuousBackups",
                             "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTable"],
    "AWS::Events::Rule": ["events:PutRule", "events:PutTargets"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:PutRolePolicy", "iam:GetRole", "iam:PassRole"],
    "AWS::KMS::Key": ["kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation"],
    "AWS::Lambda::Alias": ["lambda:CreateAlias"],
    "AWS::Lambda::EventSourceMapping": ["lambda:CreateEventSourceMapping"],
    "AWS::Lambda::Function": ["lambda:CreateFunction", "lambda:PutFunctionConcurrency"],
    "AWS::Lambda::Permission": ["lambda:AddPermission"],
    "AWS::Lambda::Url": ["lambda:CreateFunctionUrlConfig"],
    "AWS::Lambda::Version": ["lambda:PublishVersion"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
    "AWS::Logs::MetricFilter": ["logs:PutMetricFilter"],
    "AWS::Route53::RecordSet": ["route53:ChangeResourceRecordSets"],
    "AWS::S3::Bucket": ["s3:CreateBucket", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
                        "s3:PutBucketObjectLockConfiguration"],
    "AWS::S3::BucketPolicy": ["s3:PutBucketPolicy"],
    "AWS::SNS::Subscription": ["sns:Subscribe"],
    "AWS::SNS::Topic": ["sns:CreateTopic", "sns:SetTopicAttributes"],
    "AWS::SNS::TopicPolicy": ["sns:SetTopicAttributes"],
    "AWS::SQS::Queue": ["sqs:CreateQueue"],
    "AWS::SSM::Parameter": ["ssm:PutParameter", "ssm:AddTagsToResource"],
    "AWS::SecretsManager::Secret": ["secretsmanager:CreateSecret", "secretsmanager:GetRandomPassword"],
    "AWS::StepFunctions::StateMachine": ["states:CreateStateMachine"],
}


class Loader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Sub, !Ref) as plain values."""


Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                             if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)
                             if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node))


def main():
    _, cfn = transformed(sys.argv[1])
    with open(sys.argv[2]) as f:
        policy = yaml.load(f, Loader=Loader)
    check = Checks()
    allowed = []
    for res in policy["Resources"].values():
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Allow":
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                allowed += [a.lower() for a in acts]
    types = sorted({r["Type"] for r in cfn["Resources"].values()})
    for t in types:
        if not check(t in CREATES, f"{t}: its create permissions are listed in deployer_check.py"):
            continue
        for action in CREATES[t]:
            check(any(fnmatch.fnmatchcase(action.lower(), a) for a in allowed),
                  f"{t}: the deployer policy allows {action}")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
