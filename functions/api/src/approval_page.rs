//! The page an approval link opens, and the form it posts. The GET is read-only: mail
//! scanners and chat unfurlers fetch links before any human sees them. Deciding takes a POST
//! carrying the link key, a CSRF token bound to the approver's session and this request, and
//! the hash of the request the approver was shown. The inbox's request page (`inbox.rs`)
//! decides through the same checks, with its session in place of the link key.

use std::collections::BTreeMap;

use tollgate_aws::now_ms;
use tollgate_aws::store::not_found;
use tollgate_core::link;
use tollgate_core::record::{Verdict, VoteOutcome};
use tollgate_core::{ApiError, ErrorCode, RequestRecord, Status, TokenError, seal};

use crate::approver_session::Session;
use crate::html::{esc, page, request as view};
use crate::{Api, Request, Response, header, query_param};

/// Where a page's vote forms post, what they carry besides the CSRF token and hash, and
/// where the answer leads back to.
pub(crate) struct FormPlace<'a> {
    pub post_to: String,
    /// The page itself: the sign-in's destination and the answer's way back.
    pub back: String,
    /// The approval link's key, on the approval page.
    pub k: Option<&'a str>,
    /// The answer also links to the inbox.
    pub inbox: bool,
}

/// A page's form fields, once it is known to be a form.
pub(crate) struct Form(BTreeMap<String, String>);

impl Form {
    pub(crate) fn read(req: &Request) -> Result<Form, ApiError> {
        let ct = header(req, "content-type").unwrap_or("");
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "content-type: must be application/x-www-form-urlencoded",
            ));
        }
        Ok(Form(
            url::form_urlencoded::parse(req.body())
                .into_owned()
                .collect(),
        ))
    }

    /// The field, trimmed; an empty one is absent.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

