//! The `query` and `ec2` protocols: an XML document whose result element (the operation's
//! `resultWrapper`, `<OpResult>`) or root holds the output members.

use serde_json::{Map, Value};

use super::xml::xml_struct;
use crate::model::{ServiceModel, Shape};
use crate::xml;

pub(super) fn parse(
    model: &ServiceModel,
    result_wrapper: Option<&str>,
    shape: &Shape,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    let root = xml::parse(trimmed).map_err(|e| format!("invalid XML: {e}"))?;
    match result_wrapper {
        Some(w) => match root.child(w) {
            Some(start) => xml_struct(model, shape, start, 0),
            None => Ok(Map::new()),
        },
        None => xml_struct(model, shape, &root, 0),
    }
}
