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
    /// Who the person is across issuers and channels (the issuer's `human_key_claim`, e.g. a
    /// verified e-mail address, lower-cased), when the issuer names one. One person signed in
    /// through two providers, or voting in Slack and on the page, has one human key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human: Option<String>,
}

impl Identity {
    /// A stable key for "is this the same principal", independent of display names.
    pub fn key(&self) -> String {
        format!("{}#{}", self.issuer, self.subject)
    }

    pub fn same_principal(&self, other: &Identity) -> bool {
        self.issuer == other.issuer && self.subject == other.subject
    }

    /// Whether both are the same person: the same principal, or the same human key. Votes
    /// count per person, and a person never approves what they asked for under another name.
    pub fn same_human(&self, other: &Identity) -> bool {
        self.same_principal(other) || (self.human.is_some() && self.human == other.human)
    }

    /// Whether this identity is in one of `groups`; `*` stands for any identity.
    pub fn in_any_group(&self, groups: &[String]) -> bool {
        groups
            .iter()
            .any(|g| g == "*" || self.groups.iter().any(|mine| mine == g))
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
        let digest = crate::digest::sha256_hex(self.subject.as_bytes());
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
            human: None,
        }
    }

    #[test]
    fn one_human_key_is_one_person_across_issuers() {
        let mut okta = id("alice");
        let mut google = Identity {
            issuer: "https://accounts.google.com".into(),
            subject: "1234567890".into(),
            ..id("x")
        };
        assert!(!okta.same_human(&google));
        okta.human = Some("alice@example.com".into());
        assert!(!okta.same_human(&google), "one side without a key");
        google.human = Some("alice@example.com".into());
        assert!(okta.same_human(&google));
        google.human = Some("bob@example.com".into());
        assert!(!okta.same_human(&google));
        // The same principal is the same person whatever its key says.
        assert!(okta.same_human(&id("alice")));
    }

    #[test]
    fn group_membership_with_a_wildcard() {
        let mut who = id("alice");
        who.groups = vec!["approvers".into()];
        assert!(who.in_any_group(&["dba".into(), "approvers".into()]));
        assert!(!who.in_any_group(&["dba".into()]));
        assert!(!who.in_any_group(&[]));
        assert!(id("nobody").in_any_group(&["*".into()]));
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
