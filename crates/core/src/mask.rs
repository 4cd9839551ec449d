//! Secrets in AWS answers are replaced before anything is stored, logged or returned: by
//! member name wherever it appears ([`is_secret_name`]), by container (environment variables,
//! user data, job arguments: values nobody can tell apart from secrets), and by value shape
//! whatever member holds it.
//!
//! Request parameters are different: approvers must see what will run, so they are masked by
//! member name only, never by shape, and each masked value shows its length and digest
//! ([`mask_params`]); [`check_params`] refuses masked values too long to be a secret.

mod names;
mod params;

use serde_json::Value;

pub use names::is_secret_name;
pub use params::{
    MAX_MASKED_CHARS, MAX_OPAQUE_MASKED_CHARS, check_params, is_masked_marker, mask_params,
};

pub const MASK: &str = "****MASKED****";

/// Members whose whole content is secret whatever it looks like: environment variables, user
/// data (base64, so no shape check can see into it) and job arguments (compared without case
/// and separators).
const CONTAINERS: [&str; 8] = [
    "environment",
    "variables",
    "environmentvariables",
    "runtimeenvironmentvariables",
    "envvars",
    "userdata",
    "defaultarguments",
    "nonoverridablearguments",
];

/// Members of a name/value pair whose value is secret when the name is (CloudFormation
/// parameters, Elastic Beanstalk option settings, tags).
pub(crate) const PAIR_NAMES: [&str; 7] = [
    "Name",
    "name",
    "OptionName",
    "Key",
    "key",
    "ParameterKey",
    "OutputKey",
];
pub(crate) const PAIR_VALUES: [&str; 4] = ["Value", "value", "ParameterValue", "OutputValue"];

/// Extra rules for one call: members to mask besides the built-in ones, and members an agent
/// was explicitly allowed to see unmasked (from the deciding policy).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MaskRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmask: Vec<String>,
}

impl MaskRules {
    pub fn is_empty(&self) -> bool {
        self.mask.is_empty() && self.unmask.is_empty()
    }
}

/// Masks in place with the built-in rules; returns how many values were masked.
pub fn mask(v: &mut Value) -> usize {
    mask_with(v, &MaskRules::default())
}

/// Masks an answer of `service` (the IAM prefix) in place: the built-in rules, the service's
/// own (API Gateway API key `value`s), plus `rules`.
pub fn mask_answer(service: &str, v: &mut Value, rules: &MaskRules) -> usize {
    let mut n = 0;
    if service.eq_ignore_ascii_case("apigateway") {
        n += mask_api_key_values(v);
    }
    n + mask_with(v, rules)
}

/// Masks in place with the built-in rules plus `rules`.
pub fn mask_with(v: &mut Value, rules: &MaskRules) -> usize {
    let eq = |list: &[String], k: &str| list.iter().any(|m| m.eq_ignore_ascii_case(k));
    match v {
        Value::Object(map) => {
            let mut n = 0;
            for (k, child) in map.iter_mut() {
                if eq(&rules.unmask, k) {
                    continue;
                }
                // Neither can carry a secret; `ManageMasterUserPassword: true` stays readable.
                if child.is_null() || child.is_boolean() {
                    continue;
                }
                if is_secret_name(k) || eq(&rules.mask, k) {
                    n += mask_all(child);
                } else if is_container(k) {
                    n += mask_container(child, rules);
                } else {
                    n += mask_with(child, rules);
                }
            }
            n + mask_pair_values(map)
        }
        Value::Array(items) => items.iter_mut().map(|i| mask_with(i, rules)).sum(),
        Value::String(s) => mask_string(s),
        _ => 0,
    }
}

fn is_container(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    CONTAINERS.contains(&folded.as_str())
}

/// Every string and number at or under `v` masked (keys and structure kept, so `Credentials`
/// still has its `Expiration` member, masked).
fn mask_all(v: &mut Value) -> usize {
    match v {
        Value::String(_) | Value::Number(_) => {
            *v = Value::String(MASK.into());
            1
        }
        Value::Array(items) => items.iter_mut().map(mask_all).sum(),
        Value::Object(map) => map.values_mut().map(mask_all).sum(),
        _ => 0,
    }
}

