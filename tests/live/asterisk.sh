#!/usr/bin/env bash
# The live-Asterisk harness shared by every test suite (Rust, Python, C, CLI, Node): it starts a
# private Asterisk 22 on a free loopback port with its own run directory, waits until AMI
# answers, and stops it by its PID.
#
#   asterisk.sh start DIR [CONF_DIR]  lay out DIR (etc/, run/, log/, ...) from CONF_DIR (default:
#                                     the conformance configs), start Asterisk, wait for the AMI
#                                     banner; prints `PORT PID`. DIR must not hold a running one.
#   asterisk.sh stop DIR              SIGTERM, then SIGKILL after 10 s; quiet if not running
#   asterisk.sh restart DIR           stop, then start again with the same files and port
#   asterisk.sh cli DIR COMMAND       run a CLI command in that instance (`asterisk -rx`)
#   asterisk.sh log DIR [N]           the last N (default 40) lines of its logs
#   asterisk.sh wait DIR              wait until AMI answers again (after a restart by CLI)
#
# Asterisk comes from $LIBAMI_ASTERISK, by default the prefix `make asterisk` builds into.
# The instance belongs to the process that started the script (its parent, or $LIBAMI_OWNER_PID):
# a watchdog stops it when that process is gone, so a test run that is killed leaves nothing
# behind. Keep DIR short (under ~80 characters): Asterisk's control socket lives in DIR/run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
default_conf="$repo/crates/ami-proto/tests/data/asterisk-22"
# How long Asterisk may take until AMI answers (it loads about 250 modules first).
start_timeout=${LIBAMI_ASTERISK_START_TIMEOUT:-60}

die() { echo "asterisk.sh: $*" >&2; exit 1; }

# shellcheck source=asterisk.env
. "$here/asterisk.env"

# The prefix `make asterisk` builds into (the same rule as the Makefile's).
default_prefix() {
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/libami/asterisk-$ASTERISK_VERSION-${ASTERISK_SHA256:0:12}"
}

