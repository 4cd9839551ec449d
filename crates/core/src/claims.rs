//! From verified token claims to the identity the rest of the system sees, and the strict
//! JSON checks a token's segments must pass first.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::identity::Identity;

/// Which claims name the principal, give its display name, its groups, and which are kept
/// for policy. A claim name starting with `/` is a JSON pointer into nested claims (e.g.
/// `/kubernetes.io/namespace`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// Claims joined with `:` form the subject, e.g. `["repository", "ref"]` for GitHub Actions.
    pub subject_claims: Vec<String>,
    /// The first present one is the display name.
    pub name_claims: Vec<String>,
    /// A string array, or a string: one group, unless `groups_separators` says how to split it.
    pub groups_claim: String,
    /// Characters that separate groups in a string `groups_claim` (e.g. `" ,"`). Empty, the
    /// default: a string is one group, so `"dba readonly"` is never the group `dba`.
    pub groups_separators: String,
    /// Claims copied into the identity for policy and audit.
    pub policy_claims: Vec<String>,
    /// The claim that names the person across issuers and channels (e.g. `email`); see
    /// [`Identity::human`]. An `email` claim counts only if `email_verified` is not false.
    pub human_key_claim: Option<String>,
    /// Groups the configuration gives a subject, added to its token's: for providers whose
    /// tokens carry none (Google) or not the ones that matter here.
    pub groups_by_subject: BTreeMap<String, Vec<String>>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject_claims: vec!["sub".into()],
            name_claims: vec!["name".into(), "email".into(), "preferred_username".into()],
            groups_claim: "groups".into(),
            groups_separators: String::new(),
            policy_claims: vec![],
            human_key_claim: None,
            groups_by_subject: BTreeMap::new(),
        }
    }
}

/// The values a required claim may have: one, or a list of accepted ones. Values are
/// strings, numbers or booleans; a number and its decimal string match (`12345` and
/// `"12345"`), because providers differ in which they send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Accepted {
    AnyOf(Vec<Value>),
    One(Value),
}

impl Accepted {
    fn values(&self) -> &[Value] {
        match self {
            Accepted::AnyOf(v) => v,
            Accepted::One(v) => std::slice::from_ref(v),
        }
    }

    /// Refuses what could never match, or would match by accident: nothing, null, an empty
    /// string, objects and nested lists.
    pub fn check(&self) -> Result<(), String> {
        if self.values().is_empty() {
            return Err("needs at least one accepted value".into());
        }
        if self.values().iter().any(|v| as_text(v).is_none()) {
            return Err("accepted values must be non-empty strings, numbers or booleans".into());
        }
        Ok(())
    }

    fn admits(&self, v: &Value) -> bool {
        let Some(given) = as_text(v) else {
            return false;
        };
        self.values()
            .iter()
            .any(|a| as_text(a).is_some_and(|a| a == given))
    }
}

