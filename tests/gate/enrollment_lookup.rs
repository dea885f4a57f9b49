//! The Auth API lookup itself: the user's own credentials, one lookup in flight per user, timeouts and
//! take-overs, failures and refusals (held per request, never poisoning the user's other requests), logs.

use crate::common::gate::*;
use crate::common::*;
use aalgate::gate::{Decision, Outcome};
use serde_json::json;

const USER_URL: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1/user";

#[test]
fn enrollment_lookup_carries_the_users_own_credentials() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(job) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_abc"), NOW)
    else {
        panic!("expected a lookup");
    };
    assert_eq!(job.url(), USER_URL);
    assert_eq!(job.sub(), USER);
    assert_eq!(
        job.headers(),
        &[
            ("authorization".to_owned(), format!("Bearer {t}")),
            ("apikey".to_owned(), "sb_publishable_abc".to_owned())
        ]
    );
    assert_eq!(job.timeout_ms(), 3000);
    // Without an apikey on the request, the configured publishable key is used.
    let (mut gate, key) = lookup_gate(json!({"api_key": "sb_publishable_cfg"}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(job) = decide_with_apikey(&mut gate, &t, None, NOW) else {
        panic!("expected a lookup");
    };
    assert!(job
        .headers()
        .contains(&("apikey".to_owned(), "sb_publishable_cfg".to_owned())));
}

#[test]
fn one_lookup_in_flight_per_user_others_wait_on_their_own_timer() {
    let (mut gate, key) = lookup_gate(json!({"api_timeout_ms": 2000}));
    let a = aal1_token(&key, USER, None, NOW - 10);
    let b = aal1_token(&key, USER, None, NOW - 20);
    let Outcome::LookupEnrollment(job) =
        decide_with_apikey(&mut gate, &a, Some("sb_publishable_k"), NOW)
    else {
        panic!("expected a lookup");
    };
    // B (another request of the same user) must not start a second lookup, nor block on A's.
    assert!(
        matches!(decide_with_apikey(&mut gate, &b, Some("sb_publishable_k"), NOW), Outcome::Wait(ms, _) if ms > 0)
    );
    assert!(matches!(
        decide_with_apikey(&mut gate, &b, Some("sb_publishable_k"), NOW + 2),
        Outcome::Wait(..)
    ));
    gate.enrollment_checked(job, Some((200, &user_body(USER, true))), NOW + 2)
        .unwrap();
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &b,
            Some("sb_publishable_k"),
            NOW + 2
        ))),
        "aal2_required"
    );
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &a,
            Some("sb_publishable_k"),
            NOW + 2
        ))),
        "aal2_required"
    );
}

#[test]
fn a_lookup_that_never_reports_back_is_taken_over_after_its_timeout() {
    let (mut gate, key) = lookup_gate(json!({"api_timeout_ms": 2000}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert!(matches!(
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW),
        Outcome::LookupEnrollment(_)
    ));
    assert!(matches!(
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW + 2),
        Outcome::Wait(..)
    ));
    assert!(matches!(
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW + 3),
        Outcome::LookupEnrollment(_)
    ));
}

#[test]
fn a_failed_lookup_fails_closed_and_is_held_briefly() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    for answer in [
        None,
        Some((500, b"{}".to_vec())),
        Some((200, b"not json".to_vec())),
    ] {
        let mut gate = lookup_gate(json!({})).0;
        let t = aal1_token(&key, USER, None, NOW - 10);
        assert_eq!(
            decide_answering(&mut gate, &t, NOW, answer),
            ("enrollment_unavailable", 1)
        );
    }
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, None),
        ("enrollment_unavailable", 1)
    );
    let held = aalgate::gate::enrollment::FAILURE_HOLD_SECS;
    assert_eq!(
        decide_answering(&mut gate, &t, NOW + held - 1, None),
        ("enrollment_unavailable", 0)
    );
    let recovered = Some((200, user_body(USER, false)));
    assert_eq!(
        decide_answering(&mut gate, &t, NOW + held, recovered),
        ("forward", 1)
    );
    // The refusal is a 503 that names no token content.
    let mut gate = lookup_gate(json!({})).0;
    let v = loop {
        match decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW) {
            Outcome::Done(v) => break v,
            Outcome::LookupEnrollment(job) => {
                let _ = gate.enrollment_checked(job, None, NOW);
            }
            other => panic!("{other:?}"),
        }
    };
    let Decision::Reject(r) = &v.decision else {
        panic!()
    };
    assert_eq!(r.status, 503);
    assert!(!r.body.to_string().contains(&t[..20]));
}

#[test]
fn an_answer_about_another_user_is_a_failure() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let wrong = Some((200, user_body("someone-else", false)));
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, wrong),
        ("enrollment_unavailable", 1)
    );
}

#[test]
fn on_api_failure_settings() {
    let key = es256_key(11);
    for (setting, want) in [
        ("refuse", "enrollment_unavailable"),
        ("treat_as_enrolled", "aal2_required"),
        ("treat_as_not_enrolled", "forward"),
    ] {
        let (mut gate, _) = lookup_gate(json!({"on_api_failure": setting}));
        let t = aal1_token(&key, USER, None, NOW - 10);
        assert_eq!(
            decide_answering(&mut gate, &t, NOW, None),
            (want, 1),
            "{setting}"
        );
    }
}

