//! aws-chunked bodies (`Content-Encoding: aws-chunked`): the framing, every chunk signature
//! (chained from the request's seed signature), the trailer signature and the trailer
//! checksum. Formats, as botocore, the JS SDK and the Rust SDK write them:
//!
//! ```text
//! signed:   <hex>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n[trailers]\r\n
//! unsigned: <hex>\r\n<data>\r\n ... 0\r\n<trailers>\r\n
//! trailers: x-amz-checksum-crc32:<base64>\r\n[x-amz-trailer-signature:<sig>\r\n]
//! ```
//!
//! The size is hex in either case (botocore writes lowercase, the Rust SDK uppercase).

use crate::checksum::{self, Checksum, ChecksumAlgorithm};
use crate::error::{ErrorKind, VerifyError, shown};
use crate::signing::{
    EMPTY_SHA256, parse_signature, sha256_hex, signature_matches, string_to_sign,
};

/// S3 refuses signed chunks under 8 KiB except the last data chunk.
pub const MIN_SIGNED_CHUNK: usize = 8 * 1024;
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 8;

/// What signs the chunks: the signing key, the request's date and scope, and the signature
/// the chain starts from (the request's own).
pub(crate) struct ChunkSigner<'a> {
    pub key: &'a [u8; 32],
    pub amz_date: &'a str,
    pub scope: &'a str,
    pub seed: [u8; 32],
}

pub(crate) struct Decoded {
    pub body: Vec<u8>,
    pub checksum: Option<Checksum>,
}

fn incomplete(message: String) -> VerifyError {
    VerifyError::new(ErrorKind::IncompleteBody, message)
}

/// The next `\r\n`-terminated line at `pos`, and where the following line starts.
fn line<'b>(body: &'b [u8], pos: usize, what: &str) -> Result<(&'b [u8], usize), VerifyError> {
    let window = &body[pos..body.len().min(pos + MAX_LINE)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(n) => Ok((&window[..n], pos + n + 2)),
        None if body.len() - pos < MAX_LINE => Err(incomplete(format!(
            "body: aws-chunked {what} at byte {pos} is cut short; send the whole body"
        ))),
        None => Err(incomplete(format!(
            "body: aws-chunked {what} at byte {pos} has no CRLF within {MAX_LINE} bytes"
        ))),
    }
}

fn parse_size(raw: &[u8], pos: usize) -> Result<usize, VerifyError> {
    let bad = || {
        incomplete(format!(
            "body: aws-chunked chunk size `{}` at byte {pos} is not hexadecimal",
            shown(raw)
        ))
    };
    if raw.is_empty() || raw.len() > 15 {
        return Err(bad());
    }
    raw.iter().try_fold(0usize, |acc, &b| {
        let d = (b as char).to_digit(16).ok_or_else(bad)?;
        Ok(acc * 16 + d as usize)
    })
}

/// The trailer names the `x-amz-trailer` header declares.
pub(crate) fn declared_trailers(
    header: Option<&[u8]>,
) -> Result<Vec<ChecksumAlgorithm>, VerifyError> {
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let text = std::str::from_utf8(header).unwrap_or("\u{fffd}");
    let mut out = Vec::new();
    for name in text
        .split(',')
        .map(|n| n.trim_matches(' '))
        .filter(|n| !n.is_empty())
    {
        let alg = ChecksumAlgorithm::from_header_name(name).ok_or_else(|| {
            VerifyError::new(
                ErrorKind::UnsupportedPayload,
                format!(
                    "x-amz-trailer: `{}` is not a checksum trailer; send x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256 or -sha512",
                    shown(name)
                ),
            )
        })?;
        if !out.is_empty() {
            return Err(VerifyError::new(
                ErrorKind::UnsupportedPayload,
                format!(
                    "x-amz-trailer: `{}` declares more than one checksum; send one",
                    shown(text)
                ),
            ));
        }
        out.push(alg);
    }
    Ok(out)
}

