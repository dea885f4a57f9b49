# aalgate — one entry point for building, testing and running.
#   make test    everything CI runs (installs what it needs, skips what is already there)
#   make demo    the gate in local workerd in front of a demo upstream and demo issuer (see README)
#   make worker  build the Cloudflare Worker into build/ (offline: pinned tools, no downloads)
#   make worker-selftest  the same Worker plus test-only endpoints (feature `selftest`) into build-selftest/
#   make fuzz    cargo-fuzz on token parsing, JWKS import and Realtime frames (FUZZ_SECONDS each, default 60)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
FUZZ_SECONDS ?= 60

# Pinned tools. wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock (checked below).
WASM_BINDGEN_VERSION := 0.2.130
WORKER_BUILD_VERSION := 0.8.7
CARGO_FUZZ_VERSION := 0.13.2
CARGO_BIN := $(HOME)/.cargo/bin
ESBUILD := $(CURDIR)/node_modules/@esbuild/linux-x64/bin/esbuild

export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false
export XDG_CONFIG_HOME := $(CURDIR)/.wrangler/config

# Deno comes from npm as its platform binary package, an optional dependency of the dev-only package
# tests/deno-tool (the `deno` wrapper package lists platform packages the registry here does not all
# serve, which breaks `npm ci`; and a root optionalDependency would ship with the published package).
# Elsewhere, a `deno` on PATH is used.
DENO = $(if $(wildcard node_modules/@deno/linux-x64-glibc/deno),$(CURDIR)/node_modules/@deno/linux-x64-glibc/deno,deno)
export DENO_DIR := $(CURDIR)/.deno
WASM_OUT := target/wasm32-unknown-unknown/release/aalgate.wasm

.PHONY: test lint unit demo worker worker-selftest module fuzz tools-rust tools-wasm tools-node tools-pg test-worker test-deno test-sql test-supabase-cli test-differential test-package lint-wasm size soak clean

test: tools-rust lint unit tools-pg test-sql test-supabase-cli test-differential tools-wasm tools-node lint-wasm worker worker-selftest module test-worker test-deno test-package

# The Rust toolchain itself comes with the machine (rustup); we only check the parts we use.
tools-rust:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
	@for c in rustfmt clippy; do \
	  rustup component list --installed 2>/dev/null | grep -q "^$$c" || rustup component add $$c; \
	done

tools-wasm: tools-rust
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@lock=$$(grep -A1 '^name = "wasm-bindgen"$$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p'); \
	  [ "$$lock" = "$(WASM_BINDGEN_VERSION)" ] || { echo "Cargo.lock has wasm-bindgen $$lock; update WASM_BINDGEN_VERSION" >&2; exit 1; }
	@[ "$$($(CARGO_BIN)/wasm-bindgen --version 2>/dev/null | awk '{print $$2}')" = "$(WASM_BINDGEN_VERSION)" ] || \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@[ "$$($(CARGO_BIN)/worker-build --version 2>/dev/null)" = "$(WORKER_BUILD_VERSION)" ] || \
	  $(CARGO) install worker-build --version $(WORKER_BUILD_VERSION) --locked

# npm packages (wrangler 4.86.0 → workerd, miniflare, esbuild), exactly as package-lock.json says.
tools-node:
	@command -v node >/dev/null || { echo "node not found (Node >= 20 is needed for the Worker tests)" >&2; exit 1; }
	@want=$$(sha256sum package-lock.json | cut -d' ' -f1); \
	  if [ "$$(cat node_modules/.aalgate-lock 2>/dev/null)" != "$$want" ]; then \
	    npm ci --no-audit --no-fund && echo "$$want" > node_modules/.aalgate-lock; fi

