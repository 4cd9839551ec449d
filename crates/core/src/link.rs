//! Signed approval links. A link carries the request id and an expiry, signed with a server
//! key, so it cannot be forged, moved to another request or used after it lapses. It carries
//! nothing secret (never the Step Functions task token).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::keyring::KeyRing;

type HmacSha256 = Hmac<Sha256>;

pub use crate::token::TokenError;
/// The name links' errors had before links and seals shared one.
pub type LinkError = TokenError;

/// What is wrong with a link's key `k`, for the page's refusal.
pub fn refusal(e: TokenError) -> &'static str {
    match e {
        TokenError::Malformed => "k: malformed link key",
        TokenError::BadSignature => "k: link signature does not match this request",
        TokenError::Expired => "k: link has expired",
    }
}

fn mac(key: &[u8], id: &str, expires_ms: u64) -> HmacSha256 {
    // new_from_slice only fails for fixed-size MACs; HMAC takes any key length.
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(b"tollgate-approval-link\0");
    m.update(id.as_bytes());
    m.update(b"\0");
    m.update(&expires_ms.to_be_bytes());
    m
}

/// The `k` value for a link to request `id`, valid until `expires_ms`.
pub fn sign(key: &[u8], id: &str, expires_ms: u64) -> String {
    let sig = mac(key, id, expires_ms).finalize().into_bytes();
    format!("{expires_ms}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The approval page's URL for request `id`, with its key.
pub fn approval_url(key: &[u8], public_url: &str, id: &str, expires_ms: u64) -> String {
    let k = sign(key, id, expires_ms);
    format!(
        "{}/v1/approvals/{id}?k={k}",
        public_url.trim_end_matches('/')
    )
}

/// Checks `k` for request `id` and returns when the link lapses (ms): the page compares it
/// with the request's own expiry, so a link outlives nothing.
pub fn verify(key: &[u8], id: &str, k: &str, now_ms: u64) -> Result<u64, LinkError> {
    let (exp, sig) = k.split_once('.').ok_or(LinkError::Malformed)?;
    let exp: u64 = exp.parse().map_err(|_| LinkError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LinkError::Malformed)?;
    mac(key, id, exp)
        .verify_slice(&sig)
        .map_err(|_| LinkError::BadSignature)?;
    if now_ms > exp {
        return Err(LinkError::Expired);
    }
    Ok(exp)
}

/// Verifies `k` under any key of the ring: links signed before a rotation stay valid until
/// the key that signed them is dropped from the ring.
pub fn verify_any(ring: &KeyRing, id: &str, k: &str, now_ms: u64) -> Result<u64, LinkError> {
    let mut last = LinkError::BadSignature;
    for key in ring.keys() {
        match verify(key, id, k, now_ms) {
            Err(LinkError::BadSignature) => last = LinkError::BadSignature,
            other => return other,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let key = b"k1";
        let k = sign(key, "R1", 1000);
        assert_eq!(verify(key, "R1", &k, 999), Ok(1000));
        assert_eq!(verify(key, "R1", &k, 1001), Err(LinkError::Expired));
        assert_eq!(verify(key, "R2", &k, 999), Err(LinkError::BadSignature));
        assert_eq!(verify(b"k2", "R1", &k, 999), Err(LinkError::BadSignature));
        let extended = k.replacen("1000.", "9999.", 1);
        assert_eq!(
            verify(key, "R1", &extended, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(verify(key, "R1", "garbage", 0), Err(LinkError::Malformed));
        assert_eq!(verify(key, "R1", "1.***", 0), Err(LinkError::Malformed));
    }

    #[test]
    fn a_ring_verifies_links_of_its_previous_key_but_not_of_a_dropped_one() {
        let (a, b, c) = (vec![b'a'; 32], vec![b'b'; 32], vec![b'c'; 32]);
        let signed_with_a = sign(&a, "R1", 1000);
        let rotated = KeyRing::new(b.clone(), Some(a.clone())).unwrap();
        assert_eq!(verify_any(&rotated, "R1", &signed_with_a, 1), Ok(1000));
        assert_eq!(
            verify_any(&rotated, "R1", &sign(&b, "R1", 2000), 1),
            Ok(2000)
        );
        assert_eq!(
            verify_any(&rotated, "R1", &signed_with_a, 1001),
            Err(LinkError::Expired)
        );
        let again = KeyRing::new(c, Some(b)).unwrap();
        assert_eq!(
            verify_any(&again, "R1", &signed_with_a, 1),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            verify_any(&again, "R1", "garbage", 1),
            Err(LinkError::Malformed)
        );
    }
}
