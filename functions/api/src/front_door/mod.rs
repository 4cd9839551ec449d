//! The front door: unmodified AWS CLIs and SDKs call Tollgate as if it were AWS. A call is
//! signed (SigV4) with gateway credentials (`POST /v1/credentials`); it is verified against
//! the exact bytes the client sent, decoded by the service's own protocol into the
//! parameters `POST /v1/requests` takes, and then goes the same way as every submission
//! ([`Api::admit`]), unless it is the next step of a plan its agent had approved to run by
//! its calls ([`join`]). The answer goes back in the service's wire format: the masked result,
//! or an error in the protocol's shape that the SDKs read and do not retry.

mod answer;
pub(crate) mod credentials;
mod join;
mod service;

use std::time::SystemTime;

use tollgate_aws::now_ms;
use tollgate_aws::store::IdempotencyClaim;
use tollgate_core::audit::sha256_hex;
use tollgate_core::gateway_credentials::{self, Holder, OpenError};
use tollgate_core::payload::{MAX_FRAMING_BYTES, MAX_FRONT_DOOR_BODY_BYTES};
use tollgate_core::request::{MAX_BODY_BYTES, validate_region};
use tollgate_core::{Action, ApiError, NewRequest};
use tollgate_models::{DecodeErrorKind, WireRequest, WireResponse};
use tollgate_sigv4::{Found, LookupError, Options, Secret};

use crate::Api;
use crate::requests::Admitted;

pub(crate) use answer::Refusal;

/// Largest body the front door reads, as sent: [`MAX_FRONT_DOOR_BODY_BYTES`] decoded, plus
/// what aws-chunked framing adds. A larger one is refused before anything else is done with
/// it (why that bound, in `tollgate_core::payload`).
pub const MAX_WIRE_BODY_BYTES: usize = MAX_FRONT_DOOR_BODY_BYTES + MAX_FRAMING_BYTES;

/// Why approvers see this call: the client sends no reason of its own.
const REASON: &str = "called through the front door by an unmodified AWS CLI or SDK";

/// A call as it arrived: every field from the wire, never from a parsed or normalised URI.
#[derive(Debug, Clone, Default)]
pub struct FrontDoorRequest {
    pub method: String,
    /// Still percent-encoded, exactly as the client sent (and signed) it.
    pub raw_path: String,
    /// Without the `?`, still encoded.
    pub raw_query: String,
    /// Names in any case; a name may repeat.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// The access key id a request claims to be signed with (`Authorization`'s credential or
/// `X-Amz-Credential`, or SigV2's `AWS AKID:sig` and `AWSAccessKeyId`). Routing only: nothing
/// is verified. SigV2 is recognised so that such a call reaches the verifier, which refuses
/// it by name (boto3 presigns S3 URLs with SigV2 unless told `s3v4`), instead of being taken
/// for a call that is not the front door's.
pub fn signing_key_id(headers: &[(String, Vec<u8>)], raw_query: &str) -> Option<String> {
    credential_scope(headers, raw_query)
        .map(|c| c.split('/').next().unwrap_or("").to_string())
        .or_else(|| sigv2_key_id(headers, raw_query))
}

fn sigv2_key_id(headers: &[(String, Vec<u8>)], raw_query: &str) -> Option<String> {
    let from_header = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .and_then(|v| v.strip_prefix("AWS "))
        .and_then(|rest| rest.split_once(':'))
        .map(|(akid, _)| akid.trim().to_string());
    from_header.or_else(|| {
        raw_query
            .split('&')
            .find_map(|kv| kv.strip_prefix("AWSAccessKeyId="))
            .map(|v| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    })
}

/// Whether a request is signed with gateway credentials (by the form of its key id), so the
/// local host, which is also the emulator's endpoint, can tell front-door calls from the
/// functions' own AWS calls.
pub fn is_front_door_call(headers: &[(String, Vec<u8>)], raw_query: &str) -> bool {
    signing_key_id(headers, raw_query).is_some_and(|k| gateway_credentials::is_gateway_key(&k))
}

/// The answer to a call whose body is larger than [`MAX_WIRE_BODY_BYTES`], for a host that
/// stops reading it there (the local host): the same refusal the front door gives.
pub fn front_door_too_large(headers: &[(String, Vec<u8>)], raw_query: &str) -> WireResponse {
    let mut out = Refusal::too_large(MAX_WIRE_BODY_BYTES + 1).encode(
        &signing_name(headers, raw_query),
        &ulid::Ulid::new().to_string(),
    );
    out.headers.push((
        "date".into(),
        tollgate_core::time::http_date(now_ms() / 1000),
    ));
    out
}

fn signing_name(headers: &[(String, Vec<u8>)], raw_query: &str) -> String {
    match credential_scope(headers, raw_query) {
        Some(c) => c.split('/').nth(3).unwrap_or_default().to_string(),
        // SigV2 names no service; the clients that still sign with it are S3's (boto3's
        // default presigner), so its refusal comes in S3's shape.
        None if sigv2_key_id(headers, raw_query).is_some() => "s3".to_string(),
        None => String::new(),
    }
}

/// `AKID/date/region/service/aws4_request`, from the header or the presigned query.
fn credential_scope(headers: &[(String, Vec<u8>)], raw_query: &str) -> Option<String> {
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            let v = std::str::from_utf8(value).ok()?;
            let rest = v.strip_prefix("AWS4-HMAC-SHA256")?;
            let cred = rest
                .split(',')
                .find_map(|p| p.trim().strip_prefix("Credential="))?;
            return Some(cred.to_string());
        }
    }
    raw_query
        .split('&')
        .find_map(|kv| kv.strip_prefix("X-Amz-Credential="))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
}

