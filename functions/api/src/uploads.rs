//! `POST /v1/uploads`: an object too large for the function, declared by length and SHA-256
//! and admitted as the `s3:PutObject` it is (`tollgate_core::upload`); once it may run, the
//! executor answers with a presigned `PUT` for exactly those bytes.

use tollgate_core::ApiError;
use tollgate_core::upload::parse_upload;

use crate::requests::idempotency_claim;
use crate::{Api, Request, Response};

impl Api {
    pub(crate) async fn submit_upload(
        &self,
        req: &Request,
        source_ip: &str,
    ) -> Result<Response, ApiError> {
        let agent = self.json_from_agent(req).await?;
        let (new, upload) = parse_upload(req.body(), &self.settings.default_region)?;
        if !upload.parts.is_empty() {
            // Declared and checked (so the shape is settled), but not yet carried out: refused
            // before anything is recorded rather than approved and then unable to run.
            return Err(ApiError::field(
                "parts",
                "multipart uploads are not available yet; upload at most 5 GiB in one PUT (leave out `parts`)",
            ));
        }
        let claim = idempotency_claim(req, &agent, upload.hash(&new))?;
        let admitted = self
            .admit_with(&agent.identity, new, Some(upload), claim, source_ip, None)
            .await?;
        Ok(self.submission_answer(admitted))
    }
}