binary() {
  local prefix=${LIBAMI_ASTERISK:-$(default_prefix)}
  [ -x "$prefix/sbin/asterisk" ] || die "no Asterisk at $prefix/sbin/asterisk: run \`make asterisk\` \
(it builds Asterisk $ASTERISK_VERSION once per machine), or set LIBAMI_ASTERISK to the prefix of a build"
  echo "$prefix/sbin/asterisk"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The AMI banner on PORT within $1 seconds? (Reads one line over bash's /dev/tcp.)
banner_ok() {
  local port=$1 line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  IFS= read -r -t 2 line <&3 || true
  exec 3<&- 3>&-
  [[ $line == "Asterisk Call Manager/"* ]]
}

layout() {
  local dir=$1 conf=$2 port=$3 prefix
  prefix=$(cd "$(dirname "$(binary)")/.." && pwd)
  mkdir -p "$dir"/{etc,run,log,spool,db,keys,varlib}
  for f in manager.conf extensions.conf queues.conf confbridge.conf; do
    [ -f "$conf/$f" ] || die "$conf/$f is missing (CONF_DIR must hold the conformance configs)"
    cp "$conf/$f" "$dir/etc/$f"
  done
  sed -i -E "s/^port *=.*/port = $port/" "$dir/etc/manager.conf"
  cat > "$dir/etc/asterisk.conf" <<EOT
[directories]
astetcdir => $dir/etc
astmoddir => $prefix/lib/asterisk/modules
astvarlibdir => $dir/varlib
astdbdir => $dir/db
astkeydir => $dir/keys
astdatadir => $prefix/var/lib/asterisk
astagidir => $prefix/var/lib/asterisk/agi-bin
astspooldir => $dir/spool
astrundir => $dir/run
astlogdir => $dir/log
astsbindir => $prefix/sbin
[options]
verbose = 3
nocolor = yes
EOT
  printf '[modules]\nautoload = yes\nnoload => res_http_websocket.so\nnoload => res_ari.so\n' \
    > "$dir/etc/modules.conf"
  printf '[general]\ndateformat = %%F %%T.%%3q\n[logfiles]\nmessages.log => notice,warning,error,verbose\n' \
    > "$dir/etc/logger.conf"
  printf '[general]\nenable = yes\n' > "$dir/etc/cdr.conf"
  printf '[general]\nenabled = yes\n' > "$dir/etc/cdr_manager.conf"
  printf '[general]\nenable = yes\napps = all\nevents = ALL\n[manager]\nenabled = yes\n' \
    > "$dir/etc/cel.conf"
  printf '[default]\nmode = files\ndirectory = moh\n' > "$dir/etc/musiconhold.conf"
  printf '[general]\nenabled = no\n' > "$dir/etc/http.conf"
  echo "$port" > "$dir/port"
}

pid_of() {
  local dir=$1
  [ -f "$dir/pid" ] || return 1
  local pid
  pid=$(cat "$dir/pid")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Launch Asterisk on the files already in DIR and wait for AMI; 0 when it answers.
launch() {
  local dir=$1 port bin owner pid
  port=$(cat "$dir/port")
  bin=$(binary)
  owner=${LIBAMI_OWNER_PID:-$PPID}
  : > "$dir/console.log"
  setsid "$bin" -f -C "$dir/etc/asterisk.conf" >>"$dir/console.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$dir/pid"
  # Watchdog: stop this instance when its owner is gone (a killed test run leaves nothing).
  (
    trap '' HUP
    while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      sleep 5
      kill -KILL "$pid" 2>/dev/null || true
    fi
  ) </dev/null >/dev/null 2>&1 &
  disown $! 2>/dev/null || true
  local waited=0
  while (( waited < start_timeout * 4 )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "asterisk.sh: Asterisk exited during start-up; its log:" >&2
      tail -n 40 "$dir/console.log" >&2 || true
      return 2
    fi
    if banner_ok "$port"; then
      # AMI answers before the modules (the dialplan among them) have loaded: wait for the
      # end of the boot as well.
      if timeout "$start_timeout" "$bin" -C "$dir/etc/asterisk.conf" -rx 'core waitfullybooted' \
          >/dev/null 2>&1; then
        echo "$port $pid"
        return 0
      fi
      echo "asterisk.sh: Asterisk did not finish booting within $start_timeout s; its log:" >&2
      tail -n 40 "$dir/log/messages.log" >&2 || true
      return 4
    fi
    if grep -qs "Unable to bind" "$dir/console.log" "$dir/log/messages.log"; then
      return 3
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  echo "asterisk.sh: AMI did not answer on 127.0.0.1:$port within $start_timeout s; its log:" >&2
  tail -n 40 "$dir/console.log" >&2 || true
  return 4
}

stop() {
  local dir=$1 pid
  pid=$(pid_of "$dir") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$dir/pid"
}

start() {
  local dir=$1 conf=${2:-$default_conf} rc
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  conf=$(cd "$conf" && pwd)
  if pid_of "$dir" >/dev/null; then die "an Asterisk is already running in $dir"; fi
  # A fresh instance: nothing of an earlier one (logs, databases, spool) carries over.
  rm -rf "${dir:?}"/{etc,run,log,spool,db,keys,varlib} "$dir/console.log" "$dir/pid" "$dir/port"
  for _attempt in 1 2 3 4 5; do
    layout "$dir" "$conf" "$(free_port)"
    rc=0
    launch "$dir" || rc=$?
    case $rc in
      0) return 0 ;;
      3) stop "$dir" ;;   # the port was taken meanwhile: another one
      *) stop "$dir"; exit 1 ;;
    esac
  done
  die "no free port could be bound after 5 attempts"
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
case $cmd in
  start) start "$dir" "${3:-}" ;;
  stop) stop "$dir" ;;
  restart)
    [ -f "$dir/port" ] || die "$dir holds no instance (start it first)"
    stop "$dir"
    launch "$(cd "$dir" && pwd)" || die "restart in $dir failed"
    ;;
  wait)
    port=$(cat "$dir/port")
    for _ in $(seq 1 $((start_timeout * 4))); do
      banner_ok "$port" && exit 0
      sleep 0.25
    done
    die "AMI did not answer on 127.0.0.1:$port within $start_timeout s"
    ;;
  cli)
    shift 2
    exec "$(binary)" -C "$dir/etc/asterisk.conf" -rx "$*"
    ;;
  log)
    n=${3:-40}
    for f in "$dir/log/messages.log" "$dir/console.log"; do
      [ -f "$f" ] && { echo "==> $f <=="; tail -n "$n" "$f"; }
    done
    ;;
  *) die "unknown command $cmd (start, stop, restart, cli, log, wait)" ;;
esac
