//! Gateway credentials: what an agent signs its unmodified AWS CLI or SDK calls to Tollgate's
//! front door with. They look like temporary AWS credentials (an access key id, a secret
//! access key and a session token) and are worthless at AWS.
//!
//! They are stateless. The session token is the agent's verified identity, the expiry, the
//! access key id and a random seed, sealed (AES-256-GCM, [`crate::aead`]) with the
//! `gateway_credentials` key ring and bound to the access key id as additional data. The
//! secret is an HMAC of the access key id under that seed: only a holder of the ring can
//! open the token and so derive the secret, and nothing is stored. Rotating the ring keeps
//! outstanding credentials working until the previous key is dropped.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::aead::{self, AeadError};
use crate::identity::Identity;
use crate::keyring::KeyRing;

/// Every gateway access key id starts so: the front door (and the local host, which is also
/// the emulator's endpoint) tells them from real AWS keys by it.
pub const ACCESS_KEY_PREFIX: &str = "TOLLGATE";
/// Longest life of gateway credentials, whatever the agent's token allows.
pub const MAX_LIFETIME_SECONDS: u64 = 3600;
/// The shortest a token may have left for credentials to be worth issuing.
pub const MIN_LIFETIME_SECONDS: u64 = 60;
/// Longest a held front-door call may wait for its decision in place (`tollgate env --wait`):
/// API Gateway closes a connection after 30 s, and the answer needs time to travel.
pub const MAX_WAIT_SECONDS: u64 = 20;
/// Longest session token accepted: API Gateway allows 10,240 bytes of request line and
/// headers, and nothing longer was ever issued.
pub const MAX_SESSION_TOKEN_BYTES: usize = 6144;

const PURPOSE: &str = "gateway_credentials";
const KEY_ID_RANDOM_BYTES: usize = 10;
const SEED_BYTES: usize = 32;

/// Issued credentials. The secret and the token are never logged: `Debug` leaves them out.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
}

impl std::fmt::Debug for GatewayCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GatewayCredentials({}, expires_at: {})",
            self.access_key_id, self.expires_at
        )
    }
}

/// What a session token opens to.
#[derive(Clone, Serialize, Deserialize)]
struct Sealed {
    akid: String,
    exp: u64,
    agent: Identity,
    seed: String,
    /// Absent in tokens issued before the wait existed: they wait for nothing.
    #[serde(default, skip_serializing_if = "is_zero")]
    wait: u64,
    /// Absent for the `default` target (and in older tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The agent a verified token belongs to, and until when.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub agent: Identity,
    pub expires_at: u64,
    /// How long a held call signed with these credentials waits for its decision before it
    /// answers "approval required" (seconds; at most [`MAX_WAIT_SECONDS`]). Sealed in the
    /// token, so the agent chose it when the credentials were issued and cannot raise it.
    pub wait_seconds: u64,
    /// The target every call signed with these credentials acts in (`default` unless the
    /// agent asked for another when they were issued).
    pub target: String,
}

/// What the agent asks of credentials beyond its identity: how long a held call waits for
/// its decision, and the target its calls act in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    pub wait_seconds: u64,
    /// `None`: the target named `default`.
    pub target: Option<String>,
}

/// The target of calls signed with credentials issued without one.
pub const DEFAULT_TARGET: &str = "default";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueError {
    /// The agent's token expires too soon (under [`MIN_LIFETIME_SECONDS`]).
    TokenExpiresTooSoon,
    NoRandomness,
    /// The identity is too large to fit a session token.
    TooLarge,
    /// The wait asked for is longer than [`MAX_WAIT_SECONDS`].
    WaitTooLong,
    /// The target's name is not one a request may carry.
    InvalidTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Not a gateway access key id.
    UnknownAccessKey,
    /// No token, or one that does not open for this key id under the ring.
    InvalidToken,
    Expired,
}

fn secret_for(seed: &[u8], akid: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(seed).expect("HMAC accepts any key length");
    m.update(b"tollgate-gateway-secret\0");
    m.update(akid.as_bytes());
    // 40 characters, the length of an AWS secret access key.
    let mut s = STANDARD_NO_PAD.encode(m.finalize().into_bytes());
    s.truncate(40);
    s
}

