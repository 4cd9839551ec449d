//! Reading DynamoDB items: typed attribute access and the JSON document every item carries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use tollgate_core::ApiError;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) trait ItemExt {
    /// A string attribute.
    fn string(&self, name: &str) -> Option<&str>;
    /// A number attribute that is a whole number.
    fn number(&self, name: &str) -> Option<u64>;
    /// The item's `doc` attribute, decoded; `what` names the item in the error.
    fn doc<T: DeserializeOwned>(&self, what: &str) -> Result<T, ApiError>;
}

impl ItemExt for Item {
    fn string(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_s().ok().map(String::as_str)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.get(name)?.as_n().ok()?.parse().ok()
    }

    fn doc<T: DeserializeOwned>(&self, what: &str) -> Result<T, ApiError> {
        let doc = self
            .string("doc")
            .ok_or_else(|| ApiError::internal(format!("{what} has no document")))?;
        serde_json::from_str(doc).map_err(|e| ApiError::internal(format!("{what} unreadable: {e}")))
    }
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
