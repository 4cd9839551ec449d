//! The shipped default policy set against realistic requests across services.

use serde_json::json;
use tollgate_core::{Effect, Identity, parse_new_request};
use tollgate_policy::{CedarPolicy, bundled_sources, classify};

fn agent() -> Identity {
    Identity {
        issuer: "https://token.actions.githubusercontent.com".into(),
        subject: "acme/infra:refs/heads/main".into(),
        name: "deploy".into(),
        ..Default::default()
    }
}

/// `allow`, `approve1`, `approve2` or `deny`.
fn outcome(
    policy: &CedarPolicy,
    action: &str,
    params: serde_json::Value,
) -> (String, Vec<String>, Vec<String>) {
    let body = json!({"action": action, "params": params, "reason": "table test"});
    let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
    let c = classify(
        policy,
        &req,
        &agent(),
        "123456789012",
        1_790_000_000,
        "192.0.2.10",
    )
    .unwrap_or_else(|e| panic!("{action}: {e}"));
    let o = match c.decision.effect {
        Effect::Allow => "allow".to_string(),
        Effect::Deny => "deny".to_string(),
        Effect::Approval { approvals, .. } => format!("approve{approvals}"),
    };
    (o, c.decision.policy_ids, c.resources)
}

#[test]
fn default_policy_table() {
    let policy = CedarPolicy::new(&bundled_sources(), 3600).unwrap();
    #[rustfmt::skip]
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        // S3
        ("s3:ListBuckets", json!({}), "allow"),
        ("s3:ListObjectsV2", json!({"Bucket": "logs"}), "allow"),
        ("s3:GetObject", json!({"Bucket": "logs", "Key": "2026/11/24.log"}), "allow"),
        ("s3:HeadObject", json!({"Bucket": "logs", "Key": "a"}), "allow"),
        ("s3:GetBucketPolicy", json!({"Bucket": "logs"}), "allow"),
        ("s3:PutObject", json!({"Bucket": "logs", "Key": "a"}), "approve1"),
        ("s3:DeleteObject", json!({"Bucket": "logs", "Key": "a"}), "approve1"),
        ("s3:CreateBucket", json!({"Bucket": "new-bucket"}), "approve1"),
        ("s3:DeleteBucket", json!({"Bucket": "logs"}), "approve1"),
        ("s3:PutBucketTagging", json!({"Bucket": "logs"}), "approve1"),
        ("s3:PutBucketPolicy", json!({"Bucket": "logs", "Policy": "{}"}), "approve2"),
        ("s3:DeleteBucketPolicy", json!({"Bucket": "logs"}), "approve2"),
        ("s3:PutBucketAcl", json!({"Bucket": "logs"}), "approve2"),
        ("s3:PutPublicAccessBlock", json!({"Bucket": "logs"}), "approve2"),
        // EC2
        ("ec2:DescribeInstances", json!({}), "allow"),
        ("ec2:DescribeSecurityGroups", json!({}), "allow"),
        ("ec2:RunInstances", json!({"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1}), "approve2"),
        ("ec2:TerminateInstances", json!({"InstanceIds": ["i-1"]}), "approve1"),
        ("ec2:CreateVpc", json!({"CidrBlock": "10.0.0.0/16"}), "approve1"), // the new VPC: vpc/*
        ("s3:DeleteObjects", json!({"Bucket": "logs", "Delete": {"Objects": [{"Key": "a"}]}}), "approve1"),
        // API Gateway (REST): scoped to the request path
        ("apigateway:GetRestApis", json!({}), "allow"),
        ("apigateway:DeleteStage", json!({"restApiId": "a1", "stageName": "prod"}), "approve1"),
        ("route53:ChangeResourceRecordSets", json!({"HostedZoneId": "Z1", "ChangeBatch": {"Changes": []}}), "approve1"),
        ("ec2:StopInstances", json!({"InstanceIds": ["i-1"]}), "approve1"),
        ("ec2:AuthorizeSecurityGroupIngress", json!({"GroupId": "sg-1"}), "approve1"),
        ("ec2:CreateTags", json!({"Resources": ["i-1"]}), "approve1"),
        ("ec2:GetPasswordData", json!({"InstanceId": "i-1"}), "approve1"),
        ("ec2:ModifySnapshotAttribute", json!({"SnapshotId": "snap-1"}), "approve2"),
        // IAM
        ("iam:ListRoles", json!({}), "allow"),
        ("iam:GetRole", json!({"RoleName": "app"}), "allow"),
        ("iam:ListAttachedRolePolicies", json!({"RoleName": "app"}), "allow"),
        ("iam:CreateUser", json!({"UserName": "bot"}), "approve2"), // Permissions management in the IAM data
        ("iam:TagRole", json!({"RoleName": "app"}), "approve1"),
        ("iam:AttachRolePolicy", json!({"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}), "approve2"),
        ("iam:PutRolePolicy", json!({"RoleName": "app"}), "approve2"),
        ("iam:CreatePolicyVersion", json!({"PolicyArn": "arn:aws:iam::123456789012:policy/p"}), "approve2"),
        ("iam:PassRole", json!({"RoleName": "app"}), "approve2"),
        ("iam:CreateAccessKey", json!({"UserName": "bot"}), "approve2"),
        ("iam:UpdateAssumeRolePolicy", json!({"RoleName": "app"}), "approve2"),
        // DynamoDB
        ("dynamodb:ListTables", json!({}), "allow"),
        ("dynamodb:DescribeTable", json!({"TableName": "orders"}), "allow"),
        ("dynamodb:Query", json!({"TableName": "orders"}), "allow"),
        ("dynamodb:Scan", json!({"TableName": "orders"}), "allow"),
        ("dynamodb:GetItem", json!({"TableName": "orders"}), "allow"),
        ("dynamodb:PutItem", json!({"TableName": "orders"}), "approve1"),
        ("dynamodb:DeleteTable", json!({"TableName": "orders"}), "approve1"),
        ("dynamodb:UpdateTable", json!({"TableName": "orders"}), "approve1"),
        ("dynamodb:BatchGetItem", json!({"RequestItems": {"orders": {"Keys": [{"pk": {"S": "a"}}]}}}), "allow"),
        ("dynamodb:BatchWriteItem", json!({"RequestItems": {"orders": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]}}), "approve1"),
        ("dynamodb:ExecuteStatement", json!({"Statement": "DELETE FROM \"orders\" WHERE pk = 'a'"}), "approve1"),
        ("dynamodb:ExecuteStatement", json!({"Statement": "SELECT * FROM /* ? */ \"orders\""}), "approve2"), // unreadable: unknown table
        ("dynamodb:TagResource", json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"}), "approve1"),
        // Lambda
        ("lambda:ListFunctions", json!({}), "approve1"), // returns every function's environment
        ("lambda:ListVersionsByFunction", json!({"FunctionName": "api"}), "approve1"),
        ("lambda:GetFunction", json!({"FunctionName": "api"}), "approve1"),
        ("lambda:GetFunctionConfiguration", json!({"FunctionName": "api"}), "approve1"),
        ("lambda:Invoke", json!({"FunctionName": "api"}), "approve2"), // InvokeFunction is on the privilege-escalation list
        ("lambda:UpdateFunctionCode", json!({"FunctionName": "api"}), "approve2"),
        ("lambda:CreateFunction", json!({"FunctionName": "new"}), "approve2"),
        ("lambda:AddPermission", json!({"FunctionName": "api"}), "approve2"),
        ("lambda:DeleteFunction", json!({"FunctionName": "api"}), "approve1"),
        // RDS
        ("rds:DescribeDBInstances", json!({}), "allow"),
        ("rds:DescribeDBSnapshots", json!({}), "allow"),
        ("rds:DeleteDBInstance", json!({"DBInstanceIdentifier": "db1"}), "approve1"),
        ("rds:ModifyDBInstance", json!({"DBInstanceIdentifier": "db1"}), "approve1"),
        ("rds:ModifyDBSnapshotAttribute", json!({"DBSnapshotIdentifier": "s1"}), "approve2"), // shares snapshots: Permissions management
        // KMS
        ("kms:ListKeys", json!({}), "allow"),
        ("kms:DescribeKey", json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}), "allow"),
        ("kms:DescribeKey", json!({"KeyId": "alias/app"}), "approve1"), // which key an alias names is unknown
        ("kms:Encrypt", json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Plaintext": "eA=="}), "approve1"),
        ("kms:Encrypt", json!({"KeyId": "alias/app", "Plaintext": "eA=="}), "approve2"),
        ("kms:Decrypt", json!({"KeyId": "arn:aws:kms:us-east-1:123456789012:key/k1"}), "approve1"),
        ("kms:ScheduleKeyDeletion", json!({"KeyId": "k1"}), "approve1"),
        ("kms:PutKeyPolicy", json!({"KeyId": "k1"}), "approve2"),
        ("kms:CreateGrant", json!({"KeyId": "k1"}), "approve2"),
        // Secrets Manager
        ("secretsmanager:ListSecrets", json!({}), "allow"),
        ("secretsmanager:DescribeSecret", json!({"SecretId": "db"}), "allow"),
        ("secretsmanager:GetSecretValue", json!({"SecretId": "db"}), "approve1"),
        ("secretsmanager:PutSecretValue", json!({"SecretId": "db"}), "approve1"),
        ("secretsmanager:DeleteSecret", json!({"SecretId": "db"}), "approve1"),
        ("secretsmanager:PutResourcePolicy", json!({"SecretId": "db"}), "approve2"),
        // Organizations
        ("organizations:ListAccounts", json!({}), "allow"),
        ("organizations:DescribeOrganization", json!({}), "allow"),
        ("organizations:LeaveOrganization", json!({}), "deny"),
        ("organizations:DeleteOrganization", json!({}), "deny"),
        ("organizations:CloseAccount", json!({"AccountId": "111122223333"}), "deny"),
        // CloudTrail
        ("cloudtrail:DescribeTrails", json!({}), "allow"),
        ("cloudtrail:LookupEvents", json!({}), "allow"),
        ("cloudtrail:DeleteTrail", json!({"Name": "org-trail"}), "deny"),
        ("cloudtrail:StopLogging", json!({"Name": "org-trail"}), "deny"),
        ("cloudtrail:UpdateTrail", json!({"Name": "org-trail"}), "deny"),
        // Others that hand out credentials
        ("ecr:GetAuthorizationToken", json!({}), "approve1"),
        ("ssm:GetParameter", json!({"Name": "/app/db-password", "WithDecryption": true}), "approve1"),
        ("sts:GetSessionToken", json!({}), "approve1"),
        ("sts:AssumeRole", json!({"RoleArn": "arn:aws:iam::123456789012:role/admin", "RoleSessionName": "x"}), "approve2"),
        ("guardduty:DeleteDetector", json!({"DetectorId": "d1"}), "deny"),
        // Reads whose answers carry secrets masking cannot know
        ("ecs:DescribeTaskDefinition", json!({"taskDefinition": "app:3"}), "approve1"),
        ("codebuild:BatchGetProjects", json!({"names": ["deploy"]}), "approve1"),
        ("ec2:DescribeInstanceAttribute", json!({"InstanceId": "i-1", "Attribute": "userData"}), "approve1"),
        ("ec2:DescribeLaunchTemplateVersions", json!({"LaunchTemplateId": "lt-1"}), "approve1"),
        ("glue:GetConnections", json!({}), "approve1"),
        ("states:DescribeExecution", json!({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:e1"}), "approve1"),
        ("redshift:GetClusterCredentials", json!({"DbUser": "u", "ClusterIdentifier": "c"}), "approve1"),
        // Reads that change state or cost money
        ("sqs:ReceiveMessage", json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "VisibilityTimeout": 43200}), "approve1"),
        ("bedrock:InvokeModel", json!({"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "body": "e30="}), "approve1"),
        ("bedrock:Converse", json!({"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "messages": []}), "approve1"),
        ("sagemaker:InvokeEndpoint", json!({"EndpointName": "e", "Body": "e30="}), "approve1"),
        ("logs:StartQuery", json!({"logGroupName": "/app", "startTime": 0, "endTime": 1, "queryString": "fields @message"}), "approve1"),
        ("athena:StartQueryExecution", json!({"QueryString": "SELECT 1"}), "approve1"),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for (action, params, want) in &cases {
        let (got, ids, resources) = outcome(&policy, action, params.clone());
        if got != *want {
            wrong.push(format!(
                "{action}: want {want}, got {got} by {ids:?} on {resources:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// The review's tie: an operator's `security-iam` (two approvals from `security`) beside the
/// shipped `permissions-two-approvals` (two from anyone). The shipped one sorts first, and used
/// to decide alone, dropping the security group.
#[test]
fn an_operators_group_survives_a_tie_with_the_shipped_policies() {
    let mut sources = bundled_sources();
    sources.push(tollgate_policy::PolicySource::new(
        "operator.cedar",
        r#"
        @id("security-iam") @approval("2") @approvers("security")
        permit (principal, action in Action::"Permissions management", resource);
        @id("secrets-need-sec") @approval("1") @approvers("security")
        permit (principal, action == Action::"secretsmanager:GetSecretValue", resource);
        "#,
    ));
    let policy = CedarPolicy::new(&sources, 3600).unwrap();
    let decide = |action: &str, params: serde_json::Value| {
        let body = json!({"action": action, "params": params, "reason": "r"});
        let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
        classify(&policy, &req, &agent(), "123456789012", 1_790_000_000, "")
            .unwrap()
            .decision
    };
    let d = decide("iam:CreateAccessKey", json!({"UserName": "bot"}));
    assert_eq!(
        d.requirements(),
        &[tollgate_core::GroupRequirement::of("security", 2)],
        "{d:?}"
    );
    assert!(d.policy_ids.contains(&"security-iam".to_string()), "{d:?}");
    let d = decide("secretsmanager:GetSecretValue", json!({"SecretId": "db"}));
    assert_eq!(
        d.requirements(),
        &[tollgate_core::GroupRequirement::of("security", 1)],
        "{d:?}"
    );
}
