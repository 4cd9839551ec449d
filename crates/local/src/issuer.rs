//! A development OIDC issuer: discovery document, JWKS, and token minting with real keys
//! (ES256 and RS256), so agents and approvers on the local stack carry genuinely signed
//! tokens that go through exactly the verification production tokens do.

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

struct SigningKey {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

pub struct DevIssuer {
    issuer: String,
    keys: Vec<SigningKey>,
}

/// What a caller may ask the dev issuer to mint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
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
}

impl DevIssuer {
    pub fn new(issuer: String) -> Result<Self, String> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "cannot generate an EC key")?;
        let ec_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref())
            .map_err(|_| "cannot load the EC key")?;
        let point = ec_pair.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let ec_kid = format!("dev-es256-{}", &hex_digest(point)[..8]);

        let rsa = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| "cannot generate an RSA key")?;
        let pkcs8 = rsa.as_der().map_err(|_| "cannot encode the RSA key")?;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let public = rsa.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let rsa_kid = format!("dev-rs256-{}", &hex_digest(&n)[..8]);
        let rsa_key =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("RSA key: {e}"))?;

        Ok(Self {
            keys: vec![
                SigningKey {
                    jwk: json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": ec_kid,
                        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
                    kid: ec_kid,
                    alg: Algorithm::ES256,
                    key: EncodingKey::from_ec_der(ec.as_ref()),
                },
                SigningKey {
                    jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": rsa_kid,
                        "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e)}),
                    kid: rsa_kid,
                    alg: Algorithm::RS256,
                    key: rsa_key,
                },
            ],
            issuer,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/jwks.json", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
        })
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
    }

    /// Mints a token. Agents get the agent audience; approvers the approver audience and the
    /// approvers group unless other groups are named.
    pub fn mint(&self, req: &MintRequest) -> Result<(String, u64), String> {
        if req.sub.trim().is_empty() {
            return Err("sub: is required".into());
        }
        let alg = match req.alg.as_deref().unwrap_or("ES256") {
            "ES256" => Algorithm::ES256,
            "RS256" => Algorithm::RS256,
            other => return Err(format!("alg: `{other}` is not offered; use ES256 or RS256")),
        };
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + req.ttl_seconds.unwrap_or(3600).clamp(1, 86_400);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(req.sub));
        claims.insert(
            "aud".into(),
            json!(if req.approver {
                APPROVER_AUDIENCE
            } else {
                AGENT_AUDIENCE
            }),
        );
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        claims.insert("exp".into(), json!(exp));
        claims.insert(
            "name".into(),
            json!(req.name.clone().unwrap_or_else(|| req.sub.clone())),
        );
        let groups = req.groups.clone().unwrap_or_else(|| {
            if req.approver {
                vec![APPROVER_GROUP.to_string()]
            } else {
                vec![]
            }
        });
        claims.insert("groups".into(), json!(groups));
        self.sign(alg, &Value::Object(claims)).map(|t| (t, exp))
    }

    /// Signs arbitrary claims with the issuer's key for `alg` (tests use this for tokens
    /// that are validly signed but wrong in some other way).
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> Result<String, String> {
        let key = self
            .keys
            .iter()
            .find(|k| k.alg == alg)
            .ok_or("alg: no key")?;
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.key).map_err(|e| e.to_string())
    }
}

fn hex_digest(b: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
