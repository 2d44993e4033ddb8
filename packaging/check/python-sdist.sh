#!/usr/bin/env bash
# python-sdist.sh [--lock-only] SDIST_DIR ROOT_LOCK: check the unpacked Python sdist.
#
# The sdist must carry what PyPI and a from-source install need: both license texts (equal to
# the root's), the README, the in-tree build backend that refuses to download Rust, and
# complete metadata (PKG-INFO: license expression, license files, readme, Typing :: Typed, no
# placeholder URL). With --lock-only (after the wheel was built from it): the sdist's
# Cargo.lock, pruned by cargo to the Python crate's workspace, may only lose entries: every
# package in it must be in the root Cargo.lock at the same version and checksum.
set -euo pipefail
lock_only=0
[ "${1:-}" = --lock-only ] && { lock_only=1; shift; }
dir=$1 root_lock=$2
fail() { echo "python-sdist: $dir: $*"; exit 1; }

# "name version checksum" for each [[package]] of a Cargo.lock
packages() {
    awk '/^\[\[package\]\]/ { if (n) print n, v, c; n = v = c = "" }
         /^name = /     { n = $3 } /^version = / { v = $3 } /^checksum = / { c = $3 }
         END { if (n) print n, v, c }' "$1" | sort
}
added=$(comm -13 <(packages "$root_lock") <(packages "$dir/Cargo.lock"))
[ -z "$added" ] || fail "Cargo.lock differs from the root's in: $added"
[ $lock_only = 1 ] && { echo "python-sdist: Cargo.lock of the sdist is a subset of the root's"; exit 0; }

for f in LICENSE-MIT LICENSE-APACHE; do
    cmp -s "$dir/$f" "$f" || fail "$f is missing or differs from the root's"
done
for f in README.md pyproject.toml build_backend/libami_build_backend.py python/libami/py.typed; do
    [ -f "$dir/$f" ] || fail "$f is missing"
done
info=$dir/PKG-INFO
for line in 'License-Expression: MIT OR Apache-2.0' 'License-File: LICENSE-MIT' \
    'License-File: LICENSE-APACHE' 'Classifier: Typing :: Typed' \
    'Description-Content-Type: text/markdown' 'Requires-Python: >=3.9'; do
    grep -q "^$line" "$info" || fail "PKG-INFO lacks '$line'"
done
! grep -qiE '^(Project-URL|Home-page):.*(example\.(invalid|com|org)|placeholder)' "$info" ||
    fail "PKG-INFO names a placeholder URL"
echo "python-sdist: licenses, README, build backend and metadata OK"