impl Api {
    /// Checks the link key against the stored request. An unknown id and a bad signature
    /// look the same to a prober.
    async fn linked_request(&self, id: &str, k: &str) -> Result<RequestRecord, ApiError> {
        let rec = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| forbidden(TokenError::BadSignature))?;
        let lapses = link::verify_any(&self.keys.link, id, k, now_ms()).map_err(forbidden)?;
        // Links expire with the request they were made for.
        if Some(lapses) != rec.expires_at {
            return Err(not_found(id));
        }
        Ok(rec)
    }

    pub(crate) async fn approval_page(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let k = query_param(req, "k").ok_or_else(|| ApiError::field("k", "is required"))?;
        let rec = self.linked_request(id, &k).await?;
        let session = self.session(req).await?;
        let place = FormPlace {
            post_to: format!("/v1/approvals/{id}"),
            back: format!("/v1/approvals/{id}?k={k}"),
            k: Some(&k),
            inbox: false,
        };
        let decide = self.decide_section(&rec, session.as_ref(), &place);
        Ok(Response::html(
            200,
            page(
                &format!("Approve {}?", rec.what()),
                &view::details(&rec, &decide, now_ms()),
            ),
        ))
    }

    /// `POST /v1/approvals/{id}`: the page's Approve and Reject forms.
    pub(crate) async fn approval_form(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let form = Form::read(req)?;
        let k = form
            .field("k")
            .ok_or_else(|| ApiError::field("k", "is required"))?;
        let rec = self.linked_request(id, k).await?;
        let place = FormPlace {
            post_to: format!("/v1/approvals/{id}"),
            back: format!("/v1/approvals/{id}?k={k}"),
            k: Some(k),
            inbox: false,
        };
        let session = match self.form_session(req, id, &place).await? {
            Ok(s) => s,
            Err(refused) => return Ok(refused),
        };
        self.decide_by_form(&session, &rec, &form, &place).await
    }

    /// The session a form POST is made in: refused (as a page saying nothing was recorded)
    /// when it comes from another site's form or without a live session. Browsers send
    /// `Origin` on every POST; a different one is another site's form.
    pub(crate) async fn form_session(
        &self,
        req: &Request,
        id: &str,
        place: &FormPlace<'_>,
    ) -> Result<Result<Session, Response>, ApiError> {
        if let Some(origin) = header(req, "origin")
            && origin != self.public_origin()
        {
            tracing::warn!(request_id = %id, origin, "approval form from another origin refused");
            return Ok(Err(refusal(
                403,
                "This form was sent from another site. Nothing was recorded.",
                &place.back,
            )));
        }
        match self.session(req).await? {
            Some(s) => Ok(Ok(s)),
            None => Ok(Err(refusal(
                401,
                &format!(
                    "Your session has ended. <a href=\"{}\">Sign in</a> and decide again; nothing was recorded.",
                    esc(&self.login_link(&place.back))
                ),
                &place.back,
            ))),
        }
    }

    /// A vote from a page's form, in a live session: the CSRF token, the verdict, the hash
    /// shown, then the vote under the same rules as every channel.
    pub(crate) async fn decide_by_form(
        &self,
        session: &Session,
        rec: &RequestRecord,
        form: &Form,
        place: &FormPlace<'_>,
    ) -> Result<Response, ApiError> {
        let id = rec.id.as_str();
        let here = place.back.as_str();
        let csrf = form.field("csrf").unwrap_or("");
        if !seal::csrf_ok_any(&self.keys.csrf, &session.sid, id, csrf) {
            tracing::warn!(request_id = %id, approver = %session.identity.subject, "approval form without a valid CSRF token refused");
            return Ok(refusal(
                403,
                "csrf: the form's token is missing or not valid for this session. Nothing was recorded.",
                here,
            ));
        }
        let channel = if place.inbox { "inbox" } else { "page" };
        // `decision` is the field's old name, still accepted from pages rendered before.
        let verdict = match form.field("verdict").or_else(|| form.field("decision")) {
            Some("approve") => Verdict::Approve,
            Some("reject") => Verdict::Reject,
            Some("breakglass") => {
                return self
                    .break_glass_by_form(session, rec, form, place, channel)
                    .await;
            }
            Some("acknowledge") => {
                let done = self.acknowledge(id, &session.identity, channel).await;
                return answer_page(
                    done.map(|_| {
                        "Acknowledged. The break-glass use is recorded as seen by you.".to_string()
                    }),
                    here,
                    place.inbox,
                );
            }
            _ => {
                return Err(ApiError::field(
                    "verdict",
                    "must be `approve`, `reject`, `breakglass` or `acknowledge`",
                ));
            }
        };
        let seen = form
            .field("request_hash")
            .ok_or_else(|| ApiError::field("request_hash", "is required"))?;
        let comment = form.field("comment").map(str::to_string);
        let grant = match verdict {
            Verdict::Approve => tollgate_core::grant::GrantTerms::parse(
                form.field("grant_uses"),
                form.field("grant_minutes"),
            ),
            Verdict::Reject => Ok(None),
        };
        // A late click answers with what happened, before any complaint about the form.
        if rec.status != Status::Pending {
            return Ok(refusal(
                409,
                &format!(
                    "This request is already <strong>{}</strong>. Nothing was recorded.",
                    rec.status
                ),
                here,
            ));
        }
        if verdict == Verdict::Reject && comment.is_none() {
            return Ok(refusal(
                400,
                "comment: say why you reject the request.",
                here,
            ));
        }
        let grant = match grant {
            Ok(g) => g,
            Err(e) => return answer_page(Err(e), here, place.inbox),
        };
        let done = self
            .cast_vote_with_grant(
                id,
                &session.identity,
                verdict,
                comment,
                grant,
                Some(seen),
                channel,
            )
            .await
            .map(|(outcome, rec)| match outcome {
                VoteOutcome::Approved => match tollgate_core::grant::GrantTerms::narrowest(
                    rec.votes
                        .iter()
                        .filter(|v| v.verdict == Verdict::Approve)
                        .map(|v| v.grant),
                ) {
                    Some(t) => format!(
                        "Approved. The request runs now, and the same call may run again {} (grant G{}).",
                        t.describe(),
                        rec.id
                    ),
                    None => "Approved. The request runs now.".to_string(),
                },
                VoteOutcome::Rejected => "Rejected. The request will not run.".to_string(),
                VoteOutcome::Recorded => {
                    format!("Your approval is recorded: {}.", rec.approvals_summary())
                }
            });
        answer_page(done, here, place.inbox)
    }

    /// The break-glass form: the ticked box, the hash shown, then the same rules as the API.
    async fn break_glass_by_form(
        &self,
        session: &Session,
        rec: &RequestRecord,
        form: &Form,
        place: &FormPlace<'_>,
        channel: &'static str,
    ) -> Result<Response, ApiError> {
        let here = place.back.as_str();
        if form.field("confirm") != Some("breakglass") {
            return Ok(refusal(
                400,
                "confirm: tick the box to say you are breaking glass. Nothing was recorded.",
                here,
            ));
        }
        let seen = form
            .field("request_hash")
            .ok_or_else(|| ApiError::field("request_hash", "is required"))?;
        let done = self
            .cast_break_glass(
                &rec.id,
                &session.identity,
                form.field("justification"),
                seen,
                channel,
            )
            .await
            .map(|_| {
                "Approved by break-glass. The request runs now; every approver and the alarm topic have been told, and a second approver must acknowledge it.".to_string()
            });
        answer_page(done, here, place.inbox)
    }

    /// The forms to decide with, or why there are none: decided already, not signed in, not
    /// an approver of this request.
    pub(crate) fn decide_section(
        &self,
        rec: &RequestRecord,
        session: Option<&Session>,
        place: &FormPlace<'_>,
    ) -> String {
        let used = rec.breakglass.as_ref();
        let banner = used
            .map(|u| view::breakglass_html(u, now_ms()))
            .unwrap_or_default();
        if rec.status != Status::Pending {
            let unacknowledged = used.is_some_and(|u| u.acknowledged.is_none());
            let ack = match session {
                // Only to someone who may acknowledge: the rules are asked again on the POST.
                Some(s)
                    if unacknowledged
                        && self.approver_role(&s.identity).is_ok()
                        && rec.check_acknowledger(&s.identity).is_ok() =>
                {
                    format!(
                        "{}\n{}",
                        view::signed_in_as(&s.identity.name),
                        view::acknowledge_form(&place.post_to, &self.hidden_fields(rec, s, place))
                    )
                }
                None if unacknowledged => {
                    view::sign_in_button(&self.login_link(&place.back), "Sign in to acknowledge")
                }
                _ => String::new(),
            };
            return format!("{banner}{}{ack}", view::nothing_to_decide(rec.status));
        }
        let Some(s) = session else {
            return view::sign_in_button(&self.login_link(&place.back), "Sign in to decide");
        };
        let hidden = self.hidden_fields(rec, s, place);
        // Shown only to a member, when break-glass is on; the POST checks everything again.
        let glass = match rec.check_breakglass(&s.identity) {
            Ok(g) if self.alarms.is_some() && self.approver_role(&s.identity).is_ok() => {
                view::breakglass_form(g, &place.post_to, &hidden)
            }
            _ => String::new(),
        };
        let who = view::signed_in_as(&s.identity.name);
        let why_not = self
            .approver_role(&s.identity)
            .err()
            .map(|e| {
                format!(
                    "{}.",
                    capitalised(e.message.trim_start_matches("approver: "))
                )
            })
            .or_else(|| cannot_vote(rec, &s.identity));
        if let Some(why) = why_not {
            return format!("{who}{}{glass}", view::warning(&why));
        }
        format!(
            "{who}\n{}{glass}",
            view::vote_forms(rec, &place.post_to, &hidden)
        )
    }

    /// What every form of a page carries: the link key on the approval page, the CSRF token
    /// bound to this session and request, and the hash of the request as shown.
    fn hidden_fields<'a>(
        &self,
        rec: &'a RequestRecord,
        s: &Session,
        place: &FormPlace<'a>,
    ) -> Vec<(&'static str, String)> {
        let mut hidden = vec![
            (
                "csrf",
                seal::csrf_token(self.keys.csrf.current(), &s.sid, &rec.id),
            ),
            ("request_hash", rec.request_hash.clone()),
        ];
        if let Some(k) = place.k {
            hidden.insert(0, ("k", k.to_string()));
        }
        hidden
    }
}

