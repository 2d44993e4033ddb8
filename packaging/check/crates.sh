#!/usr/bin/env bash
# crates.sh CRATE...: package the publishable crates as `cargo publish` would, and prove each
# package complete without publishing.
#
# `cargo package` of several workspace members at once puts the fresh .crate files in a
# temporary local registry and builds each one from its unpacked contents against the others
# (path dependencies are resolved to those packages, as crates.io would resolve them), so a
# source file, generated file or README outside the package directory breaks this step.
# Then each .crate must carry LICENSE-MIT, LICENSE-APACHE, its README and the metadata
# crates.io shows (description, license, readme, keywords, categories, rust-version).
set -euo pipefail
cargo=${CARGO:-cargo}
args=()
for c in "$@"; do args+=(-p "$c"); done
# --allow-dirty: the check is about what the package contains, which it verifies itself;
# the working tree of a developer is rarely committed when they run it.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# Cargo extracts the temporary registry's crates under $CARGO_HOME/registry/src/<registry>/ and
# never extracts a name-version again once there: without this, a second run would verify the
# crates against the first run's sources (seen: an ami-cli checked against a stale ami-proto).
# The same holds for what was compiled from them: cargo takes registry crates as immutable and
# reuses their build, so the verification builds in its own target directory, from which our
# crates' artefacts are removed first (the dependencies' builds are kept).
target=target/package-check
for c in "$@"; do
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/"$c-$version"
    u=${c//-/_}
    rm -rf "$target"/debug/.fingerprint/"$c"-* "$target"/debug/build/"$c"-* \
        "$target"/debug/deps/lib"$u"-* "$target"/debug/deps/"$u"-* "$target"/package/"$c-$version"*
done

log=$(mktemp); trap 'rm -f "$log"' EXIT
status=0
CARGO_TARGET_DIR=$target "$cargo" package --locked --allow-dirty "${args[@]}" >"$log" 2>&1 || status=$?
grep -v -e '^warning: manifest has no documentation, homepage or repository' \
    -e '^ *|$' -e '^ *= note: see https://doc.rust-lang.org/cargo/reference/manifest.html' \
    -e '^ *Compiling ' -e '^ *Updating crates.io index' -e '^$' "$log" || true
[ "$status" = 0 ] || { echo "crates-check: cargo package failed (exit $status)"; exit 1; }

fail=0
for c in "$@"; do
    before=$fail fail=0
    crate=$target/package/$c-$version.crate
    [ -f "$crate" ] || { echo "crates-check: $crate was not produced"; fail=1; continue; }
    files=$(tar tzf "$crate")
    for f in LICENSE-MIT LICENSE-APACHE README.md Cargo.toml; do
        grep -qx "$c-$version/$f" <<<"$files" || { echo "crates-check: $crate lacks $f"; fail=1; }
    done
    for f in LICENSE-MIT LICENSE-APACHE; do
        cmp -s <(tar xzf "$crate" -O "$c-$version/$f") "$f" ||
            { echo "crates-check: $f in $crate differs from the root's"; fail=1; }
    done
    manifest=$(tar xzf "$crate" -O "$c-$version/Cargo.toml")
    for key in description license readme keywords categories rust-version; do
        grep -q "^$key = " <<<"$manifest" || { echo "crates-check: $crate: Cargo.toml has no $key"; fail=1; }
    done
    if grep -qiE 'example\.(invalid|com|org)|placeholder' <<<"$(grep -E '^(repository|homepage|documentation) = ' <<<"$manifest")"; then
        echo "crates-check: $crate names a placeholder URL"; fail=1
    fi
    [ "$fail" = 0 ] || { echo "crates-check: $c: FAILED"; continue; }
    fail=$before
    printf '%-12s %4d files, %7d bytes: licenses, README, metadata OK; builds from its contents\n' \
        "$c" "$(wc -l <<<"$files")" "$(stat -c %s "$crate")"
done
exit $fail
