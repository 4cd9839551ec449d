//! The page an approval link opens. Read-only: a GET never decides anything, because mail
//! scanners and chat unfurlers fetch links before any human sees them.

use tollgate_aws::now_ms;
use tollgate_aws::store::not_found;
use tollgate_core::link::{self, LinkError};
use tollgate_core::{ApiError, ErrorCode, RequestRecord};

use crate::{Api, Request, Response, query_param};

impl Api {
    pub(crate) async fn approval_page(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let k = query_param(req, "k").ok_or_else(|| ApiError::field("k", "is required"))?;
        let rec = self.store.get(id).await?;
        // An unknown id and a bad signature look the same to a prober.
        let Some(rec) = rec else {
            return Err(forbidden(LinkError::BadSignature));
        };
        let expires = rec.expires_at.unwrap_or(0);
        link::verify(&self.settings.link_key, id, &k, now_ms()).map_err(forbidden)?;
        if k.split('.').next() != Some(expires.to_string().as_str()) {
            return Err(not_found(id));
        }
        Ok(Response::html(200, render(&rec)))
    }
}

fn forbidden(e: LinkError) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, e.message())
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn render(rec: &RequestRecord) -> String {
    let params =
        serde_json::to_string_pretty(&tollgate_core::record::masked_params(&rec.request.params))
            .unwrap_or_default();
    let votes: String = rec
        .votes
        .iter()
        .map(|v| {
            format!(
                "<li>{} — {:?}{}</li>",
                esc(&v.approver.name),
                v.verdict,
                v.comment
                    .as_deref()
                    .map(|c| format!(": {}", esc(c)))
                    .unwrap_or_default()
            )
        })
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tollgate: {action}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}pre{{background:#f4f4f4;padding:.5rem;overflow-x:auto}}dt{{font-weight:600}}</style>
</head><body>
<h1>{action}</h1>
<p><strong>Status: {status}</strong></p>
<dl>
<dt>Requested by</dt><dd>{agent} ({issuer})</dd>
<dt>Reason</dt><dd>{reason}</dd>
<dt>Region / target</dt><dd>{region} / {target}</dd>
<dt>Resources</dt><dd>{resources}</dd>
<dt>Policy</dt><dd>{policy} ({policy_ids})</dd>
<dt>Approvals</dt><dd>{have} of {need}</dd>
</dl>
<h2>Parameters</h2><pre>{params}</pre>
<h2>Votes</h2><ul>{votes}</ul>
<p>Request hash <code>{hash}</code></p>
<p>To decide: <code>tollgate approve {id}</code> or <code>tollgate reject {id} --comment "..."</code></p>
</body></html>"#,
        action = esc(&rec.request.action.to_string()),
        status = rec.status,
        agent = esc(&rec.agent.name),
        issuer = esc(&rec.agent.issuer),
        reason = esc(rec.request.reason.as_deref().unwrap_or("")),
        region = esc(&rec.request.region),
        target = esc(&rec.request.target),
        resources = esc(&rec.resources.join(", ")),
        policy = esc(&rec.decision.reason),
        policy_ids = esc(&rec.decision.policy_ids.join(", ")),
        have = rec.approvers().len(),
        need = rec.decision.required_approvals(),
        params = esc(&params),
        votes = votes,
        hash = rec.request_hash,
        id = esc(&rec.id),
    )
}
