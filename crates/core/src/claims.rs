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
    /// A string array, or a space/comma separated string.
    pub groups_claim: String,
    /// Claims copied into the identity for policy and audit.
    pub policy_claims: Vec<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject_claims: vec!["sub".into()],
            name_claims: vec!["name".into(), "email".into(), "preferred_username".into()],
            groups_claim: "groups".into(),
            policy_claims: vec![],
        }
    }
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
    let groups = match claim(claims, &mapping.groups_claim) {
        Some(Value::Array(a)) => a.iter().filter_map(as_text).collect(),
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
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
    })
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
        let c = claims(json!({"sub": "ci-bot", "email": "ci@example.com", "groups": "a b,c"}));
        let id = identity_from_claims("https://i", &c, &ClaimMapping::default()).unwrap();
        assert_eq!(id.subject, "ci-bot");
        assert_eq!(id.name, "ci@example.com");
        assert_eq!(id.groups, vec!["a", "b", "c"]);
        assert!(id.claims.is_empty());
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
