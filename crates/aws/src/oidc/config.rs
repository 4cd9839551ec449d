//! A trusted issuer, as the operator configures it.

use std::collections::BTreeMap;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use tollgate_core::claims::{Accepted, ClaimMapping};

/// GitHub Actions' issuer (and, with a suffix, an enterprise's custom one). Any repository on
/// GitHub can get a token from it for any audience.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

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
    /// Characters that split a string `groups_claim`; none by default (a string is one group).
    #[serde(default)]
    pub groups_separators: String,
    #[serde(default)]
    pub policy_claims: Vec<String>,
    /// Claims a token must carry, each with an accepted value (one, or a list): what makes a
    /// token of a shared issuer yours (`repository_owner_id`, `hd`, `tid`, ...).
    #[serde(default)]
    pub required_claims: BTreeMap<String, Accepted>,
    /// Accepted values of the header's `typ` (compared case-insensitively, an `application/`
    /// prefix ignored); empty: not checked. `["JWT"]` refuses RFC 9068 access tokens
    /// (`at+jwt`) where ID tokens are expected.
    #[serde(default)]
    pub typ: Vec<String>,
    /// The `token_use` claim a token must carry (Amazon Cognito: `id` or `access`). Unset: a
    /// token that carries `token_use` must say `id`.
    #[serde(default)]
    pub token_use: Option<String>,
    /// The claim naming the person across issuers and channels (e.g. `email`, honoured only
    /// when `email_verified` is not false): votes count once per person, and a person never
    /// approves their own agent's request. When set, a token without it is refused.
    #[serde(default)]
    pub human_key_claim: Option<String>,
    /// For approver issuers, required: a token is an approver's only if its groups include one
    /// of these (`["*"]`: any token of this issuer, allowed only with `required_claims`).
    #[serde(default)]
    pub approver_groups: Vec<String>,
    /// Groups given to subjects here, added to their tokens' (`{"alice@example.com":
    /// ["approvers"]}` with `subject_claims: ["email"]`): for providers whose ID tokens carry no
    /// groups, such as Google.
    #[serde(default)]
    pub groups_by_subject: BTreeMap<String, Vec<String>>,
    /// For the approvers' sign-in: the scopes asked for. Must include `openid`; Okta's org
    /// authorization server puts `groups` in ID tokens only when the `groups` scope is asked.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// For the approvers' sign-in, with providers that require a client secret even with PKCE
    /// (Google, Entra ID web apps, Cognito app clients with a secret): the ARN of the Secrets
    /// Manager secret holding it, as the secret string or JSON `{"client_secret": "..."}`.
    #[serde(default)]
    pub client_secret_arn: Option<String>,
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
fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
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
            groups_separators: String::new(),
            policy_claims: vec![],
            required_claims: BTreeMap::new(),
            typ: vec![],
            token_use: None,
            human_key_claim: None,
            approver_groups: vec![],
            groups_by_subject: BTreeMap::new(),
            scopes: default_scopes(),
            client_secret_arn: None,
            max_lifetime_seconds: default_max_lifetime(),
            leeway_seconds: default_leeway(),
        }
    }

    pub fn mapping(&self) -> ClaimMapping {
        ClaimMapping {
            subject_claims: self.subject_claims.clone(),
            name_claims: self.name_claims.clone(),
            groups_claim: self.groups_claim.clone(),
            groups_separators: self.groups_separators.clone(),
            policy_claims: self.policy_claims.clone(),
            human_key_claim: self.human_key_claim.clone(),
            groups_by_subject: self.groups_by_subject.clone(),
        }
    }

    /// Whether this issuer pins `claim` (by name or as a top-level JSON pointer).
    fn pins(&self, claim: &str) -> bool {
        self.required_claims
            .keys()
            .any(|k| k.strip_prefix('/').unwrap_or(k) == claim)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
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
        for (claim, accepted) in &self.required_claims {
            if claim.is_empty() {
                return Err(format!("{name}: required_claims: a claim name is empty"));
            }
            accepted
                .check()
                .map_err(|e| format!("{name}: required_claims: `{claim}` {e}"))?;
        }
        if self.issuer.starts_with(GITHUB_ACTIONS_ISSUER)
            && !(self.pins("repository_owner_id") || self.pins("repository_id"))
        {
            return Err(format!(
                "{name}: required_claims: must pin `repository_owner_id` or `repository_id`: any repository on GitHub can get a token from this issuer for any audience"
            ));
        }
        if self.typ.iter().any(|t| t.trim().is_empty()) {
            return Err(format!("{name}: typ: values must not be empty"));
        }
        if self
            .token_use
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(format!("{name}: token_use: must not be empty"));
        }
        if self
            .human_key_claim
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err(format!("{name}: human_key_claim: must name a claim"));
        }
        if self.approver_groups.iter().any(|g| g.trim().is_empty()) {
            return Err(format!("{name}: approver_groups: a group name is empty"));
        }
        for (subject, groups) in &self.groups_by_subject {
            if subject.is_empty() || groups.iter().any(|g| g.trim().is_empty()) {
                return Err(format!(
                    "{name}: groups_by_subject: subjects and group names must not be empty"
                ));
            }
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return Err(format!(
                "{name}: scopes: must include `openid` (the sign-in asks for an ID token)"
            ));
        }
        if self.scopes.iter().any(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        }) {
            return Err(format!(
                "{name}: scopes: each scope is one word of printable characters"
            ));
        }
        if let Some(arn) = &self.client_secret_arn {
            // arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
            let f: Vec<&str> = arn.splitn(7, ':').collect();
            if !(f.len() == 7
                && f[0] == "arn"
                && !f[1].is_empty()
                && f[2] == "secretsmanager"
                && f[5] == "secret"
                && !f[6].is_empty())
            {
                return Err(format!(
                    "{name}: client_secret_arn: must be a Secrets Manager secret's ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>)"
                ));
            }
        }
        Ok(())
    }
}

