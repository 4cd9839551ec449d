//! Creates in the emulator what the SAM template creates in AWS: the table, the topic and
//! its subscription, the roles, and the state machine from the same ASL file with the same
//! substitutions. The secrets are `secrets.rs`, the functions' configurations `lambda.rs`.

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use tollgate_aws::signed_http::SignedHttp;
use tollgate_aws::store::{AGENT_INDEX, STATUS_INDEX};

use crate::names::Names;

/// The ASL file, as deployed.
pub const ASL: &str = include_str!("../../../statemachines/approval.asl.json");

/// Applies SAM's `DefinitionSubstitutions` to the ASL text.
pub fn substitute(asl: &str, substitutions: &[(&str, &str)]) -> String {
    substitutions.iter().fold(asl.to_string(), |acc, (k, v)| {
        acc.replace(&format!("${{{k}}}"), v)
    })
}

pub async fn bootstrap(
    sdk: &SdkConfig,
    names: &Names,
    moto_url: &str,
    sns_endpoint: &str,
) -> Result<String, String> {
    let err = |what: &str| {
        let what = what.to_string();
        move |e: String| format!("bootstrap {what}: {e}")
    };
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    ddb.create_table()
        .table_name(&names.table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .attribute_definitions(attr("agent")?)
        .attribute_definitions(attr("status_shard")?)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("created_at")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        // The listing indexes, as in infra/template.yaml.
        .global_secondary_indexes(listing_index(AGENT_INDEX, "agent", &["doc", "status"])?)
        .global_secondary_indexes(listing_index(STATUS_INDEX, "status_shard", &["doc"])?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        .map_err(err("table"))?;

    let sns = aws_sdk_sns::Client::new(sdk);
    // The approval topic and the alarm topic, both delivered to the local host's outbox
    // (each entry says which topic it came from).
    for name in [&names.topic, &names.alarm_topic] {
        let topic = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(e).to_string())
            .map_err(err("topic"))?;
        let topic_arn = topic.topic_arn().unwrap_or_default().to_string();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("http")
            .endpoint(sns_endpoint)
            .send()
            .await
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(e).to_string())
            .map_err(err("subscription"))?;
    }

    let trust_sfn = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let trust_executor = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity","sts:TagSession"]}}]}}"#,
        names.account
    );
    create_role(moto_url, &names.state_machine_role, trust_sfn)
        .await
        .map_err(err("state machine role"))?;
    create_role(moto_url, &names.target_role, &trust_executor)
        .await
        .map_err(err("target role"))?;
    create_role(moto_url, &names.sandbox_role, &trust_executor)
        .await
        .map_err(err("sandbox target role"))?;
    let trust_lambda = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    create_role(moto_url, &names.functions_role, trust_lambda)
        .await
        .map_err(err("functions role"))?;

    let definition = substitute(
        ASL,
        &[
            // The emulator is the `aws` partition.
            ("Partition", "aws"),
            (
                "NotifierFunctionArn",
                &names.function_arn(&names.notifier_function),
            ),
            (
                "ExecutorFunctionArn",
                &names.function_arn(&names.executor_function),
            ),
        ],
    );
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let sm = sfn
        .create_state_machine()
        .name(&names.state_machine)
        .definition(definition)
        .role_arn(names.role_arn(&names.state_machine_role))
        .send()
        .await
        .map_err(|e| aws_sdk_sfn::error::DisplayErrorContext(e).to_string())
        .map_err(err("state machine"))?;
    Ok(sm.state_machine_arn().to_string())
}

fn attr(name: &str) -> Result<AttributeDefinition, String> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())
}

fn listing_index(
    name: &str,
    hash: &str,
    attributes: &[&str],
) -> Result<GlobalSecondaryIndex, String> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash)?)
        .key_schema(key("created_at", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(attributes.iter().map(|a| a.to_string()).collect()))
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())
}

fn key(name: &str, t: KeyType) -> Result<KeySchemaElement, String> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .map_err(|e| e.to_string())
}

/// Creates SSM parameters and S3 objects in the emulator, through the SigV4 caller.
pub async fn seed(
    moto_url: &str,
    ssm: &[(String, String)],
    s3: &[(String, String, String)],
) -> Result<(), String> {
    let creds = Credentials::new("testing", "testing", None, None, "local");
    let http = SignedHttp::new();
    let send = |req: http::Request<Vec<u8>>, service: &'static str| {
        let http = http.clone();
        let creds = creds.clone();
        async move {
            let r = http
                .send(req, &creds, "us-east-1", service)
                .await
                .map_err(|e| e.message)?;
            if r.status >= 300 {
                return Err(format!(
                    "seeding {service}: HTTP {}: {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            Ok(())
        }
    };
    for (name, value) in ssm {
        let body =
            serde_json::json!({"Name": name, "Value": value, "Type": "String", "Overwrite": true});
        let req = http::Request::post(format!("{moto_url}/"))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "AmazonSSM.PutParameter")
            .body(body.to_string().into_bytes())
            .map_err(|e| e.to_string())?;
        send(req, "ssm").await?;
    }
    let s3_client = tollgate_aws::s3::S3::new("us-east-1", Some(moto_url));
    for (bucket, key, body) in s3 {
        s3_client.create_bucket(&creds, bucket).await?;
        s3_client
            .put(&creds, bucket, key, body.clone().into_bytes(), "text/plain")
            .await?;
    }
    Ok(())
}

/// IAM's query API through the SigV4 caller: one call does not justify another SDK crate.
async fn create_role(moto_url: &str, name: &str, trust: &str) -> Result<(), String> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "CreateRole")
        .append_pair("Version", "2010-05-08")
        .append_pair("RoleName", name)
        .append_pair("AssumeRolePolicyDocument", trust)
        .finish();
    let req = http::Request::post(format!("{moto_url}/"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.into_bytes())
        .map_err(|e| e.to_string())?;
    let creds = Credentials::new("testing", "testing", None, None, "local");
    let resp = SignedHttp::new()
        .send(req, &creds, "us-east-1", "iam")
        .await
        .map_err(|e| e.message)?;
    if resp.status != 200 {
        return Err(format!(
            "CreateRole answered {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    Ok(())
}
