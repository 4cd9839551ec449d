//! Tollgate's domain: what an agent asks for, how it is classified, which states a request
//! moves through, and what is recorded. No AWS SDK and no I/O, so all of it is unit-tested
//! without an emulator.

pub mod action;
pub mod aead;
pub mod answer_size;
pub mod audit;
pub mod breakglass;
pub mod claims;
pub mod decision;
pub mod digest;
pub mod display;
pub mod error;
pub mod execution;
pub mod failure;
#[cfg(test)]
mod fixtures;
pub mod gateway_credentials;
pub mod grant;
pub mod identity;
pub mod inbox;
pub mod keyring;
pub mod link;
pub mod mask;
pub mod notice;
pub mod own;
pub mod payload;
pub mod plan;
pub mod policy;
pub mod policy_doc;
pub mod preview;
pub mod rate;
pub mod reconcile;
pub mod record;
pub mod reminder;
pub mod replay;
pub mod request;
pub mod reveal;
pub mod scope;
pub mod seal;
pub mod slack;
pub mod status;
pub mod sweep;
pub mod time;
pub mod token;
pub mod upload;
pub mod vote;
pub mod waits;

pub use action::Action;
pub use audit::{Event, EventKind};
pub use decision::{Decision, Effect, GroupRequirement, Requirement};
pub use error::{ApiError, ErrorCode};
pub use execution::{Claim, Handover, Outcome};
pub use failure::{Failure, FailureCode};
pub use identity::Identity;
pub use policy::{Policy, PolicyInput};
pub use record::RequestRecord;
pub use request::{NewRequest, parse_new_request};
pub use status::Status;
pub use token::TokenError;
pub use vote::VoteRefusal;