/// A container's values: a string (user data) whole; a list of `{name, value}` pairs (ECS,
/// Batch, CodeBuild) each value, except CodeBuild variables that are references
/// (`PARAMETER_STORE`, `SECRETS_MANAGER`); a map of strings (Lambda `Variables`, Glue
/// `DefaultArguments`) every value. An object with nested objects is a structure (Lambda's
/// `Environment: {Variables, Error}`, CodeBuild's `environment`): its members are looked at
/// one by one.
fn mask_container(v: &mut Value, rules: &MaskRules) -> usize {
    match v {
        Value::String(_) | Value::Number(_) => mask_all(v),
        Value::Array(items) => items.iter_mut().map(|i| mask_container(i, rules)).sum(),
        Value::Object(map) => {
            if let Some(n) = mask_env_pair(map) {
                return n;
            }
            if map.values().any(|x| x.is_object() || x.is_array()) {
                return mask_with(v, rules);
            }
            map.values_mut()
                .filter(|x| !x.is_boolean())
                .map(mask_all)
                .sum()
        }
        _ => 0,
    }
}

/// `{name, value[, type]}`: the value masked unless `type` says it is a reference. `None`
/// when the object is not such a pair.
fn mask_env_pair(map: &mut serde_json::Map<String, Value>) -> Option<usize> {
    let key = |want: &str| map.keys().find(|k| k.eq_ignore_ascii_case(want)).cloned();
    let (Some(_), Some(value)) = (key("name"), key("value")) else {
        return None;
    };
    if map.len() > 3 {
        return None;
    }
    if let Some(t) = key("type")
        && map[&t]
            .as_str()
            .is_some_and(|t| !t.eq_ignore_ascii_case("PLAINTEXT"))
    {
        return Some(0);
    }
    Some(map.get_mut(&value).map(mask_all).unwrap_or(0))
}

/// Pairs whose value is secret because of a sibling: SSM `SecureString` parameters, a
/// `{Name|Key|OptionName, Value}` pair whose name is secret (`DB_PASSWORD`), and Elastic
/// Beanstalk environment properties.
fn mask_pair_values(map: &mut serde_json::Map<String, Value>) -> usize {
    let secret = map.get("Type").and_then(Value::as_str) == Some("SecureString")
        || map.get("Namespace").and_then(Value::as_str)
            == Some("aws:elasticbeanstalk:application:environment")
        || PAIR_NAMES.iter().any(|n| {
            map.get(*n)
                .and_then(Value::as_str)
                .is_some_and(is_secret_name)
        });
    if !secret {
        return 0;
    }
    let mut n = 0;
    for name in PAIR_VALUES {
        if let Some(v) = map.get_mut(name)
            && v.as_str().is_some_and(|s| s != MASK)
        {
            *v = Value::String(MASK.into());
            n += 1;
        }
    }
    n
}

/// API Gateway API keys (`GetApiKeys` with `includeValues`, `GetUsagePlanKeys`): `{id, value}`,
/// where `value` is the key.
fn mask_api_key_values(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => {
            let mut n = 0;
            if map.contains_key("id")
                && let Some(value) = map.get_mut("value")
                && value.as_str().is_some_and(|s| s != MASK)
            {
                *value = Value::String(MASK.into());
                n += 1;
            }
            n + map.values_mut().map(mask_api_key_values).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(mask_api_key_values).sum(),
        _ => 0,
    }
}

/// Masks secret-shaped values inside a string; returns 1 if anything was masked.
fn mask_string(s: &mut String) -> usize {
    if looks_secret(s) {
        *s = MASK.into();
        return 1;
    }
    if let Some(masked) = mask_url_password(s) {
        *s = masked;
        return 1;
    }
    0
}

fn looks_secret(s: &str) -> bool {
    (s.contains("-----BEGIN") && s.contains("PRIVATE KEY-----"))
        || is_access_key_id(s)
        || is_secret_access_key_shape(s)
        || is_jwt(s)
}

