//! What the dev issuer's OAuth endpoints answer (authorization, token, client registration).
//! Its own module so the endpoints' modules share it without depending on one another.

use serde_json::Value;

/// An answer from the authorization, token or registration endpoint.
pub enum Answer {
    Html(u16, String),
    Redirect(String),
    Json(u16, Value),
}