/// Decodes (and, with a signer, verifies) an aws-chunked body; `trailer` says whether the
/// payload mode has a trailer section.
pub(crate) fn decode(
    body: &[u8],
    mut signer: Option<ChunkSigner<'_>>,
    trailer: bool,
    declared: &[ChecksumAlgorithm],
) -> Result<Decoded, VerifyError> {
    let mut out = Vec::with_capacity(body.len());
    let mut pos = 0;
    let mut last_data_chunk: Option<(usize, usize)> = None; // (size, offset) of the previous data chunk
    loop {
        if pos >= body.len() {
            return Err(incomplete(format!(
                "body: aws-chunked body ends at byte {pos} before its final 0-size chunk; send the whole body"
            )));
        }
        let header_at = pos;
        let (header, next) = line(body, pos, "chunk header")?;
        let (size_raw, ext) = match header.iter().position(|&b| b == b';') {
            Some(i) => (&header[..i], Some(&header[i + 1..])),
            None => (header, None),
        };
        let size = parse_size(size_raw, header_at)?;
        let chunk_signature = match (&signer, ext) {
            (Some(_), Some(ext)) => {
                let sig = ext
                    .strip_prefix(b"chunk-signature=")
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(parse_signature)
                    .ok_or_else(|| {
                        incomplete(format!(
                            "body: aws-chunked chunk at byte {header_at} needs `;chunk-signature=<64 hex>`, not `{}`",
                            shown(ext)
                        ))
                    })?;
                Some(sig)
            }
            (Some(_), None) => {
                return Err(incomplete(format!(
                    "body: aws-chunked chunk at byte {header_at} has no chunk-signature; every chunk of a signed stream is signed"
                )));
            }
            (None, Some(ext)) => {
                return Err(incomplete(format!(
                    "body: aws-chunked chunk at byte {header_at} has the extension `{}`, which an unsigned stream does not take",
                    shown(ext)
                )));
            }
            (None, None) => None,
        };
        pos = next;
        let data = if size > 0 {
            let end = pos.checked_add(size).filter(|&e| e <= body.len()).ok_or_else(|| {
                incomplete(format!(
                    "body: aws-chunked chunk at byte {header_at} declares {size} bytes but {} remain; send the whole body",
                    body.len() - pos
                ))
            })?;
            if body.get(end..end + 2) != Some(b"\r\n") {
                return Err(incomplete(format!(
                    "body: aws-chunked chunk at byte {header_at} is not followed by CRLF after its {size} bytes"
                )));
            }
            let data = &body[pos..end];
            pos = end + 2;
            data
        } else {
            &[][..]
        };
        if let (Some(s), Some(sig)) = (signer.as_mut(), chunk_signature) {
            let prev = hex::encode(s.seed);
            let hash = sha256_hex(data);
            let sts = string_to_sign(
                "AWS4-HMAC-SHA256-PAYLOAD",
                s.amz_date,
                s.scope,
                &[&prev, EMPTY_SHA256, &hash],
            );
            if !signature_matches(s.key, &sts, &sig) {
                return Err(VerifyError::new(
                    ErrorKind::SignatureDoesNotMatch,
                    format!(
                        "body: the signature of the aws-chunked chunk at byte {header_at} does not match; send the chunks as signed"
                    ),
                ));
            }
            s.seed = sig;
            if size > 0 {
                if let Some((prev_size, prev_at)) = last_data_chunk
                    && prev_size < MIN_SIGNED_CHUNK
                {
                    return Err(VerifyError::new(
                        ErrorKind::InvalidChunkSize,
                        format!(
                            "body: the signed chunk at byte {prev_at} has {prev_size} bytes; only the last chunk may be under {MIN_SIGNED_CHUNK}"
                        ),
                    ));
                }
                last_data_chunk = Some((size, header_at));
            }
        }
        if size > 0 {
            out.extend_from_slice(data);
            continue;
        }
        let checksum = trailers(body, &mut pos, signer.as_ref(), trailer, declared, &out)?;
        if pos != body.len() {
            return Err(incomplete(format!(
                "body: {} bytes follow the end of the aws-chunked body at byte {pos}; send nothing after the final chunk",
                body.len() - pos
            )));
        }
        return Ok(Decoded {
            body: out,
            checksum,
        });
    }
}

