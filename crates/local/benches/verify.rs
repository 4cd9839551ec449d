//! Token verification cost with cached keys: the work every request pays before anything
//! else. Prints p50/p90/p99 per algorithm. Run with `make bench`.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use tollgate_aws::oidc::{IssuerConfig, Verifier};
use tollgate_local::issuer::{AGENT_AUDIENCE, DevIssuer};

const ITERATIONS: usize = 20_000;
const WARMUP: usize = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let issuer = DevIssuer::new("https://bench.example/idp".into()).expect("issuer");
    // Keys pinned inline: this measures verification, not the network.
    let jwks: JwkSet = serde_json::from_value(issuer.jwks()).expect("jwks");
    let cfg = IssuerConfig {
        jwks: Some(jwks),
        ..IssuerConfig::new(issuer.issuer(), AGENT_AUDIENCE)
    };
    // Every check in full each time; the API's verifier remembers a token that passed them
    // (the last row).
    let full = Verifier::new(vec![cfg.clone()], Duration::from_secs(10)).without_memory();
    let remembering = Verifier::new(vec![cfg], Duration::from_secs(10));
    let now = jsonwebtoken::get_current_timestamp();
    println!("## JWT verification, cached keys ({ITERATIONS} runs each, one core)\n");
    println!("| algorithm | p50 | p90 | p99 | verifications/s |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, alg, verifier) in [
        ("ES256", Algorithm::ES256, &full),
        ("RS256", Algorithm::RS256, &full),
        (
            "ES256, the same token again (remembered)",
            Algorithm::ES256,
            &remembering,
        ),
    ] {
        let claims = json!({"iss": issuer.issuer(), "sub": "ci-bot", "aud": AGENT_AUDIENCE,
            "iat": now, "nbf": now, "exp": now + 3600, "groups": ["a", "b"], "name": "CI bot"});
        let token = issuer.sign(alg, &claims).expect("sign");
        let mut samples = Vec::with_capacity(ITERATIONS);
        rt.block_on(async {
            for _ in 0..WARMUP {
                verifier.verify(&token).await.expect("valid token");
            }
            for _ in 0..ITERATIONS {
                let t = Instant::now();
                let v = verifier.verify(&token).await;
                samples.push(t.elapsed());
                assert!(v.is_ok());
            }
        });
        let total: Duration = samples.iter().sum();
        samples.sort();
        println!(
            "| {label} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} |",
            percentile(&samples, 0.50).as_secs_f64() * 1e6,
            percentile(&samples, 0.90).as_secs_f64() * 1e6,
            percentile(&samples, 0.99).as_secs_f64() * 1e6,
            ITERATIONS as f64 / total.as_secs_f64(),
        );
    }
}
