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
    /// What each approval must carry (`@ticket`, `@justification("n")`).
    #[serde(default, skip_serializing_if = "Requirement::is_empty")]
    pub requires: Requirement,
}

/// What an approval must carry in its comment, as the deciding policies ask.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// A ticket reference such as `OPS-1234` (`@ticket`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ticket: bool,
    /// A justification of at least this many characters (`@justification("n")`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_justification: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Whether `text` cites a ticket: a key like `OPS-1234` (a letter, then letters or digits,
/// a dash, digits), as Jira, Linear and most trackers write them.
pub fn cites_ticket(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|word| {
            let Some((project, number)) = word.split_once('-') else {
                return false;
            };
            project.len() >= 2
                && project.starts_with(|c: char| c.is_ascii_alphabetic())
                && project.chars().all(|c| c.is_ascii_alphanumeric())
                && !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit())
        })
}

impl Requirement {
    pub fn is_empty(&self) -> bool {
        !self.ticket && self.min_justification == 0
    }

    /// The stricter of two requirements.
    pub fn merge(&self, other: &Requirement) -> Requirement {
        Requirement {
            ticket: self.ticket || other.ticket,
            min_justification: self.min_justification.max(other.min_justification),
        }
    }

    /// What an approver has to write, in words ("" when nothing).
    pub fn describe(&self) -> String {
        match (self.ticket, self.min_justification) {
            (false, 0) => String::new(),
            (true, 0) => "a ticket reference (like OPS-1234)".into(),
            (false, n) => format!("a justification of at least {n} characters"),
            (true, n) => {
                format!(
                    "a ticket reference (like OPS-1234) and at least {n} characters of justification"
                )
            }
        }
    }

    /// Checks an approval's comment.
    pub fn check(&self, comment: Option<&str>) -> Result<(), String> {
        let text = comment.unwrap_or("").trim();
        let long_enough = text.chars().count() >= self.min_justification as usize;
        if (self.ticket && !cites_ticket(text)) || !long_enough {
            return Err(format!(
                "comment: this request's policy requires {} with each approval",
                self.describe()
            ));
        }
        Ok(())
    }
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
            requires: Default::default(),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["effect"], "approval");
        assert_eq!(v["approvals"], 2);
        assert!(v.get("approvers").is_none());
        let back: Decision = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.required_approvals(), 2);
        assert!(v.get("requires").is_none());
    }

    #[test]
    fn requirements_check_comments() {
        let none = Requirement::default();
        assert!(none.check(None).is_ok());
        let ticket = Requirement {
            ticket: true,
            min_justification: 0,
        };
        assert!(ticket.check(Some("see OPS-1234")).is_ok());
        assert!(ticket.check(Some("(INC42-7), approved")).is_ok());
        for bad in ["", "ok", "OPS-", "-12", "O-12", "OPS-12a", "1PS-12"] {
            assert!(ticket.check(Some(bad)).is_err(), "{bad}");
        }
        let long = Requirement {
            ticket: false,
            min_justification: 10,
        };
        assert!(long.check(Some("short")).is_err());
        assert!(long.check(Some("   padded   ")).is_err());
        assert!(long.check(Some("long enough")).is_ok());
        let both = ticket.merge(&long);
        assert!(both.check(Some("OPS-1")).is_err());
        assert!(both.check(Some("OPS-1 rollback tested")).is_ok());
        assert!(both.describe().contains("ticket") && both.describe().contains("10"));
        assert!(both.check(None).unwrap_err().starts_with("comment:"));
    }
}
