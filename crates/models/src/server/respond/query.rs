//! The `query` and `ec2` protocols' answers: `<OpResponse><OpResult>...</OpResult>
//! <ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>`, and ec2's
//! `<OpResponse xmlns=...><requestId/>...</OpResponse>`.

use serde_json::{Map, Value};

use super::xml::{document, text_el, write_struct};
use super::{header, request_id_header};
use crate::Operation;
use crate::model::{ServiceModel, Shape};
use crate::server::{EncodeError, WireResponse};
use crate::xml::El;

/// The namespace query services declare (`https://iam.amazonaws.com/doc/2010-05-08/`); the
/// models do not carry it and no SDK checks it.
pub(super) fn query_namespace(model: &ServiceModel) -> String {
    format!(
        "https://{}.amazonaws.com/doc/{}/",
        model.endpoint_prefix(),
        model.api_version()
    )
}

pub(super) fn encode(
    model: &ServiceModel,
    op: Operation<'_>,
    shape: Option<&Shape>,
    obj: &Map<String, Value>,
    request_id: &str,
) -> Result<WireResponse, EncodeError> {
    let mut root = El::new(&format!("{}Response", op.name()));
    root.set_attr("xmlns".into(), query_namespace(model));
    if let Some(shape) = shape {
        match op.def.result_wrapper.as_deref() {
            Some(wrapper) => {
                let mut result = El::new(wrapper);
                write_struct(model, shape, obj, &mut result, "output", 0)?;
                root.children.push(result);
            }
            None => write_struct(model, shape, obj, &mut root, "output", 0)?,
        }
    }
    let mut meta = El::new("ResponseMetadata");
    meta.children.push(text_el("RequestId", request_id));
    root.children.push(meta);
    Ok(xml_response(model, &root, request_id))
}

pub(super) fn encode_ec2(
    model: &ServiceModel,
    op: Operation<'_>,
    shape: Option<&Shape>,
    obj: &Map<String, Value>,
    request_id: &str,
) -> Result<WireResponse, EncodeError> {
    let mut root = El::new(&format!("{}Response", op.name()));
    root.set_attr("xmlns".into(), ec2_namespace(model));
    root.children.push(text_el("requestId", request_id));
    if let Some(shape) = shape {
        write_struct(model, shape, obj, &mut root, "output", 0)?;
    }
    Ok(xml_response(model, &root, request_id))
}

pub(super) fn ec2_namespace(model: &ServiceModel) -> String {
    format!("http://ec2.amazonaws.com/doc/{}/", model.api_version())
}

fn xml_response(model: &ServiceModel, root: &El, request_id: &str) -> WireResponse {
    WireResponse {
        status: 200,
        headers: vec![
            header("Content-Type", "text/xml"),
            request_id_header(model, request_id),
        ],
        body: document(root),
    }
}
