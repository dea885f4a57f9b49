//! `make demo` (native part): a demo issuer with a fresh P-256 key, a user who has a verified TOTP factor,
//! and that user's aal1 and aal2 tokens sent through the gate with the Supabase preset and
//! `require_aal2_for_enrolled = true`. Writes the config, JWKS and tokens to a temp folder and prints
//! `aalgate explain` commands to replay them.

use aalgate::gate::{Decision, Outcome, Request};
use aalgate::{b64, Gate, GateConfig, Resources};
use p256::ecdsa::signature::Signer;
use serde_json::json;

fn main() {
    // Fresh key material each run, from the OS clock and process id (a demo, not production keys).
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        ^ u128::from(std::process::id());
    let mut scalar = [0x11u8; 32];
    scalar[16..].copy_from_slice(&seed.to_be_bytes());
    let key = p256::ecdsa::SigningKey::from_bytes(&scalar.into()).expect("demo scalar");
    let point = key.verifying_key().to_encoded_point(false);
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "demo-key-1", "use": "sig", "alg": "ES256", "key_ops": ["verify"],
        "x": b64::encode(point.x().unwrap()), "y": b64::encode(point.y().unwrap())}]});

    let url = "https://demo.supabase.co";
    let dir = std::env::temp_dir().join("aalgate-demo");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("jwks.json"), jwks.to_string()).unwrap();
    let config = format!("supabase_url = \"{url}\"\nrequire_aal2_for_enrolled = true\n\n[keys]\njwks_file = \"jwks.json\"\n");
    std::fs::write(dir.join("aalgate.toml"), &config).unwrap();

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mint = |aal: &str, amr: serde_json::Value| {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "demo-key-1"});
        let claims = json!({"iss": format!("{url}/auth/v1"), "sub": "d3m0d3m0-0000-4000-8000-000000000001", "aud": "authenticated",
            "exp": now + 3600, "iat": now, "role": "authenticated", "aal": aal, "amr": amr, "email": "demo@example.com", "phone": "",
            "session_id": "d3m0d3m0-0000-4000-8000-0000000000aa", "is_anonymous": false, "mfa_enrolled": true});
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(&sig.to_bytes()))
    };
    let aal1 = mint("aal1", json!([{"method": "password", "timestamp": now}]));
    let aal2 = mint(
        "aal2",
        json!([{"method": "totp", "timestamp": now}, {"method": "password", "timestamp": now}]),
    );

    let cfg = GateConfig::from_json(
        &json!({"supabase_url": url, "require_aal2_for_enrolled": true, "keys": {"jwks": jwks}})
            .to_string(),
    )
    .expect("demo config");
    let (mut gate, _) = Gate::new(cfg, Resources::default()).expect("demo gate");
    println!("aalgate demo — a user WITH a verified TOTP factor, Supabase preset, require_aal2_for_enrolled = true\n");
    for (label, token) in [
        ("aal1 (password only, e.g. a stolen password)", &aal1),
        ("aal2 (password + TOTP)", &aal2),
    ] {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("apikey", "sb_publishable_demo"),
        ];
        let Outcome::Done(v) = gate.decide(
            &Request {
                method: "GET",
                path: "/rest/v1/todos",
                headers: &headers,
            },
            now,
        ) else {
            unreachable!("keys are local")
        };
        println!("GET /rest/v1/todos with {label}:");
        match &v.decision {
            Decision::Reject(r) => {
                println!("  → HTTP {} {}", r.status, r.code);
                println!(
                    "    WWW-Authenticate: {}",
                    r.header("www-authenticate").unwrap_or("")
                );
            }
            Decision::Forward(_) => println!("  → forwarded to Supabase"),
        }
    }
    let file = dir.join("aalgate.toml");
    println!(
        "\nReplay step by step (config, JWKS and tokens are in {}):",
        dir.display()
    );
    std::fs::write(dir.join("aal1.jwt"), &aal1).unwrap();
    std::fs::write(dir.join("aal2.jwt"), &aal2).unwrap();
    for t in ["aal1", "aal2"] {
        println!(
            "  cargo run -q --features cli -- explain --config {} --method GET --path /rest/v1/todos --token \"$(cat {})\"",
            file.display(),
            dir.join(format!("{t}.jwt")).display()
        );
    }
}
