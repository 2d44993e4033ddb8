# libami — everything CI runs is `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
export RUSTDOCFLAGS := -D warnings

TOOLS := $(CURDIR)/.tools
CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(TOOLS)/bin/cbindgen
CBINDGEN_STAMP := $(TOOLS)/cbindgen-$(CBINDGEN_VERSION).stamp
CC ?= cc
CFLAGS_STRICT := -std=c11 -Wall -Wextra -Wpedantic -Werror
BUILD := $(CURDIR)/target/make

.PHONY: test check-tools fmt-check clippy unit doc header header-check c-test bench clean

## test: formatting, lints (warnings are errors), every test and doctest, docs (warnings are
## errors), the C header against the code, and the C tests
test: check-tools fmt-check clippy unit doc header-check c-test
	@echo "make test: all checks passed"

check-tools:
	@$(CARGO) fmt --version >/dev/null 2>&1 || { echo "rustfmt is missing (rustup component add rustfmt)"; exit 1; }
	@$(CARGO) clippy --version >/dev/null 2>&1 || { echo "clippy is missing (rustup component add clippy)"; exit 1; }

fmt-check:
	$(CARGO) fmt --all --check
	cd fuzz && $(CARGO) fmt --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

doc:
	$(CARGO) doc --workspace --no-deps --locked

# The pinned cbindgen, installed into .tools/ by the Makefile itself (nothing by hand).
$(CBINDGEN_STAMP):
	$(CARGO) install --locked --quiet cbindgen@$(CBINDGEN_VERSION) --root $(TOOLS)
	touch $@

## header: regenerate include/ami.h from crates/ami-ffi
header: $(CBINDGEN_STAMP)
	$(CBINDGEN) --quiet --config crates/ami-ffi/cbindgen.toml --crate ami-ffi --output include/ami.h

## header-check: fail if include/ami.h differs from what the code generates
header-check: $(CBINDGEN_STAMP)
	@mkdir -p $(BUILD)
	$(CBINDGEN) --quiet --config crates/ami-ffi/cbindgen.toml --crate ami-ffi --output $(BUILD)/ami.h
	@diff -u include/ami.h $(BUILD)/ami.h || { echo "include/ami.h is stale: run 'make header'"; exit 1; }

## c-test: C tests against the static library, warnings as errors
c-test:
	$(CARGO) build -p ami-ffi --locked
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_STRICT) -Iinclude bindings/c/tests/version.c target/debug/libami.a -lpthread -ldl -lm -o $(BUILD)/c-version
	$(BUILD)/c-version

## bench: criterion benchmarks (numbers for closing notes; never part of `make test`)
bench:
	$(CARGO) bench -p ami-benches --locked

clean:
	$(CARGO) clean
