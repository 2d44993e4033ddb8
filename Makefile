# libami — everything CI runs is `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never
export RUSTDOCFLAGS := -D warnings

.PHONY: test check-tools fmt-check clippy unit doc bench fuzz-smoke clean

## test: formatting, lints (warnings are errors), every test and doctest, docs (warnings are errors)
test: check-tools fmt-check clippy unit doc
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

## bench: criterion benchmarks (numbers for closing notes; never part of `make test`)
bench:
	$(CARGO) bench -p ami-benches --locked

clean:
	$(CARGO) clean