# PostgreSQL 15 server binaries for the SQL tests (Debian's package; the tests start their own
# throw-away cluster and need no running service).
PG_BIN ?= /usr/lib/postgresql/15/bin
export PG_BIN
tools-pg:
	@[ -x $(PG_BIN)/initdb ] || { \
	  echo "installing PostgreSQL 15 (Debian package postgresql-15)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 || \
	  { $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15; }; }

# The hook SQL (sql/) in a real PostgreSQL 15 cluster the test starts and removes.
test-sql: tools-pg tools-node
	$(CARGO) build --features cli
	node --test tests/sql/

# The real Supabase CLI (npm `supabase`, pinned in package.json) as the judge of key files, token shapes
# and `aalgate init` (tests/supabase-cli/; loudly skipped where npm has no CLI binary for the platform).
test-supabase-cli: tools-node
	$(CARGO) build --features cli
	node --test tests/supabase-cli/

# `aalgate verify` against panva/jose on ~700 mutated tokens (tests/differential/).
test-differential: tools-node
	$(CARGO) build --features cli
	node --test tests/differential/

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --features cli --all-targets -- -D warnings

lint-wasm:
	$(CARGO) clippy --target wasm32-unknown-unknown --features cloudflare -- -D warnings
	$(CARGO) clippy --target wasm32-unknown-unknown --features selftest -- -D warnings
	$(CARGO) clippy --target wasm32-unknown-unknown --features js -- -D warnings

unit:
	$(CARGO) test --features cli

# Offline build: worker-build would otherwise download wasm-bindgen and esbuild.
worker: tools-wasm tools-node
	WASM_BINDGEN_BIN=$(CARGO_BIN)/wasm-bindgen ESBUILD_BIN=$(ESBUILD) \
	  $(CARGO_BIN)/worker-build --release --no-opt . --features cloudflare
	node scripts/strip-wasm-names.mjs build/index_bg.wasm

# The Worker with the test-only /__aalgate/selftest/* endpoints (feature `selftest`; they answer only
# while the binding AALGATE_SELFTEST=1 is set too), for the tests and benchmarks that call them. Its own
# output directory, so build/ (what `make demo` runs and `wrangler deploy` ships) never has them; the
# same cargo target dir, so only aalgate itself is compiled again.
worker-selftest: tools-wasm tools-node
	WASM_BINDGEN_BIN=$(CARGO_BIN)/wasm-bindgen ESBUILD_BIN=$(ESBUILD) \
	  $(CARGO_BIN)/worker-build --release --no-opt --out-dir build-selftest . --features selftest
	node scripts/strip-wasm-names.mjs build-selftest/index_bg.wasm

# The portable module (feature `js`): one wasm, three wasm-bindgen glues under pkg/ (see package.json
# "exports": deno → pkg/deno, node → pkg/node, workerd/browsers → pkg/web). No `name` section (function
# names for stack traces: about a tenth of the wasm, read by nothing at run time).
module: tools-wasm
	$(CARGO) build --lib --release --target wasm32-unknown-unknown --features js
	$(CARGO_BIN)/wasm-bindgen --target deno --remove-name-section --out-dir pkg/deno --out-name aalgate $(WASM_OUT)
	$(CARGO_BIN)/wasm-bindgen --target web --remove-name-section --out-dir pkg/web --out-name aalgate $(WASM_OUT)
	$(CARGO_BIN)/wasm-bindgen --target experimental-nodejs-module --remove-name-section --out-dir pkg/node --out-name aalgate $(WASM_OUT)

# Raw, gzip and brotli sizes of both wasm builds, and their largest sections (bench/size.mjs).
size: worker module
	node bench/size.mjs

# The soak (bench/soak.mjs): MINUTES (default 10) of load on the Rust Worker in workerd, JWKS rotating.
soak: worker tools-node
	node bench/soak.mjs $(or $(MINUTES),10)

# Node runs the workerd and Node front doors (tests/runtime/*.test.mjs), Deno its own runner. The
# tests start build/ (run `make worker module` first) and, for the selftest endpoints, build-selftest/.
test-worker: worker-selftest
	node --test --test-concurrency=1 tests/runtime/

# The npm package as users get it: `npm pack` (prepack checks pkg/ is built), then fresh temporary
# projects that install the tarball offline and run it in Node, Deno (npm:aalgate), a Worker bundled by
# `wrangler deploy --dry-run` in workerd, and the Edge Function example (tests/package/).
test-package: module tools-node
	DENO=$(DENO) node --test tests/package/

test-deno:
	$(DENO) test --quiet --no-check --allow-net=127.0.0.1 --allow-read=. --allow-env --allow-run --no-prompt tests/runtime/deno/module.deno.mjs

demo: worker
	node examples/demo/run.mjs

fuzz:
	@if [ "$$(cargo fuzz --version 2>/dev/null | awk '{print $$2}')" != "$(CARGO_FUZZ_VERSION)" ]; then \
	  $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked; fi
	# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run token_parse corpus/token_parse -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run jwks_import corpus/jwks_import -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run realtime_frame corpus/realtime_frame -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run config_load corpus/config_load -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run path_normalize corpus/path_normalize -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run credentials corpus/credentials -- -max_total_time=$(FUZZ_SECONDS)

clean:
	$(CARGO) clean
	rm -rf build build-selftest
