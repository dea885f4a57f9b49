//! The Worker's per-isolate state: the gate built once from the Worker's vars and secrets (or the
//! configuration error every request is then answered with).

use crate::error::ConfigError;
use crate::gate::Gate;
use crate::wasm::http;
use crate::wasm::setup;
use crate::wire::Answer;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Env, Response, Result};

/// Where the Worker's configuration lives (named in the answer while it does not load).
pub(super) const CONFIG_HINT: &str =
    "Fix the Worker's AALGATE_CONFIG / SUPABASE_URL / secrets and redeploy.";

pub(super) struct State {
    pub(super) gate: RefCell<Gate>,
    pub(super) upstream: String,
}

thread_local! {
    static STATE: RefCell<Option<std::result::Result<Rc<State>, ConfigError>>> = const { RefCell::new(None) };
}

pub(super) fn text(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
        .filter(|v| !v.is_empty())
}

/// Builds the gate from the Worker's environment (the rules are shared with the portable module).
fn load(env: &Env) -> std::result::Result<State, ConfigError> {
    // Wrangler allows object-valued vars: accept them as the same document rather than ignoring them.
    let config_text = text(env, "AALGATE_CONFIG").or_else(|| {
        env.object_var::<serde_json::Value>("AALGATE_CONFIG")
            .ok()
            .map(|v| v.to_string())
    });
    // Logged once per isolate: a selftest build answers its test endpoints while the binding is `1`.
    #[cfg(feature = "selftest")]
    if text(env, "AALGATE_SELFTEST").as_deref() == Some("1") {
        web_sys::console::warn_1(&"aalgate: AALGATE_SELFTEST=1 exposes test endpoints under /__aalgate/selftest/; never set it in production".into());
    }
    let loaded = setup::load(config_text.as_deref(), "AALGATE_CONFIG", &|name| {
        text(env, name)
    })?;
    web_sys::console::log_1(&format!("aalgate: {}", loaded.gate.config().summary()).into());
    for w in loaded.warnings {
        web_sys::console::warn_1(&format!("aalgate: {w}").into());
    }
    Ok(State {
        gate: RefCell::new(loaded.gate),
        upstream: loaded.upstream,
    })
}

pub(super) fn state(env: &Env) -> std::result::Result<Rc<State>, ConfigError> {
    STATE.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let loaded = load(env).map(Rc::new);
            if let Err(e) = &loaded {
                web_sys::console::error_1(&format!("aalgate: {e}").into());
            }
            *cell = Some(loaded);
        }
        cell.as_ref().expect("just set").clone()
    })
}

impl crate::wasm::relay::GateHost for State {
    fn gate(&self) -> &RefCell<Gate> {
        &self.gate
    }
}

pub(super) fn respond(r: &Answer) -> Result<Response> {
    Ok(Response::from(http::refusal(r)?))
}
