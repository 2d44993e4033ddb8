#!/usr/bin/env bash
# live-example.sh EXAMPLE LIBDIR: runs bindings/c/examples/ami_events (built against the installed
# libami in LIBDIR) against a private real Asterisk: a refused login exits 1 (also checked under
# valgrind, with no error and no leak), and a logged-in run prints the events of a call placed
# from Asterisk's CLI, then exits 0 on Ctrl-C (SIGINT).
set -euo pipefail
example=${1:?usage: live-example.sh EXAMPLE LIBDIR}
libdir=${2:?usage: live-example.sh EXAMPLE LIBDIR}
here=$(cd "$(dirname "$0")" && pwd)
live="$here/../../../tests/live/asterisk.sh"
dir=$(mktemp -d /tmp/ami-c.XXXXXX)
pid=""
cleanup() {
  local rc=$?
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    echo "---- the live Asterisk's log tail:"; bash "$live" log "$dir" 40 || true
  fi
  bash "$live" stop "$dir"
  rm -rf "$dir"
  exit $rc
}
trap cleanup EXIT
fail() { echo "c-live: $*" >&2; exit 1; }

read -r port _ < <(LIBAMI_OWNER_PID=$$ bash "$live" start "$dir/ast")
export LD_LIBRARY_PATH=$libdir

# 1. A wrong secret: Asterisk answers `Authentication failed` and closes; the example exits 1.
rc=0
valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all \
  "$example" 127.0.0.1 "$port" admin wrong-secret >"$dir/refused.out" 2>"$dir/refused.err" || rc=$?
[ $rc -eq 1 ] || { cat "$dir/refused.err"; fail "a refused login exited $rc, not 1"; }
grep -q "login failed: Authentication failed" "$dir/refused.err" ||
  { cat "$dir/refused.err"; fail "no 'login failed' message"; }
echo "c-live: refused login exits 1 (valgrind: no errors, no leaks)"

# 2. Logged in: the events of one call, then Ctrl-C.
"$example" 127.0.0.1 "$port" admin admin123 >"$dir/events.out" 2>"$dir/events.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "logged in" "$dir/events.err" && break; sleep 0.1; done
grep -q "logged in" "$dir/events.err" || { cat "$dir/events.err"; fail "the example did not log in"; }
bash "$live" cli "$dir/ast" "channel originate Local/simple@amitest application Wait 1" >/dev/null
for _ in $(seq 1 150); do grep -q "^Event: Cdr" "$dir/events.out" && break; sleep 0.1; done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ $rc -eq 0 ] || { cat "$dir/events.err"; fail "the example exited $rc after Ctrl-C, not 0"; }
for ev in Newchannel Newexten VarSet UserEvent Hangup Cdr; do
  grep -q "^Event: $ev$" "$dir/events.out" || { cat "$dir/events.out"; fail "no $ev event printed"; }
done
grep -q "^Channel: Local/simple@amitest-" "$dir/events.out" || fail "no event of the call's channel"
grep -q "^UserEvent: Simple$" "$dir/events.out" || fail "the dialplan's UserEvent is missing"
echo "c-live: $(grep -c '^Event: ' "$dir/events.out") events of a real call printed; Ctrl-C exits 0"