#[test]
fn the_lookup_and_its_source_are_logged_without_credentials() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(job) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW)
    else {
        panic!()
    };
    gate.enrollment_checked(job, Some((200, &user_body(USER, true))), NOW)
        .unwrap();
    let v = done(decide_with_apikey(
        &mut gate,
        &t,
        Some("sb_publishable_k"),
        NOW,
    ));
    let line = v.log_line(None);
    assert!(line.contains(r#""enrollment_source":"auth_api""#), "{line}");
    assert!(line.contains(r#""enrolled":true"#), "{line}");
    assert!(!line.contains(&t[t.len() - 20..]), "{line}");
}

#[test]
fn auth_refusing_a_token_refuses_that_token_only_and_never_counts_as_an_outage() {
    let key = es256_key(11);
    // Even where an outage would let aal1 through, a refusal by Auth does not.
    let (mut gate, _) = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"}));
    let bad = aal1_token(&key, USER, None, NOW - 10);
    for status in [401, 403, 404] {
        let mut gate = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"})).0;
        assert_eq!(
            decide_answering(&mut gate, &bad, NOW, Some((status, vec![]))),
            ("token_rejected", 1)
        );
    }
    assert_eq!(
        decide_answering(&mut gate, &bad, NOW, Some((401, vec![]))),
        ("token_rejected", 1)
    );
    // The same token stays refused for a moment without asking again ...
    assert_eq!(
        decide_answering(&mut gate, &bad, NOW + 1, None),
        ("token_rejected", 0)
    );
    // ... while another token of the same user is asked about normally.
    let other = aal1_token(&key, USER, None, NOW - 20);
    let enrolled = Some((200, user_body(USER, true)));
    assert_eq!(
        decide_answering(&mut gate, &other, NOW + 1, enrolled),
        ("aal2_required", 1)
    );
}

#[test]
fn no_apikey_anywhere_is_apikey_required_without_a_lookup() {
    let (mut gate, key) = lookup_gate(json!({}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert_eq!(
        code(&done(decide_with_apikey(&mut gate, &t, None, NOW))),
        "apikey_required"
    );
}

#[test]
fn a_late_answer_from_a_lookup_that_was_taken_over_is_ignored() {
    let (mut gate, key) = lookup_gate(json!({"api_timeout_ms": 1000}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    let Outcome::LookupEnrollment(slow) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW)
    else {
        panic!()
    };
    let Outcome::LookupEnrollment(fresh) =
        decide_with_apikey(&mut gate, &t, Some("sb_publishable_k"), NOW + 3)
    else {
        panic!("the lost lookup is taken over")
    };
    gate.enrollment_checked(fresh, Some((200, &user_body(USER, true))), NOW + 3)
        .unwrap();
    // The first adapter finally reports an older "not enrolled": it must not replace the newer answer.
    gate.enrollment_checked(slow, Some((200, &user_body(USER, false))), NOW + 4)
        .unwrap();
    assert_eq!(
        code(&done(decide_with_apikey(
            &mut gate,
            &t,
            Some("sb_publishable_k"),
            NOW + 4
        ))),
        "aal2_required"
    );
}

#[test]
fn a_lookup_failure_never_poisons_the_users_other_requests() {
    // One request's failed lookup (an outage for it, or its own fault) is held for that request's
    // credentials only; another token of the same user asks Auth for itself at once.
    for failure in [
        None,
        Some((500, b"{}".to_vec())),
        Some((431, b"{}".to_vec())),
    ] {
        let (mut gate, key) = lookup_gate(json!({}));
        let first = aal1_token(&key, USER, None, NOW - 10);
        let other = aal1_token(&key, USER, None, NOW - 11);
        let (code, lookups) = decide_answering(&mut gate, &first, NOW, failure.clone());
        assert_eq!(lookups, 1);
        assert!(
            matches!(code, "enrollment_unavailable" | "token_rejected"),
            "{code}"
        );
        // The same request's credentials again: held, no new lookup.
        assert_eq!(decide_answering(&mut gate, &first, NOW, None), (code, 0));
        // The user's other token: its own lookup, its own answer.
        let recovered = Some((200, user_body(USER, true)));
        assert_eq!(
            decide_answering(&mut gate, &other, NOW, recovered),
            ("aal2_required", 1)
        );
    }
}

#[test]
fn a_client_caused_4xx_from_auth_is_the_requests_fault_never_an_outage() {
    // With on_api_failure = treat_as_not_enrolled, an outage lets the user pass; a 4xx the request
    // itself caused (431: headers too large, 400, 413, …) must not.
    for status in [400, 413, 431] {
        let (mut gate, key) = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"}));
        let t = aal1_token(&key, USER, None, NOW - 10);
        assert_eq!(
            decide_answering(&mut gate, &t, NOW, Some((status, b"{}".to_vec()))),
            ("token_rejected", 1),
            "status {status}"
        );
    }
    // 429 is Auth's rate limit: an outage, subject to on_api_failure.
    let (mut gate, key) = lookup_gate(json!({"on_api_failure": "treat_as_not_enrolled"}));
    let t = aal1_token(&key, USER, None, NOW - 10);
    assert_eq!(
        decide_answering(&mut gate, &t, NOW, Some((429, b"{}".to_vec()))),
        ("forward", 1)
    );
}
