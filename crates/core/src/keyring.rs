//! A key for one purpose, with the key it replaced: values are always signed or sealed with
//! the current key and accepted under either, so rotating a key breaks no outstanding link,
//! session or sealed result (until the previous key is dropped as well).

/// Shortest key accepted: 32 bytes, the strength of the HMAC-SHA256 and AES-256 keys made
/// from it.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Clone, PartialEq, Eq)]
pub struct KeyRing {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

// Never printed: a derived Debug would put key material in a log line.
impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing(previous: {})", self.previous.is_some())
    }
}

impl KeyRing {
    /// A ring from its keys; each must be at least [`MIN_KEY_BYTES`] long. Names the key
    /// (`current`, `previous`) that is not.
    pub fn new(current: Vec<u8>, previous: Option<Vec<u8>>) -> Result<Self, String> {
        if current.len() < MIN_KEY_BYTES {
            return Err(format!("current: must be at least {MIN_KEY_BYTES} bytes"));
        }
        if previous.as_ref().is_some_and(|p| p.len() < MIN_KEY_BYTES) {
            return Err(format!("previous: must be at least {MIN_KEY_BYTES} bytes"));
        }
        Ok(Self { current, previous })
    }

    /// The key that signs and seals.
    pub fn current(&self) -> &[u8] {
        &self.current
    }

    /// Every key that verifies and opens: the current one first.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.current.as_slice()).chain(self.previous.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused_and_debug_shows_none() {
        assert!(
            KeyRing::new(vec![1; 31], None)
                .unwrap_err()
                .starts_with("current")
        );
        assert!(
            KeyRing::new(vec![1; 32], Some(vec![2; 8]))
                .unwrap_err()
                .starts_with("previous")
        );
        let ring = KeyRing::new(vec![b'k'; 32], Some(vec![b'p'; 40])).unwrap();
        assert_eq!(ring.keys().count(), 2);
        assert_eq!(ring.keys().next(), Some(ring.current()));
        assert!(!format!("{ring:?}").contains("kkkk"));
    }
}
