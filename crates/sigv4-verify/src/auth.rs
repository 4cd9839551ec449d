//! Reading the signature out of a request: the `Authorization` header or the presigned
//! `X-Amz-*` query parameters. Strict: every part present once, well formed, or refused with
//! a message naming the part.

use crate::canonical::{decode_query_component, query_pairs};
use crate::error::{ErrorKind, VerifyError, shown};
use crate::request::Request;
use crate::signing::parse_signature;

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The longest presigned validity AWS accepts: seven days.
pub const MAX_PRESIGNED_EXPIRES: u64 = 7 * 24 * 3600;

/// Where the signature was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// `Authorization: AWS4-HMAC-SHA256 ...`
    Header,
    /// A presigned URL, valid for `expires` seconds from its `X-Amz-Date`.
    Query { expires: u64 },
}

/// A parsed signature, not yet checked.
#[derive(Debug)]
pub(crate) struct Auth {
    pub location: AuthLocation,
    pub access_key_id: String,
    pub scope_date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: String,
    pub signature: [u8; 32],
    pub amz_date: String,
    pub session_token: Option<String>,
}

impl Auth {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.scope_date, self.region, self.service
        )
    }

    pub fn signed_header_list(&self) -> Vec<&str> {
        self.signed_headers.split(';').collect()
    }
}

fn malformed(location: AuthLocation, message: String) -> VerifyError {
    let kind = match location {
        AuthLocation::Header => ErrorKind::MalformedAuthorization,
        AuthLocation::Query { .. } => ErrorKind::MalformedPresignedUrl,
    };
    VerifyError::new(kind, message)
}

/// The query parameters of a presigned URL, the last optional.
pub const PRESIGNED_PARAMETERS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

pub(crate) fn parse(req: &Request<'_>) -> Result<Auth, VerifyError> {
    let header = req.single_header("authorization").map_err(|()| {
        VerifyError::new(
            ErrorKind::MalformedAuthorization,
            "authorization: sent more than once; send one Authorization header",
        )
    })?;
    let mut presign: [Option<String>; 7] = Default::default();
    for (k, v) in query_pairs(req.query) {
        // The parameter names are plain ASCII; a key that needs decoding is not one of them
        // unless its decoded form is.
        let key = if k.contains('%') {
            decode_query_component(k)?
        } else {
            k.to_string()
        };
        if let Some(i) = PRESIGNED_PARAMETERS.iter().position(|p| *p == key) {
            if presign[i].is_some() {
                return Err(VerifyError::new(
                    ErrorKind::MalformedPresignedUrl,
                    format!(
                        "query: `{key}` appears more than once; send each X-Amz-* parameter once"
                    ),
                ));
            }
            presign[i] = Some(decode_query_component(v)?);
        }
    }
    let is_presigned = presign[..6].iter().any(Option::is_some);
    match (header, is_presigned) {
        (Some(_), true) => Err(VerifyError::new(
            ErrorKind::MalformedAuthorization,
            "authorization: both an Authorization header and a presigned X-Amz-Signature were sent; use one",
        )),
        (Some(h), false) => parse_header(req, h),
        (None, true) => parse_presigned(req, presign),
        (None, false) if query_pairs(req.query).any(|(k, _)| k == "AWSAccessKeyId") => {
            Err(VerifyError::new(
                ErrorKind::UnsupportedAuthentication,
                "query: AWSAccessKeyId and Signature make a SigV2 presigned URL, which is refused; presign with SigV4 (botocore: signature_version='s3v4')",
            ))
        }
        (None, false) => Err(VerifyError::new(
            ErrorKind::MissingAuthentication,
            "authorization: missing; sign the request with SigV4 (an Authorization header or a presigned URL)",
        )),
    }
}

fn utf8<'a>(location: AuthLocation, field: &str, v: &'a [u8]) -> Result<&'a str, VerifyError> {
    std::str::from_utf8(v)
        .map_err(|_| malformed(location, format!("{field}: `{}` is not UTF-8", shown(v))))
}

