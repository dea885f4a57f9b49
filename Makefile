# aalgate — one entry point for building, testing and running.
#   make test    everything CI runs (installs what it needs, skips what is already there)
#   make demo    the gate in front of a demo issuer (see README)
#   make fuzz    cargo-fuzz on token parsing and JWKS import (FUZZ_SECONDS each, default 60)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
FUZZ_SECONDS ?= 60
CARGO_FUZZ_VERSION := 0.13.2

.PHONY: test lint unit demo fuzz tools-rust clean

test: tools-rust lint unit

# The Rust toolchain itself comes with the machine (rustup); we only check the parts we use.
tools-rust:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
	@for c in rustfmt clippy; do \
	  rustup component list --installed 2>/dev/null | grep -q "^$$c" || rustup component add $$c; \
	done

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --features cli --all-targets -- -D warnings

unit:
	$(CARGO) test --features cli

demo:
	$(CARGO) run --quiet --features cli --example demo

fuzz:
	@if [ "$$(cargo fuzz --version 2>/dev/null | awk '{print $$2}')" != "$(CARGO_FUZZ_VERSION)" ]; then \
	  $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked; fi
	# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run token_parse corpus/token_parse -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run jwks_import corpus/jwks_import -- -max_total_time=$(FUZZ_SECONDS)

clean:
	$(CARGO) clean
