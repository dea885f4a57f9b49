//! Loading a configuration: the minimal document, errors that name the field, setups refused at load
//! time (key material, key fetching, MFA lock-outs, dead patterns, service roles, secrets), the MFA switch.

use crate::common::gate::*;
use crate::common::*;
use aalgate::{Gate, GateConfig, Resources};
use serde_json::{json, Value};

#[test]
fn minimal_config_is_url_plus_switch() {
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "require_aal2_for_enrolled": true}).to_string(),
    )
    .unwrap();
    assert_eq!(cfg.supabase_issuer(), ISSUER);
    assert_eq!(cfg.issuers()[0].jwks_url.as_deref(), Some(JWKS_URL));
    assert_eq!(cfg.validation().issuers, vec![ISSUER.to_owned()]);
    assert_eq!(cfg.validation().audiences, vec!["authenticated".to_owned()]);
    assert!(cfg.routes().iter().any(|r| r.name == "supabase:auth"));
}

#[test]
fn config_errors_name_the_field() {
    assert_eq!(config_err(json!({})).0, "supabase_url");
    assert_eq!(
        config_err(json!({"supabase_url": "http://example.com"})).0,
        "supabase_url"
    );
    assert_eq!(
        config_err(json!({"supabase_url": "https://x.supabase.co/rest"})).0,
        "supabase_url"
    );
    let (field, problem) =
        config_err(json!({"supabase_url": URL, "requre_aal2_for_enrolled": true}));
    assert!(
        problem.contains("requre_aal2_for_enrolled"),
        "{field} {problem}"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "aal": "aal3"}]})).0,
        "routes[0].aal"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "routes": [{"path": "x"}]})).0,
        "routes[0].path"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "methods": ["FETCH"]}]}))
            .0,
        "routes[0].methods[0]"
    );
    let (field, problem) = config_err(
        json!({"supabase_url": URL, "routes": [{"path": "/x", "claims": [{"claim": "user_metadata.role", "equals": "admin"}]}]}),
    );
    assert_eq!(field, "routes[0].claims[0].claim");
    assert!(problem.contains("user_metadata"));
    assert_eq!(config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "claims": [{"claim": "a", "equals": 1, "one_of": [1]}]}]})).0, "routes[0].claims[0]");
    assert_eq!(
        config_err(
            json!({"supabase_url": URL, "routes": [{"path": "/x", "auth": "none", "aal": "aal2"}]})
        )
        .0,
        "routes[0].auth"
    );
    assert_eq!(
        config_err(
            json!({"supabase_url": URL, "routes": [{"path": "/x", "roles": ["service_role"]}]})
        )
        .0,
        "routes[0].roles"
    );
    assert_eq!(config_err(json!({"supabase_url": URL, "routes": [{"path": "/x", "issuers": ["https://other/auth/v1"]}]})).0, "routes[0].issuers[0]");
    assert_eq!(
        config_err(json!({"supabase_url": URL, "tokens": {"algorithms": ["none"]}})).0,
        "tokens.algorithms[0]"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "tokens": {"leeway": 3600}})).0,
        "tokens.leeway"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "enrollment": {"claim": "user_metadata.mfa"}})).0,
        "enrollment.claim"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "mode": "audit"})).0,
        "mode"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks": {"nokeys": []}}})).0,
        "keys.jwks"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks_url": "ftp://x/jwks"}})).0,
        "keys.jwks_url"
    );
    assert_eq!(config_err(json!({"supabase_url": URL, "keys": {"extra_issuers": [{"issuer": "https://b/auth/v1"}]}})).0, "keys.extra_issuers[0]");
}

#[test]
fn config_problems_in_key_material_are_load_time_errors() {
    let mut private = es256_jwk(&es256_key(5), "k");
    private["d"] = json!("AAAA");
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "keys": {"jwks": {"keys": [private]}}}).to_string(),
    )
    .unwrap();
    let e = Gate::new(cfg, Resources::default()).err().unwrap();
    assert_eq!(e.field, "keys.jwks");
    assert!(e.problem.contains("private"), "{}", e.problem);
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "keys": {"hs256_secret_env": "SUPABASE_JWT_SECRET"}})
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        Gate::new(cfg.clone(), Resources::default())
            .err()
            .unwrap()
            .field,
        "keys.hs256_secret"
    );
    let short = Resources {
        hs256_secret: Some(b"short".to_vec()),
        ..Resources::default()
    };
    assert!(Gate::new(cfg, short).err().unwrap().problem.contains("32"));
}

#[test]
fn config_refuses_setups_that_break_key_fetching() {
    let jwks = json!({"keys": [es256_jwk(&es256_key(5), "k")]});
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks_refetch_cooldown": 0}})).0,
        "keys.jwks_refetch_cooldown"
    );
    assert_eq!(
        config_err(json!({"supabase_url": URL, "keys": {"jwks_url": JWKS_URL, "jwks": jwks}})).0,
        "keys"
    );
    let dup = json!({"supabase_url": URL, "keys": {"extra_issuers": [{"issuer": "https://custom.example.com/auth/v1", "jwks_url": JWKS_URL}]}});
    assert_eq!(config_err(dup).0, "keys.extra_issuers[0].jwks_url");
}

