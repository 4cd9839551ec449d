//! Who is acting, as the rest of the system sees it once a token has been verified.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// A human-readable name for notices (falls back to the subject).
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Claims the issuer's configuration selects for policy and audit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, serde_json::Value>,
}

impl Identity {
    /// A stable key for "is this the same principal", independent of display names.
    pub fn key(&self) -> String {
        format!("{}#{}", self.issuer, self.subject)
    }

    pub fn same_principal(&self, other: &Identity) -> bool {
        self.issuer == other.issuer && self.subject == other.subject
    }

    /// STS `SourceIdentity` allows only `[\w+=,.@-]`, 2 to 64 characters. Other characters map
    /// deterministically to `-` and a hash suffix keeps distinct subjects distinct.
    pub fn source_identity(&self) -> String {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
        let mapped: String = self
            .subject
            .chars()
            .map(|c| if allowed(c) { c } else { '-' })
            .collect();
        let changed = mapped != self.subject;
        if !changed && (2..=64).contains(&mapped.len()) {
            return mapped;
        }
        let digest = crate::audit::sha256_hex(self.subject.as_bytes());
        let head: String = mapped.chars().take(64 - 9).collect();
        format!("{head}.{}", &digest[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(sub: &str) -> Identity {
        Identity {
            issuer: "https://issuer".into(),
            subject: sub.into(),
            name: sub.into(),
            groups: vec![],
            claims: BTreeMap::new(),
        }
    }

    #[test]
    fn source_identity_keeps_clean_subjects() {
        assert_eq!(id("ci-bot").source_identity(), "ci-bot");
        assert_eq!(id("a.b@example.com").source_identity(), "a.b@example.com");
    }

    #[test]
    fn source_identity_maps_other_characters_deterministically() {
        let a = id("repo:acme/app:ref:refs/heads/main").source_identity();
        let b = id("repo:acme/app:ref:refs/heads/mains").source_identity();
        assert_ne!(a, b);
        assert_eq!(a, id("repo:acme/app:ref:refs/heads/main").source_identity());
        assert!(a.len() <= 64 && a.len() >= 2);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        );
        let long = id(&"x".repeat(200)).source_identity();
        assert!(long.len() <= 64);
        assert!(id("x").source_identity().len() >= 2);
    }
}
