//! The life of a request. Every change is a conditional write guarded by [`Status::can_move_to`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Waiting for approvals.
    Pending,
    /// Allowed (by policy or by quorum) and not yet started.
    Approved,
    /// The executor has claimed it; the AWS call may be in flight.
    Executing,
    Denied,
    Succeeded,
    Failed,
    Rejected,
    Expired,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Pending,
        Status::Approved,
        Status::Executing,
        Status::Denied,
        Status::Succeeded,
        Status::Failed,
        Status::Rejected,
        Status::Expired,
        Status::Cancelled,
    ];

    pub fn is_final(self) -> bool {
        !matches!(self, Status::Pending | Status::Approved | Status::Executing)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Approved => "APPROVED",
            Status::Executing => "EXECUTING",
            Status::Denied => "DENIED",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Rejected => "REJECTED",
            Status::Expired => "EXPIRED",
            Status::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The only moves a request may make. Anything else is refused before a write is tried,
    /// and the write itself is conditioned on the status read, so a race cannot sneak past.
    pub fn can_move_to(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Pending, Approved)
                | (Pending, Rejected)
                | (Pending, Expired)
                | (Pending, Cancelled)
                | (Pending, Failed)
                // Quorum was recorded but the workflow timed out before it heard of it.
                | (Approved, Expired)
                | (Approved, Executing)
                | (Approved, Failed)
                | (Executing, Succeeded)
                | (Executing, Failed)
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_never_move() {
        for from in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for to in Status::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to} must be impossible");
            }
        }
    }

    #[test]
    fn execution_only_after_approval() {
        for from in Status::ALL {
            assert_eq!(
                from.can_move_to(Status::Executing),
                from == Status::Approved
            );
        }
    }

    #[test]
    fn round_trips_names() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Status::parse("pending"), None);
    }
}
