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
CARGO_FUZZ := $(TOOLS)/bin/cargo-fuzz
FUZZ_TARGETS := decode parse_message roundtrip client_session server_session config config_edit perm acl filter
FUZZ_SECONDS ?= 20
CC ?= cc
CFLAGS_STRICT := -std=c11 -Wall -Wextra -Wpedantic -Werror
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all
BUILD := $(CURDIR)/target/make

# install: where and what (`make install PREFIX=/opt/ami`; PROFILE=debug reuses the dev build)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
PROFILE ?= release
CARGO_PROFILE := $(if $(filter debug,$(PROFILE)),,--profile $(PROFILE))

# C tests: each prints `N passed, M failed`; every one gets the captures as arguments
C_TESTS := version decode encode access session config catalog legacy edit
C_TEST_DATA := $(sort $(wildcard bindings/c/tests/data/*.s2c bindings/c/tests/data/*.c2s))
C_PREFIX := $(BUILD)/prefix
ENSURE := sh bindings/c/tests/ensure-package.sh

.PHONY: test check-tools fmt-check clippy unit fuzz-replay doc header header-check c-test \
	c-examples c-install-test c-sanitize c-valgrind c-live service-check miri install bench crates-check abi-check abi-record deb deb-test \
	bench-proxy fuzz-smoke clean asterisk catalog catalog-check nats-server bench-bridge

## test: formatting, lints (warnings are errors), every test and doctest (the live suites against
## a real Asterisk included), docs (warnings are errors), the generated catalog and the C header
## against their sources, the C
## tests (plain, sanitizers, valgrind, the example against Asterisk), Miri, the Python suite and the
## Node suite.
## Nothing is skipped: a missing tool is installed, or the run fails saying what is missing.
test: check-tools catalog-check asterisk fmt-check clippy unit fuzz-replay doc header-check c-test miri c-examples service-check \
	crates-check abi-check deb-test \
	c-live python-test node-test
	@echo "make test: all checks passed"

# ---- The real Asterisk the live suites run ---------------------------------------------------
# Built once per machine into a cache outside the checkout, keyed by the tarball's sha256
# (tests/live/asterisk.env); tests start private instances of it with tests/live/asterisk.sh.
include tests/live/asterisk.env
# The project's shared folder: beside the checkout, else the workplace's copy (SHARED=... to
# point elsewhere). Only the first build on a machine needs it.
SHARED ?= $(firstword $(wildcard $(CURDIR)/../shared /work/shared) $(CURDIR)/../shared)
ASTERISK_TARBALL := $(SHARED)/asterisk/asterisk-$(ASTERISK_VERSION).tar.gz
LIBAMI_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/libami
export LIBAMI_ASTERISK ?= $(LIBAMI_CACHE)/asterisk-$(ASTERISK_VERSION)-$(shell printf %.12s $(ASTERISK_SHA256))
LIVE := tests/live/asterisk.sh

## asterisk: build Asterisk $(ASTERISK_VERSION) into $(LIBAMI_ASTERISK) unless it is there and
## `asterisk -V` answers (about 7 minutes once per machine)
asterisk:
	@bash tests/live/build-asterisk.sh "$(LIBAMI_ASTERISK)" "$(ASTERISK_TARBALL)" "$(ASTERISK_SHA256)"

check-tools:
	@$(CARGO) fmt --version >/dev/null 2>&1 || { echo "rustfmt is missing (rustup component add rustfmt)"; exit 1; }
	@$(CARGO) clippy --version >/dev/null 2>&1 || { echo "clippy is missing (rustup component add clippy)"; exit 1; }

fmt-check:
	$(CARGO) fmt --all --check
	cd fuzz && $(CARGO) fmt --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	cd fuzz && $(CARGO) clippy --all-targets --locked -- -D warnings

# ---- nats-server for `ami bridge`'s tests: Debian's package (2.9), installed here as root ----
NATS_SERVER_SERIES := 2.9.
## nats-server: install Debian's nats-server (apt-get, as root) unless a 2.9 one is on PATH
nats-server:
	@nats-server --version 2>/dev/null | grep -q 'v$(NATS_SERVER_SERIES)' || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nats-server (Debian's package; needed by the bridge tests)"; \
	    apt-get install -y -q nats-server >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nats-server >/dev/null 2>&1; }; \
	  fi; \
	  nats-server --version 2>/dev/null | grep -q 'v$(NATS_SERVER_SERIES)' || { \
	    echo "nats-server $(NATS_SERVER_SERIES)x is missing: run make as root on Debian 12 (apt-get install nats-server)"; \
	    exit 1; }; }

unit: nats-server
	$(CARGO) test --workspace --locked

## fuzz-replay: every fuzz seed and regression input through its target, on stable Rust
fuzz-replay:
	cd fuzz && $(CARGO) test --locked

doc:
	$(CARGO) doc --workspace --no-deps --locked

# ---- The catalog: every AMI action and event, generated from Asterisk's documentation ----
# ASTERISK_XML: the documentation XML of the Asterisk release the catalog follows (the one the
# live suites run), in the shared folder (SHARED, see above); set it when it lives elsewhere.
ASTERISK_DOC := core-en_US-$(ASTERISK_VERSION).xml.xz
ASTERISK_XML ?= $(SHARED)/asterisk/$(ASTERISK_DOC)
CATALOG_GEN := $(CARGO) run -q --locked -p ami-catalog-gen --
define need_asterisk_xml
	@test -n "$(ASTERISK_XML)" && test -f "$(ASTERISK_XML)" || { \
		echo "$(ASTERISK_DOC) (Asterisk's documentation XML) is not at '$(ASTERISK_XML)'"; \
		echo "(searched $(CURDIR)/../shared/asterisk, then /work/shared/asterisk):"; \
		echo "run make with ASTERISK_XML=/path/to/$(ASTERISK_DOC)"; exit 1; }
endef

## catalog: regenerate catalog/asterisk.json (the facts, no prose), crates/ami-catalog/src/generated
## and the Python catalog modules from ASTERISK_XML
catalog:
	$(need_asterisk_xml)
	$(CATALOG_GEN) --xml "$(ASTERISK_XML)" --root "$(CURDIR)"

## catalog-check: fail if a committed generated file differs from a fresh generation
catalog-check:
	$(need_asterisk_xml)
	$(CATALOG_GEN) --xml "$(ASTERISK_XML)" --root "$(CURDIR)" --check

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

## c-test: install into a temporary prefix, build every C test against it with pkg-config
## (warnings are errors) and run it normally, under ASan+UBSan and under valgrind
c-test: c-install-test c-sanitize c-valgrind

## install: libami.so.$(VERSION) (SONAME libami.so.$(SOVERSION)) and its links, libami.a,
## ami.h and libami.pc, and the `ami` tool with its man page and shell completions, under
## PREFIX (DESTDIR is honoured)
install:
	$(CARGO) build -p ami-ffi -p ami-cli --locked $(CARGO_PROFILE)
	install -d "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(BINDIR)" \
		"$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(DATADIR)/bash-completion/completions" \
		"$(DESTDIR)$(DATADIR)/zsh/vendor-completions" "$(DESTDIR)$(DATADIR)/fish/vendor_completions.d"
	install -m 0755 target/$(PROFILE)/ami "$(DESTDIR)$(BINDIR)/ami"
	target/$(PROFILE)/ami man > "$(DESTDIR)$(MANDIR)/man1/ami.1"
	target/$(PROFILE)/ami completions bash > "$(DESTDIR)$(DATADIR)/bash-completion/completions/ami"
	target/$(PROFILE)/ami completions zsh > "$(DESTDIR)$(DATADIR)/zsh/vendor-completions/_ami"
	target/$(PROFILE)/ami completions fish > "$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/ami.fish"
	install -m 0755 target/$(PROFILE)/libami.so "$(DESTDIR)$(LIBDIR)/libami.so.$(VERSION)"
	ln -sf libami.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/libami.so.$(SOVERSION)"
	ln -sf libami.so.$(SOVERSION) "$(DESTDIR)$(LIBDIR)/libami.so"
	install -m 0644 target/$(PROFILE)/libami.a "$(DESTDIR)$(LIBDIR)/libami.a"
	install -m 0644 include/ami.h "$(DESTDIR)$(INCLUDEDIR)/ami.h"
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' bindings/c/libami.pc.in > "$(DESTDIR)$(LIBDIR)/pkgconfig/libami.pc"

# The C tests link the installed copy exactly as a user would: cc app.c $(pkg-config ...).
c-install-test:
	@$(ENSURE) 'command -v pkg-config' pkg-config || { echo "pkg-config is missing (apt-get install pkg-config)"; exit 1; }
	rm -rf $(C_PREFIX)
	@$(MAKE) --no-print-directory install PREFIX=$(C_PREFIX) PROFILE=debug
	readelf -d $(C_PREFIX)/lib/libami.so | grep -q 'SONAME.*\[libami\.so\.$(SOVERSION)\]'
	grep -q '^\.TH ami 1' $(C_PREFIX)/share/man/man1/ami.1
	$(C_PREFIX)/bin/ami --version
	@for t in $(C_TESTS); do \
		echo "cc $$t.c \$$(pkg-config --cflags --libs libami)"; \
		$(CC) $(CFLAGS_STRICT) bindings/c/tests/$$t.c \
			$$(PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig pkg-config --cflags --libs libami) \
			-o $(BUILD)/c-$$t; \
		readelf -d $(BUILD)/c-$$t | grep -q 'NEEDED.*\[libami\.so\.$(SOVERSION)\]'; \
		echo -n "$$t: "; LD_LIBRARY_PATH=$(C_PREFIX)/lib $(BUILD)/c-$$t $(C_TEST_DATA) | tail -n 1; \
	done

## c-examples: build every program in bindings/c/examples against the installed copy with the
## strict flags (c-live runs them against a real Asterisk)
C_EXAMPLES := $(basename $(notdir $(wildcard bindings/c/examples/*.c)))
c-examples: c-install-test
	@for e in $(C_EXAMPLES); do \
		echo "cc examples/$$e.c \$$(pkg-config --cflags --libs libami)"; \
		$(CC) $(CFLAGS_STRICT) bindings/c/examples/$$e.c \
			$$(PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig pkg-config --cflags --libs libami) \
			-o $(BUILD)/example-$$e; \
	done

## c-live: the example program against a private real Asterisk (tests/live): it prints the
## events of a real call, exits 0 on Ctrl-C and 1 on a refused login (that run under valgrind)
c-live: c-examples asterisk
	@$(ENSURE) 'valgrind --version' valgrind || { echo "c-live: valgrind is missing (apt-get install valgrind)"; exit 1; }
	bash bindings/c/tests/live-example.sh $(BUILD)/example-ami_events $(C_PREFIX)/lib

## service-check: the systemd units of `ami proxy` and `ami bridge` (packaging/systemd) pass
## `systemd-analyze verify` and keep their exposure scores at most 2.0 (`systemd-analyze
## security`), against the installed `ami` and man page; the example /etc/ami/proxy.conf loads
## (`--check-config`), and `ami check` finds no error in it nor in the example bridge.conf
service-check: c-install-test
	@$(ENSURE) 'systemd-analyze --version' systemd || { echo "service-check: systemd-analyze is missing (apt-get install systemd)"; exit 1; }
	@rm -rf $(BUILD)/units && mkdir -p $(BUILD)/units
	@for u in packaging/systemd/*.service; do \
		sed "s|/usr/bin/ami|$(C_PREFIX)/bin/ami|g" $$u > $(BUILD)/units/$$(basename $$u); \
		echo "systemd-analyze verify $$u"; \
		MANPATH=$(C_PREFIX)/share/man systemd-analyze verify $(BUILD)/units/$$(basename $$u); \
		systemd-analyze security --offline=true --threshold=20 $(BUILD)/units/$$(basename $$u) >/dev/null || \
			{ systemd-analyze security --offline=true $(BUILD)/units/$$(basename $$u); echo "$$u: exposure above 2.0"; exit 1; }; \
	done
	PBX1_SECRET=example $(C_PREFIX)/bin/ami proxy --config packaging/etc/ami/proxy.conf --check-config
	$(C_PREFIX)/bin/ami check packaging/etc/ami/proxy.conf >/dev/null
	$(C_PREFIX)/bin/ami check packaging/etc/ami/bridge.conf >/dev/null

# ASan + UBSan (LeakSanitizer included), against the installed static library.
c-sanitize: c-install-test
	@if ! $(ENSURE) 'echo "int main(void){return 0;}" | $(CC) $(SANITIZE) -x c - -o $(BUILD)/asan-probe && $(BUILD)/asan-probe' libasan8 libubsan1; then \
		echo "c-sanitize: $(CC) cannot build with -fsanitize=address,undefined: install libasan8 and libubsan1 (apt-get, as root)"; \
		exit 1; \
	else for t in $(C_TESTS); do \
		$(CC) $(CFLAGS_STRICT) $(SANITIZE) -I$(C_PREFIX)/include bindings/c/tests/$$t.c \
			$(C_PREFIX)/lib/libami.a -lpthread -ldl -lm -o $(BUILD)/c-$$t-asan; \
		echo -n "$$t (asan+ubsan): "; ASAN_OPTIONS=detect_leaks=1 $(BUILD)/c-$$t-asan $(C_TEST_DATA) | tail -n 1; \
	done; fi

# valgrind, zero errors and zero leaks of any kind, on the programs linked to the installed .so.
c-valgrind: c-install-test
	@if ! $(ENSURE) 'valgrind --version' valgrind; then \
		echo "c-valgrind: valgrind is missing: install it (apt-get install valgrind, as root)"; \
		exit 1; \
	else for t in $(C_TESTS); do \
		echo -n "$$t (valgrind): "; \
		LD_LIBRARY_PATH=$(C_PREFIX)/lib $(VALGRIND) $(BUILD)/c-$$t $(C_TEST_DATA) | tail -n 1; \
	done; fi

## miri: the C API's Rust-side tests (every extern "C" function called directly) and the SIMD
## block classifier (the framer's one unsafe crate) under Miri, which checks for undefined
## behaviour; the two tests that read files are ignored there. ami-simd runs three times: as
## built (portable code: Miri reports no CPU feature), and compiled for AVX2 and for AVX-512BW,
## whose intrinsics Miri emulates. The nightly components are installed here; if they cannot
## be, the step fails saying so.
MIRI_SIMD_FEATURES := +avx2 +avx512f,+avx512bw
miri:
	@rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 || { \
	  echo "miri: the nightly toolchain's miri and rust-src components could not be installed" \
	       "(rustup component add --toolchain nightly miri rust-src)"; exit 1; }
	MIRIFLAGS=-Zmiri-strict-provenance $(CARGO) +nightly miri test -p ami-ffi --lib --locked
	MIRIFLAGS=-Zmiri-strict-provenance $(CARGO) +nightly miri test -p ami-simd --locked
	@for f in $(MIRI_SIMD_FEATURES); do \
	  echo "== ami-simd under Miri, -C target-feature=$$f"; \
	  RUSTFLAGS="-C target-feature=$$f" MIRIFLAGS=-Zmiri-strict-provenance \
	    CARGO_TARGET_DIR=target/miri-simd $(CARGO) +nightly miri test -p ami-simd --lib --locked || exit 1; \
	done

## bench: criterion benchmarks (numbers for closing notes; never part of `make test`)
bench:
	$(CARGO) bench -p ami-benches --locked

## bench-proxy: events/s and added latency of `ami proxy` against `ami mock` directly, and the
## tenant isolation figure against the real Asterisk
bench-proxy: asterisk
	$(CARGO) build --release --locked -p ami-cli
	$(CARGO) run --release --locked -p ami-benches --example proxy_bench -- target/release/ami

## bench-bridge: events/s from 1, 10 and 100 simulated PBXs through one `ami bridge` to a
## JetStream consumer (every event checked), publish-to-consume latency at half the saturated
## rate, CPU of every process, against JetStream alone in the same run; 3 rounds, min/median/max
## (BENCH_ROUNDS, BENCH_PBXS, BENCH_EVENTS, BENCH_PACE, BENCH_RATE, BENCH_STORAGE,
## BENCH_DUPLICATE_WINDOW; not part of `make test`)
bench-bridge: nats-server
	$(CARGO) build --release --locked -p ami-cli
	$(CARGO) run --release --locked -p ami-benches --example bridge_bench -- target/release/ami docs/bridge/nats-server.conf

# cargo-fuzz, installed into .tools/ by the Makefile itself.
$(CARGO_FUZZ):
	$(CARGO) install --locked --quiet cargo-fuzz --root $(TOOLS)

## fuzz-smoke: every fuzz target for FUZZ_SECONDS (default 20) from its seeds, with the
## dictionary (needs the nightly toolchain); the corpus grows in fuzz/corpus/ (not in git)
fuzz-smoke: $(CARGO_FUZZ)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  (cd fuzz && RUSTUP_TOOLCHAIN=nightly $(CARGO_FUZZ) run --features libfuzzer $$t corpus/$$t seeds/$$t \
	    -- -dict=ami.dict -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1) || exit 1; \
	done

# ---- Release artefacts: crates, ABI record, Debian packages (docs/RELEASING.md) --------------
# The crates published to crates.io, dependencies first (ami-testkit, ami-catalog-gen and the
# binding crates are not published: see their Cargo.toml).
PUBLISHED_CRATES := ami-simd ami-proto ami-catalog ami-tokio ami-ffi ami-cli

## crates-check: package every published crate as `cargo publish` would (without publishing):
## each is built from its unpacked .crate against the others, and must carry LICENSE-MIT,
## LICENSE-APACHE, its README and complete crates.io metadata
crates-check:
	CARGO=$(CARGO) bash packaging/check/crates.sh $(PUBLISHED_CRATES)

## abi-check: the C ABI against its record (abi/libami.symbols: exported symbols with the version
## that added each; abi/ami.h.api: the header's declarations): a recorded symbol or declaration
## that is gone or changed fails unless the SONAME changed (the next major version) and
## CHANGELOG.md announces it; an addition fails until recorded with `make abi-record`. Then the
## check itself is tested: a stand-in libami.so.$(SOVERSION) lacking one recorded symbol must fail
abi-check: c-install-test
	python3 packaging/check/abi.py check $(C_PREFIX)/lib/libami.so.$(VERSION) include/ami.h $(VERSION)
	@mkdir -p $(BUILD)/abi-self-test
	@sed -n 's/^\(ami_[A-Za-z0-9_]*\) .*/void \1(void) {}/p' abi/libami.symbols | grep -v '^void ami_version(' \
		> $(BUILD)/abi-self-test/stand-in.c
	@$(CC) -shared -fPIC -Wl,-soname,libami.so.$(SOVERSION) $(BUILD)/abi-self-test/stand-in.c \
		-o $(BUILD)/abi-self-test/libami.so
	@if python3 packaging/check/abi.py check $(BUILD)/abi-self-test/libami.so include/ami.h $(VERSION) \
		> $(BUILD)/abi-self-test/out.txt; then \
		echo "abi-check: a library without ami_version passed the check"; exit 1; fi
	@grep -q 'REMOVED from libami.so.$(SOVERSION): ami_version' $(BUILD)/abi-self-test/out.txt || \
		{ cat $(BUILD)/abi-self-test/out.txt; echo "abi-check: the removal of ami_version was not reported"; exit 1; }
	@echo "abi-check: a stand-in library without ami_version is refused, as it must be"

## abi-record: rewrite abi/ from the built library and header (additions get version $(VERSION));
## refuses a removal or change unless the SONAME changed and CHANGELOG.md names the new one
abi-record: c-install-test
	python3 packaging/check/abi.py record $(C_PREFIX)/lib/libami.so.$(VERSION) include/ami.h $(VERSION)

# Debian packages (packaging/deb/build.sh, with dpkg-deb): libami0, libami-dev and ami-tools,
# for this machine's architecture. DEB_MAINTAINER (Debian's mandatory Maintainer field): a
# release sets it, or DEBFULLNAME and DEBEMAIL as for dch; otherwise the packages name an
# address under .invalid that says they are a test build (docs/RELEASING.md).
DEB_OUT := $(BUILD)/deb
DEB_STAGE := $(BUILD)/deb-stage
DEB_PROFILE ?= release
DEB_MAINTAINER ?= $(if $(DEBEMAIL),$(or $(DEBFULLNAME),The libami developers) <$(DEBEMAIL)>,libami test build <test-build@libami.invalid>)
LINTIAN_VERSION := 2.116.3+deb12u1
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

## deb: the three .deb files in target/make/deb (DEB_PROFILE=release by default)
deb:
	@$(ENSURE) 'dpkg-architecture --version && dpkg-shlibdeps --version' dpkg-dev || { echo "deb: dpkg-dev is missing (apt-get install dpkg-dev)"; exit 1; }
	rm -rf $(DEB_STAGE)
	@$(MAKE) --no-print-directory install DESTDIR=$(DEB_STAGE) PREFIX=/usr \
		LIBDIR=/usr/lib/$$(dpkg-architecture -qDEB_HOST_MULTIARCH) PROFILE=$(DEB_PROFILE)
	VERSION=$(VERSION) DEB_MAINTAINER='$(DEB_MAINTAINER)' bash packaging/deb/build.sh $(DEB_STAGE) $(DEB_OUT)

## deb-test: build the packages (from the dev build), lintian (warnings are errors; each
## override is explained in packaging/deb/*.lintian-overrides), install them with dpkg (root, or
## sudo -n), then use them: pkg-config, a C program compiled and run against the installed
## library, `ami --version`, `systemd-analyze verify` of the installed units, the licenses;
## then purge them and check that every file they installed is gone
deb-test:
	@$(MAKE) --no-print-directory deb DEB_PROFILE=debug
	@$(ENSURE) 'lintian --version' lintian=$(LINTIAN_VERSION) || { echo "deb-test: lintian is missing (apt-get install lintian)"; exit 1; }
	lintian --fail-on error,warning --display-info $(DEB_OUT)/*.deb
	@test -z "$(SUDO)" || $(SUDO) true || { echo "deb-test: installing the packages needs root (or sudo without a password)"; exit 1; }
	$(SUDO) dpkg -i $(DEB_OUT)/libami0_*.deb $(DEB_OUT)/libami-dev_*.deb $(DEB_OUT)/ami-tools_*.deb
	bash packaging/deb/installed-test.sh "$(SUDO)"
	@dpkg -L libami0 libami-dev ami-tools | sort -u > $(BUILD)/deb-files.txt
	$(SUDO) dpkg --purge ami-tools libami-dev libami0
	@left=$$(while read -r f; do if [ ! -d "$$f" ] && { [ -e "$$f" ] || [ -L "$$f" ]; }; then echo "$$f"; fi; done < $(BUILD)/deb-files.txt); \
		test -z "$$left" || { echo "deb-test: left after dpkg --purge:"; echo "$$left"; exit 1; }
	@for d in /etc/ami /usr/share/doc/libami0 /usr/share/doc/libami-dev /usr/share/doc/ami-tools; do \
		test ! -e $$d || { echo "deb-test: $$d is left after dpkg --purge"; exit 1; }; done
	@echo "deb-test: installed, used and purged; no file left"

# ---- Python package (bindings/python) -------------------------------------------------------
# Everything is installed here from PyPI with pinned versions: maturin, ziglang (the linker that
# targets glibc 2.17) and auditwheel in a build venv, the wheel plus pytest and mypy in fresh test
# venvs, panoramisk only in the bench venv.
.PHONY: python-wheel python-test python-matrix python-pip-install-test python-bench
PYTHON ?= python3
MATURIN_VERSION := 1.9.6
ZIGLANG_VERSION := 0.14.1
AUDITWHEEL_VERSION := 6.8.2
PYTEST_VERSION := 8.3.4
MYPY_VERSION := 1.13.0
# The documented JetStream consumer of `ami bridge` (docs/bridge/nats_consumer.py) is tested
# (2.9 subscribes pull consumers on _INBOX. whatever inbox_prefix says; 2.16 does not).
NATS_PY_VERSION := 2.16.0
PANORAMISK_VERSION := 1.4
PY_BUILD_VENV := $(BUILD)/py
PY_TEST_VENV := $(BUILD)/py-test
PY_PIP_VENV := $(BUILD)/py-pip
PY_BENCH_VENV := $(BUILD)/py-bench
PY_WHEELS := $(BUILD)/wheels
PY_SDIST := $(BUILD)/sdist
MATURIN := $(PY_BUILD_VENV)/bin/maturin
MATURIN_STAMP := $(PY_BUILD_VENV)/maturin-$(MATURIN_VERSION)-zig-$(ZIGLANG_VERSION)-auditwheel-$(AUDITWHEEL_VERSION).stamp
BENCH_CORPUS := $(BUILD)/corpus-8mb.bin
# The release wheel's limits: the manylinux policy auditwheel must report, and its size.
PY_WHEEL_TAG := manylinux_2_17_x86_64
PY_WHEEL_MAX_BYTES := 5000000
# The interpreters the wheel is tested on: `make test` runs the oldest and the newest supported
# CPython (pyenv's ~/.pyenv/versions/X.Y.*), `make python-matrix` all of them.
PY_VERSIONS_TEST := 3.9 3.13
PY_VERSIONS_ALL := 3.9 3.10 3.11 3.12 3.13
PYENV_VERSIONS ?= $(HOME)/.pyenv/versions

$(MATURIN_STAMP):
	rm -rf $(PY_BUILD_VENV)
	$(PYTHON) -m venv $(PY_BUILD_VENV)
	$(PY_BUILD_VENV)/bin/pip install -q --disable-pip-version-check maturin==$(MATURIN_VERSION) \
		ziglang==$(ZIGLANG_VERSION) auditwheel==$(AUDITWHEEL_VERSION)
	touch $@

## python-wheel: the release artefacts in target/make: the sdist (sdist/), then the wheel built
## from that sdist (wheels/), as a release does: abi3 (CPython 3.9+), linked by zig against
## glibc 2.17 (manylinux2014), stripped. Fails unless the sdist carries the licenses, README and
## the build backend and adds no dependency to Cargo.lock, auditwheel reports $(PY_WHEEL_TAG),
## and the wheel is under $(PY_WHEEL_MAX_BYTES) bytes with both licenses in its dist-info
python-wheel: $(MATURIN_STAMP)
	rm -rf $(PY_WHEELS) $(PY_SDIST)
	$(MATURIN) sdist -m bindings/python/Cargo.toml -o $(PY_SDIST) 2>&1 | grep -v -e 'manifest has no documentation' -e '^ *|$$' -e '^ *= note: see https' || true
	tar xzf $(PY_SDIST)/libami-$(VERSION).tar.gz -C $(PY_SDIST)
	bash packaging/check/python-sdist.sh $(PY_SDIST)/libami-$(VERSION) Cargo.lock
	# Not --locked: the sdist's workspace holds only the Python crate's members, so cargo prunes
	# the lock; python-sdist.sh checks below that nothing was added or changed in it.
	cd $(PY_SDIST)/libami-$(VERSION) && PATH=$(PY_BUILD_VENV)/bin:$$PATH CARGO_TARGET_DIR=$(CURDIR)/target/wheel \
		$(MATURIN) build --release -q --zig --compatibility manylinux2014 -o $(PY_WHEELS)
	bash packaging/check/python-sdist.sh --lock-only $(PY_SDIST)/libami-$(VERSION) Cargo.lock
	$(PY_BUILD_VENV)/bin/auditwheel show $(PY_WHEELS)/libami-*.whl | tee $(BUILD)/auditwheel.txt
	@tr '\n' ' ' < $(BUILD)/auditwheel.txt | grep -q 'consistent with the following platform tag: *"$(PY_WHEEL_TAG)"' || \
		{ echo "python-wheel: auditwheel does not report $(PY_WHEEL_TAG)"; exit 1; }
	@w=$$(ls $(PY_WHEELS)/libami-*.whl); size=$$(stat -c %s $$w); echo "$$(basename $$w): $$size bytes"; \
		test $$size -lt $(PY_WHEEL_MAX_BYTES) || { echo "python-wheel: $$w is $$size bytes (limit $(PY_WHEEL_MAX_BYTES))"; exit 1; }; \
		case $$w in *-cp39-abi3-*) ;; *) echo "python-wheel: $$w is not a cp39-abi3 wheel"; exit 1;; esac; \
		for f in LICENSE-MIT LICENSE-APACHE; do \
			unzip -p $$w libami-$(VERSION).dist-info/licenses/$$f | cmp -s - $$f || \
				{ echo "python-wheel: $$w lacks $$f"; exit 1; }; done; \
		unzip -p $$w libami/_native.abi3.so > $(BUILD)/wheel-native.so; \
		! readelf -S $(BUILD)/wheel-native.so | grep -q '\.debug_' || \
			{ echo "python-wheel: the extension carries debug sections (not stripped)"; exit 1; }

# $(1): venv directory, $(2): what to install into it, $(3): the interpreter (default $(PYTHON))
define fresh_venv
	rm -rf $(1)
	$(or $(3),$(PYTHON)) -m venv $(1)
	$(1)/bin/pip install -q --disable-pip-version-check $(2)
endef

# $(1): X.Y: the newest pyenv CPython X.Y.*, or a failure naming the missing interpreter.
pyenv_python = $(or $(lastword $(sort $(wildcard $(PYENV_VERSIONS)/$(1).*/bin/python))),$(error \
	CPython $(1) is missing: the wheel is tested on it; install it (pyenv install $(1)) under $(PYENV_VERSIONS)))

