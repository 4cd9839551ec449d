//! The requesting agent's own view of its request: the stored (masked) result with what
//! `@unmask` lets this agent see put back. Nobody else's view (approvers, other callers,
//! listings) ever carries it: the values are stored only sealed for this request and agent.

use serde_json::Value;
use tollgate_core::{RequestRecord, Status, reveal};

use crate::{Api, Response};

impl Api {
    /// `rec.view()` for its own agent, with the unmasked values opened.
    pub(crate) fn agent_view(&self, rec: &RequestRecord) -> Value {
        let mut view = rec.view();
        let Some(sealed) = &rec.sealed_result else {
            return view;
        };
        match reveal::open_for(&self.keys.results, &rec.id, &rec.agent, sealed) {
            Ok(revealed) => {
                if let Some(result) = view.get_mut("result") {
                    reveal::apply(result, revealed);
                }
            }
            // Sealed with a key no longer in the ring: the agent gets the masked answer.
            Err(e) => {
                tracing::warn!(request_id = %rec.id, error = ?e, "unmasked values could not be opened; answering masked")
            }
        }
        view
    }

    /// The answer to a submission, for the agent that made it.
    pub(crate) fn agent_answer(&self, rec: &RequestRecord) -> Response {
        match rec.status {
            Status::Denied | Status::Pending => crate::requests::first_answer(rec),
            _ => Response::json(200, &self.agent_view(rec)),
        }
    }
}