impl Api {
    /// Answers one front-door call. Never panics; every refusal is an error in the shape
    /// of the service the call was signed for.
    pub async fn front_door(&self, call: FrontDoorRequest, source_ip: &str) -> WireResponse {
        let signing_name = signing_name(&call.headers, &call.raw_query);
        let request_id = ulid::Ulid::new().to_string();
        let head = call.method.eq_ignore_ascii_case("HEAD");
        let mut out = match self.front_door_call(&call, &signing_name, source_ip).await {
            Ok(out) => out,
            Err(refusal) => refusal.encode(&signing_name, &request_id),
        };
        if head {
            out.body.clear();
        }
        out.headers.push((
            "date".into(),
            tollgate_core::time::http_date(now_ms() / 1000),
        ));
        out
    }

    async fn front_door_call(
        &self,
        call: &FrontDoorRequest,
        signing_name: &str,
        source_ip: &str,
    ) -> Result<WireResponse, Refusal> {
        if call.body.len() > MAX_WIRE_BODY_BYTES {
            return Err(Refusal::too_large(call.body.len()));
        }
        let headers: Vec<(&str, &[u8])> = call
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        let sig_req = tollgate_sigv4::Request {
            method: &call.method,
            path: &call.raw_path,
            query: &call.raw_query,
            headers: &headers,
            body: &call.body,
        };
        let now = now_ms() / 1000;
        let ring = &self.keys.gateway;
        let lookup = |akid: &str, token: Option<&str>| -> Result<Found<Holder>, LookupError> {
            gateway_credentials::open(ring, akid, token, now)
                .map(|(secret, holder)| Found {
                    secret: Secret::new(secret),
                    principal: holder,
                })
                .map_err(|e| match e {
                    OpenError::UnknownAccessKey => LookupError::UnknownAccessKey,
                    OpenError::InvalidToken => LookupError::InvalidToken,
                    OpenError::Expired => LookupError::ExpiredToken,
                })
        };
        let verified =
            tollgate_sigv4::verify(&sig_req, SystemTime::now(), &lookup, &Options::default())
                .map_err(Refusal::Verify)?;
        let agent = verified.principal.agent.clone();
        // Credentials outlive nothing: an issuer removed from the configuration takes its
        // agents' outstanding credentials with it.
        if !self
            .settings
            .agent_issuers
            .iter()
            .any(|i| i.issuer == agent.issuer)
        {
            return Err(Refusal::Verify(tollgate_sigv4::VerifyError {
                kind: tollgate_sigv4::ErrorKind::InvalidToken,
                message: "x-amz-security-token: issued to an agent of an issuer Tollgate no longer trusts; get credentials with `tollgate credentials`".into(),
            }));
        }
        let base = url::Url::parse(&self.settings.public_url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let path = tollgate_sigv4::operation_path(&call.raw_path, &base)
            .ok_or_else(|| Refusal::not_found(&call.raw_path))?;
        let wire_headers: Vec<(String, String)> = call
            .headers
            .iter()
            .filter(|(k, _)| verified.is_signed(k) || is_plain_content_header(k))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let wire = WireRequest {
            method: &call.method,
            path,
            query: &call.raw_query,
            headers: &wire_headers,
            body: &verified.body,
        };
        if verified.body.len() > MAX_FRONT_DOOR_BODY_BYTES {
            return Err(Refusal::too_large(verified.body.len()));
        }
        let (model, prefix, decoded) = service::decode(signing_name, &wire)?;
        tracing::info!(access_key_id = %verified.credential.access_key_id, agent = %agent.subject, service = %model.service_name(), operation = %decoded.operation, "front door call");
        let region = verified.credential.region.clone();
        validate_region(&region)
            .map_err(|e| Refusal::invalid(format!("credential: region {e}")))?;
        let action =
            Action::parse(&format!("{prefix}:{}", decoded.operation)).map_err(Refusal::invalid)?;
        let mut params = decoded.params;
        // A body too large for the record is kept beside it: the record (and the hash
        // approvers approve) holds its length and SHA-256.
        let offloaded = match (&self.payloads, payload_member(&model, &decoded.operation)) {
            (Some(_), Some(member)) => tollgate_core::payload::offload(&mut params, member),
            _ => None,
        };
        let (payload, payload_bytes) = offloaded.unzip();
        let new = NewRequest {
            action,
            region,
            params,
            reason: Some(REASON.to_string()),
            target: verified.principal.target.clone(),
            payload: payload.map(Box::new),
        };
        let params_len = serde_json::to_vec(&new.params).map_or(usize::MAX, |v| v.len());
        if params_len > MAX_BODY_BYTES {
            return Err(Refusal::params_too_large(params_len));
        }
        // A call that is the next step of one of the agent's approved plans runs as that step.
        if let Some(out) = self
            .join_plan(&agent, &new, &model, &decoded.operation)
            .await?
        {
            return Ok(out);
        }
        // The same call from the same agent joins the request it made while that waits, and
        // receives its answer once it is decided: the claim is keyed by the call itself.
        let request_hash = new.hash();
        let claim = IdempotencyClaim {
            key_hash: sha256_hex(format!("front-door\0{}\0{request_hash}", agent.key()).as_bytes()),
            request_hash,
        };
        let operation = decoded.operation.clone();
        for _ in 0..2 {
            let admitted = self
                .admit(
                    &agent,
                    new.clone(),
                    Some(claim.clone()),
                    source_ip,
                    payload_bytes.as_deref(),
                )
                .await
                .map_err(Refusal::Api)?;
            let rec = match admitted {
                Admitted::New(rec) | Admitted::Existing(rec) => rec,
            };
            // Credentials issued with a wait (`tollgate env --wait`) hold a held call open so
            // that a quick decision answers in place; the wait never extends past a decision.
            // A wait refused for want of places answers at once: the agent runs the call
            // again, as it would after any wait.
            let rec = match self
                .watch_leased(&agent, rec.clone(), verified.principal.wait_seconds, |r| {
                    r.status.is_final()
                })
                .await
            {
                Ok(rec) => rec,
                Err(e) if e.code == tollgate_core::ErrorCode::TooManyRequests => rec,
                Err(e) => return Err(Refusal::Api(e)),
            };
            if !rec.status.is_final() {
                return Err(Refusal::Waiting(Box::new(answer::Waiting {
                    approval_link: self.approval_link(&rec),
                    rec,
                })));
            }
            // Delivered once: whoever releases the claim answers; a caller that lost the race
            // makes a new request.
            if self
                .store
                .release_claim(&claim.key_hash, &rec.id)
                .await
                .map_err(Refusal::Api)?
            {
                let view = self.agent_view(&rec);
                return answer::settled(&model, &operation, &rec, &view);
            }
        }
        Err(Refusal::Api(ApiError::new(
            tollgate_core::ErrorCode::Conflict,
            "the same call is being answered to another caller; run it again",
        )))
    }
}

/// The member of `operation`'s input that is its raw body, when that is a blob (S3's
/// `PutObject` `Body`): the only member that can be megabytes.
fn payload_member<'m>(
    model: &'m tollgate_models::ServiceModel,
    operation: &str,
) -> Option<&'m str> {
    model.operation(operation)?.payload_blob_member()
}

