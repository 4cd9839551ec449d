//! What policy says about a request.

use serde::{Deserialize, Serialize};

use crate::mask::MaskRules;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    /// Allowed once `approvals` distinct approvers (members of `approvers`, when named) agree
    /// within `timeout_seconds`.
    Approval {
        approvals: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approvers: Option<String>,
        timeout_seconds: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    pub effect: Effect,
    /// Ids of the policies (or rules) that decided it.
    pub policy_ids: Vec<String>,
    /// One line a human can read.
    pub reason: String,
    /// Masking rules the deciding policies add for this call's answer.
    #[serde(default, skip_serializing_if = "MaskRules::is_empty")]
    pub mask: MaskRules,
}

impl Decision {
    pub fn required_approvals(&self) -> u32 {
        match self.effect {
            Effect::Approval { approvals, .. } => approvals,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_flat() {
        let d = Decision {
            effect: Effect::Approval {
                approvals: 2,
                approvers: None,
                timeout_seconds: 60,
            },
            policy_ids: vec!["r".into()],
            reason: "x".into(),
            mask: Default::default(),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["effect"], "approval");
        assert_eq!(v["approvals"], 2);
        assert!(v.get("approvers").is_none());
        let back: Decision = serde_json::from_value(v).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.required_approvals(), 2);
    }
}
