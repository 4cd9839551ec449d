//! A development OIDC issuer: discovery document, JWKS, key rotation and token minting with
//! real keys (ES256 and RS256), so agents and approvers on the local stack carry genuinely
//! signed tokens that go through exactly the verification production tokens do. It can mint
//! tokens shaped like GitHub Actions, Amazon Cognito and Kubernetes service-account tokens.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const AGENT_AUDIENCE: &str = "tollgate-agents";
pub const APPROVER_AUDIENCE: &str = "tollgate-approvers";
pub const APPROVER_GROUP: &str = "approvers";

#[derive(Clone)]
struct SigningKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
    /// The RSA public key as PEM, kept to craft the HS256 key-confusion attack in tests.
    public_pem: Option<String>,
}

struct KeyRing {
    /// Keys new tokens are signed with.
    current: Vec<SigningKey>,
    /// Rotated-out keys, still published so tokens they signed verify until they expire.
    previous: Vec<SigningKey>,
}

pub struct DevIssuer {
    issuer: String,
    /// MCP clients registered dynamically.
    pub(crate) clients: crate::agent_clients::Clients,
    ring: RwLock<KeyRing>,
    jwks_fetches: AtomicU64,
    /// The approval page's client secret, when this issuer requires one at its token endpoint
    /// (as Google does, even with PKCE).
    approver_client_secret: RwLock<Option<String>>,
}

/// A minted token and its expiry, in seconds since the epoch as the token's `exp` claim has it.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: String,
    pub exp_s: u64,
}

/// What a caller may ask the dev issuer to mint.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The principal. For `shape: github` the repository (`owner/repo`); for `kubernetes`
    /// `namespace/serviceaccount`.
    pub sub: String,
    #[serde(default)]
    pub approver: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub alg: Option<String>,
    /// `plain` (default), `github`, `cognito` or `kubernetes`.
    #[serde(default)]
    pub shape: Option<String>,
    /// For `github`: the ref (default `refs/heads/main`).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// OIDC `nonce`, echoed into the token (browser sign-in).
    #[serde(default)]
    pub nonce: Option<String>,
}

fn new_keys() -> Result<Vec<SigningKey>, String> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| "cannot generate an EC key")?;
    let ec_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref())
        .map_err(|_| "cannot load the EC key")?;
    let point = ec_pair.public_key().as_ref();
    let (x, y) = (&point[1..33], &point[33..65]);
    let ec_kid = format!("dev-es256-{}", &hex_digest(point)[..12]);

    let rsa = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| "cannot generate an RSA key")?;
    let pkcs8 = rsa.as_der().map_err(|_| "cannot encode the RSA key")?;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    let public = rsa.public_key();
    let spki: aws_lc_rs::encoding::PublicKeyX509Der = public
        .as_der()
        .map_err(|_| "cannot encode the RSA public key")?;
    let public_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(spki.as_ref())
    );
    let n = public.modulus().big_endian_without_leading_zero().to_vec();
    let e = public.exponent().big_endian_without_leading_zero().to_vec();
    let rsa_kid = format!("dev-rs256-{}", &hex_digest(&n)[..12]);
    let rsa_key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("RSA key: {e}"))?;
    Ok(vec![
        SigningKey {
            jwk: json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": ec_kid,
                "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
            kid: ec_kid,
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(ec.as_ref()),
            public_pem: None,
        },
        SigningKey {
            jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": rsa_kid,
                "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e)}),
            kid: rsa_kid,
            alg: Algorithm::RS256,
            key: rsa_key,
            public_pem: Some(public_pem),
        },
    ])
}

fn parse_alg(alg: Option<&str>) -> Result<Algorithm, String> {
    match alg.unwrap_or("ES256") {
        "ES256" => Ok(Algorithm::ES256),
        "RS256" => Ok(Algorithm::RS256),
        other => Err(format!("alg: `{other}` is not offered; use ES256 or RS256")),
    }
}

