#!/usr/bin/env bash
# Builds dist/barmanapi_<version>_<arch>.deb around the single binary (dist/barmanapi, built
# first when it is missing or older than the sources), then checks it with lintian when lintian
# is installed (errors fail the build). Needs dpkg-deb; runs as any user (fakeroot is not needed:
# file owners are set with --root-owner-group).
#   DEBEMAIL / DEBFULLNAME   the Maintainer field (default: The barmanapi developers)
#   BARMANAPI_DEB_LINTIAN=0  skip lintian
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
maintainer="${DEBFULLNAME:-The barmanapi developers} <${DEBEMAIL:-barmanapi@example.org}>"
out="dist/barmanapi_${version}_${arch}.deb"

newest_source=$(find src adapters package.json -type f -newer dist/barmanapi 2>/dev/null | head -n1 || true)
if [ ! -x dist/barmanapi ] || [ -n "$newest_source" ]; then
  bash scripts/build-bin.sh
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
doc="$root/usr/share/doc/barmanapi"
# The time of the last commit (or now, outside a git checkout): the same tree builds the same bytes.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

install -D -m 0755 dist/barmanapi "$root/usr/bin/barmanapi"
install -D -m 0644 packaging/deb/barmanapi.conf "$root/etc/barmanapi.conf"
# The unit of config/, pointed at the packaged program. The single binary cannot swap its
# certificate on SIGHUP (README: In production), so the package's unit has no ExecReload:
# `systemctl reload` fails plainly and `systemctl reload-or-restart` restarts.
install -d "$root/lib/systemd/system"
sed 's|^ExecStart=/usr/local/bin/barmanapi |ExecStart=/usr/bin/barmanapi |; s|^# The Bun binary (dist/barmanapi) copied here.*|# Installed by the Debian package.|; /^# `command -v barmanapi` prints instead\.$/d; /^# Reload: new TLS certificate files/d; /^ExecReload=/d' \
  config/barmanapi.service >"$root/lib/systemd/system/barmanapi.service"
chmod 0644 "$root/lib/systemd/system/barmanapi.service"
grep -q '^ExecStart=/usr/bin/barmanapi runserver' "$root/lib/systemd/system/barmanapi.service"
if grep -q '^ExecReload=' "$root/lib/systemd/system/barmanapi.service"; then
  echo "build-deb.sh: ExecReload left in the unit" >&2
  exit 1
fi
install -D -m 0644 packaging/deb/barmanapi.1 "$root/usr/share/man/man1/barmanapi.1"
gzip -9n "$root/usr/share/man/man1/barmanapi.1"
install -D -m 0644 packaging/deb/copyright "$doc/copyright"
install -m 0644 README.md "$doc/README.md"
gzip -9n "$doc/README.md"
install -m 0644 docs/openapi.json "$doc/openapi.json"
gzip -9n "$doc/openapi.json"
install -D -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/barmanapi"
{
  printf 'barmanapi (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Release %s; see /usr/share/doc/barmanapi/README.md.gz.\n\n' "$version"
  printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} >"$doc/changelog"
gzip -9n "$doc/changelog"

install -d -m 0755 "$root/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
echo /etc/barmanapi.conf >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"
# glibc: the newest symbol version the binary asks for.
glibc=$(objdump -T dist/barmanapi 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: barmanapi
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: libc6 (>= ${glibc:-2.27}), adduser
Recommends: barman | barman-cli
Section: database
Priority: optional
Description: REST API for Barman, the backup and recovery manager for PostgreSQL
 barmanapi puts barman behind HTTP: backups, recoveries, WAL maintenance and
 barman's configuration, for users with their own access rules, on one or
 several barman hosts reached locally or over SSH. It serves an OpenAPI 3.1
 documented API, health probes for load balancers, and runs as a hardened
 systemd service.
 .
 This package holds the single executable (with its own JavaScript runtime),
 the systemd unit and the settings file.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p dist
rm -f "$out"
dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$out" >/dev/null
echo "built $out ($(du -h "$out" | cut -f1))"

if [ "${BARMANAPI_DEB_LINTIAN:-1}" != 0 ] && command -v lintian >/dev/null; then
  # Errors fail the build; warnings are printed (each override is explained in packaging/deb/lintian-overrides).
  lintian --fail-on error --allow-root "$out"
  echo "lintian: no errors"
fi