/// The page after a decision: what it led to, or, for a caller's mistake (late clicks,
/// second channels, the requester, outsiders), a clear answer that nothing changed.
fn answer_page(
    done: Result<String, ApiError>,
    here: &str,
    inbox: bool,
) -> Result<Response, ApiError> {
    match done {
        Ok(message) => Ok(Response::html(
            200,
            page("Decision recorded", &view::recorded(&message, here, inbox)),
        )),
        Err(e) if e.status() < 500 => Ok(refusal(
            e.status(),
            &format!(
                "{} Nothing was recorded.",
                esc(&tollgate_core::display::sentence(&e.message))
            ),
            here,
        )),
        Err(e) => Err(e),
    }
}

/// Why this approver may not vote at all, checked before showing the buttons (the vote
/// itself checks again, under the conditional write).
fn cannot_vote(rec: &RequestRecord, who: &tollgate_core::Identity) -> Option<String> {
    rec.check_voter(who, Verdict::Reject)
        .err()
        .map(|refusal| refusal.sentence())
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn forbidden(e: TokenError) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, link::refusal(e))
}

pub(crate) fn refusal(status: u16, message_html: &str, here: &str) -> Response {
    Response::html(
        status,
        page(
            "Nothing was recorded",
            &view::nothing_recorded(message_html, here),
        ),
    )
}