impl DevIssuer {
    pub fn new(issuer: String) -> Result<Self, String> {
        Ok(Self {
            ring: RwLock::new(KeyRing {
                current: new_keys()?,
                previous: vec![],
            }),
            issuer,
            clients: Default::default(),
            jwks_fetches: AtomicU64::new(0),
            approver_client_secret: RwLock::new(None),
        })
    }

    /// From now on, the approval page's client must authenticate with `secret` at the token
    /// endpoint (HTTP Basic or in the form, both as RFC 6749 §2.3.1 has them).
    pub fn require_client_secret(&self, secret: &str) {
        if let Ok(mut s) = self.approver_client_secret.write() {
            *s = Some(secret.to_string());
        }
    }

    pub(crate) fn approver_client_secret(&self) -> Option<String> {
        self.approver_client_secret
            .read()
            .ok()
            .and_then(|s| s.clone())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/jwks.json", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "authorization_endpoint": format!("{}/authorize", self.issuer),
            "registration_endpoint": format!("{}/register", self.issuer),
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            "response_types_supported": ["code", "id_token"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": if self.approver_client_secret().is_some() {
                json!(["client_secret_basic", "client_secret_post"])
            } else {
                json!(["none"])
            },
            "authorization_response_iss_parameter_supported": true,
            "subject_types_supported": ["public"],
        })
    }

    /// The published keys: current and rotated-out ones. Counts fetches.
    pub fn jwks(&self) -> Value {
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<Value> = ring
            .current
            .iter()
            .chain(&ring.previous)
            .map(|k| k.jwk.clone())
            .collect();
        json!({ "keys": keys })
    }

    pub fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    /// New keys sign from now on; the old ones stay published (one generation back).
    pub fn rotate(&self) -> Result<(), String> {
        let fresh = new_keys()?;
        let mut ring = self.ring.write().unwrap_or_else(|e| e.into_inner());
        ring.previous = std::mem::replace(&mut ring.current, fresh);
        Ok(())
    }

    /// Drops rotated-out keys from the published set.
    pub fn retire_previous(&self) {
        self.ring
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .previous
            .clear();
    }

    fn key(&self, alg: Algorithm) -> Result<SigningKey, String> {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        ring.current
            .iter()
            .find(|k| k.alg == alg)
            .cloned()
            .ok_or_else(|| "alg: no key".into())
    }

    /// The current key id for `alg`.
    pub fn kid(&self, alg: Algorithm) -> Result<String, String> {
        self.key(alg).map(|k| k.kid)
    }

    /// The current RSA public key as PEM.
    pub fn rsa_public_pem(&self) -> Result<String, String> {
        self.key(Algorithm::RS256)?
            .public_pem
            .ok_or_else(|| "no RSA key".into())
    }

    /// Mints a token. Agents get the agent audience; approvers the approver audience and the
    /// approvers group unless other groups are named.
    pub fn mint(&self, req: &MintRequest) -> Result<Minted, String> {
        if req.sub.trim().is_empty() {
            return Err("sub: is required".into());
        }
        let alg = parse_alg(req.alg.as_deref())?;
        // JWT times are seconds (RFC 7519 `NumericDate`), unlike Tollgate's records (ms).
        let now_s = jsonwebtoken::get_current_timestamp();
        let exp_s = now_s + req.ttl_seconds.unwrap_or(3600).clamp(1, 86_400);
        let aud = if req.approver {
            APPROVER_AUDIENCE
        } else {
            AGENT_AUDIENCE
        };
        let groups = req.groups.clone().unwrap_or_else(|| {
            if req.approver {
                vec![APPROVER_GROUP.to_string()]
            } else {
                vec![]
            }
        });
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.issuer));
        c.insert("aud".into(), json!(aud));
        c.insert("iat".into(), json!(now_s));
        c.insert("nbf".into(), json!(now_s));
        c.insert("exp".into(), json!(exp_s));
        if let Some(n) = &req.nonce {
            c.insert("nonce".into(), json!(n));
        }
        match req.shape.as_deref().unwrap_or("plain") {
            "plain" => {
                c.insert("sub".into(), json!(req.sub));
                c.insert(
                    "name".into(),
                    json!(req.name.clone().unwrap_or_else(|| req.sub.clone())),
                );
                c.insert("groups".into(), json!(groups));
            }
            // https://docs.github.com/actions/deployment/security-hardening-your-deployments/about-security-hardening-with-openid-connect
            "github" => {
                let repo = &req.sub;
                let owner = repo.split('/').next().unwrap_or(repo);
                let git_ref = req
                    .git_ref
                    .clone()
                    .unwrap_or_else(|| "refs/heads/main".into());
                c.insert("sub".into(), json!(format!("repo:{repo}:ref:{git_ref}")));
                c.insert("repository".into(), json!(repo));
                c.insert("repository_owner".into(), json!(owner));
                // GitHub's ids survive renames; these are stable stand-ins derived from names.
                c.insert("repository_id".into(), json!(numeric_id(repo)));
                c.insert("repository_owner_id".into(), json!(numeric_id(owner)));
                c.insert("ref".into(), json!(git_ref));
                c.insert("ref_type".into(), json!("branch"));
                c.insert(
                    "workflow".into(),
                    json!(req.name.clone().unwrap_or_else(|| "deploy".into())),
                );
                c.insert(
                    "job_workflow_ref".into(),
                    json!(format!("{repo}/.github/workflows/deploy.yml@{git_ref}")),
                );
                c.insert("actor".into(), json!(owner));
                c.insert("event_name".into(), json!("push"));
                c.insert("runner_environment".into(), json!("github-hosted"));
            }
            // Cognito ID tokens: groups in `cognito:groups`, the user in `cognito:username`.
            "cognito" => {
                c.insert(
                    "sub".into(),
                    json!(format!(
                        "{}-0000-4000-8000-000000000000",
                        &hex_digest(req.sub.as_bytes())[..8]
                    )),
                );
                c.insert("cognito:username".into(), json!(req.sub));
                c.insert("email".into(), json!(format!("{}@example.com", req.sub)));
                c.insert("cognito:groups".into(), json!(groups));
                c.insert("token_use".into(), json!("id"));
            }
            // Projected service-account tokens.
            "kubernetes" => {
                let (ns, sa) = req
                    .sub
                    .split_once('/')
                    .ok_or("sub: for kubernetes use `namespace/serviceaccount`")?;
                c.insert(
                    "sub".into(),
                    json!(format!("system:serviceaccount:{ns}:{sa}")),
                );
                c.insert(
                    "kubernetes.io".into(),
                    json!({"namespace": ns, "serviceaccount": {"name": sa, "uid": format!("{}", &hex_digest(req.sub.as_bytes())[..16])}}),
                );
            }
            other => {
                return Err(format!(
                    "shape: `{other}` is not offered; use plain, github, cognito or kubernetes"
                ));
            }
        }
        self.sign(alg, &Value::Object(c))
            .map(|token| Minted { token, exp_s })
    }

    /// Signs arbitrary claims with the current key for `alg` (tests use this for tokens that
    /// are validly signed but wrong in some other way).
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> Result<String, String> {
        let key = self.key(alg)?;
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.key).map_err(|e| e.to_string())
    }

    /// Signs raw header and payload bytes as given (duplicate keys and all).
    pub fn sign_raw(
        &self,
        alg: Algorithm,
        header: &[u8],
        payload: &[u8],
    ) -> Result<String, String> {
        let key = self.key(alg)?;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key.key, alg)
            .map_err(|e| e.to_string())?;
        Ok(format!("{message}.{sig}"))
    }
}

/// A stable decimal id for a name, as GitHub gives repositories and owners (as strings).
pub fn numeric_id(name: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let mut n = [0u8; 4];
    n.copy_from_slice(&d.as_ref()[..4]);
    u32::from_be_bytes(n).to_string()
}

fn hex_digest(b: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
