//! `service:Operation` as agents name it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An AWS API operation, e.g. `dynamodb:DeleteTable`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Action {
    service: String,
    operation: String,
}

impl Action {
    /// Parses `service:Operation`. The service is an IAM service prefix (lower case, digits,
    /// dashes); the operation is an API operation name in PascalCase.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (service, operation) = s.split_once(':').ok_or_else(|| {
            "must be `service:Operation`, e.g. `dynamodb:DescribeTable`".to_string()
        })?;
        if service.is_empty()
            || service.len() > 64
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "service prefix `{}` must be lower-case letters, digits or `-`",
                truncate(service)
            ));
        }
        let starts_upper = operation
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase());
        if !starts_upper
            || operation.len() > 128
            || !operation.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(format!(
                "operation `{}` must be an API operation name such as `DescribeTable`",
                truncate(operation)
            ));
        }
        Ok(Self {
            service: service.to_string(),
            operation: operation.to_string(),
        })
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn operation(&self) -> &str {
        &self.operation
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.operation)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let a = Action::parse("dynamodb:DeleteTable").unwrap();
        assert_eq!(a.service(), "dynamodb");
        assert_eq!(a.operation(), "DeleteTable");
        assert_eq!(a.to_string(), "dynamodb:DeleteTable");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "dynamodb",
            ":DeleteTable",
            "dynamodb:",
            "DynamoDB:DeleteTable",
            "dynamodb:deleteTable",
            "dynamodb:Delete-Table",
            "dyn amo:DeleteTable",
            "dynamodb:Delete:Table",
        ] {
            assert!(Action::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
