//! Decisions with Cedar over the IAM action catalog.
//!
//! Principal: the agent (`Agent::"<issuer>#<subject>"`, its identity as attributes, the claims
//! its issuer selects as tags). Action: the IAM action (`Action::"dynamodb:DeleteTable"`),
//! member of its access level (`Action::"Write"`), service (`Action::"service:dynamodb"`) and
//! risk groups (`Action::"risk:credentials-exposure"`). Resource: each ARN derived from the
//! parameters. Context: operation, service, access level, risks, region, target, reason, time.
//!
//! `forbid` or no match → denied; plain `permit` → allowed; `permit` with `@approval("n")`
//! (and optionally `@approvers("group")`, `"a or b"`, `"a and b"`, `@timeout("seconds")`) → approval. Over every
//! (action, resource) pair a denial wins; otherwise every matching approval permit's group
//! requirement holds at once, with the shortest timeout.

mod classify;
mod engine;
pub mod replay;
mod schema;
mod sources;

pub use classify::{Classified, classify, classify_with_shadow, scope_of, usage};
pub use engine::CedarPolicy;
pub use schema::{schema_text, validate};
pub use sources::{
    PROTECTION_ID, PolicyError, PolicySource, bundled_sources, source_file, sources_in_dir,
    with_protection,
};
