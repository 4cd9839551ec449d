//! Why a request was refused, and what each refusal is called on the wire by each protocol
//! family, so the front door can answer in the shape and with the code the SDKs know.

use std::fmt;

/// What went wrong, independent of the protocol the answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Neither an `Authorization` header nor presigned query parameters.
    MissingAuthentication,
    /// Signed, but not with `AWS4-HMAC-SHA256` (SigV2, SigV4a, anything else).
    UnsupportedAuthentication,
    /// The `Authorization` header, its credential scope or signed-header list is malformed,
    /// or both a header and a presigned signature were sent.
    MalformedAuthorization,
    /// The `X-Amz-*` query parameters of a presigned request are malformed or incomplete.
    MalformedPresignedUrl,
    /// The query string is not valid percent-encoding.
    MalformedQuery,
    /// An `x-amz-*` header was sent without being signed, or `host` is not signed.
    HeadersNotSigned,
    /// The request's date is more than the allowed skew from the server's clock.
    RequestTimeTooSkewed,
    /// A presigned URL used after `X-Amz-Date` + `X-Amz-Expires`.
    PresignedUrlExpired,
    /// The lookup does not know the access key id.
    InvalidAccessKeyId,
    /// The lookup refused the session token (malformed, tampered, not for this key).
    InvalidToken,
    /// The lookup reports the session token expired.
    ExpiredToken,
    /// The request (or one of its chunks, or its trailer) is not signed by the key's secret.
    SignatureDoesNotMatch,
    /// S3 header authentication without `x-amz-content-sha256`.
    MissingContentSha256,
    /// A payload mode this service or this kind of request does not take.
    UnsupportedPayload,
    /// The body does not hash to the signed `x-amz-content-sha256`.
    ContentSha256Mismatch,
    /// The body does not match its `x-amz-checksum-*` header or trailer.
    BadDigest,
    /// A signed chunk other than the last is under 8 KiB, as S3 refuses.
    InvalidChunkSize,
    /// The body is shorter or longer than declared, or its aws-chunked framing is broken.
    IncompleteBody,
}

/// Every kind, in declaration order (for tables and exhaustive tests).
pub const ALL_KINDS: [ErrorKind; 18] = [
    ErrorKind::MissingAuthentication,
    ErrorKind::UnsupportedAuthentication,
    ErrorKind::MalformedAuthorization,
    ErrorKind::MalformedPresignedUrl,
    ErrorKind::MalformedQuery,
    ErrorKind::HeadersNotSigned,
    ErrorKind::RequestTimeTooSkewed,
    ErrorKind::PresignedUrlExpired,
    ErrorKind::InvalidAccessKeyId,
    ErrorKind::InvalidToken,
    ErrorKind::ExpiredToken,
    ErrorKind::SignatureDoesNotMatch,
    ErrorKind::MissingContentSha256,
    ErrorKind::UnsupportedPayload,
    ErrorKind::ContentSha256Mismatch,
    ErrorKind::BadDigest,
    ErrorKind::InvalidChunkSize,
    ErrorKind::IncompleteBody,
];

/// The families of AWS error vocabularies. S3 has its own codes; the XML query services
/// (query, ec2, and the non-S3 rest-xml services such as Route 53 and CloudFront) share
/// IAM's and STS's; the JSON services (json, rest-json, CBOR) use the `...Exception` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    S3,
    Query,
    Json,
}

impl Family {
    /// The family for a signing name (the credential scope's service) and a protocol name as
    /// botocore spells it (`json`, `rest-json`, `query`, `ec2`, `rest-xml`,
    /// `smithy-rpc-v2-cbor`). Unknown protocols get the query family's generic codes.
    pub fn for_service(signing_name: &str, protocol: &str) -> Family {
        if crate::canonical::uses_s3_rules(signing_name) {
            return Family::S3;
        }
        match protocol {
            "json" | "rest-json" | "smithy-rpc-v2-cbor" => Family::Json,
            _ => Family::Query,
        }
    }
}