/// `AKIA…`/`ASIA…` followed by 16 upper-case letters or digits.
fn is_access_key_id(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// 40 characters of base64 alphabet with both cases and a digit, `/` or `+`: the shape of an
/// AWS secret access key.
fn is_secret_access_key_shape(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
}

/// A JWT (three base64url segments) or a JWE (five, as Cognito refresh tokens), the first a
/// JSON header (`eyJ`).
fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    let body = match parts.len() {
        3 => parts[1],
        5 => parts[3],
        _ => return false,
    };
    parts[0].starts_with("eyJ")
        && body.len() >= 4
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `scheme://user:password@host…` → the password replaced.
fn mask_url_password(s: &str) -> Option<String> {
    let scheme_end = s.find("://")?;
    let rest = &s[scheme_end + 3..];
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    if userinfo.contains('/') {
        return None;
    }
    let colon = userinfo.find(':')?;
    if colon + 1 == userinfo.len() || userinfo[colon + 1..] == *MASK {
        return None;
    }
    Some(format!(
        "{}{}:{MASK}{}",
        &s[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_by_member_name_at_any_depth() {
        let mut v = json!({
            "Credentials": {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "abc", "SessionToken": "tok"},
            "List": [{"password": "p"}, {"Other": 1}],
            "SecretString": null
        });
        assert_eq!(mask(&mut v), 4);
        assert_eq!(v["Credentials"]["SecretAccessKey"], MASK);
        assert_eq!(v["Credentials"]["AccessKeyId"], MASK);
        assert_eq!(v["List"][0]["password"], MASK);
        assert_eq!(v["List"][1]["Other"], 1);
        assert_eq!(v["SecretString"], Value::Null);
    }

    #[test]
    fn masks_by_value_shape() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let mut v = json!({
            "Note": "-----BEGIN RSA PRIVATE KEY-----\nMII...\n-----END RSA PRIVATE KEY-----",
            "K": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Id": "AKIAIOSFODNN7EXAMPLE",
            "Token": jwt,
            "Url": "postgres://app:s3cr3t@db.internal:5432/app",
            "TableName": "orders",
            "Arn": "arn:aws:iam::123456789012:role/x",
        });
        assert_eq!(mask(&mut v), 5);
        assert_eq!(
            v["Url"],
            format!("postgres://app:{MASK}@db.internal:5432/app")
        );
        assert_eq!(v["TableName"], "orders");
        assert_eq!(v["Arn"], "arn:aws:iam::123456789012:role/x");
    }

    #[test]
    fn secure_string_parameters() {
        let mut v = json!({"Parameter": {"Name": "/db/pw", "Type": "SecureString", "Value": "hunter2"},
                           "Other": {"Name": "/x", "Type": "String", "Value": "plain"}});
        assert_eq!(mask(&mut v), 1);
        assert_eq!(v["Parameter"]["Value"], MASK);
        assert_eq!(v["Other"]["Value"], "plain");
    }

    #[test]
    fn policy_rules_add_and_allow() {
        let rules = MaskRules {
            mask: vec!["ConnectionString".into()],
            unmask: vec!["SecretString".into()],
        };
        let mut v = json!({"ConnectionString": "Server=x", "SecretString": "visible-to-this-agent", "Password": "p"});
        assert_eq!(mask_with(&mut v, &rules), 2);
        assert_eq!(v["SecretString"], "visible-to-this-agent");
        assert_eq!(v["ConnectionString"], MASK);
    }

    #[test]
    fn masking_is_idempotent() {
        let mut v = json!({"Url": "mysql://u:p@h/db", "Password": "x"});
        mask(&mut v);
        let once = v.clone();
        assert_eq!(mask(&mut v), 1); // the already-masked Password member is counted, not changed
        assert_eq!(v, once);
    }

    #[test]
    fn answers_mask_secret_names_but_keep_cursors() {
        let mut v = json!({
            "DbPassword": "p1", "DbUser": "IAM:alice",
            "ServiceSpecificCredential": {"ServicePassword": "p2", "ServiceUserName": "u"},
            "SharedSecret": "c2VjcmV0", "RandomPassword": "p3",
            "AuthenticationResult": {"AccessToken": "a", "IdToken": "i", "RefreshToken": "r", "TokenType": "Bearer", "ExpiresIn": 3600},
            "NextToken": "page-2", "PaginationToken": "p", "ContinuationToken": "c",
            "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "User": {"PasswordLastUsed": "2024-01-01T00:00:00+00:00", "PasswordResetRequired": false},
        });
        mask(&mut v);
        for p in [
            "/DbPassword",
            "/ServiceSpecificCredential/ServicePassword",
            "/SharedSecret",
            "/RandomPassword",
            "/AuthenticationResult/AccessToken",
            "/AuthenticationResult/IdToken",
            "/AuthenticationResult/RefreshToken",
        ] {
            assert_eq!(v.pointer(p).unwrap(), MASK, "{p}: {v}");
        }
        assert_eq!(v["NextToken"], "page-2");
        assert_eq!(v["PaginationToken"], "p");
        assert_eq!(v["ContinuationToken"], "c");
        assert_eq!(v["AuthenticationResult"]["TokenType"], "Bearer");
        assert_eq!(v["AuthenticationResult"]["ExpiresIn"], 3600);
        assert_eq!(v["DbUser"], "IAM:alice");
        assert!(v["SecretArn"].as_str().unwrap().starts_with("arn:"));
        assert!(v["KeyId"].as_str().unwrap().starts_with("1234"));
        assert_eq!(v["User"]["PasswordLastUsed"], "2024-01-01T00:00:00+00:00");
        assert_eq!(v["User"]["PasswordResetRequired"], false);
    }

    #[test]
    fn containers_mask_every_value() {
        let mut v = json!({
            // lambda:ListFunctions
            "Functions": [{"FunctionName": "f", "Environment": {"Variables": {"TOLLGATE_LINK_KEY": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "MODE": "prod"}}}],
            // ecs:DescribeTaskDefinition, batch:DescribeJobDefinitions
            "containerDefinitions": [{"name": "app", "image": "app:1", "environment": [{"name": "API_URL", "value": "https://x"}, {"name": "SIGNING", "value": "abc"}]}],
            // codebuild:BatchGetProjects
            "projects": [{"name": "p", "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                "environmentVariables": [
                    {"name": "GH", "value": "ghp_xxx", "type": "PLAINTEXT"},
                    {"name": "DB", "value": "/prod/db", "type": "PARAMETER_STORE"}]}}],
            // ec2:DescribeInstanceAttribute, DescribeLaunchTemplateVersions
            "UserData": {"Value": "IyEvYmluL2Jhc2gKZXhwb3J0IFRPS0VOPWFiYw=="},
            "LaunchTemplateData": {"UserData": "IyEvYmluL2Jhc2g=", "ImageId": "ami-1"},
            // glue:GetJobs
            "Jobs": [{"Name": "j", "DefaultArguments": {"--db-url": "jdbc:x", "--enable-metrics": "true"}}],
            // apprunner:DescribeService
            "ImageConfiguration": {"RuntimeEnvironmentVariables": {"K": "v"}, "Port": "8080"},
            // amplify:GetApp
            "app": {"appId": "a", "environmentVariables": {"K": "v"}, "basicAuthCredentials": "dXNlcjpwYXNz"},
        });
        mask(&mut v);
        let f = &v["Functions"][0];
        assert_eq!(f["Environment"]["Variables"]["TOLLGATE_LINK_KEY"], MASK);
        assert_eq!(f["Environment"]["Variables"]["MODE"], MASK);
        assert_eq!(f["FunctionName"], "f");
        let c = &v["containerDefinitions"][0];
        assert_eq!(c["environment"][0]["value"], MASK);
        assert_eq!(c["environment"][0]["name"], "API_URL");
        assert_eq!(c["environment"][1]["value"], MASK);
        assert_eq!(c["image"], "app:1");
        let e = &v["projects"][0]["environment"];
        assert_eq!(e["image"], "aws/codebuild/standard:7.0");
        assert_eq!(e["environmentVariables"][0]["value"], MASK);
        assert_eq!(e["environmentVariables"][1]["value"], "/prod/db");
        assert_eq!(v["UserData"]["Value"], MASK);
        assert_eq!(v["LaunchTemplateData"]["UserData"], MASK);
        assert_eq!(v["LaunchTemplateData"]["ImageId"], "ami-1");
        assert_eq!(v["Jobs"][0]["DefaultArguments"]["--db-url"], MASK);
        assert_eq!(v["Jobs"][0]["Name"], "j");
        assert_eq!(
            v["ImageConfiguration"]["RuntimeEnvironmentVariables"]["K"],
            MASK
        );
        assert_eq!(v["ImageConfiguration"]["Port"], "8080");
        assert_eq!(v["app"]["environmentVariables"]["K"], MASK);
        assert_eq!(v["app"]["basicAuthCredentials"], MASK);
        assert_eq!(v["app"]["appId"], "a");
    }

    #[test]
    fn pairs_with_secret_names() {
        let mut v = json!({
            // glue:GetConnection(s)
            "ConnectionProperties": {"USERNAME": "admin", "PASSWORD": "p", "ENCRYPTED_PASSWORD": "e",
                                     "KAFKA_SASL_SCRAM_PASSWORD": "k", "JDBC_CONNECTION_URL": "jdbc:postgresql://h/db"},
            // elasticbeanstalk:DescribeConfigurationSettings
            "OptionSettings": [
                {"Namespace": "aws:elasticbeanstalk:application:environment", "OptionName": "API_URL", "Value": "https://x"},
                {"Namespace": "aws:autoscaling:asg", "OptionName": "MinSize", "Value": "1"}],
            // cloudformation:DescribeStacks
            "Parameters": [{"ParameterKey": "DbPassword", "ParameterValue": "p"}, {"ParameterKey": "Env", "ParameterValue": "prod"}],
        });
        mask(&mut v);
        let c = &v["ConnectionProperties"];
        assert_eq!(c["PASSWORD"], MASK);
        assert_eq!(c["ENCRYPTED_PASSWORD"], MASK);
        assert_eq!(c["KAFKA_SASL_SCRAM_PASSWORD"], MASK);
        assert_eq!(c["USERNAME"], "admin");
        assert_eq!(c["JDBC_CONNECTION_URL"], "jdbc:postgresql://h/db");
        assert_eq!(v["OptionSettings"][0]["Value"], MASK);
        assert_eq!(v["OptionSettings"][1]["Value"], "1");
        assert_eq!(v["Parameters"][0]["ParameterValue"], MASK);
        assert_eq!(v["Parameters"][1]["ParameterValue"], "prod");
    }

    #[test]
    fn api_gateway_key_values() {
        let mut v = json!({"items": [{"id": "k1", "name": "partner", "value": "a1b2c3d4e5f6g7h8i9j0", "enabled": true}],
                           "position": "next"});
        assert_eq!(mask_answer("apigateway", &mut v, &MaskRules::default()), 1);
        assert_eq!(v["items"][0]["value"], MASK);
        assert_eq!(v["items"][0]["name"], "partner");
        let mut t = json!({"value": "{\"type\": \"object\"}"});
        mask_answer("apigateway", &mut t, &MaskRules::default());
        assert_eq!(
            t["value"], "{\"type\": \"object\"}",
            "a model template is no key"
        );
        let mut other = json!({"id": "x", "value": "v"});
        mask_answer("dynamodb", &mut other, &MaskRules::default());
        assert_eq!(other["value"], "v");
    }

    #[test]
    fn jwe_tokens_by_shape() {
        let jwe = "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.aGVsbG8.aXY.Y2lwaGVydGV4dA.dGFn";
        let mut v = json!({"Opaque": jwe});
        assert_eq!(mask(&mut v), 1);
    }
}
