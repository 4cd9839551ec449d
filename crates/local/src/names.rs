//! Names of the local stack's resources, one place for the bootstrap and the settings.

#[derive(Debug, Clone)]
pub struct Names {
    pub region: String,
    pub account: String,
    pub table: String,
    pub topic: String,
    /// The alarm topic (break-glass approvals and their overdue acknowledgements).
    pub alarm_topic: String,
    pub state_machine: String,
    pub state_machine_role: String,
    pub target_role: String,
    /// A second target (`sandbox`), so that choosing a target is tested against a real one.
    pub sandbox_role: String,
    pub api_function: String,
    pub notifier_function: String,
    pub executor_function: String,
    /// The role the functions' Lambda configurations name.
    pub functions_role: String,
    /// Where the audit export writes JSON Lines.
    pub audit_bucket: String,
    /// Where front-door bodies too large for a record are kept (`PayloadBucket`).
    pub payload_bucket: String,
}

impl Default for Names {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            // moto's default account.
            account: "123456789012".into(),
            table: "tollgate-requests".into(),
            topic: "tollgate-approvals".into(),
            alarm_topic: "tollgate-alarms".into(),
            state_machine: "tollgate-approval".into(),
            state_machine_role: "tollgate-state-machine".into(),
            target_role: "tollgate-target".into(),
            sandbox_role: "tollgate-target-sandbox".into(),
            api_function: "tollgate-api".into(),
            notifier_function: "tollgate-notifier".into(),
            executor_function: "tollgate-executor".into(),
            functions_role: "tollgate-functions".into(),
            audit_bucket: "tollgate-audit".into(),
            payload_bucket: "tollgate-payloads".into(),
        }
    }
}

impl Names {
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account
        )
    }

    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }

    pub fn alarm_topic_arn(&self) -> String {
        format!(
            "arn:aws:sns:{}:{}:{}",
            self.region, self.account, self.alarm_topic
        )
    }

    pub fn topic_arn(&self) -> String {
        format!(
            "arn:aws:sns:{}:{}:{}",
            self.region, self.account, self.topic
        )
    }
}