/// An AWS error code and the HTTP status that goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsCode {
    pub code: &'static str,
    pub status: u16,
}

/// One row of the code table: a kind and its code in each family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRow {
    pub kind: ErrorKind,
    pub s3: AwsCode,
    pub query: AwsCode,
    pub json: AwsCode,
}

const fn c(code: &'static str, status: u16) -> AwsCode {
    AwsCode { code, status }
}

/// The code table. Sources: the S3 API reference's error list (S3), the "Common Errors"
/// page of the IAM/STS API references (query), and what DynamoDB and Lambda answer (json);
/// statuses that differ between services of one family are the common-errors page's. Every
/// code here is one the SDKs parse as a modeled or generic service error, and none of them
/// is retried by a default retry policy except through clock-skew correction, which only
/// applies when the response's `Date` disagrees with the client's clock. S3's
/// `AuthorizationHeaderMalformed` makes botocore redirect only when the error carries a
/// `Region` element: never send one.
pub const fn code_row(kind: ErrorKind) -> CodeRow {
    use ErrorKind::*;
    let (s3, query, json) = match kind {
        MissingAuthentication => (
            c("AccessDenied", 403),
            c("MissingAuthenticationToken", 403),
            c("MissingAuthenticationTokenException", 403),
        ),
        UnsupportedAuthentication => (
            c("InvalidRequest", 400),
            c("IncompleteSignature", 403),
            c("IncompleteSignatureException", 403),
        ),
        MalformedAuthorization => (
            c("AuthorizationHeaderMalformed", 400),
            c("IncompleteSignature", 403),
            c("IncompleteSignatureException", 403),
        ),
        MalformedPresignedUrl => (
            c("AuthorizationQueryParametersError", 400),
            c("IncompleteSignature", 403),
            c("IncompleteSignatureException", 403),
        ),
        MalformedQuery => (
            c("InvalidArgument", 400),
            c("MalformedQueryString", 400),
            c("InvalidQueryParameter", 400),
        ),
        HeadersNotSigned => (
            c("AccessDenied", 403),
            c("IncompleteSignature", 403),
            c("IncompleteSignatureException", 403),
        ),
        // IAM and STS say "Signature expired: ... is now earlier than ..." as
        // SignatureDoesNotMatch; DynamoDB and Lambda as InvalidSignatureException.
        RequestTimeTooSkewed => (
            c("RequestTimeTooSkewed", 403),
            c("SignatureDoesNotMatch", 403),
            c("InvalidSignatureException", 403),
        ),
        // S3 answers an expired presigned URL with AccessDenied "Request has expired".
        PresignedUrlExpired => (
            c("AccessDenied", 403),
            c("RequestExpired", 400),
            c("RequestExpired", 400),
        ),
        InvalidAccessKeyId => (
            c("InvalidAccessKeyId", 403),
            c("InvalidClientTokenId", 403),
            c("UnrecognizedClientException", 403),
        ),
        InvalidToken => (
            c("InvalidToken", 400),
            c("InvalidClientTokenId", 403),
            c("UnrecognizedClientException", 403),
        ),
        ExpiredToken => (
            c("ExpiredToken", 400),
            c("ExpiredToken", 403),
            c("ExpiredTokenException", 403),
        ),
        SignatureDoesNotMatch => (
            c("SignatureDoesNotMatch", 403),
            c("SignatureDoesNotMatch", 403),
            c("InvalidSignatureException", 403),
        ),
        MissingContentSha256 => (
            c("InvalidRequest", 400),
            c("IncompleteSignature", 403),
            c("IncompleteSignatureException", 403),
        ),
        UnsupportedPayload => (
            c("InvalidArgument", 400),
            c("IncompleteSignature", 403),
            c("IncompleteSignatureException", 403),
        ),
        // Outside S3 the payload hash is part of the signature, so AWS can only say the
        // signature does not match.
        ContentSha256Mismatch => (
            c("XAmzContentSHA256Mismatch", 400),
            c("SignatureDoesNotMatch", 403),
            c("InvalidSignatureException", 403),
        ),
        BadDigest => (
            c("BadDigest", 400),
            c("BadDigest", 400),
            c("BadDigest", 400),
        ),
        InvalidChunkSize => (
            c("InvalidChunkSizeError", 400),
            c("InvalidChunkSizeError", 400),
            c("InvalidChunkSizeError", 400),
        ),
        IncompleteBody => (
            c("IncompleteBody", 400),
            c("IncompleteBody", 400),
            c("IncompleteBody", 400),
        ),
    };
    CodeRow {
        kind,
        s3,
        query,
        json,
    }
}

