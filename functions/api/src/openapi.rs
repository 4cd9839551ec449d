//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 description, kept in the repository next to
//! this crate and checked against the live API by `tests/openapi.rs`.

use crate::Response;

pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub(crate) fn document() -> Response {
    Response {
        status: 200,
        content_type: "application/json",
        body: OPENAPI_JSON.to_string(),
    }
}