# $(1): X.Y: the pytest suite against the wheel installed into a fresh venv of CPython X.Y, from
# a directory where the source tree is not importable.
define py_suite
	$(call fresh_venv,$(PY_TEST_VENV)-$(1),$(PY_WHEELS)/libami-*.whl pytest==$(PYTEST_VERSION) \
		nats-py==$(NATS_PY_VERSION),$(call pyenv_python,$(1)))
	@echo "== pytest on $$($(PY_TEST_VENV)-$(1)/bin/python --version)"
	cd $(PY_TEST_VENV)-$(1) && LIBAMI_CAPTURES=$(CURDIR)/crates/ami-proto/tests/data/asterisk-22 \
		LIBAMI_AMI_BIN=$(CURDIR)/target/debug/ami \
		bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/bindings/python/tests

endef

## python-test: install the wheel in a fresh venv with pytest and mypy, check the .pyi stubs
## with mypy.stubtest and the examples with mypy --strict; run the pytest suite against the
## installed package on the oldest and the newest supported CPython ($(PY_VERSIONS_TEST)); then
## `pip install ./bindings/python`
python-test: python-wheel asterisk nats-server
	$(call fresh_venv,$(PY_TEST_VENV),$(PY_WHEELS)/libami-*.whl pytest==$(PYTEST_VERSION) mypy==$(MYPY_VERSION) \
		nats-py==$(NATS_PY_VERSION))
	$(CARGO) build -q --locked -p ami-cli
	cd $(PY_TEST_VENV) && bin/python -m mypy.stubtest libami --allowlist $(CURDIR)/bindings/python/stubtest-allowlist.txt
	cd $(PY_TEST_VENV) && bin/python -m mypy --strict --no-incremental $(CURDIR)/bindings/python/examples
	$(foreach v,$(PY_VERSIONS_TEST),$(call py_suite,$(v)))
	@$(MAKE) --no-print-directory python-pip-install-test

