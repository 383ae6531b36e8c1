#!/usr/bin/env bash
# Brings up the real integration environment for barmanapi:
#   - a PostgreSQL 15 cluster (initdb, 127.0.0.1 only) in $ROOT/pgdata
#   - a barman configuration in $ROOT/barman with one server "pg"
#     (backup_method = postgres, streaming archiver + replication slot)
#   - a second barman configuration in $ROOT/barman-dc2 with its own server
#     "pg2" (the same cluster, file archiver, nothing arrives): the second
#     barman host of the tests, reached over SSH
#   - an sshd on 127.0.0.1 that lets a generated client key log in as `barman`
# and writes $ROOT/env.json describing it.  Idempotent: running it again on a
# live environment only (re)starts what is not running and re-checks.
#
# Environment:
#   BARMANAPI_IT_ROOT     root folder          (default /tmp/barmanapi-it)
#   BARMANAPI_IT_PGPORT   PostgreSQL port      (default 54329, next free if busy)
#   BARMANAPI_IT_SSHPORT  sshd port            (default 22229, next free if busy)
#   BARMANAPI_IT_PGBIN    PostgreSQL binaries  (default /usr/lib/postgresql/15/bin)
#   BARMANAPI_IT_TIMEOUT  seconds to wait for `barman check pg` (default 40)
#
# Must run as root.  Never touches clusters, daemons or files it did not create,
# with two small exceptions on the host: it creates /run/sshd (sshd's
# privilege separation folder) if missing, and if the `barman` account has a
# locked password ("!..." in /etc/shadow, which makes sshd with UsePAM=no
# refuse every login, keys included) it sets it to "*" (still no password
# login possible, but no longer "locked").
set -euo pipefail

