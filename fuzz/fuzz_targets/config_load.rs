//! Any byte string as the gate's JSON configuration: loading must never panic, nor building a gate
//! from a configuration that loaded (it may still refuse, naming the field, when a secret the
//! configuration names is not given: no resources are given here).
#![no_main]

use aalgate::gate::{Gate, Resources};
use aalgate::GateConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = GateConfig::from_json(text) {
        let _ = config.summary();
        if let Err(e) = Gate::new(config, Resources::default()) {
            assert!(!e.to_string().is_empty());
        }
    }
});
