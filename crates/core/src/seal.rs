//! Signed, expiring values the server hands to a browser and reads back: the approver's
//! session cookie (which carries only a session id; the session itself is a server-side
//! record), the sign-in state cookie, and CSRF tokens. A seal is
//! `base64url(json).base64url(hmac)` where the MAC covers a purpose label, so a value sealed
//! for one use (a sign-in state) can never be replayed as another (a session). Values are
//! sealed with a key ring's current key and opened with any of its keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::keyring::KeyRing;

type HmacSha256 = Hmac<Sha256>;

/// Longest accepted sealed value; cookies are capped near 4 KiB anyway.
pub const MAX_SEALED_BYTES: usize = 4096;

pub use crate::token::TokenError;
/// The name seals' errors had before links and seals shared one.
pub type SealError = TokenError;

fn mac(key: &[u8], purpose: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(b"tollgate-seal\0");
    m.update(purpose.as_bytes());
    m.update(b"\0");
    m
}

/// Seals `value` for `purpose` until `expires_ms`.
pub fn seal<T: Serialize>(key: &[u8], purpose: &str, value: &T, expires_ms: u64) -> String {
    let body = json!({"v": value, "exp": expires_ms}).to_string();
    let body = URL_SAFE_NO_PAD.encode(body.as_bytes());
    let mut m = mac(key, purpose);
    m.update(body.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{body}.{sig}")
}

/// Opens a sealed value: the signature first (constant-time), then the expiry.
pub fn open<T: DeserializeOwned>(
    key: &[u8],
    purpose: &str,
    sealed: &str,
    now_ms: u64,
) -> Result<T, SealError> {
    if sealed.len() > MAX_SEALED_BYTES {
        return Err(SealError::Malformed);
    }
    let (body, sig) = sealed.split_once('.').ok_or(SealError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| SealError::Malformed)?;
    let mut m = mac(key, purpose);
    m.update(body.as_bytes());
    m.verify_slice(&sig).map_err(|_| SealError::BadSignature)?;
    let raw = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SealError::Malformed)?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| SealError::Malformed)?;
    let exp = v
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(SealError::Malformed)?;
    if now_ms >= exp {
        return Err(SealError::Expired);
    }
    serde_json::from_value(v.get("v").cloned().unwrap_or(Value::Null))
        .map_err(|_| SealError::Malformed)
}

/// Opens a value sealed with any key of `ring` (the current one, or the one before a
/// rotation). An expired value is expired under every key.
pub fn open_any<T: DeserializeOwned>(
    ring: &KeyRing,
    purpose: &str,
    sealed: &str,
    now_ms: u64,
) -> Result<T, SealError> {
    let mut last = SealError::BadSignature;
    for key in ring.keys() {
        match open(key, purpose, sealed, now_ms) {
            Err(SealError::BadSignature) => last = SealError::BadSignature,
            other => return other,
        }
    }
    Err(last)
}

/// The CSRF token for a form that decides request `request_id` in session `session_id`:
/// bound to both, so a token from another session or another request is worthless.
pub fn csrf_token(key: &[u8], session_id: &str, request_id: &str) -> String {
    let mut m = mac(key, "csrf");
    m.update(session_id.as_bytes());
    m.update(b"\0");
    m.update(request_id.as_bytes());
    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
}

/// Constant-time check of a submitted CSRF token.
pub fn csrf_ok(key: &[u8], session_id: &str, request_id: &str, given: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(given) else {
        return false;
    };
    let mut m = mac(key, "csrf");
    m.update(session_id.as_bytes());
    m.update(b"\0");
    m.update(request_id.as_bytes());
    m.verify_slice(&given).is_ok()
}

/// [`csrf_ok`] under any key of `ring`.
pub fn csrf_ok_any(ring: &KeyRing, session_id: &str, request_id: &str, given: &str) -> bool {
    ring.keys()
        .any(|key| csrf_ok(key, session_id, request_id, given))
}

/// The PKCE `S256` challenge for a code verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is a well-formed PKCE verifier: 43 to 128 unreserved characters.
pub fn pkce_verifier_ok(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Constant-time equality for short secrets (state values, codes).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tampering() {
        let key = [b'k'; 32];
        let s = seal(&key, "session", &json!({"sub": "alice"}), 1000);
        let v: Value = open(&key, "session", &s, 999).unwrap();
        assert_eq!(v["sub"], "alice");
        assert_eq!(
            open::<Value>(&key, "session", &s, 1000),
            Err(SealError::Expired)
        );
        // Sealed for another purpose, or with another key: refused.
        assert_eq!(
            open::<Value>(&key, "login", &s, 1),
            Err(SealError::BadSignature)
        );
        let other = [b'o'; 32];
        assert_eq!(
            open::<Value>(&other, "session", &s, 1),
            Err(SealError::BadSignature)
        );
        // A changed body (say, another subject or a later expiry) breaks the signature.
        let (_, sig) = s.split_once('.').unwrap();
        let forged = seal(&other, "session", &json!({"sub": "mallory"}), 9999);
        let (fbody, _) = forged.split_once('.').unwrap();
        assert_eq!(
            open::<Value>(&key, "session", &format!("{fbody}.{sig}"), 1),
            Err(SealError::BadSignature)
        );
        assert_eq!(
            open::<Value>(&key, "session", "nodot", 1),
            Err(SealError::Malformed)
        );
        assert_eq!(
            open::<Value>(&key, "session", &"a".repeat(5000), 1),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn a_ring_opens_what_its_previous_key_sealed_but_not_a_dropped_key() {
        let (a, b, c) = (vec![b'a'; 32], vec![b'b'; 32], vec![b'c'; 32]);
        let s = seal(&a, "session", &json!({"sid": "x"}), 1000);
        let rotated = KeyRing::new(b.clone(), Some(a.clone())).unwrap();
        let v: Value = open_any(&rotated, "session", &s, 1).unwrap();
        assert_eq!(v["sid"], "x");
        assert_eq!(
            open_any::<Value>(&rotated, "session", &s, 1000),
            Err(SealError::Expired)
        );
        let dropped = KeyRing::new(c.clone(), Some(b.clone())).unwrap();
        assert_eq!(
            open_any::<Value>(&dropped, "session", &s, 1),
            Err(SealError::BadSignature)
        );
        let t = csrf_token(&a, "S1", "R1");
        assert!(csrf_ok_any(&rotated, "S1", "R1", &t));
        assert!(!csrf_ok_any(&dropped, "S1", "R1", &t));
    }

    #[test]
    fn csrf_is_bound_to_session_and_request() {
        let key = b"k";
        let t = csrf_token(key, "S1", "R1");
        assert!(csrf_ok(key, "S1", "R1", &t));
        assert!(!csrf_ok(key, "S2", "R1", &t));
        assert!(!csrf_ok(key, "S1", "R2", &t));
        assert!(!csrf_ok(b"other", "S1", "R1", &t));
        assert!(!csrf_ok(key, "S1", "R1", ""));
        assert!(!csrf_ok(key, "S1", "R1", "***"));
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            pkce_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_verifier_ok(verifier));
        assert!(!pkce_verifier_ok("short"));
        assert!(!pkce_verifier_ok(&"a b".repeat(20)));
    }

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