## python-matrix: the pytest suite against the installed wheel on every supported CPython
## ($(PY_VERSIONS_ALL)); not part of `make test`, which runs the oldest and the newest
python-matrix: python-wheel asterisk nats-server
	$(CARGO) build -q --locked -p ami-cli
	$(foreach v,$(PY_VERSIONS_ALL),$(call py_suite,$(v)))

## python-pip-install-test: what a user does on a fresh machine: `pip install ./bindings/python`
## (pip fetches maturin from PyPI and builds the extension), then import it and decode a message;
## and, on a machine without Rust (cargo not on PATH), the same install must stop at once saying
## that Rust is needed, without downloading a toolchain
python-pip-install-test:
	$(call fresh_venv,$(PY_PIP_VENV),./bindings/python)
	cd $(PY_PIP_VENV) && bin/python -c 'import libami; d = libami.Decoder(); \
		d.feed(b"Asterisk Call Manager/11.0.0\r\nEvent: Hangup\r\nChannel: PJSIP/1\r\n\r\n"); \
		items = list(d); assert items[1]["channel"] == "PJSIP/1", items; \
		print("pip install ./bindings/python: libami", libami.__version__, "OK")'
	@rm -rf $(PY_PIP_VENV)-norust && $(PYTHON) -m venv $(PY_PIP_VENV)-norust
	@echo "pip install ./bindings/python without cargo on PATH: must fail, saying Rust is needed"
	@path=$(PY_PIP_VENV)-norust/bin; for d in $$(echo "$$PATH" | tr : ' '); do \
		[ -x $$d/cargo ] || path=$$path:$$d; done; \
	if PATH=$$path $(PY_PIP_VENV)-norust/bin/pip install --disable-pip-version-check \
		./bindings/python > $(BUILD)/pip-norust.log 2>&1; then \
		echo "pip install without Rust succeeded: it must have downloaded a toolchain"; exit 1; fi; \
	grep -q 'libami: building from source needs Rust' $(BUILD)/pip-norust.log || \
		{ cat $(BUILD)/pip-norust.log; echo "pip install without Rust failed without saying why"; exit 1; }; \
	! grep -qi -e puccinialin -e 'installing into a temporary' $(BUILD)/pip-norust.log || \
		{ cat $(BUILD)/pip-norust.log; echo "pip install without Rust tried to download a toolchain"; exit 1; }; \
	grep -A4 'libami: building from source' $(BUILD)/pip-norust.log | sed 's/^/  | /'

