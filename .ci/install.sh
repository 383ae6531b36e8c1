#!/usr/bin/env bash
# Installs the Debian packages needed by the real integration environment
# (test/integration/env/up.sh): barman, barman-cli, PostgreSQL 15, openssh-server, rsync, man-db,
# e2fsprogs (chattr, for the read-only store test), chromium (the docs page, opened in a real
# browser by the black-box suite), lintian (checks the .deb), curl and openssl (the TLS tests),
# prometheus (promtool checks a real /metrics scrape).
# Idempotent: when every package is already installed it does nothing.
# Quiet: apt output goes to a log that is printed only on failure.
# Set BARMANAPI_INSTALL_FORCE=1 to run apt-get update/install anyway.
set -euo pipefail

PACKAGES=(barman barman-cli postgresql-15 openssh-server openssh-client rsync man-db procps e2fsprogs chromium lintian curl openssl prometheus)
LOG="${BARMANAPI_INSTALL_LOG:-/tmp/barmanapi-ci-install.log}"

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: must run as root" >&2
  exit 1
fi

if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "install.sh: warning: PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin" >&2
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ] && [ "${BARMANAPI_INSTALL_FORCE:-0}" != "1" ]; then
  echo "install.sh: all packages already installed (${PACKAGES[*]})"
  exit 0
fi

# Keep package maintainer scripts from starting daemons (e.g. the system sshd
# on port 22): the integration environment runs its own sshd.  Only done when
# the machine has no policy-rc.d of its own; removed again on exit.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  created_policy=1
fi

fail() {
  echo "install.sh: $1 failed; log follows ($LOG):" >&2
  cat "$LOG" >&2
  exit 1
}

: >"$LOG"
echo "install.sh: installing ${missing[*]:-${PACKAGES[*]}} (log: $LOG)"
export DEBIAN_FRONTEND=noninteractive
apt-get update >>"$LOG" 2>&1 || fail "apt-get update"
apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${PACKAGES[@]}" >>"$LOG" 2>&1 || fail "apt-get install"

for b in /usr/bin/barman /usr/bin/barman-wal-archive /usr/sbin/sshd /usr/bin/ssh-keygen /usr/bin/rsync; do
  [ -x "$b" ] || fail "post-install check ($b missing)"
done
echo "install.sh: done ($(barman --version 2>&1 | head -n1))"