/// The trailer section after the 0-size chunk, up to and including the empty line.
fn trailers(
    body: &[u8],
    pos: &mut usize,
    signer: Option<&ChunkSigner<'_>>,
    trailer: bool,
    declared: &[ChecksumAlgorithm],
    decoded: &[u8],
) -> Result<Option<Checksum>, VerifyError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut trailer_signature: Option<[u8; 32]> = None;
    loop {
        let at = *pos;
        let (l, next) = line(body, *pos, "trailer")?;
        *pos = next;
        if l.is_empty() {
            break;
        }
        if !trailer {
            return Err(incomplete(format!(
                "body: trailer `{}` at byte {at}, but x-amz-content-sha256 declares no trailer",
                shown(l)
            )));
        }
        if fields.len() + usize::from(trailer_signature.is_some()) >= MAX_TRAILERS {
            return Err(incomplete(format!(
                "body: more than {MAX_TRAILERS} trailers"
            )));
        }
        let text = std::str::from_utf8(l)
            .map_err(|_| incomplete(format!("body: trailer at byte {at} is not UTF-8")))?;
        let (name, value) = text.split_once(':').ok_or_else(|| {
            incomplete(format!(
                "body: trailer `{}` at byte {at} is not name:value",
                shown(text)
            ))
        })?;
        let name = name.to_ascii_lowercase();
        if name == "x-amz-trailer-signature" {
            let sig = signer.and(parse_signature(value.trim_matches(' '))).ok_or_else(|| {
                incomplete(format!(
                    "body: x-amz-trailer-signature at byte {at} is not 64 hex digits or the stream is not signed"
                ))
            })?;
            if trailer_signature.replace(sig).is_some() {
                return Err(incomplete(
                    "body: x-amz-trailer-signature sent twice".into(),
                ));
            }
            continue;
        }
        if fields.iter().any(|(n, _)| *n == name) {
            return Err(incomplete(format!(
                "body: trailer `{}` sent twice",
                shown(&name)
            )));
        }
        fields.push((name, value.trim_matches(' ').to_string()));
    }
    if let Some(s) = signer
        && trailer
    {
        let sig = trailer_signature.ok_or_else(|| {
            VerifyError::new(
                ErrorKind::SignatureDoesNotMatch,
                "body: x-amz-trailer-signature is missing; a signed stream with a trailer signs the trailer",
            )
        })?;
        let mut sorted: Vec<&(String, String)> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut canonical = Vec::new();
        for (n, v) in sorted {
            canonical.extend_from_slice(n.as_bytes());
            canonical.push(b':');
            canonical.extend_from_slice(v.as_bytes());
            canonical.push(b'\n');
        }
        let prev = hex::encode(s.seed);
        let sts = string_to_sign(
            "AWS4-HMAC-SHA256-TRAILER",
            s.amz_date,
            s.scope,
            &[&prev, &sha256_hex(&canonical)],
        );
        if !signature_matches(s.key, &sts, &sig) {
            return Err(VerifyError::new(
                ErrorKind::SignatureDoesNotMatch,
                "body: the aws-chunked trailer signature does not match; send the trailer as signed",
            ));
        }
    }
    let mut checksum = None;
    for (name, value) in &fields {
        let alg = ChecksumAlgorithm::from_header_name(name)
            .filter(|a| declared.contains(a))
            .ok_or_else(|| {
                VerifyError::new(
                    ErrorKind::IncompleteBody,
                    format!("body: trailer `{}` is not declared in x-amz-trailer; declare the trailers you send", shown(name)),
                )
            })?;
        checksum::verify(alg, value, decoded)?;
        checksum = Some(Checksum {
            algorithm: alg,
            value: value.clone(),
        });
    }
    if let Some(missing) = declared
        .iter()
        .find(|a| !fields.iter().any(|(n, _)| n == a.header_name()))
    {
        return Err(VerifyError::new(
            ErrorKind::IncompleteBody,
            format!(
                "body: x-amz-trailer declares `{}` but the body has no such trailer",
                missing.header_name()
            ),
        ));
    }
    Ok(checksum)
}