$(BENCH_CORPUS):
	@mkdir -p $(BUILD)
	$(CARGO) run -q -p ami-benches --release --locked --example dump_corpus -- $@ 8

## python-bench: events/s decoding the generated corpus with libami and with panoramisk's own
## parser path (installed into the bench venv only), in the same run (not part of `make test`)
python-bench: python-wheel $(BENCH_CORPUS)
	$(call fresh_venv,$(PY_BENCH_VENV),$(PY_WHEELS)/libami-*.whl panoramisk==$(PANORAMISK_VERSION))
	cd $(PY_BENCH_VENV) && bin/python $(CURDIR)/bindings/python/bench/bench_decode.py $(BENCH_CORPUS)

# ---- Node package (bindings/node) -----------------------------------------------------------
# npm installs what package-lock.json pins (@napi-rs/cli, typescript, @types/node); the addon is
# built by napi-rs from the crate libami-node, the TypeScript by tsc --strict. The bench's own
# lock (bench/package-lock.json) pins the npm AMI clients it compares with.
.PHONY: node-build node-test node-pack-test node-bench
NPM ?= npm
NODE_DIR := bindings/node
NODE_MODULES := $(NODE_DIR)/node_modules/.libami-ci.stamp
NODE_PACK := $(BUILD)/node-pack