/// Checks both roles' issuers together, at start: every entry on its own; each approver
/// issuer names its approver groups (`*` only where required claims say whose tokens these
/// are); agent issuers name none; and no issuer and audience serve both roles, so which role a
/// token is verified for follows from its issuer and audience alone.
pub fn check_roles(agents: &[IssuerConfig], approvers: &[IssuerConfig]) -> Result<(), String> {
    for c in agents.iter().chain(approvers) {
        c.validate()?;
    }
    for c in agents {
        if c.client_secret_arn.is_some() {
            return Err(format!(
                "agent issuer {}: client_secret_arn: only the approvers' sign-in uses a client secret",
                c.issuer
            ));
        }
        if !c.approver_groups.is_empty() {
            return Err(format!(
                "agent issuer {}: approver_groups: only approver issuers name approver groups",
                c.issuer
            ));
        }
    }
    for c in approvers {
        if c.approver_groups.is_empty() {
            return Err(format!(
                "approver issuer {}: approver_groups: is required: name the groups whose members approve (a token of this issuer without one of them is not an approver)",
                c.issuer
            ));
        }
        if c.approver_groups.iter().any(|g| g == "*") && c.required_claims.is_empty() {
            return Err(format!(
                "approver issuer {}: approver_groups: `*` (any token of this issuer) needs required_claims that make its tokens yours (`hd`, `tid`, ...)",
                c.issuer
            ));
        }
        for a in agents.iter().filter(|a| a.issuer == c.issuer) {
            if let Some(aud) = a.audiences.iter().find(|x| c.audiences.contains(x)) {
                return Err(format!(
                    "issuer {}: audience `{aud}` is configured for both agents and approvers; give each role its own audience (client id)",
                    c.issuer
                ));
            }
        }
    }
    Ok(())
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
                 "subject_claims": ["repository_id", "ref"], "algorithms": ["RS256"], "max_lifetime_seconds": 900,
                 "required_claims": {"repository_owner_id": "5551234"}}]"#,
        )
        .unwrap();
        assert_eq!(l[0].algorithms, vec![Algorithm::RS256]);
        assert_eq!(l[0].mapping().subject_claims, vec!["repository_id", "ref"]);
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

    #[test]
    fn a_github_issuer_must_pin_an_owner_or_repository_id() {
        let gh = |extra: &str| {
            parse_issuers(&format!(
                r#"[{{"issuer": "https://token.actions.githubusercontent.com", "audiences": ["tollgate"]{extra}}}]"#
            ))
        };
        let e = gh("").unwrap_err();
        assert!(e.contains("repository_owner_id"), "{e}");
        // A name can be re-registered after a rename; only the ids pin.
        assert!(gh(r#", "required_claims": {"repository_owner": "acme"}"#).is_err());
        assert!(gh(r#", "required_claims": {"repository_owner_id": "123"}"#).is_ok());
        assert!(gh(r#", "required_claims": {"repository_id": ["1", "2"]}"#).is_ok());
        assert!(gh(r#", "required_claims": {"/repository_id": 1}"#).is_ok());
        // An enterprise's custom issuer too.
        assert!(
            parse_issuers(
                r#"[{"issuer": "https://token.actions.githubusercontent.com/acme", "audiences": ["t"]}]"#
            )
            .is_err()
        );
        for bad in [
            r#", "required_claims": {"repository_id": []}"#,
            r#", "required_claims": {"repository_id": null}"#,
            r#", "required_claims": {"repository_id": {"a": 1}}"#,
        ] {
            assert!(gh(bad).is_err(), "{bad}");
        }
    }

    /// Every issuer list docs/identity.md shows loads, and each approvers' one passes the
    /// role checks: the provider examples are configurations that work.
    #[test]
    fn the_documented_examples_load() {
        let doc = include_str!("../../../../docs/identity.md");
        let blocks: Vec<&str> = doc
            .split("```json")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        assert!(blocks.len() >= 6, "{} examples", blocks.len());
        for b in blocks {
            let list = parse_issuers(b).unwrap_or_else(|e| panic!("{e}\n{b}"));
            if list.iter().all(|c| !c.approver_groups.is_empty()) {
                check_roles(&[], &list).unwrap_or_else(|e| panic!("{e}\n{b}"));
            }
        }
    }

    #[test]
    fn sign_in_settings_are_checked() {
        let one = |extra: &str| {
            parse_issuers(&format!(
                r#"[{{"issuer": "https://i", "audiences": ["a"]{extra}}}]"#
            ))
        };
        assert_eq!(
            one("").unwrap()[0].scopes,
            vec!["openid", "profile", "email"]
        );
        let okta = one(r#", "scopes": ["openid", "email", "groups"]"#).unwrap();
        assert_eq!(okta[0].scopes, vec!["openid", "email", "groups"]);
        let e = one(r#", "scopes": ["email", "groups"]"#).unwrap_err();
        assert!(e.contains("openid"), "{e}");
        assert!(one(r#", "scopes": ["openid", "a b"]"#).is_err());
        assert!(one(r#", "scopes": ["openid", ""]"#).is_err());
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tollgate/google-AbCdEf";
        let g = one(&format!(r#", "client_secret_arn": "{arn}""#)).unwrap();
        assert_eq!(g[0].client_secret_arn.as_deref(), Some(arn));
        for bad in [
            "the-secret-itself",
            "arn:aws:ssm:us-east-1:123456789012:parameter/x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
        ] {
            let e = one(&format!(r#", "client_secret_arn": "{bad}""#)).unwrap_err();
            assert!(e.contains("client_secret_arn"), "{e}");
        }
        assert!(one(r#", "groups_by_subject": {"alice": ["approvers"]}"#).is_ok());
        assert!(one(r#", "groups_by_subject": {"alice": [" "]}"#).is_err());
        let agent = IssuerConfig {
            client_secret_arn: Some(arn.into()),
            ..IssuerConfig::new("https://i", "agents")
        };
        let e = check_roles(&[agent], &[]).unwrap_err();
        assert!(e.contains("client_secret_arn"), "{e}");
    }

    #[test]
    fn roles_need_approver_groups_and_their_own_audiences() {
        let agent = IssuerConfig::new("https://idp", "agents");
        let approver = IssuerConfig {
            approver_groups: vec!["approvers".into()],
            ..IssuerConfig::new("https://idp", "approvers")
        };
        check_roles(
            std::slice::from_ref(&agent),
            std::slice::from_ref(&approver),
        )
        .unwrap();
        let no_groups = IssuerConfig::new("https://idp", "approvers");
        let e = check_roles(&[], &[no_groups]).unwrap_err();
        assert!(e.contains("approver_groups: is required"), "{e}");
        let anyone = IssuerConfig {
            approver_groups: vec!["*".into()],
            ..IssuerConfig::new("https://accounts.google.com", "client")
        };
        assert!(check_roles(&[], std::slice::from_ref(&anyone)).is_err());
        let pinned = IssuerConfig {
            required_claims: [("hd".to_string(), Accepted::One("example.com".into()))].into(),
            ..anyone
        };
        check_roles(&[], &[pinned]).unwrap();
        let both = IssuerConfig {
            audiences: vec!["agents".into(), "approvers".into()],
            ..approver.clone()
        };
        let e = check_roles(std::slice::from_ref(&agent), &[both]).unwrap_err();
        assert!(e.contains("both agents and approvers"), "{e}");
        let grouped_agent = IssuerConfig {
            approver_groups: vec!["x".into()],
            ..agent
        };
        assert!(check_roles(&[grouped_agent], &[approver]).is_err());
    }
}
