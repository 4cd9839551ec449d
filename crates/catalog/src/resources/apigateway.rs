//! API Gateway's management APIs are authorized by HTTP verb (`apigateway:GET`, `DELETE`, ...)
//! on the request path: the resource of `GetStage {restApiId, stageName}` is
//! `arn:aws:apigateway:<region>::/restapis/<id>/stages/<name>`, of an HTTP API (v2, path
//! `/v2/apis/...`) `arn:aws:apigateway:<region>::/apis/...`. The catalog lists only the v2
//! path types, so the ARN is built from the path the call will really use.

use serde_json::{Map, Value};
use tollgate_models::ServiceModel;

use super::ResourceError;

/// The ARN of the path `operation` acts on. `Ok(None)`: the path cannot be built (a label
/// is missing, a segment is `.` or `..`).
pub fn arn(
    model: &ServiceModel,
    operation: &str,
    params: &Map<String, Value>,
    region: &str,
    partition: &str,
) -> Result<Option<String>, ResourceError> {
    let Ok(req) = tollgate_models::build_request(model, operation, params, region, None) else {
        return Ok(None);
    };
    let Some(after_scheme) = req.url.split_once("://").map(|(_, r)| r) else {
        return Ok(None);
    };
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let path = path
        .strip_prefix("/v2")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path);
    // A dot segment would be resolved away by the HTTP client: the path AWS sees is not this.
    if path.split('/').any(|s| {
        s == "." || s == ".." || s.eq_ignore_ascii_case("%2e") || s.eq_ignore_ascii_case("%2e%2e")
    }) {
        return Ok(None);
    }
    let lower = path.to_ascii_lowercase();
    if path.contains('*') || lower.contains("%2a") || lower.contains("%3f") {
        // A wildcard in a name would widen the session policy to other resources.
        let field = params
            .iter()
            .find(|(_, v)| v.as_str().is_some_and(|s| s.contains(['*', '?'])))
            .map_or("params".to_string(), |(k, _)| format!("params.{k}"));
        return Err(ResourceError {
            field,
            message: "must not contain `*` or `?`".into(),
        });
    }
    Ok(Some(format!("arn:{partition}:apigateway:{region}::{path}")))
}
