//! The HMAC-SHA256 core of SigV4: the signing key, strings to sign and a constant-time check.
//! Written on hmac and sha2 rather than through aws-sigv4's `generate_signing_key` and
//! `calculate_signature`: those take a `SystemTime` for the date (the verifier has the
//! scope's date string) and return hex `String`s, where verifying wants the raw 32 bytes and
//! a constant-time comparison; aws-sigv4 stays in the tests as an independent signer.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// SHA-256 of the empty string, as SigV4 writes it.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = mac(key);
    m.update(data);
    m.finalize().into_bytes().into()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&k_secret, date.as_bytes());
    k_secret.fill(0);
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `algorithm \n amz-date \n scope \n tail`, where the tail is the hex canonical-request hash
/// for a request and `previous-signature \n ...` for chunks and trailers.
pub(crate) fn string_to_sign(
    algorithm: &str,
    amz_date: &str,
    scope: &str,
    tail: &[&str],
) -> Vec<u8> {
    let mut s =
        Vec::with_capacity(algorithm.len() + amz_date.len() + scope.len() + 70 * tail.len() + 3);
    s.extend_from_slice(algorithm.as_bytes());
    s.push(b'\n');
    s.extend_from_slice(amz_date.as_bytes());
    s.push(b'\n');
    s.extend_from_slice(scope.as_bytes());
    for part in tail {
        s.push(b'\n');
        s.extend_from_slice(part.as_bytes());
    }
    s
}

/// Whether `signature` is the HMAC of `string_to_sign` under `key`, compared in constant time.
pub(crate) fn signature_matches(
    key: &[u8; 32],
    string_to_sign: &[u8],
    signature: &[u8; 32],
) -> bool {
    let mut m = mac(key);
    m.update(string_to_sign);
    m.verify_slice(signature).is_ok()
}

/// A signature written as 64 lowercase hex digits, decoded; `None` for anything else.
pub(crate) fn parse_signature(hex_sig: &str) -> Option<[u8; 32]> {
    if hex_sig.len() != 64
        || !hex_sig
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_sig, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_the_aws_documentation_example() {
        // The IAM user guide's SigV4 example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20150830/us-east-1/iam.
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn signatures_must_be_lowercase_hex_of_the_right_length() {
        assert!(parse_signature(&"a".repeat(64)).is_some());
        assert!(parse_signature(&"A".repeat(64)).is_none());
        assert!(parse_signature(&"a".repeat(63)).is_none());
        assert!(parse_signature(&"g".repeat(64)).is_none());
        assert!(parse_signature("").is_none());
    }
}
