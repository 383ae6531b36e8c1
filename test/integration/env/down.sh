#!/usr/bin/env bash
# Tears down what test/integration/env/up.sh started and removes its root:
#   - barman processes (cron, receive-wal, pg_receivewal, ssh sessions ...)
#     owned by `barman` whose command line mentions $ROOT
#   - the PostgreSQL cluster in $ROOT/pgdata (pg_ctl stop)
#   - the sshd whose pid is in $ROOT/ssh/sshd.pid
# Safe to run when nothing is running or $ROOT does not exist.
#   BARMANAPI_IT_ROOT  root folder (default /tmp/barmanapi-it)
#   BARMANAPI_IT_KEEP=1  stop everything but keep the files
set -uo pipefail

ROOT="${BARMANAPI_IT_ROOT:-/tmp/barmanapi-it}"
ROOT="${ROOT%/}"
PGBIN="${BARMANAPI_IT_PGBIN:-/usr/lib/postgresql/15/bin}"
PG_OS_USER=postgres
BARMAN_USER=barman
MARKER="$ROOT/.barmanapi-it"

say() { printf '[down.sh] %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { echo "down.sh: must run as root" >&2; exit 1; }
case "$ROOT" in
  /?*) ;;
  *) echo "down.sh: BARMANAPI_IT_ROOT must be an absolute path other than / (got '$ROOT')" >&2; exit 1 ;;
esac
if [ ! -d "$ROOT" ]; then
  say "$ROOT does not exist: nothing to do"
  exit 0
fi
if [ ! -e "$MARKER" ]; then
  echo "down.sh: $ROOT was not created by up.sh (no $MARKER); leaving it alone" >&2
  exit 1
fi
cd /

# pids of processes owned by UID whose command line contains $ROOT/
pids_for() {
  local uid=$1 d pid owner
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" != "$$" ] || continue
    owner=$(stat -c %u "$d" 2>/dev/null) || continue
    [ "$owner" = "$uid" ] || continue
    if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$ROOT/"; then
      echo "$pid"
    fi
  done
}

# stop_pids LABEL PID...: TERM, wait up to 10 s, then KILL
stop_pids() {
  local label=$1 pid alive
  shift
  [ "$#" -gt 0 ] || return 0
  say "stopping $label: $*"
  kill -TERM "$@" 2>/dev/null
  for _ in $(seq 100); do
    alive=0
    for pid in "$@"; do [ -d "/proc/$pid" ] && alive=1; done
    [ "$alive" = 1 ] || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null
}

# 1. barman: ask receive-wal to stop cleanly, then end whatever is left.
if [ -f "$ROOT/barman/barman.conf" ] && id "$BARMAN_USER" >/dev/null 2>&1; then
  for conf in "$ROOT"/barman/conf.d/*.conf; do
    [ -f "$conf" ] || continue
    sed -n 's/^[[:space:]]*\[\([^]]*\)\].*/\1/p' "$conf" | while read -r server; do
      [ "$server" = barman ] && continue
      timeout 15 runuser -u "$BARMAN_USER" -- /usr/bin/barman -c "$ROOT/barman/barman.conf" -q \
        receive-wal --stop "$server" </dev/null >/dev/null 2>&1 || true
    done
  done
  barman_uid=$(id -u "$BARMAN_USER")
  # shellcheck disable=SC2046
  stop_pids "barman processes" $(pids_for "$barman_uid")
fi

# 2. PostgreSQL
if [ -f "$ROOT/pgdata/postmaster.pid" ]; then
  say "stopping PostgreSQL ($ROOT/pgdata)"
  runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$ROOT/pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$ROOT/pgdata" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
    say "warning: pg_ctl stop failed (see $ROOT/pg.log)"
fi

# 3. sshd (only if the pid in our pidfile really is our sshd)
pidfile="$ROOT/ssh/sshd.pid"
if [ -f "$pidfile" ]; then
  pid=$(head -n1 "$pidfile" | tr -dc 0-9)
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$ROOT/ssh/sshd_config"; then
    stop_pids sshd "$pid"
  fi
fi

# 4. leftovers still running as postgres with $ROOT in their command line
#    (e.g. an ssh client or recovered postgres left by a test)
# shellcheck disable=SC2046
stop_pids "postgres processes" $(pids_for "$(id -u "$PG_OS_USER")")

if [ "${BARMANAPI_IT_KEEP:-0}" = 1 ]; then
  say "stopped; files kept in $ROOT"
else
  rm -rf -- "$ROOT"
  say "removed $ROOT"
fi