/// Checks that a token carries every claim its issuer pins (`required_claims`), each with an
/// accepted value. Claim names starting with `/` are JSON pointers.
pub fn check_required_claims(
    claims: &Map<String, Value>,
    required: &BTreeMap<String, Accepted>,
) -> Result<(), ClaimError> {
    for (name, accepted) in required {
        let Some(v) = claim(claims, name) else {
            return Err(ClaimError {
                reason: "missing_claim",
                message: format!("token has no `{name}` claim, which this issuer requires"),
            });
        };
        if !accepted.admits(v) {
            return Err(ClaimError {
                reason: "claim_mismatch",
                message: format!("token claim `{name}` does not have a value this issuer accepts"),
            });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimError {
    /// Stable reason code, e.g. `missing_claim`.
    pub reason: &'static str,
    pub message: String,
}

fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(pointer) = name.strip_prefix('/') {
        // The first segment indexes the claims map; serde_json resolves the rest.
        let (first, rest) = pointer.split_once('/').unwrap_or((pointer, ""));
        let first = first.replace("~1", "/").replace("~0", "~");
        let top = claims.get(&first)?;
        if rest.is_empty() {
            Some(top)
        } else {
            top.pointer(&format!("/{rest}"))
        }
    } else {
        claims.get(name)
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Builds the normalized identity from a token's (already verified) claims.
pub fn identity_from_claims(
    issuer: &str,
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Result<Identity, ClaimError> {
    if mapping.subject_claims.is_empty() {
        return Err(ClaimError {
            reason: "missing_claim",
            message: "no subject claims are configured".into(),
        });
    }
    let mut parts = Vec::with_capacity(mapping.subject_claims.len());
    for name in &mapping.subject_claims {
        let part = claim(claims, name)
            .and_then(as_text)
            .ok_or_else(|| ClaimError {
                reason: "missing_claim",
                message: format!("token has no usable `{name}` claim"),
            })?;
        parts.push(part);
    }
    let subject = parts.join(":");
    let name = mapping
        .name_claims
        .iter()
        .find_map(|n| claim(claims, n).and_then(as_text))
        .unwrap_or_else(|| subject.clone());
    let mut groups: Vec<String> = match claim(claims, &mapping.groups_claim) {
        Some(Value::Array(a)) => a.iter().filter_map(as_text).collect(),
        Some(Value::String(s)) if mapping.groups_separators.is_empty() => {
            if s.is_empty() {
                vec![]
            } else {
                vec![s.clone()]
            }
        }
        Some(Value::String(s)) => s
            .split(|c| mapping.groups_separators.contains(c))
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    for g in mapping
        .groups_by_subject
        .get(&subject)
        .into_iter()
        .flatten()
    {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    let human = match &mapping.human_key_claim {
        None => None,
        Some(name) => Some(human_key(claims, name)?),
    };
    let selected: BTreeMap<String, Value> = mapping
        .policy_claims
        .iter()
        .filter_map(|n| {
            claim(claims, n).map(|v| (n.trim_start_matches('/').to_string(), v.clone()))
        })
        .collect();
    Ok(Identity {
        issuer: issuer.to_string(),
        subject,
        name,
        groups,
        claims: selected,
        human,
    })
}

/// The person's key from `name`, lower-cased. An e-mail address the provider says it has not
/// verified names nobody: anyone can type someone else's address into a sign-up form.
fn human_key(claims: &Map<String, Value>, name: &str) -> Result<String, ClaimError> {
    let value = claim(claims, name)
        .and_then(as_text)
        .map(|v| v.trim().to_lowercase())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ClaimError {
            reason: "missing_claim",
            message: format!("token has no usable `{name}` claim (the issuer's human_key_claim)"),
        })?;
    if name.trim_start_matches('/') == "email" {
        let verified = match claims.get("email_verified") {
            None => true,
            Some(Value::Bool(b)) => *b,
            // Some providers (Cognito, older ones) send the flag as a string.
            Some(Value::String(s)) => s == "true",
            Some(_) => false,
        };
        if !verified {
            return Err(ClaimError {
                reason: "unverified_claim",
                message: "token's `email` is not verified (`email_verified` is not true), so it cannot identify the person".into(),
            });
        }
    }
    Ok(value)
}

/// Refuses JSON with a repeated object key at any depth. Parsers disagree on which copy of
/// a duplicated claim wins, which is enough for one component to check `aud: ours` while
/// another reads `aud: theirs`.
pub fn reject_duplicate_keys(json: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(json);
    NoDuplicates
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct NoDuplicates;

impl<'de> DeserializeSeed<'de> for NoDuplicates {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value_seed(NoDuplicates)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn default_mapping_uses_sub_name_groups() {
        let c = claims(json!({"sub": "ci-bot", "email": "ci@example.com", "groups": ["a", "b"]}));
        let id = identity_from_claims("https://i", &c, &ClaimMapping::default()).unwrap();
        assert_eq!(id.subject, "ci-bot");
        assert_eq!(id.name, "ci@example.com");
        assert_eq!(id.groups, vec!["a", "b"]);
        assert!(id.claims.is_empty());
        assert_eq!(id.human, None);
    }

    #[test]
    fn a_string_groups_claim_is_one_group_unless_told_how_to_split() {
        let c = claims(json!({"sub": "u", "groups": "dba readonly,ops"}));
        let id = identity_from_claims("https://i", &c, &ClaimMapping::default()).unwrap();
        assert_eq!(id.groups, vec!["dba readonly,ops"]);
        let split = ClaimMapping {
            groups_separators: " ,".into(),
            ..Default::default()
        };
        let id = identity_from_claims("https://i", &c, &split).unwrap();
        assert_eq!(id.groups, vec!["dba", "readonly", "ops"]);
        let empty = claims(json!({"sub": "u", "groups": ""}));
        let id = identity_from_claims("https://i", &empty, &ClaimMapping::default()).unwrap();
        assert!(id.groups.is_empty());
    }

    #[test]
    fn configured_groups_join_the_tokens_own_for_that_subject_only() {
        let m = ClaimMapping {
            subject_claims: vec!["email".into()],
            groups_by_subject: [(
                "alice@example.com".to_string(),
                vec!["approvers".to_string(), "dba".to_string()],
            )]
            .into(),
            ..Default::default()
        };
        let id = |v: Value| identity_from_claims("https://i", &claims(v), &m).unwrap();
        // Google's tokens carry no groups: the configuration gives them.
        assert_eq!(
            id(json!({"email": "alice@example.com"})).groups,
            vec!["approvers", "dba"]
        );
        assert_eq!(
            id(json!({"email": "alice@example.com", "groups": ["dba", "ops"]})).groups,
            vec!["dba", "ops", "approvers"]
        );
        assert!(
            id(json!({"email": "mallory@example.com"}))
                .groups
                .is_empty()
        );
        // Matched on the whole subject, exactly.
        assert!(id(json!({"email": "Alice@example.com"})).groups.is_empty());
    }

    #[test]
    fn human_keys_come_only_from_verified_addresses() {
        let m = ClaimMapping {
            human_key_claim: Some("email".into()),
            ..Default::default()
        };
        let key = |v: Value| identity_from_claims("https://i", &claims(v), &m);
        assert_eq!(
            key(json!({"sub": "u", "email": " Alice@Example.com", "email_verified": true}))
                .unwrap()
                .human
                .as_deref(),
            Some("alice@example.com")
        );
        // Providers that never send the flag, and those that send it as a string.
        assert!(key(json!({"sub": "u", "email": "a@x"})).is_ok());
        assert!(key(json!({"sub": "u", "email": "a@x", "email_verified": "true"})).is_ok());
        for unverified in [json!(false), json!("false"), json!(null), json!(1)] {
            let e =
                key(json!({"sub": "u", "email": "a@x", "email_verified": unverified})).unwrap_err();
            assert_eq!(e.reason, "unverified_claim", "{unverified}");
        }
        assert_eq!(
            key(json!({"sub": "u"})).unwrap_err().reason,
            "missing_claim"
        );
        // Other claims have no verification flag.
        let oid = ClaimMapping {
            human_key_claim: Some("oid".into()),
            ..Default::default()
        };
        let id = identity_from_claims(
            "https://i",
            &claims(json!({"sub": "u", "oid": "A-B", "email_verified": false})),
            &oid,
        )
        .unwrap();
        assert_eq!(id.human.as_deref(), Some("a-b"));
    }

    #[test]
    fn required_claims_pin_values() {
        let required: BTreeMap<String, Accepted> = serde_json::from_value(json!({
            "repository_owner_id": "123",
            "/kubernetes.io/namespace": ["ops", "ci"],
            "org_id": 42
        }))
        .unwrap();
        for a in required.values() {
            a.check().unwrap();
        }
        let good = claims(json!({"repository_owner_id": 123, "org_id": "42",
            "kubernetes.io": {"namespace": "ci"}}));
        check_required_claims(&good, &required).unwrap();
        let wrong = claims(json!({"repository_owner_id": "1234", "org_id": 42,
            "kubernetes.io": {"namespace": "ci"}}));
        let e = check_required_claims(&wrong, &required).unwrap_err();
        assert_eq!(e.reason, "claim_mismatch");
        assert!(e.message.contains("repository_owner_id") && !e.message.contains("1234"));
        let missing = claims(json!({"repository_owner_id": "123", "org_id": 42}));
        assert_eq!(
            check_required_claims(&missing, &required)
                .unwrap_err()
                .reason,
            "missing_claim"
        );
        // A list claim never matches a scalar pin.
        let listed = claims(json!({"repository_owner_id": ["123"], "org_id": 42,
            "kubernetes.io": {"namespace": "ci"}}));
        assert!(check_required_claims(&listed, &required).is_err());
        for bad in [
            json!([]),
            json!(null),
            json!(""),
            json!({"a": 1}),
            json!([["x"]]),
        ] {
            let a: Accepted = serde_json::from_value(bad.clone()).unwrap();
            assert!(a.check().is_err(), "{bad}");
        }
    }

    #[test]
    fn github_actions_subject_from_repository_and_ref() {
        let m = ClaimMapping {
            subject_claims: vec!["repository".into(), "ref".into()],
            name_claims: vec!["workflow".into()],
            policy_claims: vec!["repository_owner".into(), "environment".into()],
            ..Default::default()
        };
        let c = claims(
            json!({"sub": "repo:acme/app:ref:refs/heads/main", "repository": "acme/app",
            "ref": "refs/heads/main", "repository_owner": "acme", "workflow": "deploy"}),
        );
        let id =
            identity_from_claims("https://token.actions.githubusercontent.com", &c, &m).unwrap();
        assert_eq!(id.subject, "acme/app:refs/heads/main");
        assert_eq!(id.name, "deploy");
        assert_eq!(id.claims.get("repository_owner"), Some(&json!("acme")));
        assert!(!id.claims.contains_key("environment"));
        let missing = claims(json!({"repository": "acme/app"}));
        assert_eq!(
            identity_from_claims("i", &missing, &m).unwrap_err().reason,
            "missing_claim"
        );
    }

    #[test]
    fn kubernetes_nested_claims_by_pointer() {
        let m = ClaimMapping {
            policy_claims: vec!["/kubernetes.io/namespace".into()],
            groups_claim: "/kubernetes.io/serviceaccount/name".into(),
            ..Default::default()
        };
        let c = claims(json!({"sub": "system:serviceaccount:ops:deployer",
            "kubernetes.io": {"namespace": "ops", "serviceaccount": {"name": "deployer", "uid": "u"}}}));
        let id = identity_from_claims("https://k8s", &c, &m).unwrap();
        assert_eq!(
            id.claims.get("kubernetes.io/namespace"),
            Some(&json!("ops"))
        );
        assert_eq!(id.groups, vec!["deployer"]);
    }

    #[test]
    fn empty_subject_is_missing() {
        let c = claims(json!({"sub": ""}));
        assert!(identity_from_claims("i", &c, &ClaimMapping::default()).is_err());
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(reject_duplicate_keys(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        assert!(reject_duplicate_keys(br#"{"aud":"x","aud":"y"}"#).is_err());
        assert!(reject_duplicate_keys(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert!(reject_duplicate_keys(br#"{"a":[{"b":1,"b":2}]}"#).is_err());
        assert!(reject_duplicate_keys(br#"{"a":1} trailing"#).is_err());
    }
}