/// Issues credentials for `agent`, whose verified token expires at `token_expires_at` (Unix
/// seconds), at `now`: they expire with the token or after an hour, whichever is sooner. What
/// `terms` asks is sealed with them: the agent cannot change it afterwards.
pub fn issue(
    ring: &KeyRing,
    agent: &Identity,
    token_expires_at: u64,
    now: u64,
    terms: &Terms,
) -> Result<GatewayCredentials, IssueError> {
    if terms.wait_seconds > MAX_WAIT_SECONDS {
        return Err(IssueError::WaitTooLong);
    }
    if let Some(t) = &terms.target {
        crate::request::validate_target(t).map_err(|_| IssueError::InvalidTarget)?;
    }
    if token_expires_at < now.saturating_add(MIN_LIFETIME_SECONDS) {
        return Err(IssueError::TokenExpiresTooSoon);
    }
    let expires_at = token_expires_at.min(now + MAX_LIFETIME_SECONDS);
    let mut random = [0u8; KEY_ID_RANDOM_BYTES + SEED_BYTES];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| IssueError::NoRandomness)?;
    let (id_bytes, seed) = random.split_at(KEY_ID_RANDOM_BYTES);
    let access_key_id = format!("{ACCESS_KEY_PREFIX}{}", base32(id_bytes));
    let sealed = Sealed {
        akid: access_key_id.clone(),
        exp: expires_at,
        agent: agent.clone(),
        seed: URL_SAFE_NO_PAD.encode(seed),
        wait: terms.wait_seconds,
        target: terms.target.clone().filter(|t| t != DEFAULT_TARGET),
    };
    let plain = serde_json::to_vec(&sealed).map_err(|_| IssueError::TooLarge)?;
    let session_token = aead::seal(ring, PURPOSE, access_key_id.as_bytes(), &plain)
        .map_err(|_| IssueError::NoRandomness)?;
    if session_token.len() > MAX_SESSION_TOKEN_BYTES {
        return Err(IssueError::TooLarge);
    }
    Ok(GatewayCredentials {
        secret_access_key: secret_for(seed, &access_key_id),
        access_key_id,
        session_token,
        expires_at,
    })
}

/// Opens what a client signed with: the secret to verify its signature with, and who holds
/// it. The token must open under the ring for exactly this access key id and be unexpired
/// at `now` (Unix seconds).
pub fn open(
    ring: &KeyRing,
    access_key_id: &str,
    session_token: Option<&str>,
    now: u64,
) -> Result<(String, Holder), OpenError> {
    if !is_gateway_key(access_key_id) {
        return Err(OpenError::UnknownAccessKey);
    }
    let token = session_token
        .filter(|t| t.len() <= MAX_SESSION_TOKEN_BYTES)
        .ok_or(OpenError::InvalidToken)?;
    let plain = aead::open(ring, PURPOSE, access_key_id.as_bytes(), token).map_err(
        |e: AeadError| match e {
            AeadError::Malformed | AeadError::CannotOpen | AeadError::NoRandomness => {
                OpenError::InvalidToken
            }
        },
    )?;
    let sealed: Sealed = serde_json::from_slice(&plain).map_err(|_| OpenError::InvalidToken)?;
    if sealed.akid != access_key_id {
        return Err(OpenError::InvalidToken);
    }
    if now >= sealed.exp {
        return Err(OpenError::Expired);
    }
    let seed = URL_SAFE_NO_PAD
        .decode(&sealed.seed)
        .map_err(|_| OpenError::InvalidToken)?;
    Ok((
        secret_for(&seed, access_key_id),
        Holder {
            agent: sealed.agent,
            expires_at: sealed.exp,
            // Bounded again: a token is only as trustworthy as the ring, and this bound is cheap.
            wait_seconds: sealed.wait.min(MAX_WAIT_SECONDS),
            target: sealed.target.unwrap_or_else(|| DEFAULT_TARGET.to_string()),
        },
    ))
}

/// Whether an access key id is one the front door issued (by its form only).
pub fn is_gateway_key(access_key_id: &str) -> bool {
    access_key_id
        .strip_prefix(ACCESS_KEY_PREFIX)
        .is_some_and(|rest| {
            rest.len() == 16 && rest.bytes().all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7'))
        })
}

