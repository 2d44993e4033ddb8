#!/usr/bin/env bash
# Builds the real Asterisk that the live tests run, once per machine.
#
#   build-asterisk.sh PREFIX TARBALL SHA256
#
# PREFIX is a cache directory outside the checkout, keyed by the tarball's hash (`make asterisk`
# chooses it). When PREFIX holds a finished build whose `asterisk -V` answers, nothing is done.
# Otherwise the tarball is checked against SHA256 and built with ../shared/asterisk/build.sh,
# which installs the Debian build dependencies and downloads nothing (about 7 minutes on 2
# cores). A lock keeps two runs on one machine from building at the same time.
set -euo pipefail
prefix=${1:?usage: build-asterisk.sh PREFIX TARBALL SHA256}
tarball=${2:?usage: build-asterisk.sh PREFIX TARBALL SHA256}
sha=${3:?usage: build-asterisk.sh PREFIX TARBALL SHA256}
stamp="$prefix/.libami-build-complete"

works() { [ -f "$stamp" ] && "$prefix/sbin/asterisk" -V >/dev/null 2>&1; }

mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock 9
if works; then
  echo "make asterisk: reusing $("$prefix/sbin/asterisk" -V) in $prefix"
  exit 0
fi
if [ -f "$stamp" ]; then
  # Built here before, but it no longer starts (its runtime libraries went away?): rebuild.
  echo "make asterisk: $prefix/sbin/asterisk -V fails; building again"
fi
if [ ! -f "$tarball" ]; then
  echo "make asterisk: the Asterisk source $tarball is missing." >&2
  echo "  It comes with the project's shared folder (shared/asterisk/ beside the checkout);" >&2
  echo "  set SHARED=/path/to/shared, or LIBAMI_ASTERISK=<prefix of an Asterisk 22 build>." >&2
  exit 1
fi
got=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
  echo "make asterisk: $tarball has sha256 $got, expected $sha" >&2
  exit 1
fi
builder="$(dirname "$tarball")/build.sh"
[ -f "$builder" ] || { echo "make asterisk: $builder is missing" >&2; exit 1; }
rm -rf "$prefix"
echo "make asterisk: building Asterisk into $prefix (once per machine; about 7 minutes on 2 cores)"
start=$(date +%s)
if ! bash "$builder" "$tarball" "$prefix"; then
  rm -rf "$prefix"
  echo "make asterisk: the build failed (its log is above)" >&2
  exit 1
fi
touch "$stamp"
echo "make asterisk: built in $(( $(date +%s) - start )) s: $("$prefix/sbin/asterisk" -V)"
