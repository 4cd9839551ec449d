//! `@unmask`: a permit may let one named agent see members of an answer that are otherwise
//! masked. That is a grant to the agent alone: the answer is stored masked as for everyone
//! else, and what the agent may see besides travels as a list of (JSON pointer, value) pairs
//! that the executor seals for that agent and the API applies only to that agent's view.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aead::{self, AeadError};
use crate::identity::Identity;
use crate::keyring::KeyRing;
use crate::mask::{MaskRules, mask_answer};

/// The purpose label of the key that seals what is revealed.
pub const PURPOSE: &str = "results";

/// One value the agent sees where everyone else sees the mask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revealed {
    /// RFC 6901 pointer into the answer.
    pub pointer: String,
    pub value: Value,
}

/// The answer as stored and shown to everyone (masked with `rules`, unmasking nothing), and
/// what the agent's own view shows besides (empty when `rules` unmask nothing). `service` is
/// the call's service prefix, for the masking rules that depend on it.
pub fn split(service: &str, answer: Value, rules: &MaskRules) -> (Value, Vec<Revealed>) {
    let for_everyone = MaskRules {
        mask: rules.mask.clone(),
        unmask: vec![],
    };
    let mut stored = answer.clone();
    mask_answer(service, &mut stored, &for_everyone);
    if rules.unmask.is_empty() {
        return (stored, vec![]);
    }
    let mut agents = answer;
    mask_answer(service, &mut agents, rules);
    let mut revealed = Vec::new();
    differences(&stored, &agents, &mut String::new(), &mut revealed);
    (stored, revealed)
}

/// Puts what was revealed back into a view of the stored answer. Pointers that no longer
/// lead anywhere (a summarised answer) are skipped.
pub fn apply(answer: &mut Value, revealed: Vec<Revealed>) {
    for r in revealed {
        if let Some(slot) = answer.pointer_mut(&r.pointer) {
            *slot = r.value;
        }
    }
}

/// Binds a sealed value to its request and agent: moved to another record, it does not open.
fn aad(request_id: &str, agent: &Identity) -> Vec<u8> {
    format!("tollgate-revealed\0{request_id}\0{}", agent.key()).into_bytes()
}

/// Seals what is revealed for the agent of request `request_id`.
pub fn seal_for(
    ring: &KeyRing,
    request_id: &str,
    agent: &Identity,
    revealed: &[Revealed],
) -> Result<String, AeadError> {
    let json = serde_json::to_vec(revealed).map_err(|_| AeadError::Malformed)?;
    aead::seal(ring, PURPOSE, &aad(request_id, agent), &json)
}

/// Opens what [`seal_for`] sealed, for that request and agent only.
pub fn open_for(
    ring: &KeyRing,
    request_id: &str,
    agent: &Identity,
    sealed: &str,
) -> Result<Vec<Revealed>, AeadError> {
    let json = aead::open(ring, PURPOSE, &aad(request_id, agent), sealed)?;
    serde_json::from_slice(&json).map_err(|_| AeadError::Malformed)
}

fn differences(stored: &Value, agents: &Value, path: &mut String, out: &mut Vec<Revealed>) {
    match (stored, agents) {
        (Value::Object(s), Value::Object(a)) if s.len() == a.len() => {
            for (k, av) in a {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                match s.get(k) {
                    Some(sv) => differences(sv, av, path, out),
                    None => out.push(Revealed {
                        pointer: path.clone(),
                        value: av.clone(),
                    }),
                }
                path.truncate(len);
            }
        }
        (Value::Array(s), Value::Array(a)) if s.len() == a.len() => {
            for (i, (sv, av)) in s.iter().zip(a).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                differences(sv, av, path, out);
                path.truncate(len);
            }
        }
        (s, a) if s != a => out.push(Revealed {
            pointer: path.clone(),
            value: a.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::MASK;
    use serde_json::json;

    #[test]
    fn the_stored_answer_unmasks_nothing_and_the_agent_gets_the_rest_back() {
        let answer = json!({
            "Name": "db",
            "SecretString": "hunter2",
            "Nested": {"a/b~c": [{"SecretString": "s2"}, {"Other": 1}]},
            "Password": "p",
        });
        let rules = MaskRules {
            mask: vec![],
            unmask: vec!["SecretString".into()],
        };
        let (stored, revealed) = split("secretsmanager", answer.clone(), &rules);
        assert_eq!(stored["SecretString"], MASK);
        assert_eq!(stored["Nested"]["a/b~c"][0]["SecretString"], MASK);
        assert_eq!(stored["Password"], MASK);
        assert!(!stored.to_string().contains("hunter2"));
        assert_eq!(revealed.len(), 2, "{revealed:?}");
        let mut agents = stored.clone();
        apply(&mut agents, revealed.clone());
        assert_eq!(agents["SecretString"], "hunter2");
        assert_eq!(agents["Nested"]["a/b~c"][0]["SecretString"], "s2");
        // What no permit unmasks stays masked for the agent too.
        assert_eq!(agents["Password"], MASK);
        // A summary in place of the answer: nothing to put back, nothing breaks.
        let mut summary = json!({"truncated": true});
        apply(&mut summary, revealed);
        assert_eq!(summary, json!({"truncated": true}));
    }

    #[test]
    fn sealed_for_one_request_and_agent() {
        let ring = KeyRing::new(vec![7; 32], None).unwrap();
        let agent = Identity {
            issuer: "https://idp".into(),
            subject: "bot".into(),
            ..Default::default()
        };
        let other = Identity {
            subject: "other".into(),
            ..agent.clone()
        };
        let revealed = vec![Revealed {
            pointer: "/SecretString".into(),
            value: json!("hunter2"),
        }];
        let sealed = seal_for(&ring, "R1", &agent, &revealed).unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(open_for(&ring, "R1", &agent, &sealed).unwrap(), revealed);
        assert!(open_for(&ring, "R2", &agent, &sealed).is_err());
        assert!(open_for(&ring, "R1", &other, &sealed).is_err());
    }

    #[test]
    fn nothing_is_revealed_without_unmask_rules() {
        let rules = MaskRules {
            mask: vec!["Endpoint".into()],
            unmask: vec![],
        };
        let (stored, revealed) =
            split("rds", json!({"Endpoint": "e", "SecretString": "s"}), &rules);
        assert_eq!(stored, json!({"Endpoint": MASK, "SecretString": MASK}));
        assert!(revealed.is_empty());
    }
}
