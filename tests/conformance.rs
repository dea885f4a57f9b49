//! Native runner of the runtime-neutral conformance table (tests/conformance/*.json). The Worker, Deno
//! and Node runners replay the same files; a case that differs between runtimes is a bug.

mod common;
#[path = "conformance/frames.rs"]
mod frames;

use aalgate::drive::{drive, Io};
use aalgate::gate::enrollment::EnrollmentJob;
use aalgate::gate::{Decision, Request};
use aalgate::{b64, Gate, GateConfig, Resources};
use p256::ecdsa::signature::Signer;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/conformance/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Replaces "now+N" / "now-N" / "now" strings with numbers, recursively.
fn resolve_times(v: &Value, now: u64) -> Value {
    match v {
        Value::String(s) if s == "now" => json!(now),
        Value::String(s) if s.starts_with("now+") => json!(now + s[4..].parse::<u64>().unwrap()),
        Value::String(s) if s.starts_with("now-") => json!(now - s[4..].parse::<u64>().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve_times(x, now)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), resolve_times(x, now)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Mints every fixture token (ES256 with the named private JWK, HS256 with the secret, or unsigned).
pub fn mint_tokens(fx: &Value) -> HashMap<String, String> {
    let now = fx["now"].as_u64().unwrap();
    let mut out = HashMap::new();
    for (name, spec) in fx["tokens"].as_object().unwrap() {
        let claims = resolve_times(&spec["claims"], now);
        let key_name = spec["key"].as_str().unwrap_or("");
        let header = match spec.get("header") {
            Some(h) => h.clone(),
            None if key_name == "hs256" => json!({"alg": "HS256", "typ": "JWT"}),
            None => json!({"alg": "ES256", "typ": "JWT", "kid": fx["keys"][key_name]["kid"]}),
        };
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        // RSA keys (the stand-in IdP's) sign through the crate's own signer, default header only.
        if fx["keys"][key_name]["kty"] == "RSA" {
            assert!(
                spec.get("header").is_none(),
                "{name}: RSA fixture tokens use the default header"
            );
            let key = aalgate::signing::SigningKey::from_jwk(&fx["keys"][key_name]).unwrap();
            out.insert(name.clone(), key.sign(&claims));
            continue;
        }
        let sig = if spec["unsigned"] == true {
            Vec::new()
        } else if key_name == "hs256" {
            common::sign_bytes(
                input.as_bytes(),
                &common::Signer_::Hs256(fx["hs256_secret"].as_str().unwrap().as_bytes().to_vec()),
            )
        } else {
            let d = b64::decode(fx["keys"][key_name]["d"].as_str().unwrap().as_bytes()).unwrap();
            let key = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
            let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
            sig.to_bytes().to_vec()
        };
        out.insert(name.clone(), format!("{input}.{}", b64::encode(&sig)));
    }
    out
}

fn substitute(text: &str, fx: &Value, tokens: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    while let Some(start) = out.find('{') {
        let end = start + out[start..].find('}').expect("closing brace");
        let (kind, name) = out[start + 1..end]
            .split_once(':')
            .expect("placeholder kind:name");
        let value = match kind {
            "token" => tokens
                .get(name)
                .unwrap_or_else(|| panic!("no fixture token {name}"))
                .clone(),
            "api_key" => fx["api_keys"][name].as_str().unwrap().to_owned(),
            _ => panic!("unknown placeholder {kind}"),
        };
        out.replace_range(start..=end, &value);
    }
    out
}

fn gate_for(fx: &Value, config: &Value, external: bool) -> Gate {
    let cfg = GateConfig::from_json(&config.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let secret = cfg
        .hs256_secret_env()
        .map(|env| fx["secret_env"][env].as_str().unwrap().as_bytes().to_vec());
    let exchange_signing_key = cfg.exchange().map(|x| {
        fx["secret_env"][&x.signing_key_env]
            .as_str()
            .expect("the fixture provides the exchange signing key")
            .as_bytes()
            .to_vec()
    });
    let proof_secret = cfg.proof_secret_env().as_ref().map(|env| {
        fx["secret_env"][env]
            .as_str()
            .expect("the fixture provides the proof secret")
            .as_bytes()
            .to_vec()
    });
    let resources = Resources {
        hs256_secret: secret,
        jwks_files: vec![],
        exchange_signing_key,
        proof_secret,
    };
    if external {
        Gate::with_external_signatures(cfg, resources).unwrap().0
    } else {
        Gate::new(cfg, resources).unwrap().0
    }
}

#[test]
fn conformance_table_native() {
    run_table(false);
}

/// The same table with signatures checked outside the gate (the path the WebCrypto adapters take),
/// answered here by the native provider: verdicts must not change.
#[test]
fn conformance_table_external_signatures() {
    run_table(true);
}

fn run_table(external: bool) {
    let fx = load("fixtures.json");
    let table = load("cases.json");
    let now = fx["now"].as_u64().unwrap();
    let tokens = mint_tokens(&fx);
    let mut gates: HashMap<String, Gate> = fx["configs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, cfg)| (name.clone(), gate_for(&fx, cfg, external)))
        .collect();
    let mut failures = Vec::new();
    let cases = table["cases"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let gate = gates
            .get_mut(case["config"].as_str().unwrap_or("main"))
            .unwrap();
        let headers: Vec<(String, String)> = case["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_owned(),
                    substitute(h[1].as_str().unwrap(), &fx, &tokens),
                )
            })
            .collect();
        let query = case["query"]
            .as_str()
            .map(|q| substitute(q, &fx, &tokens))
            .unwrap_or_default();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: case["method"].as_str().unwrap(),
            path: case["path"].as_str().unwrap(),
            query: &query,
            headers: &header_refs,
        };
        let mut io = StandInIo {
            fx: &fx,
            lookups: 0,
        };
        let verdict = match drive(gate, &req, now, &mut io) {
            Ok(v) => Some(v),
            Err(e) => {
                failures.push(format!("{name}: no verdict: {e}"));
                None
            }
        };
        let lookups = io.lookups;
        let Some(verdict) = verdict else { continue };
        let expect = &case["expect"];
        let mut got = observe(&verdict.decision, &header_refs);
        // Headers the gate adds must reach the upstream (the runtimes check what arrived).
        if let (Some(want), Decision::Forward(f)) = (expect.get("adds_headers"), &verdict.decision)
        {
            let added: Vec<&str> = f.add_headers.iter().map(|(n, _)| n.as_str()).collect();
            got["adds_headers"] = json!(want
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| added.contains(&w.as_str().unwrap()))
                .collect::<Vec<_>>());
        }
        got["lookups"] = json!(lookups);
        for (k, want) in expect.as_object().unwrap() {
            let ok = match k.as_str() {
                "www_authenticate_contains" => want.as_array().unwrap().iter().all(|w| {
                    got["www_authenticate"]
                        .as_str()
                        .is_some_and(|h| h.contains(w.as_str().unwrap()))
                }),
                _ => &got[k] == want,
            };
            if !ok {
                failures.push(format!("{name}: `{k}` expected {want}, got {}", got[k]));
            }
        }
        // A forwarded case without `would_reject` must have no would-be refusal.
        if expect["decision"] == "forward"
            && expect.get("would_reject").is_none()
            && !got["would_reject"].is_null()
        {
            failures.push(format!(
                "{name}: unexpected would_reject {}",
                got["would_reject"]
            ));
        }
        // No refusal ever echoes token content.
        if let Decision::Reject(r) | Decision::Answer(r) = &verdict.decision {
            let wire = format!("{} {:?}", r.body, r.headers);
            for (_, v) in &headers {
                for part in v.split(['.', ' ']).filter(|p| p.len() >= 16) {
                    if wire.contains(part) {
                        failures.push(format!("{name}: refusal echoes request credential content"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!(
        "conformance: {} cases passed (external signatures: {external})",
        cases.len()
    );
}

/// What the stand-in Auth answers to `GET /auth/v1/user` (the same rules as tests/runtime/upstream.mjs):
/// 401 without `apikey` (the API gateway's answer), the fixture user's factors, or its failure status.
/// The table's I/O: Auth is the stand-in below; keys are inline, so a fetch is a failure of the case.
struct StandInIo<'a> {
    fx: &'a Value,
    lookups: usize,
}

impl Io for StandInIo<'_> {
    fn fetch_jwks(&mut self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!("unexpected JWKS fetch of {url}"))
    }

    fn lookup_user(&mut self, job: &EnrollmentJob) -> Result<Option<(u16, Vec<u8>)>, String> {
        self.lookups += 1;
        let (status, body) = stand_in_auth_user(self.fx, job);
        Ok(Some((status, body.into_bytes())))
    }
}

fn stand_in_auth_user(fx: &Value, job: &EnrollmentJob) -> (u16, String) {
    let header = |name: &str| {
        job.headers()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(
        header("authorization").is_some(),
        "lookups carry the user's token"
    );
    match header("apikey") {
        None => {
            return (
                401,
                json!({"message": "No API key found in request"}).to_string(),
            )
        }
        Some(k) if Some(k) != fx["api_keys"]["publishable"].as_str() => {
            return (401, json!({"message": "Invalid API key"}).to_string())
        }
        Some(_) => {}
    }
    let Some(user) = fx["auth_users"].get(job.sub()) else {
        return (404, json!({"code": "user_not_found"}).to_string());
    };
    if let Some(status) = user["status"].as_u64() {
        let code = user["code"].as_str().unwrap_or("unexpected_failure");
        return (status as u16, json!({"code": code}).to_string());
    }
    let mut body = json!({"id": job.sub(), "aud": "authenticated", "role": "authenticated"});
    if user["factors"].as_array().is_some_and(|f| !f.is_empty()) {
        body["factors"] = user["factors"].clone();
    }
    (200, body.to_string())
}

/// The observable outcome in the table's vocabulary.
fn observe(decision: &Decision, headers: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    match decision {
        Decision::Forward(f) => {
            m.insert("decision".into(), json!("forward"));
            m.insert(
                "would_reject".into(),
                f.would_reject
                    .as_ref()
                    .map_or(Value::Null, |r| json!(r.code)),
            );
            let stripped: Vec<&str> = headers
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| aalgate::gate::Forward::strips(n))
                .collect();
            m.insert("stripped".into(), json!(stripped));
        }
        Decision::Reject(r) | Decision::Answer(r) => {
            let answer = matches!(decision, Decision::Answer(_));
            m.insert(
                "decision".into(),
                json!(if answer { "answer" } else { "reject" }),
            );
            if answer {
                m.insert(
                    "access_token".into(),
                    json!(r.body["access_token"].is_string()),
                );
            }
            m.insert("status".into(), json!(r.status));
            m.insert("code".into(), json!(r.code));
            m.insert(
                "www_authenticate".into(),
                json!(r.header("www-authenticate")),
            );
        }
    }
    Value::Object(m)
}