#[test]
fn config_refuses_rules_that_lock_users_out_of_mfa() {
    let (field, problem) =
        config_err(json!({"supabase_url": URL, "routes": [{"path": "/*", "aal": "aal2"}]}));
    assert_eq!(field, "routes[0]");
    assert!(problem.contains("/auth/v1"), "{problem}");
    assert_eq!(
        config_err(json!({"supabase_url": URL, "preset": false})).0,
        "preset"
    );
    let own = json!({"supabase_url": URL, "preset": false, "routes": [{"path": "/auth/v1", "auth": "none"}, {"path": "/*", "aal": "aal2"}]});
    assert!(GateConfig::from_json(&own.to_string()).is_ok());
}

#[test]
fn config_refuses_patterns_that_could_never_match() {
    for pattern in ["/rest/v1/%61dmin", "/rest/v1//x", "/rest/v1/../x"] {
        let (field, _) = config_err(json!({"supabase_url": URL, "routes": [{"path": pattern}]}));
        assert_eq!(field, "routes[0].path", "{pattern}");
    }
}

#[test]
fn service_role_config_errors_name_the_field() {
    let bad = |roles: Value| config_err(json!({"supabase_url": URL, "service_roles": roles}));
    let route = json!([{"path": "/rest/v1/weather*"}]);
    assert_eq!(
        bad(json!([{"role": "service_role", "routes": route}])).0,
        "service_roles[0].role"
    );
    assert_eq!(
        bad(json!([{"role": "authenticated", "routes": route}])).0,
        "service_roles[0].role"
    );
    assert_eq!(
        bad(json!([{"role": "Weather", "routes": route}])).0,
        "service_roles[0].role"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": []}])).0,
        "service_roles[0].routes"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": [{"path": "rest"}]}])).0,
        "service_roles[0].routes[0].path"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": [{"path": "/x", "methods": ["FETCH"]}]}])).0,
        "service_roles[0].routes[0].methods[0]"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route, "max_lifetime": 0}])).0,
        "service_roles[0].max_lifetime"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route}, {"role": "w", "routes": route}])).0,
        "service_roles[1].role"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route, "subs": [""]}])).0,
        "service_roles[0].subs[0]"
    );
    assert_eq!(
        bad(json!([{"role": "w", "routes": route, "scopes": []}])).0,
        "service_roles[0].scopes"
    );
}

#[test]
fn service_roles_are_bound_to_issuers_and_not_named_in_route_roles() {
    let route = json!([{"path": "/rest/v1/weather*"}]);
    let (field, problem) = config_err(
        json!({"supabase_url": URL, "service_roles": [{"role": "w", "routes": route}],
        "routes": [{"path": "/rest/v1/weather_admin", "roles": ["w"]}]}),
    );
    assert_eq!(field, "routes[0].roles");
    assert!(problem.contains("service role"), "{problem}");
    assert_eq!(
        config_err(json!({"supabase_url": URL, "service_roles": [{"role": "w", "routes": route, "issuers": ["https://idp.example.com"]}]})).0,
        "service_roles[0].issuers[0]"
    );
    let cfg = GateConfig::from_json(
        &json!({"supabase_url": URL, "service_roles": [{"role": "w", "routes": route}]})
            .to_string(),
    )
    .unwrap();
    assert_eq!(
        cfg.service_roles()[0].issuers,
        vec![ISSUER.to_owned()],
        "the project's issuer only, by default"
    );
}

#[test]
fn the_mfa_switch_is_on_unless_the_document_says_false() {
    for doc in [
        json!({"supabase_url": URL}),
        json!({"supabase_url": URL, "log": {"user_id": true}}),
    ] {
        let cfg = GateConfig::from_json(&doc.to_string()).unwrap();
        assert!(cfg.require_aal2_for_enrolled(), "{doc}");
        assert!(cfg
            .summary()
            .starts_with("require_aal2_for_enrolled = true"));
    }
    let off = GateConfig::from_json(
        &json!({"supabase_url": URL, "require_aal2_for_enrolled": false}).to_string(),
    )
    .unwrap();
    assert!(!off.require_aal2_for_enrolled());
    assert!(off.summary().contains("OFF"));
}

#[test]
fn the_proof_secret_must_be_provided_and_long_enough() {
    let cfg = || {
        GateConfig::from_json(
            &json!({"supabase_url": URL, "forward": {"proof_secret_env": "AALGATE_PROOF_SECRET"}})
                .to_string(),
        )
        .unwrap()
    };
    let missing = Gate::new(cfg(), Resources::default()).err().unwrap();
    assert_eq!(missing.field, "forward.proof_secret_env");
    assert!(missing.problem.contains("AALGATE_PROOF_SECRET"));
    let short = Resources {
        proof_secret: Some(b"too short".to_vec()),
        ..Resources::default()
    };
    let e = Gate::new(cfg(), short).err().unwrap();
    assert!(e.problem.contains("at least 32"), "{}", e.problem);
    assert!(!e.problem.contains("too short"), "never echoes the secret");
}
