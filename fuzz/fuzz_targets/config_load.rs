//! Any byte string as the gate's JSON configuration: loading must never panic, and a configuration
//! that loads must build a gate (config errors are caught at load time, not on the first request).
#![no_main]

use aalgate::gate::{Gate, Resources};
use aalgate::GateConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = GateConfig::from_json(text) {
        let _ = config.summary();
        Gate::new(config, Resources::default()).expect("a configuration that loads builds a gate");
    }
});
