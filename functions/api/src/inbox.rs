//! The approver inbox, behind the page's sign-in: `GET /v1/inbox` lists what waits for the
//! signed-in approver (soonest deadline first) and the recent decisions, narrowed by
//! `status`, `agent` and `action`; `GET /v1/inbox/{id}` shows one request in full (with its
//! outcome, masked result and audit timeline); `POST /v1/inbox/{id}` decides it with the
//! approval form's checks (origin, session, CSRF token, hash shown). GETs change nothing.
//! Which requests show, and in which order, is `tollgate_core::inbox`.

use tollgate_aws::now_ms;
use tollgate_aws::store::{Cursor, Listing, not_found};
use tollgate_core::inbox::{self, DECIDED, Filter, View};
use tollgate_core::{ApiError, Identity, RequestRecord, Status};

use crate::approval_page::{Form, FormPlace};
use crate::html::inbox::{Inbox, Layout, Section};
use crate::html::{page, request as view};
use crate::{Api, Request, Response, query_param};

/// Items read per listing call, and calls per list: the waiting list is sorted by deadline,
/// so it is read whole up to this bound, and says so when more remain.
const PAGE_ITEMS: i32 = 100;
const MAX_PAGES: usize = 5;
/// Items read per decided status for "recent decisions", and how many are shown.
const RECENT_ITEMS: i32 = 50;
const RECENT_SHOWN: usize = 20;

impl Api {
    /// `GET /v1/inbox`.
    pub(crate) async fn inbox(&self, req: &Request) -> Result<Response, ApiError> {
        let filter = Filter::parse(
            query_param(req, "status").as_deref(),
            query_param(req, "agent").as_deref(),
            query_param(req, "action").as_deref(),
        )?;
        let Some(session) = self.session(req).await? else {
            let here = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| crate::approver_session::safe_next(p))
                .unwrap_or("/v1/inbox");
            return Ok(signed_out(&self.login_link(here)));
        };
        let me = &session.identity;
        let not_approver = self
            .approver_role(me)
            .err()
            .map(|e| tollgate_core::display::sentence(&e.message));
        let (sections, truncated) = match filter.view {
            View::Waiting => {
                let (pending, truncated) = self.read_all(&filter, Status::Pending).await?;
                let mut decided = vec![];
                for st in DECIDED {
                    let listing = listing_for(&filter, st);
                    decided.extend(
                        self.store
                            .list(&listing, RECENT_ITEMS, None)
                            .await?
                            .requests,
                    );
                }
                let (mine, others) = inbox::decisions(decided, me, &filter, RECENT_SHOWN);
                let sections = vec![
                    Section {
                        title: "Waiting for you".into(),
                        layout: Layout::Waiting,
                        requests: inbox::waiting(pending, me, &filter),
                        empty: "Nothing waits for your decision.",
                    },
                    Section {
                        title: "Recently decided by you".into(),
                        layout: Layout::Decided,
                        requests: mine,
                        empty: "No recent decisions of yours.",
                    },
                    Section {
                        title: "Recently decided by others".into(),
                        layout: Layout::Decided,
                        requests: others,
                        empty: "No recent decisions by others.",
                    },
                ];
                (sections, truncated)
            }
            View::Status(st) => {
                let (listed, truncated) = self.read_all(&filter, st).await?;
                let section = Section {
                    title: format!("{} requests", st.as_str().to_ascii_lowercase()),
                    layout: Layout::Decided,
                    requests: inbox::of_status(listed, me, &filter),
                    empty: "No request you may see has this status.",
                };
                (vec![section], truncated)
            }
        };
        let mut body = crate::html::inbox::render(&Inbox {
            who_html: view::signed_in_as(&me.name),
            filter: &filter,
            not_approver: not_approver.clone(),
            sections,
            truncated,
            now: now_ms(),
        });
        // Only an approver sees (and may revoke) grants.
        let grants = match not_approver {
            None => self.visible_grants(me, true).await?,
            Some(_) => vec![],
        };
        body.push_str(&crate::html::grants::live_section(
            &grants,
            now_ms(),
            |id| {
                tollgate_core::seal::csrf_token(
                    self.keys.csrf.current(),
                    &session.sid,
                    &crate::grants::csrf_subject(id),
                )
            },
        ));
        Ok(Response::html(200, page("Inbox", &body)))
    }

    /// Every listed request of `status` (for one agent when the filter names its key), up
    /// to the bound; `true` when more remain.
    async fn read_all(
        &self,
        filter: &Filter,
        status: Status,
    ) -> Result<(Vec<RequestRecord>, bool), ApiError> {
        let listing = listing_for(filter, status);
        let mut out = vec![];
        let mut after: Option<Cursor> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .store
                .list(&listing, PAGE_ITEMS, after.as_ref())
                .await?;
            out.extend(page.requests);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok((out, false)),
            }
        }
        Ok((out, true))
    }

    /// `GET /v1/inbox/{id}`: everything about one request, and the forms to decide it.
    pub(crate) async fn inbox_request(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let place = place(id);
        let Some(session) = self.session(req).await? else {
            return Ok(signed_out(&self.login_link(&place.back)));
        };
        let rec = self.visible_request(id, &session.identity).await?;
        let events = self.store.events(id).await?;
        let decide = self.decide_section(&rec, Some(&session), &place);
        let body = format!(
            "<p><a href=\"/v1/inbox\">← Inbox</a></p>{}{}",
            view::details(&rec, &decide, now_ms()),
            view::history(&rec, &events)
        );
        Ok(Response::html(
            200,
            page(
                &format!("{} by {}", rec.request.action, rec.agent.name),
                &body,
            ),
        ))
    }

    /// `POST /v1/inbox/{id}`: the request page's Approve and Reject forms.
    pub(crate) async fn inbox_form(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let form = Form::read(req)?;
        let place = place(id);
        let session = match self.form_session(req, id, &place).await? {
            Ok(s) => s,
            Err(refused) => return Ok(refused),
        };
        let rec = self.visible_request(id, &session.identity).await?;
        self.decide_by_form(&session, &rec, &form, &place).await
    }

    /// The request, if this approver may see it; someone else's answers like a missing one.
    async fn visible_request(&self, id: &str, me: &Identity) -> Result<RequestRecord, ApiError> {
        self.store
            .get(id)
            .await?
            .filter(|r| r.visible_to_approver(me))
            .ok_or_else(|| not_found(id))
    }
}

fn place(id: &str) -> FormPlace<'static> {
    let here = crate::html::inbox::request_link(id);
    FormPlace {
        post_to: here.clone(),
        back: here,
        k: None,
        inbox: true,
    }
}

/// By agent when the filter names an agent's key (the by-agent index), else by status.
fn listing_for(filter: &Filter, status: Status) -> Listing<'_> {
    match filter.agent_key() {
        Some(agent_key) => Listing::Agent {
            agent_key,
            status: Some(status),
        },
        None => Listing::Status(status),
    }
}

fn signed_out(login: &str) -> Response {
    Response::html(
        200,
        page(
            "Inbox",
            &format!(
                "<p>Requests waiting for your decision, and recent decisions.</p>{}",
                view::sign_in_button(login, "Sign in to see your inbox")
            ),
        ),
    )
}
