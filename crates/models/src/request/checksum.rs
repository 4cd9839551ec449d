//! Request checksums (botocore's `httpchecksum.py`, as headers): CRC32 by default, CRC32C on
//! request.

use serde_json::{Map, Value};

use super::{BuildError, Parts, has_header};
use crate::encode::{b64_encode, crc32, crc32c};
use crate::model::{OperationDef, Shape};

pub(super) fn apply(
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
    parts: &mut Parts,
) -> Result<(), BuildError> {
    if parts
        .headers
        .iter()
        .any(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-checksum-"))
    {
        return Ok(());
    }
    let hc = op.http_checksum.clone().unwrap_or_default();
    let required = op.http_checksum_required || hc.request_checksum_required;
    let member = hc.request_algorithm_member.as_deref();
    let algorithm = match member.and_then(|m| params.get(m)) {
        Some(Value::String(a)) => a.to_ascii_lowercase(),
        _ if required || member.is_some() => {
            if let Some(header) = member
                .and_then(|m| input.and_then(|s| s.members.get(m)))
                .and_then(|r| r.location_name.clone())
                && !has_header(&parts.headers, &header)
            {
                parts.headers.push((header, "CRC32".to_string()));
            }
            "crc32".to_string()
        }
        _ => return Ok(()),
    };
    let digest = match algorithm.as_str() {
        "crc32" => crc32(&parts.body),
        "crc32c" => crc32c(&parts.body),
        other => {
            return Err(BuildError::Unsupported(format!(
                "checksum algorithm {} (use CRC32 or CRC32C, or compute the checksum yourself \
                 and pass it in its Checksum... member)",
                other.to_ascii_uppercase()
            )));
        }
    };
    parts.headers.push((
        format!("x-amz-checksum-{algorithm}"),
        b64_encode(&digest.to_be_bytes()),
    ));
    Ok(())
}
