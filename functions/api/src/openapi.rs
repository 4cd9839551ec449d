//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 description, kept in the repository next to
//! this crate and checked against the live API by `tests/openapi.rs`.

use serde_json::{Value, json};

use crate::Response;

pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The document, with this deployment's target names: a request naming any other target is
/// refused, so the description says exactly which are valid.
pub(crate) fn document<'a>(targets: impl Iterator<Item = &'a String>) -> Response {
    let Ok(mut doc) = serde_json::from_str::<Value>(OPENAPI_JSON) else {
        return Response::json_text(200, OPENAPI_JSON.to_string());
    };
    let mut names: Vec<&String> = targets.collect();
    names.sort();
    let mut allowed = json!(names);
    if let Some(list) = allowed.as_array_mut() {
        // `null` means the default target.
        list.push(Value::Null);
    }
    for at in [
        "/components/schemas/NewRequest/properties/target",
        "/components/schemas/PlanStep/properties/target",
        "/components/schemas/NewUpload/properties/target",
        // Gateway credentials name the target their calls act in.
        "/paths/~1v1~1credentials/post/requestBody/content/application~1json/schema/properties/target",
    ] {
        if let Some(target) = doc.pointer_mut(at) {
            target["enum"] = allowed.clone();
        }
    }
    Response::json(200, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_lists_the_targets() {
        let targets = ["prod".to_string(), "default".to_string()];
        let doc: Value = serde_json::from_str(&document(targets.iter()).body).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc.pointer("/components/schemas/NewRequest/properties/target/enum"),
            Some(&json!(["default", "prod", null]))
        );
        assert_eq!(
            doc.pointer("/paths/~1v1~1credentials/post/requestBody/content/application~1json/schema/properties/target/enum"),
            Some(&json!(["default", "prod", null]))
        );
    }
}
