//! Which service and operation a verified call is: the credential scope's signing name
//! gives the candidate models, and the first whose protocol finds an operation in the call
//! decodes it (DynamoDB and DynamoDB Streams share a signing name, told apart by target).

use std::sync::Arc;

use tollgate_models::{DecodeErrorKind, DecodedRequest, ServiceModel, WireRequest};

use super::Refusal;

/// Signing names that are neither a botocore service name nor an IAM prefix.
const ALIASES: [(&str, &str); 4] = [
    ("monitoring", "cloudwatch"),
    ("states", "stepfunctions"),
    ("email", "ses"),
    ("es", "opensearch"),
];

/// The models signed with `signing_name`, each with the IAM prefix its actions are named by.
pub(crate) fn candidates(signing_name: &str) -> Vec<(Arc<ServiceModel>, String)> {
    let alias = ALIASES
        .iter()
        .find(|(s, _)| *s == signing_name)
        .map(|(_, name)| *name);
    let mut names: Vec<&str> = tollgate_models::prefix_services(signing_name)
        .iter()
        .map(String::as_str)
        .collect();
    names.extend([signing_name].into_iter().chain(alias));
    let mut out: Vec<(Arc<ServiceModel>, String)> = Vec::new();
    for name in names {
        if out.iter().any(|(m, _)| m.service_name() == name) {
            continue;
        }
        let Ok(model) = tollgate_models::load(name) else {
            continue;
        };
        if model.signing_name() != signing_name {
            continue;
        }
        let Some(prefix) = iam_prefix(name) else {
            continue;
        };
        out.push((model, prefix));
    }
    out
}

/// The IAM prefix under which a botocore service's operations are named (`s3`, `states`).
fn iam_prefix(service: &str) -> Option<String> {
    if tollgate_models::prefix_services(service)
        .iter()
        .any(|s| s == service)
    {
        return Some(service.to_string());
    }
    tollgate_models::prefixes()
        .into_iter()
        .find(|p| {
            tollgate_models::prefix_services(p)
                .iter()
                .any(|s| s == service)
        })
        .map(str::to_string)
}

/// The model, the IAM prefix and the decoded call.
pub(crate) fn decode(
    signing_name: &str,
    wire: &WireRequest<'_>,
) -> Result<(Arc<ServiceModel>, String, DecodedRequest), Refusal> {
    let models = candidates(signing_name);
    if models.is_empty() {
        return Err(Refusal::UnknownService(signing_name.to_string()));
    }
    let mut first_error = None;
    for (model, prefix) in models {
        match tollgate_models::decode_request(&model, wire) {
            Ok(d) => return Ok((model, prefix, d)),
            Err(e) if e.kind == DecodeErrorKind::UnknownOperation => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(Refusal::Decode(e)),
        }
    }
    Err(first_error.map_or_else(
        || Refusal::UnknownService(signing_name.to_string()),
        Refusal::Decode,
    ))
}
