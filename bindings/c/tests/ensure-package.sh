#!/bin/sh
# ensure-package.sh PROBE PACKAGE...
#
# Succeeds if the shell command PROBE succeeds. If it does not and we are root on a system with
# apt-get, installs the Debian PACKAGEs (only then: nothing is installed when PROBE already works)
# and probes again. Fails otherwise, so that the caller can fail saying what is missing.
probe=$1
shift
sh -c "$probe" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $* (needed by the C tests)"
    apt-get install -y -q "$@" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null 2>&1; }
    sh -c "$probe" >/dev/null 2>&1 && exit 0
fi
exit 1