fn parse_header(req: &Request<'_>, value: &[u8]) -> Result<Auth, VerifyError> {
    let loc = AuthLocation::Header;
    let value = utf8(loc, "authorization", value)?;
    let Some(rest) = value
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
    else {
        let algorithm = value.split([' ', ',']).next().unwrap_or_default();
        return Err(VerifyError::new(
            ErrorKind::UnsupportedAuthentication,
            format!(
                "authorization: `{}` is not supported; sign with SigV4 ({ALGORITHM}); SigV2 and SigV4a are refused",
                shown(algorithm)
            ),
        ));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim_matches(' ');
        let (name, v) = part.split_once('=').ok_or_else(|| {
            malformed(loc, format!("authorization: `{}` is not name=value; send Credential=, SignedHeaders= and Signature=", shown(part)))
        })?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(malformed(
                    loc,
                    format!(
                        "authorization: unknown part `{}`; send Credential=, SignedHeaders= and Signature=",
                        shown(name)
                    ),
                ));
            }
        };
        if slot.replace(v).is_some() {
            return Err(malformed(
                loc,
                format!("authorization: `{name}` appears more than once"),
            ));
        }
    }
    fn need<'v>(v: Option<&'v str>, name: &str) -> Result<&'v str, VerifyError> {
        v.ok_or_else(|| {
            malformed(
                AuthLocation::Header,
                format!("authorization: `{name}=` is missing"),
            )
        })
    }
    let credential = need(credential, "Credential")?;
    let signed_headers = need(signed_headers, "SignedHeaders")?;
    let signature = need(signature, "Signature")?;

    let amz_date = match req.single_header("x-amz-date") {
        Err(()) => return Err(malformed(loc, "x-amz-date: sent more than once".into())),
        Ok(Some(d)) => utf8(loc, "x-amz-date", d)?.to_string(),
        Ok(None) => {
            return Err(malformed(
                loc,
                "x-amz-date: missing; sign with an x-amz-date header (a Date header alone is not accepted)".into(),
            ));
        }
    };
    let session_token = match req.single_header("x-amz-security-token") {
        Err(()) => {
            return Err(malformed(
                loc,
                "x-amz-security-token: sent more than once".into(),
            ));
        }
        Ok(t) => t
            .map(|t| utf8(loc, "x-amz-security-token", t).map(str::to_string))
            .transpose()?,
    };
    finish(
        loc,
        credential,
        signed_headers,
        signature,
        amz_date,
        session_token,
    )
}