/// Headers a protocol reads that some clients leave unsigned; the decoder needs them to
/// read the body, and they change nothing that is run.
fn is_plain_content_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-type")
}

impl From<DecodeErrorKind> for answer::DecodeKind {
    fn from(k: DecodeErrorKind) -> Self {
        match k {
            DecodeErrorKind::UnknownOperation => answer::DecodeKind::UnknownOperation,
            DecodeErrorKind::Unsupported => answer::DecodeKind::Unsupported,
            _ => answer::DecodeKind::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(v: &str) -> Vec<(String, Vec<u8>)> {
        vec![("Authorization".into(), v.as_bytes().to_vec())]
    }

    #[test]
    fn the_key_id_is_found_in_every_signature_form_for_routing() {
        let akid = "TOLLGATEAAAAAAAAAAAAAAAA";
        let v4 = auth(&format!(
            "AWS4-HMAC-SHA256 Credential={akid}/20261202/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
        ));
        assert_eq!(signing_key_id(&v4, "").as_deref(), Some(akid));
        let presigned =
            format!("X-Amz-Credential={akid}%2F20261202%2Fus-east-1%2Fs3%2Faws4_request");
        assert_eq!(signing_key_id(&[], &presigned).as_deref(), Some(akid));
        // SigV2 reaches the front door (whose verifier refuses it), locally and deployed.
        assert!(is_front_door_call(&auth(&format!("AWS {akid}:c2ln")), ""));
        let v2 = format!("AWSAccessKeyId={akid}&Signature=c2ln&Expires=1");
        assert!(is_front_door_call(&[], &v2));
        assert!(!is_front_door_call(
            &auth("AWS AKIAIOSFODNN7EXAMPLE:c2ln"),
            ""
        ));
        assert_eq!(signing_key_id(&auth("Bearer x"), "a=b"), None);
    }
}
