//! Values sealed for one reader at rest: AES-256-GCM with a random nonce, the key derived
//! from a key ring's key and a purpose label, and additional data that binds the value to
//! where it belongs (a request and its agent), so a sealed value moved to another record does
//! not open. The format is `v1.<base64url(nonce || ciphertext || tag)>`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::keyring::KeyRing;

const VERSION: &str = "v1.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadError {
    Malformed,
    /// No key of the ring opens it, or it was sealed for other additional data.
    CannotOpen,
    NoRandomness,
}

/// The AES-256 key for `purpose`: a value sealed for one purpose never opens as another even
/// if a ring were reused.
fn cipher(key: &[u8], purpose: &str) -> LessSafeKey {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(b"tollgate-aead\0");
    m.update(purpose.as_bytes());
    let k = m.finalize().into_bytes();
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k).expect("a SHA-256 digest is 32 bytes"))
}

/// Seals `plaintext` with the ring's current key.
pub fn seal(
    ring: &KeyRing,
    purpose: &str,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<String, AeadError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| AeadError::NoRandomness)?;
    let mut data = plaintext.to_vec();
    cipher(ring.current(), purpose)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut data,
        )
        .map_err(|_| AeadError::CannotOpen)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
}

/// Opens a value sealed by [`seal`] with any key of the ring.
pub fn open(ring: &KeyRing, purpose: &str, aad: &[u8], sealed: &str) -> Result<Vec<u8>, AeadError> {
    let raw = sealed
        .strip_prefix(VERSION)
        .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
        .filter(|r| r.len() >= NONCE_LEN + AES_256_GCM.tag_len())
        .ok_or(AeadError::Malformed)?;
    let (nonce, body) = raw.split_at(NONCE_LEN);
    for key in ring.keys() {
        let mut data = body.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| AeadError::Malformed)?;
        if let Ok(plain) = cipher(key, purpose).open_in_place(nonce, Aad::from(aad), &mut data) {
            return Ok(plain.to_vec());
        }
    }
    Err(AeadError::CannotOpen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: u8, previous: Option<u8>) -> KeyRing {
        KeyRing::new(vec![current; 32], previous.map(|p| vec![p; 32])).unwrap()
    }

    #[test]
    fn round_trip_rotation_and_binding() {
        let s = seal(&ring(1, None), "results", b"R1\0agent", b"hunter2").unwrap();
        assert!(s.starts_with("v1."));
        assert!(!s.contains("hunter2"));
        assert_eq!(
            open(&ring(1, None), "results", b"R1\0agent", &s).unwrap(),
            b"hunter2"
        );
        // After a rotation the previous key still opens it; once dropped, nothing does.
        assert_eq!(
            open(&ring(2, Some(1)), "results", b"R1\0agent", &s).unwrap(),
            b"hunter2"
        );
        assert_eq!(
            open(&ring(3, Some(2)), "results", b"R1\0agent", &s),
            Err(AeadError::CannotOpen)
        );
        // Another request, another agent, another purpose: refused.
        for (purpose, aad) in [
            ("results", &b"R2\0agent"[..]),
            ("results", b"R1\0other"),
            ("gateway_credentials", b"R1\0agent"),
        ] {
            assert_eq!(
                open(&ring(1, None), purpose, aad, &s),
                Err(AeadError::CannotOpen)
            );
        }
        // Tampering and garbage.
        // Flip one bit of the decoded tag: changing the last base64 character instead may
        // touch only padding bits, which the decoder refuses as malformed (a random nonce
        // made that happen in some runs).
        let mut raw = URL_SAFE_NO_PAD.decode(&s[VERSION.len()..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let t = format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(
            open(&ring(1, None), "results", b"R1\0agent", &t),
            Err(AeadError::CannotOpen)
        );
        assert_eq!(
            open(&ring(1, None), "results", b"", "v1.AAAA"),
            Err(AeadError::Malformed)
        );
        assert_eq!(
            open(&ring(1, None), "results", b"", "nope"),
            Err(AeadError::Malformed)
        );
        // Two seals of the same value differ (random nonces).
        assert_ne!(
            s,
            seal(&ring(1, None), "results", b"R1\0agent", b"hunter2").unwrap()
        );
    }
}
