//! What the policy tests share.

use tollgate_core::Identity;

/// The agent the rate and replay tests decide for.
pub fn bot() -> Identity {
    Identity {
        issuer: "https://i".into(),
        subject: "cleaner".into(),
        name: "cleaner".into(),
        ..Default::default()
    }
}
