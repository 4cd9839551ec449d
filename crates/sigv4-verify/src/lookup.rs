//! Where secrets come from: the caller's lookup from access key id (and session token) to the
//! secret access key, and whoever the key belongs to.

use std::fmt;

/// A secret access key. Never printed: `Debug` shows a placeholder.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a lookup found: the secret to check the signature with, and the principal the caller
/// wants back once (and only once) the signature verified.
#[derive(Debug, Clone)]
pub struct Found<P> {
    pub secret: Secret,
    pub principal: P,
}

/// Why a lookup found nothing. Each becomes the AWS code the SDKs expect
/// (`InvalidAccessKeyId`/`InvalidClientTokenId`, `InvalidToken`, `ExpiredToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// No such access key id.
    UnknownAccessKey,
    /// The session token is missing, malformed, tampered with or not for this key.
    InvalidToken,
    /// The session token (or the key) has expired.
    ExpiredToken,
}

/// The caller's lookup. Called once per request, after the request is well formed and inside
/// its time window, before the signature is checked. When the secret is derived from the
/// session token, the lookup must also check that the token belongs to the access key id:
/// the verifier passes both through as the client sent them.
pub trait SecretLookup {
    type Principal;
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Found<Self::Principal>, LookupError>;
}

impl<F, P> SecretLookup for F
where
    F: Fn(&str, Option<&str>) -> Result<Found<P>, LookupError>,
{
    type Principal = P;
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Found<P>, LookupError> {
        self(access_key_id, session_token)
    }
}
