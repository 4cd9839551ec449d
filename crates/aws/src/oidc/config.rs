//! A trusted issuer, as the operator configures it.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tollgate_core::claims::ClaimMapping;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Exactly the `iss` the provider puts in its tokens.
    pub issuer: String,
    /// Accepted `aud` values; a token needs one of them.
    pub audiences: Vec<String>,
    /// Accepted signature algorithms. HMAC algorithms are refused at load: a shared secret
    /// cannot come from a public key set.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Where the keys are, when not discoverable from `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Keys given inline (air-gapped setups, pinned keys); never refetched.
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    #[serde(default = "default_subject_claims")]
    pub subject_claims: Vec<String>,
    #[serde(default = "default_name_claims")]
    pub name_claims: Vec<String>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    #[serde(default)]
    pub policy_claims: Vec<String>,
    /// Longest accepted `exp - iat`.
    #[serde(default = "default_max_lifetime")]
    pub max_lifetime_seconds: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}
fn default_subject_claims() -> Vec<String> {
    ClaimMapping::default().subject_claims
}
fn default_name_claims() -> Vec<String> {
    ClaimMapping::default().name_claims
}
fn default_groups_claim() -> String {
    ClaimMapping::default().groups_claim
}
fn default_max_lifetime() -> u64 {
    24 * 3600
}
fn default_leeway() -> u64 {
    30
}

impl IssuerConfig {
    /// An issuer with every default: RS256/ES256, `sub`, `groups`, 24 h, 30 s leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            algorithms: default_algorithms(),
            jwks_uri: None,
            jwks: None,
            subject_claims: default_subject_claims(),
            name_claims: default_name_claims(),
            groups_claim: default_groups_claim(),
            policy_claims: vec![],
            max_lifetime_seconds: default_max_lifetime(),
            leeway_seconds: default_leeway(),
        }
    }

    pub fn mapping(&self) -> ClaimMapping {
        ClaimMapping {
            subject_claims: self.subject_claims.clone(),
            name_claims: self.name_claims.clone(),
            groups_claim: self.groups_claim.clone(),
            policy_claims: self.policy_claims.clone(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        let name = &self.issuer;
        if self.issuer.is_empty() {
            return Err("issuer: is required".into());
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(format!(
                "{name}: audiences: at least one non-empty audience is required"
            ));
        }
        if self.algorithms.is_empty() {
            return Err(format!("{name}: algorithms: at least one is required"));
        }
        if let Some(a) = self
            .algorithms
            .iter()
            .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(format!(
                "{name}: algorithms: {a:?} is not allowed (HMAC needs a shared secret)"
            ));
        }
        if self.subject_claims.is_empty() {
            return Err(format!(
                "{name}: subject_claims: at least one claim is required"
            ));
        }
        if self.max_lifetime_seconds == 0 {
            return Err(format!("{name}: max_lifetime_seconds: must be positive"));
        }
        Ok(())
    }
}

/// Parses a JSON list (or a single object) of issuer configurations and checks each.
pub fn parse_issuers(json: &str) -> Result<Vec<IssuerConfig>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<IssuerConfig>),
        One(Box<IssuerConfig>),
    }
    let list = match serde_json::from_str::<OneOrMany>(json) {
        Ok(OneOrMany::Many(l)) => l,
        Ok(OneOrMany::One(one)) => vec![*one],
        Err(_) => {
            // Untagged errors say nothing useful; parse as a list again for the real message.
            let e = serde_json::from_str::<Vec<IssuerConfig>>(json).err();
            return Err(format!(
                "not a valid issuer list: {}",
                e.map(|e| e.to_string()).unwrap_or_default()
            ));
        }
    };
    if list.is_empty() {
        return Err("at least one issuer is required".into());
    }
    for c in &list {
        c.validate()?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_github_shape() {
        let l = parse_issuers(
            r#"[{"issuer": "https://token.actions.githubusercontent.com", "audiences": ["tollgate"],
                 "subject_claims": ["repository", "ref"], "algorithms": ["RS256"], "max_lifetime_seconds": 900}]"#,
        )
        .unwrap();
        assert_eq!(l[0].algorithms, vec![Algorithm::RS256]);
        assert_eq!(l[0].mapping().subject_claims, vec!["repository", "ref"]);
        let one = parse_issuers(r#"{"issuer": "https://i", "audiences": ["a"]}"#).unwrap();
        assert_eq!(one[0].algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(one[0].leeway_seconds, 30);
    }

    #[test]
    fn refuses_unsafe_or_wrong_configs() {
        for bad in [
            r#"[]"#,
            r#"[{"issuer": "https://i", "audiences": []}]"#,
            r#"[{"issuer": "https://i", "audiences": ["a"], "algorithms": ["HS256"]}]"#,
            r#"[{"issuer": "https://i", "audiences": ["a"], "algorithms": ["none"]}]"#,
            r#"[{"issuer": "https://i", "audiences": ["a"], "audience": "typo"}]"#,
            r#"[{"issuer": "https://i", "audiences": ["a"], "subject_claims": []}]"#,
        ] {
            assert!(parse_issuers(bad).is_err(), "{bad}");
        }
        let e =
            parse_issuers(r#"[{"issuer": "https://i", "audiences": ["a"], "audience": "typo"}]"#)
                .unwrap_err();
        assert!(e.contains("audience"), "{e}");
    }
}