impl ErrorKind {
    /// The AWS code and status for this kind in a family.
    pub const fn aws_code(self, family: Family) -> AwsCode {
        let row = code_row(self);
        match family {
            Family::S3 => row.s3,
            Family::Query => row.query,
            Family::Json => row.json,
        }
    }
}

/// A refused request: the kind (for the code) and a message naming the field and the reason.
/// Messages never contain a secret, a signature or a session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub kind: ErrorKind,
    pub message: String,
}

impl VerifyError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        VerifyError {
            kind,
            message: message.into(),
        }
    }

    /// The AWS code and status for this error in a family.
    pub fn aws_code(&self, family: Family) -> AwsCode {
        self.kind.aws_code(family)
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VerifyError {}

/// Hostile input shown in a message: at most 64 characters, control characters escaped, so a
/// message stays one short line whatever the client sent.
pub(crate) fn shown(input: impl AsRef<[u8]>) -> String {
    let input = String::from_utf8_lossy(input.as_ref());
    let mut out = String::new();
    for (i, ch) in input.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if ch == '`' {
            // A backtick would end the quoting the message puts around the input.
            out.push('\'');
        } else if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_code_in_every_family_and_statuses_are_client_errors() {
        for kind in ALL_KINDS {
            let row = code_row(kind);
            assert_eq!(row.kind, kind);
            for code in [row.s3, row.query, row.json] {
                assert!(!code.code.is_empty());
                assert!((400..500).contains(&code.status), "{kind:?} {code:?}");
            }
        }
    }

    #[test]
    fn the_codes_the_sdks_know() {
        use ErrorKind::*;
        assert_eq!(
            SignatureDoesNotMatch.aws_code(Family::S3),
            c("SignatureDoesNotMatch", 403)
        );
        assert_eq!(
            InvalidAccessKeyId.aws_code(Family::S3).code,
            "InvalidAccessKeyId"
        );
        assert_eq!(
            InvalidAccessKeyId.aws_code(Family::Query).code,
            "InvalidClientTokenId"
        );
        assert_eq!(ExpiredToken.aws_code(Family::S3), c("ExpiredToken", 400));
        assert_eq!(ExpiredToken.aws_code(Family::Query), c("ExpiredToken", 403));
        assert_eq!(
            RequestTimeTooSkewed.aws_code(Family::S3),
            c("RequestTimeTooSkewed", 403)
        );
        assert_eq!(
            Family::for_service("dynamodb", "json"),
            Family::Json,
            "json services"
        );
        assert_eq!(Family::for_service("s3", "rest-xml"), Family::S3);
        assert_eq!(Family::for_service("route53", "rest-xml"), Family::Query);
        assert_eq!(Family::for_service("ec2", "ec2"), Family::Query);
    }

    #[test]
    fn shown_input_is_short_and_one_line() {
        assert_eq!(shown("a\nb`c"), "a\\nb'c");
        assert_eq!(shown("x".repeat(100)).chars().count(), 65);
        assert_eq!(shown([0xff, b'a']), "\u{fffd}a");
    }
}
