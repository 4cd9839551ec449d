//! How to reach the services the executor can call in this version: JSON-protocol services,
//! which take `POST /` with an `X-Amz-Target` header and a JSON body.

/// Wire details of a JSON-protocol service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonService {
    /// IAM service prefix, as in `dynamodb:DescribeTable`.
    pub prefix: &'static str,
    /// Host label: `https://{endpoint_prefix}.{region}.amazonaws.com`.
    pub endpoint_prefix: &'static str,
    /// SigV4 signing name.
    pub signing_name: &'static str,
    /// `X-Amz-Target: {target_prefix}.{Operation}`.
    pub target_prefix: &'static str,
    /// `application/x-amz-json-{json_version}`.
    pub json_version: &'static str,
}

impl JsonService {
    pub fn target(&self, operation: &str) -> String {
        format!("{}.{operation}", self.target_prefix)
    }

    pub fn content_type(&self) -> String {
        format!("application/x-amz-json-{}", self.json_version)
    }
}

const fn svc(
    prefix: &'static str,
    endpoint_prefix: &'static str,
    target_prefix: &'static str,
    json_version: &'static str,
) -> JsonService {
    JsonService {
        prefix,
        endpoint_prefix,
        signing_name: endpoint_prefix,
        target_prefix,
        json_version,
    }
}

const JSON_SERVICES: [JsonService; 14] = [
    svc("dynamodb", "dynamodb", "DynamoDB_20120810", "1.0"),
    svc("sqs", "sqs", "AmazonSQS", "1.0"),
    svc("kms", "kms", "TrentService", "1.1"),
    svc("secretsmanager", "secretsmanager", "secretsmanager", "1.1"),
    svc("ssm", "ssm", "AmazonSSM", "1.1"),
    svc("logs", "logs", "Logs_20140328", "1.1"),
    svc("events", "events", "AWSEvents", "1.1"),
    svc("kinesis", "kinesis", "Kinesis_20131202", "1.1"),
    svc(
        "ecr",
        "api.ecr",
        "AmazonEC2ContainerRegistry_V20150921",
        "1.1",
    ),
    svc("ecs", "ecs", "AmazonEC2ContainerServiceV20141113", "1.1"),
    svc("states", "states", "AWSStepFunctions", "1.0"),
    svc("firehose", "firehose", "Firehose_20150804", "1.1"),
    svc("athena", "athena", "AmazonAthena", "1.1"),
    svc(
        "cloudtrail",
        "cloudtrail",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
        "1.1",
    ),
];

pub fn json_service(prefix: &str) -> Option<JsonService> {
    JSON_SERVICES
        .iter()
        .copied()
        .find(|s| s.prefix == prefix)
        .map(|s| {
            // ECR signs as `ecr` although its host label is `api.ecr`.
            if s.prefix == "ecr" {
                JsonService {
                    signing_name: "ecr",
                    ..s
                }
            } else {
                s
            }
        })
}

pub fn supported_services() -> impl Iterator<Item = &'static str> {
    JSON_SERVICES.iter().map(|s| s.prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_wire_details() {
        let d = json_service("dynamodb").unwrap();
        assert_eq!(d.target("DeleteTable"), "DynamoDB_20120810.DeleteTable");
        assert_eq!(d.content_type(), "application/x-amz-json-1.0");
        assert_eq!(json_service("ecr").unwrap().signing_name, "ecr");
        assert!(json_service("s3").is_none());
    }
}