T0=$(date +%s)
say() { printf '[up.sh +%ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { printf '[up.sh] ERROR: %s\n' "$*" >&2; exit 1; }

ROOT="${BARMANAPI_IT_ROOT:-/tmp/barmanapi-it}"
PGBIN="${BARMANAPI_IT_PGBIN:-/usr/lib/postgresql/15/bin}"
TIMEOUT="${BARMANAPI_IT_TIMEOUT:-40}"
PG_OS_USER=postgres
BARMAN_USER=barman
SERVER=pg
MARKER="$ROOT/.barmanapi-it"

# --- preconditions ---------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root"
case "$ROOT" in
  /*) ;;
  *) die "BARMANAPI_IT_ROOT must be an absolute path (got '$ROOT')" ;;
esac
ROOT="${ROOT%/}"
if [ -z "$ROOT" ] || [ "$ROOT" = "/" ]; then die "refusing to use / as root"; fi
for b in "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/psql" /usr/bin/barman /usr/sbin/sshd /usr/bin/ssh /usr/bin/ssh-keygen /usr/sbin/runuser python3; do
  command -v "$b" >/dev/null 2>&1 || die "missing $b (run .ci/install.sh)"
done
id "$PG_OS_USER" >/dev/null 2>&1 || die "OS user $PG_OS_USER does not exist"
id "$BARMAN_USER" >/dev/null 2>&1 || die "OS user $BARMAN_USER does not exist (install barman)"

if [ -e "$ROOT" ] && [ ! -e "$MARKER" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
  die "$ROOT exists, is not empty and was not created by up.sh; refusing to use it"
fi

# Everything below runs from a folder every user can enter (barman and
# postgres tools complain when the current directory is not accessible).
install -d -m 0755 "$ROOT"
touch "$MARKER"
cd "$ROOT"

STATE="$ROOT/state.env"
if [ -f "$STATE" ]; then
  # shellcheck disable=SC1090
  . "$STATE"
fi

PGDATA="$ROOT/pgdata"
PGRUN="$ROOT/pgrun"
PGLOG="$ROOT/pg.log"
BDIR="$ROOT/barman"
BCONF="$BDIR/barman.conf"
BCONFD="$BDIR/conf.d"
BHOME="$BDIR/home"
BLOG="$BDIR/barman.log"
PASSFILE="$BDIR/pgpass"
B2DIR="$ROOT/barman-dc2"
B2CONF="$B2DIR/barman.conf"
B2HOME="$B2DIR/home"
SERVER2=pg2
SSHDIR="$ROOT/ssh"
SSHD_CONFIG="$SSHDIR/sshd_config"
SSHD_PID="$SSHDIR/sshd.pid"
SSHD_LOG="$SSHDIR/sshd.log"
HOSTKEY="$SSHDIR/ssh_host_ed25519_key"
CLIENTKEY="$SSHDIR/client_key"
AUTHDIR="$SSHDIR/authorized_keys"
KNOWN_HOSTS="$SSHDIR/known_hosts"

# --- helpers ---------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_alive PIDFILE NEEDLE: the pid in PIDFILE is a live process whose command
# line contains NEEDLE.
pid_alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(head -n1 "$1" 2>/dev/null | tr -dc 0-9)
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

pg_running() {
  [ -f "$PGDATA/postmaster.pid" ] &&
    runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

sshd_running() { pid_alive "$SSHD_PID" "$SSHD_CONFIG"; }

# pick_port VAR_NAME ENV_VALUE SAVED_VALUE DEFAULT OURS_RUNNING(0/1)
pick_port() {
  local name=$1 env=$2 saved=$3 def=$4 ours=$5 p
  if [ -n "$saved" ]; then
    if [ -n "$env" ] && [ "$env" != "$saved" ]; then
      die "$name: environment at $ROOT already uses port $saved (asked for $env); run down.sh first"
    fi
    if [ "$ours" = 0 ] && port_busy "$saved"; then
      die "$name: port $saved (recorded in $STATE) is now used by another process"
    fi
    echo "$saved"; return
  fi
  if [ -n "$env" ]; then
    port_busy "$env" && die "$name: port $env is already in use"
    echo "$env"; return
  fi
  p=$def
  while port_busy "$p"; do
    p=$((p + 1))
    [ "$p" -lt $((def + 100)) ] || die "$name: no free port in $def..$((def + 99))"
  done
  echo "$p"
}

rand_secret() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }

as_barman() { runuser -u "$BARMAN_USER" -- /usr/bin/barman -c "$BCONF" "$@"; }

psql_pg() {
  runuser -u "$PG_OS_USER" -- "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
    -h "$PGRUN" -p "$PGPORT" -U postgres -d postgres "$@"
}

# write_if_changed FILE: replace FILE with stdin when the content differs;
# returns 0 when the file changed.
write_if_changed() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$1"
  return 0
}

# --- ports and secrets ------------------------------------------------------
ours_pg=0; pg_running && ours_pg=1
ours_ssh=0; sshd_running && ours_ssh=1
PGPORT=$(pick_port pg "${BARMANAPI_IT_PGPORT:-}" "${SAVED_PGPORT:-}" 54329 "$ours_pg")
SSHPORT=$(pick_port ssh "${BARMANAPI_IT_SSHPORT:-}" "${SAVED_SSHPORT:-}" 22229 "$ours_ssh")
[ "$PGPORT" != "$SSHPORT" ] || die "PostgreSQL and sshd ports must differ ($PGPORT)"
PG_PASSWORD="${SAVED_PG_PASSWORD:-$(rand_secret)}"
REPL_PASSWORD="${SAVED_REPL_PASSWORD:-$(rand_secret)}"
umask 077
cat >"$STATE" <<EOF
SAVED_PGPORT=$PGPORT
SAVED_SSHPORT=$SSHPORT
SAVED_PG_PASSWORD=$PG_PASSWORD
SAVED_REPL_PASSWORD=$REPL_PASSWORD
EOF
umask 022
say "root $ROOT, PostgreSQL port $PGPORT, sshd port $SSHPORT"

# --- 1. PostgreSQL ------------------------------------------------------------
install -d -o "$PG_OS_USER" -g "$PG_OS_USER" -m 0755 "$PGRUN"
[ -f "$PGLOG" ] || install -o "$PG_OS_USER" -g "$PG_OS_USER" -m 0644 /dev/null "$PGLOG"
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  say "initdb $PGDATA"
  install -d -o "$PG_OS_USER" -g "$PG_OS_USER" -m 0700 "$PGDATA"
  runuser -u "$PG_OS_USER" -- "$PGBIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 --no-sync >"$ROOT/initdb.log" 2>&1 ||
    { cat "$ROOT/initdb.log" >&2; die "initdb failed"; }
fi
# Our settings live in a marked block at the end of postgresql.conf (an
# include file would be flagged by `barman recover` as a dangerous setting).
PGCONF_BLOCK="# BEGIN barmanapi-it (written by test/integration/env/up.sh)
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGRUN'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
log_line_prefix = '%m [%p] %q%u@%d '
# END barmanapi-it"
pgconf_changed=0
if {
  awk '/^# BEGIN barmanapi-it/{skip=1} !skip{print} /^# END barmanapi-it/{skip=0}' "$PGDATA/postgresql.conf"
  printf '%s\n' "$PGCONF_BLOCK"
} | write_if_changed "$PGDATA/postgresql.conf"; then pgconf_changed=1; fi
if write_if_changed "$PGDATA/pg_hba.conf" <<EOF; then pgconf_changed=1; fi
# Written by barmanapi test/integration/env/up.sh: loopback only.
# TYPE  DATABASE     USER              ADDRESS        METHOD
local   all          postgres                         peer
host    all          all               127.0.0.1/32   scram-sha-256
host    replication  streaming_barman  127.0.0.1/32   scram-sha-256
host    replication  barman            127.0.0.1/32   scram-sha-256
EOF
chown "$PG_OS_USER:$PG_OS_USER" "$PGDATA/postgresql.conf" "$PGDATA/pg_hba.conf"
chmod 0600 "$PGDATA/postgresql.conf" "$PGDATA/pg_hba.conf"

if pg_running; then
  if [ "$pgconf_changed" = 1 ]; then
    say "restarting PostgreSQL (configuration changed)"
    runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 -m fast restart >/dev/null
  else
    say "PostgreSQL already running"
  fi
else
  say "starting PostgreSQL"
  runuser -u "$PG_OS_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start </dev/null >/dev/null ||
    { tail -n 30 "$PGLOG" >&2; die "pg_ctl start failed"; }
fi

psql_pg -v pw="$PG_PASSWORD" -v rpw="$REPL_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'barman') AS need_barman \gset
\if :need_barman
CREATE ROLE barman;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'streaming_barman') AS need_streaming \gset
\if :need_streaming
CREATE ROLE streaming_barman;
\endif
ALTER ROLE barman WITH LOGIN SUPERUSER PASSWORD :'pw';
ALTER ROLE streaming_barman WITH LOGIN REPLICATION PASSWORD :'rpw';
SQL

# --- 2. barman configuration ------------------------------------------------------
install -d -o "$BARMAN_USER" -g "$BARMAN_USER" -m 0755 "$BDIR" "$BCONFD"
install -d -o "$BARMAN_USER" -g "$BARMAN_USER" -m 0750 "$BHOME"
[ -f "$BLOG" ] || install -o "$BARMAN_USER" -g "$BARMAN_USER" -m 0644 /dev/null "$BLOG"

umask 077
write_if_changed "$PASSFILE" <<EOF || true
127.0.0.1:$PGPORT:*:barman:$PG_PASSWORD
127.0.0.1:$PGPORT:*:streaming_barman:$REPL_PASSWORD
EOF
umask 022
chown "$BARMAN_USER:$BARMAN_USER" "$PASSFILE"
chmod 0600 "$PASSFILE"

# barman.conf and conf.d are only written when missing: the API (and tests)
# edit them, and a second up.sh must not undo that.
if [ ! -f "$BCONF" ]; then
  cat >"$BCONF" <<EOF
; Written by barmanapi test/integration/env/up.sh
[barman]
barman_user = $BARMAN_USER
barman_home = $BHOME
log_file = $BLOG
log_level = INFO
configuration_files_directory = $BCONFD
minimum_redundancy = 0
EOF
fi
if [ ! -f "$BCONFD/$SERVER.conf" ]; then
  cat >"$BCONFD/$SERVER.conf" <<EOF
; Written by barmanapi test/integration/env/up.sh
[$SERVER]
description = "PostgreSQL test cluster"
conninfo = host=127.0.0.1 port=$PGPORT user=barman dbname=postgres passfile=$PASSFILE
streaming_conninfo = host=127.0.0.1 port=$PGPORT user=streaming_barman dbname=postgres passfile=$PASSFILE
backup_method = postgres
streaming_archiver = on
slot_name = barman
create_slot = auto
path_prefix = $PGBIN
EOF
fi
chown "$BARMAN_USER:$BARMAN_USER" "$BCONF" "$BCONFD"/*.conf
chmod 0644 "$BCONF" "$BCONFD"/*.conf

# The second barman host's configuration: its own home and server name.
install -d -o "$BARMAN_USER" -g "$BARMAN_USER" -m 0755 "$B2DIR"
install -d -o "$BARMAN_USER" -g "$BARMAN_USER" -m 0750 "$B2HOME"
if [ ! -f "$B2CONF" ]; then
  cat >"$B2CONF" <<EOF
; Written by barmanapi test/integration/env/up.sh
[barman]
barman_user = $BARMAN_USER
barman_home = $B2HOME
log_file = $B2DIR/barman.log
log_level = INFO
minimum_redundancy = 0

[$SERVER2]
description = "Second barman host's server"
conninfo = host=127.0.0.1 port=$PGPORT user=barman dbname=postgres passfile=$PASSFILE
backup_method = postgres
archiver = on
path_prefix = $PGBIN
EOF
fi
chown "$BARMAN_USER:$BARMAN_USER" "$B2CONF"
chmod 0644 "$B2CONF"

# --- 4. sshd (started before the barman wait: it is independent and quick) -------
install -d -m 0755 "$SSHDIR" "$AUTHDIR"
install -d -m 0755 /run/sshd
[ -f "$HOSTKEY" ] || ssh-keygen -q -t ed25519 -N '' -C barmanapi-it-host -f "$HOSTKEY"
[ -f "$CLIENTKEY" ] || ssh-keygen -q -t ed25519 -N '' -C barmanapi-it-client -f "$CLIENTKEY"
chmod 0600 "$HOSTKEY" "$CLIENTKEY"
install -m 0644 "$CLIENTKEY.pub" "$AUTHDIR/$BARMAN_USER"
printf '[127.0.0.1]:%s %s\n' "$SSHPORT" "$(cut -d' ' -f1,2 "$HOSTKEY.pub")" >"$KNOWN_HOSTS"
chmod 0644 "$KNOWN_HOSTS"

shadow_pw=$(getent shadow "$BARMAN_USER" | cut -d: -f2)
case "$shadow_pw" in
  '!'*)
    say "unlocking the $BARMAN_USER account for key logins (password '!' -> '*')"
    usermod -p '*' "$BARMAN_USER"
    ;;
esac

sshd_changed=0
if write_if_changed "$SSHD_CONFIG" <<EOF; then sshd_changed=1; fi
# Written by barmanapi test/integration/env/up.sh (test-only daemon)
Port $SSHPORT
ListenAddress 127.0.0.1
HostKey $HOSTKEY
PidFile $SSHD_PID
AuthorizedKeysFile $AUTHDIR/%u
AuthorizedPrincipalsFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
# $ROOT usually lives in /tmp (mode 1777), which StrictModes rejects.
StrictModes no
PermitRootLogin no
AllowUsers $BARMAN_USER
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -t -f "$SSHD_CONFIG" || die "invalid $SSHD_CONFIG"
if sshd_running; then
  if [ "$sshd_changed" = 1 ]; then
    say "reloading sshd"
    kill -HUP "$(cat "$SSHD_PID")"
    sleep 0.5
  else
    say "sshd already running"
  fi
else
  say "starting sshd"
  rm -f "$SSHD_PID"
  /usr/sbin/sshd -f "$SSHD_CONFIG" -E "$SSHD_LOG" </dev/null >/dev/null 2>&1
  for _ in $(seq 50); do port_busy "$SSHPORT" && break; sleep 0.1; done
  sshd_running || { tail -n 20 "$SSHD_LOG" >&2; die "sshd did not start"; }
fi

# --- 3. barman: streaming archiver running, first WAL archived, check passes --------
check_ok() { as_barman check "$SERVER" >"$ROOT/check.out" 2>&1; }
slot_active() {
  [ "$(psql_pg -c "SELECT active FROM pg_replication_slots WHERE slot_name = 'barman'" 2>/dev/null)" = t ]
}

say "barman cron"
as_barman -q cron </dev/null >/dev/null 2>&1 || true
if check_ok; then
  say "barman check $SERVER: OK (already)"
else
  deadline=$(($(date +%s) + TIMEOUT))
  # The slot must be in use before the switch, otherwise the closed WAL file
  # predates what receive-wal streams and would never arrive.
  until slot_active; do
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 0.5
    as_barman -q cron </dev/null >/dev/null 2>&1 || true
  done
  if slot_active; then
    say "barman switch-wal --force --archive $SERVER"
    # On an idle cluster the closed segment is only archived once the next
    # one has data (otherwise up to ~15 s, until the next xl_running_xacts
    # record): write a little WAL while switch-wal waits.
    left=$((deadline - $(date +%s)))
    [ "$left" -ge 5 ] || left=5
    as_barman switch-wal --force --archive --archive-timeout "$left" "$SERVER" </dev/null >"$ROOT/switch-wal.out" 2>&1 &
    switch_pid=$!
    while kill -0 "$switch_pid" 2>/dev/null; do
      sleep 0.3
      psql_pg -c "SELECT txid_current()" >/dev/null 2>&1 || true
    done
    wait "$switch_pid" || true
  else
    echo "replication slot 'barman' never became active (receive-wal not streaming)" >"$ROOT/switch-wal.out"
  fi
  until check_ok; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "---- barman check $SERVER (did not pass within ${TIMEOUT}s) ----" >&2
      cat "$ROOT/check.out" >&2
      echo "---- barman switch-wal ----" >&2
      cat "$ROOT/switch-wal.out" >&2
      echo "---- tail of $BLOG ----" >&2
      grep -v 'No xlog segments found' "$BLOG" | tail -n 20 >&2 || true
      exit 1
    fi
    sleep 1
    as_barman -q cron </dev/null >/dev/null 2>&1 || true
  done
  say "barman check $SERVER: OK"
fi

# --- ssh end-to-end check ---------------------------------------------------------
SSH_OPTS=(-F /dev/null -i "$CLIENTKEY" -p "$SSHPORT" -o IdentitiesOnly=yes -o BatchMode=yes
  -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$KNOWN_HOSTS" -o ConnectTimeout=10)
if ! out=$(ssh "${SSH_OPTS[@]}" "$BARMAN_USER@127.0.0.1" /usr/bin/barman -c "$BCONF" list-server </dev/null 2>&1); then
  echo "$out" >&2
  tail -n 20 "$SSHD_LOG" >&2 || true
  die "ssh $BARMAN_USER@127.0.0.1:$SSHPORT barman list-server failed"
fi
say "ssh barman@127.0.0.1:$SSHPORT list-server: $(echo "$out" | tr '\n' ' ')"

# --- 5. env.json ------------------------------------------------------------------
BARMAN_VERSION=$(/usr/bin/barman --version 2>&1 | awk 'NR==1{print $1}')
export ROOT PGPORT SSHPORT PGBIN PGDATA PGRUN PGLOG PG_PASSWORD REPL_PASSWORD PASSFILE \
  BCONF BCONFD BHOME BLOG SERVER BARMAN_VERSION BARMAN_USER PG_OS_USER B2CONF B2HOME SERVER2 \
  SSHD_CONFIG SSHD_PID SSHD_LOG CLIENTKEY KNOWN_HOSTS HOSTKEY
python3 - >"$ROOT/env.json.tmp" <<'PY'
import json, os
e = os.environ
host_pub = open(e["HOSTKEY"] + ".pub").read().split()
known = open(e["KNOWN_HOSTS"]).read().strip()
ssh_port = int(e["SSHPORT"])
remotessh = (
    "ssh -p %d -i %s -o IdentitiesOnly=yes -o BatchMode=yes "
    "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s %s@127.0.0.1"
    % (ssh_port, e["CLIENTKEY"], e["KNOWN_HOSTS"], e["BARMAN_USER"])
)
env = {
    "root": e["ROOT"],
    "pg": {
        "host": "127.0.0.1",
        "port": int(e["PGPORT"]),
        "database": "postgres",
        "superuser": "barman",
        "password": e["PG_PASSWORD"],
        "replicationUser": "streaming_barman",
        "replicationPassword": e["REPL_PASSWORD"],
        "passfile": e["PASSFILE"],
        "version": 15,
        "bin": e["PGBIN"],
        "dataDir": e["PGDATA"],
        "socketDir": e["PGRUN"],
        "osUser": e["PG_OS_USER"],
        "log": e["PGLOG"],
    },
    "barman": {
        "config": e["BCONF"],
        "configDir": e["BCONFD"],
        "serverConfig": os.path.join(e["BCONFD"], e["SERVER"] + ".conf"),
        "home": e["BHOME"],
        "log": e["BLOG"],
        "user": e["BARMAN_USER"],
        "command": ["runuser", "-u", e["BARMAN_USER"], "--", "/usr/bin/barman"],
        "server": e["SERVER"],
        "version": e["BARMAN_VERSION"],
    },
    "barman2": {
        "config": e["B2CONF"],
        "home": e["B2HOME"],
        "server": e["SERVER2"],
    },
    "ssh": {
        "host": "127.0.0.1",
        "port": ssh_port,
        "user": e["BARMAN_USER"],
        "identity": e["CLIENTKEY"],
        "knownHosts": e["KNOWN_HOSTS"],
        "knownHostsLine": known,
        "hostKey": {"type": host_pub[0], "base64": host_pub[1]},
        "remotessh": remotessh,
        "sshdConfig": e["SSHD_CONFIG"],
        "pidFile": e["SSHD_PID"],
        "log": e["SSHD_LOG"],
    },
}
print(json.dumps(env, indent=2))
PY
chmod 0644 "$ROOT/env.json.tmp"
mv -f "$ROOT/env.json.tmp" "$ROOT/env.json"
say "ready: $ROOT/env.json"