fn parse_presigned(req: &Request<'_>, params: [Option<String>; 7]) -> Result<Auth, VerifyError> {
    let [
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
        token,
    ] = params;
    let missing = |name: &str| {
        VerifyError::new(
            ErrorKind::MalformedPresignedUrl,
            format!(
                "query: `{name}` is missing; a presigned URL needs X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders and -Signature"
            ),
        )
    };
    let algorithm = algorithm.ok_or_else(|| missing("X-Amz-Algorithm"))?;
    if algorithm != ALGORITHM {
        return Err(VerifyError::new(
            ErrorKind::UnsupportedAuthentication,
            format!(
                "X-Amz-Algorithm: `{}` is not supported; presign with {ALGORITHM}",
                shown(&algorithm)
            ),
        ));
    }
    let credential = credential.ok_or_else(|| missing("X-Amz-Credential"))?;
    let date = date.ok_or_else(|| missing("X-Amz-Date"))?;
    let expires = expires.ok_or_else(|| missing("X-Amz-Expires"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("X-Amz-SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("X-Amz-Signature"))?;
    let secs = (!expires.is_empty() && expires.len() <= 7 && expires.bytes().all(|b| b.is_ascii_digit()))
        .then(|| expires.parse::<u64>().ok())
        .flatten()
        .filter(|s| (1..=MAX_PRESIGNED_EXPIRES).contains(s))
        .ok_or_else(|| {
            VerifyError::new(
                ErrorKind::MalformedPresignedUrl,
                format!(
                    "X-Amz-Expires: `{}` must be a whole number of seconds from 1 to {MAX_PRESIGNED_EXPIRES} (seven days)",
                    shown(&expires)
                ),
            )
        })?;
    if req
        .single_header("x-amz-security-token")
        .map_or(true, |t| t.is_some())
    {
        return Err(VerifyError::new(
            ErrorKind::MalformedPresignedUrl,
            "x-amz-security-token: a presigned URL carries its token as X-Amz-Security-Token; do not also send the header",
        ));
    }
    finish(
        AuthLocation::Query { expires: secs },
        &credential,
        &signed_headers,
        &signature,
        date,
        token,
    )
}

fn valid_name_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

fn finish(
    location: AuthLocation,
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: String,
    session_token: Option<String>,
) -> Result<Auth, VerifyError> {
    let field = match location {
        AuthLocation::Header => "authorization",
        AuthLocation::Query { .. } => "X-Amz-Credential",
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, scope_date, region, service, terminator] = parts[..] else {
        return Err(malformed(
            location,
            format!(
                "{field}: credential `{}` must be <access key id>/<yyyymmdd>/<region>/<service>/aws4_request",
                shown(credential)
            ),
        ));
    };
    let akid_ok = !akid.is_empty()
        && akid.len() <= 128
        && akid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !akid_ok {
        return Err(malformed(
            location,
            format!(
                "{field}: access key id `{}` is not a valid key id",
                shown(akid)
            ),
        ));
    }
    if scope_date.len() != 8 || !scope_date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            location,
            format!(
                "{field}: credential date `{}` must be yyyymmdd",
                shown(scope_date)
            ),
        ));
    }
    for (what, v, max) in [("region", region, 32), ("service", service, 64)] {
        if v.is_empty() || v.len() > max || !v.bytes().all(valid_name_char) {
            return Err(malformed(
                location,
                format!(
                    "{field}: credential {what} `{}` must be lowercase letters, digits and dashes",
                    shown(v)
                ),
            ));
        }
    }
    if terminator != "aws4_request" {
        return Err(malformed(
            location,
            format!(
                "{field}: credential must end in `aws4_request`, not `{}`",
                shown(terminator)
            ),
        ));
    }
    if crate::time::parse_amz_date(&amz_date).is_none() {
        let name = match location {
            AuthLocation::Header => "x-amz-date",
            AuthLocation::Query { .. } => "X-Amz-Date",
        };
        return Err(malformed(
            location,
            format!(
                "{name}: `{}` must be yyyymmddThhmmssZ (UTC)",
                shown(&amz_date)
            ),
        ));
    }
    if !amz_date.starts_with(scope_date) {
        return Err(malformed(
            location,
            format!(
                "{field}: credential date `{scope_date}` is not the date of `{}`; scope the credential to the request's date",
                shown(&amz_date)
            ),
        ));
    }
    check_signed_headers(location, signed_headers)?;
    let signature = parse_signature(signature).ok_or_else(|| {
        malformed(
            location,
            "signature: must be 64 lowercase hex digits".to_string(),
        )
    })?;
    if session_token.as_deref() == Some("") {
        return Err(malformed(
            location,
            "x-amz-security-token: empty; send the session token or no token".into(),
        ));
    }
    Ok(Auth {
        location,
        access_key_id: akid.to_string(),
        scope_date: scope_date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed_headers.to_string(),
        signature,
        amz_date,
        session_token,
    })
}

/// Lowercase header names, sorted, unique, `;`-separated, `host` among them.
fn check_signed_headers(location: AuthLocation, list: &str) -> Result<(), VerifyError> {
    let field = match location {
        AuthLocation::Header => "signedheaders",
        AuthLocation::Query { .. } => "X-Amz-SignedHeaders",
    };
    let mut prev: Option<&str> = None;
    let mut host = false;
    for name in list.split(';') {
        let token_ok = !name.is_empty()
            && name.len() <= 128
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            });
        if !token_ok {
            return Err(malformed(
                location,
                format!("{field}: `{}` is not a lowercase header name", shown(name)),
            ));
        }
        if prev.is_some_and(|p| p >= name) {
            return Err(malformed(
                location,
                format!(
                    "{field}: `{}` must list header names sorted and once each",
                    shown(list)
                ),
            ));
        }
        host |= name == "host";
        prev = Some(name);
    }
    if !host {
        return Err(VerifyError::new(
            ErrorKind::HeadersNotSigned,
            format!("{field}: `host` is not signed; sign the host header"),
        ));
    }
    Ok(())
}