$(NODE_MODULES): $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	@command -v node >/dev/null && command -v $(NPM) >/dev/null || { \
		echo "node and npm are missing: install Node.js 20 or later (apt-get install nodejs npm)"; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { \
		echo "Node.js $$(node --version) is too old: the package needs Node.js 20 or later"; exit 1; }
	cd $(NODE_DIR) && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

## node-build: the addon (napi build, release) and the TypeScript (tsc --strict) in bindings/node,
## with copies of the licence texts for `npm pack` (npm leaves symbolic links out of a package)
node-build: $(NODE_MODULES)
	cp LICENSE-MIT LICENSE-APACHE $(NODE_DIR)/
	cd $(NODE_DIR) && npx napi build --platform --release --strip --output-dir native --js index.js \
		--dts index.d.ts -- --locked
	cd $(NODE_DIR) && npx tsc -p tsconfig.json

## node-test: the Node suite (node --test): the captures, the encoder, access rules, the sans-IO
## sessions, the client against serve(), `ami mock`, hostile servers and a real Asterisk; the
## examples under tsc --strict; then `npm pack` installed and used from a fresh directory
node-test: node-build asterisk
	$(CARGO) build -q --locked -p ami-cli
	cd $(NODE_DIR) && npx tsc -p examples/tsconfig.json
	cd $(NODE_DIR) && npx tsc -p test/tsconfig.json
	cd $(NODE_DIR) && LIBAMI_AMI_BIN=$(CURDIR)/target/debug/ami \
		LIBAMI_CAPTURES=$(CURDIR)/crates/ami-proto/tests/data/asterisk-22 \
		node --test --test-concurrency=1 dist-test/*.test.js
	@$(MAKE) --no-print-directory node-pack-test

## node-pack-test: `npm pack`, then what a user does: install the tarball in a fresh project,
## decode a message from JavaScript, and compile a TypeScript program against it with --strict
node-pack-test: $(NODE_MODULES)
	rm -rf $(NODE_PACK) && mkdir -p $(NODE_PACK)/app
	cd $(NODE_DIR) && $(NPM) pack --ignore-scripts --pack-destination $(NODE_PACK) --loglevel=error
	@ls -l $(NODE_PACK)/libami-*.tgz
	cd $(NODE_PACK)/app && echo '{"name":"app","private":true}' > package.json && \
		$(NPM) install --no-audit --no-fund --loglevel=error ../libami-*.tgz
	cd $(NODE_PACK)/app && node $(CURDIR)/$(NODE_DIR)/test/installed.cjs
	cp $(NODE_DIR)/examples/*.ts $(NODE_PACK)/app/
	cd $(NODE_PACK)/app && $(CURDIR)/$(NODE_DIR)/node_modules/.bin/tsc --strict --noEmit --module node16 \
		--moduleResolution node16 --target ES2022 --types node --typeRoots $(CURDIR)/$(NODE_DIR)/node_modules/@types *.ts

$(NODE_DIR)/bench/node_modules/.libami-ci.stamp: $(NODE_DIR)/bench/package-lock.json
	cd $(NODE_DIR)/bench && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

## node-bench: events/s decoding the generated corpus with libami and with the parsers of the npm
## packages yana and asterisk-manager, in the same run (not part of `make test`)
node-bench: node-build $(BENCH_CORPUS) $(NODE_DIR)/bench/node_modules/.libami-ci.stamp
	node --expose-gc $(NODE_DIR)/bench/decode.js $(BENCH_CORPUS)

clean:
	$(CARGO) clean
