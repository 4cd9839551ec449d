//! Errors in the shape each protocol's SDKs parse (botocore's `parsers.py`, smithy-rs and the
//! JS SDK's error deserializers): json `{"__type", "message"}` with `x-amzn-ErrorType` (which
//! the Rust and JS SDKs read first), rest-json the same header with `{"message"}`, query
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`, ec2
//! `<Response><Errors><Error>...</Error></Errors><RequestID/></Response>`, S3 `<Error>`.

use serde_json::json;

use super::query::{ec2_namespace, query_namespace};
use super::xml::{document, text_el};
use super::{header, request_id_header};
use crate::model::{Protocol, ServiceModel};
use crate::server::WireResponse;
use crate::xml::El;

pub(in crate::server) fn encode(
    model: &ServiceModel,
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> WireResponse {
    let fault = if status >= 500 { "Receiver" } else { "Sender" };
    let mut headers = vec![request_id_header(model, request_id)];
    let body = match model.protocol() {
        Protocol::Json => {
            let version = model.metadata.json_version.as_deref().unwrap_or("1.0");
            headers.push(header(
                "Content-Type",
                format!("application/x-amz-json-{version}"),
            ));
            headers.push(header("x-amzn-ErrorType", code));
            if model.metadata.aws_query_compatible {
                // What SDKs of the query era read the code from.
                headers.push(header("x-amzn-query-error", format!("{code};{fault}")));
            }
            json!({"__type": code, "message": message})
                .to_string()
                .into_bytes()
        }
        Protocol::RestJson => {
            headers.push(header("Content-Type", "application/json"));
            headers.push(header("x-amzn-ErrorType", code));
            json!({"message": message}).to_string().into_bytes()
        }
        Protocol::Ec2 => {
            headers.push(header("Content-Type", "text/xml"));
            let mut error = El::new("Error");
            error.children.push(text_el("Code", code));
            error.children.push(text_el("Message", message));
            let mut errors = El::new("Errors");
            errors.children.push(error);
            let mut root = El::new("Response");
            root.set_attr("xmlns".into(), ec2_namespace(model));
            root.children.push(errors);
            root.children.push(text_el("RequestID", request_id));
            document(&root)
        }
        Protocol::RestXml if model.is_s3() => {
            headers.push(header("Content-Type", "application/xml"));
            let mut root = El::new("Error");
            root.children.push(text_el("Code", code));
            root.children.push(text_el("Message", message));
            root.children.push(text_el("RequestId", request_id));
            document(&root)
        }
        Protocol::Query | Protocol::RestXml => {
            headers.push(header("Content-Type", "text/xml"));
            let mut error = El::new("Error");
            error.children.push(text_el("Type", fault));
            error.children.push(text_el("Code", code));
            error.children.push(text_el("Message", message));
            let mut root = El::new("ErrorResponse");
            root.set_attr("xmlns".into(), query_namespace(model));
            root.children.push(error);
            root.children.push(text_el("RequestId", request_id));
            document(&root)
        }
    };
    WireResponse {
        status,
        headers,
        body,
    }
}