/// RFC 4648 base32 without padding (10 bytes → 16 characters).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: u8, previous: Option<u8>) -> KeyRing {
        KeyRing::new(vec![current; 32], previous.map(|p| vec![p; 32])).unwrap()
    }

    fn agent() -> Identity {
        Identity {
            issuer: "https://idp.example".into(),
            subject: "agent-1".into(),
            name: "Agent One".into(),
            groups: vec!["bots".into()],
            claims: Default::default(),
            human: None,
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn issued_credentials_open_to_the_agent_and_the_same_secret() {
        let c = issue(&ring(1, None), &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        assert!(is_gateway_key(&c.access_key_id), "{}", c.access_key_id);
        assert_eq!(c.secret_access_key.len(), 40);
        let (secret, holder) = open(
            &ring(1, None),
            &c.access_key_id,
            Some(&c.session_token),
            NOW,
        )
        .unwrap();
        assert_eq!(secret, c.secret_access_key);
        assert_eq!(holder.agent, agent());
        assert_eq!(holder.expires_at, c.expires_at);
        // Nothing in the clear: not the secret, not the agent.
        assert!(!c.session_token.contains("agent-1"));
        assert!(!c.session_token.contains(&c.secret_access_key));
        assert!(!format!("{c:?}").contains(&c.secret_access_key));
        assert!(!format!("{c:?}").contains(&c.session_token));
        // Two issues differ in every part.
        let d = issue(&ring(1, None), &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        assert_ne!(c.access_key_id, d.access_key_id);
        assert_ne!(c.secret_access_key, d.secret_access_key);
    }

    #[test]
    fn expiry_is_the_tokens_or_an_hour_whichever_is_sooner() {
        let long = issue(&ring(1, None), &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        assert_eq!(long.expires_at, NOW + MAX_LIFETIME_SECONDS);
        let short = issue(&ring(1, None), &agent(), NOW + 600, NOW, &Terms::default()).unwrap();
        assert_eq!(short.expires_at, NOW + 600);
        assert_eq!(
            issue(&ring(1, None), &agent(), NOW + 30, NOW, &Terms::default()),
            Err(IssueError::TokenExpiresTooSoon)
        );
        let open_at = |t| {
            open(
                &ring(1, None),
                &short.access_key_id,
                Some(&short.session_token),
                t,
            )
            .map(|_| ())
        };
        assert_eq!(open_at(NOW + 599), Ok(()));
        assert_eq!(open_at(NOW + 600), Err(OpenError::Expired));
    }

    #[test]
    fn rotation_keeps_outstanding_credentials_until_the_previous_key_goes() {
        let c = issue(&ring(1, None), &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        let with = |r: &KeyRing| open(r, &c.access_key_id, Some(&c.session_token), NOW);
        assert_eq!(with(&ring(2, Some(1))).unwrap().0, c.secret_access_key);
        assert_eq!(
            with(&ring(3, Some(2))).unwrap_err(),
            OpenError::InvalidToken
        );
    }

    #[test]
    fn tokens_bind_their_key_id_and_refuse_tampering() {
        let r = ring(1, None);
        let a = issue(&r, &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        let b = issue(&r, &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        // Another key id's token, no token, a tampered token, garbage.
        assert_eq!(
            open(&r, &a.access_key_id, Some(&b.session_token), NOW).unwrap_err(),
            OpenError::InvalidToken
        );
        assert_eq!(
            open(&r, &a.access_key_id, None, NOW).unwrap_err(),
            OpenError::InvalidToken
        );
        let mut t = a.session_token.clone().into_bytes();
        let i = t.len() / 2;
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            open(
                &r,
                &a.access_key_id,
                Some(std::str::from_utf8(&t).unwrap()),
                NOW
            )
            .unwrap_err(),
            OpenError::InvalidToken
        );
        assert_eq!(
            open(&r, &a.access_key_id, Some("v1.AAAA"), NOW).unwrap_err(),
            OpenError::InvalidToken
        );
        // Real AWS key ids, and look-alikes, are not gateway keys.
        for k in [
            "AKIAIOSFODNN7EXAMPLE",
            "TOLLGATE",
            "TOLLGATEabcdefghijklmnop",
            "x",
        ] {
            assert_eq!(
                open(&r, k, Some(&a.session_token), NOW).unwrap_err(),
                OpenError::UnknownAccessKey,
                "{k}"
            );
        }
    }

    #[test]
    fn the_wait_is_sealed_bounded_and_absent_in_older_tokens() {
        let r = ring(1, None);
        let c = issue(&r, &agent(), NOW + 7200, NOW, &wait(20)).unwrap();
        let (_, holder) = open(&r, &c.access_key_id, Some(&c.session_token), NOW).unwrap();
        assert_eq!(holder.wait_seconds, 20);
        assert_eq!(
            issue(&r, &agent(), NOW + 7200, NOW, &wait(MAX_WAIT_SECONDS + 1)),
            Err(IssueError::WaitTooLong)
        );
        // A token sealed before the wait existed opens, and waits for nothing.
        let akid = "TOLLGATEAAAAAAAAAAAAAAAA";
        let old =
            serde_json::json!({"akid": akid, "exp": NOW + 60, "agent": agent(), "seed": "c2VlZA"});
        let token = aead::seal(&r, PURPOSE, akid.as_bytes(), old.to_string().as_bytes()).unwrap();
        let (_, holder) = open(&r, akid, Some(&token), NOW).unwrap();
        assert_eq!(holder.wait_seconds, 0);
        assert_eq!(holder.target, DEFAULT_TARGET);
    }

    fn wait(wait_seconds: u64) -> Terms {
        Terms {
            wait_seconds,
            ..Default::default()
        }
    }

    #[test]
    fn the_target_is_sealed_and_checked() {
        let r = ring(1, None);
        let terms = Terms {
            target: Some("prod".into()),
            ..Default::default()
        };
        let c = issue(&r, &agent(), NOW + 7200, NOW, &terms).unwrap();
        let (_, holder) = open(&r, &c.access_key_id, Some(&c.session_token), NOW).unwrap();
        assert_eq!(holder.target, "prod");
        let plain = issue(&r, &agent(), NOW + 7200, NOW, &Terms::default()).unwrap();
        let (_, holder) = open(&r, &plain.access_key_id, Some(&plain.session_token), NOW).unwrap();
        assert_eq!(holder.target, DEFAULT_TARGET);
        for bad in ["", "a/b", &"x".repeat(65)] {
            let terms = Terms {
                target: Some(bad.to_string()),
                ..Default::default()
            };
            assert_eq!(
                issue(&r, &agent(), NOW + 7200, NOW, &terms),
                Err(IssueError::InvalidTarget),
                "{bad}"
            );
        }
    }

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&[0xff; 10]).len(), 16);
    }
}
