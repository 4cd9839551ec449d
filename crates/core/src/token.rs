//! What can be wrong with a signed, expiring value Tollgate handed out and reads back (an
//! approval link's key, a sealed cookie or CSRF token): one error for both formats.

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed")]
    Malformed,
    #[error("signature does not match")]
    BadSignature,
    #[error("expired")]
    Expired,
}
