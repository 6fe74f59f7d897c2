#!/usr/bin/env bash
# Install the pgvector extension into the local PostgreSQL from Debian's own packages.
#
# Debian bookworm ships PostgreSQL 15 but packages pgvector only from trixie on (built for PostgreSQL 17),
# so we build Debian's pgvector *source package* (checked against the .dsc's sha256) against bookworm's
# postgresql-server-dev for the running server's major version. Skipped quietly when there is no local
# PostgreSQL, when the extension is already available, or when we are not root.
set -euo pipefail

PGVECTOR_VERSION="${PGVECTOR_VERSION:-0.8.0}"
PGVECTOR_SHA256="867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0"
DEBIAN_POOL="${DEBIAN_POOL:-http://deb.debian.org/debian/pool/main/p/pgvector}"

if ! command -v pg_config >/dev/null 2>&1 && [ ! -d /usr/lib/postgresql ]; then
  echo "note: no local PostgreSQL; pgvector tests will be skipped" >&2
  exit 0
fi
major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
if [ -z "$major" ]; then
  echo "note: no PostgreSQL server under /usr/lib/postgresql; pgvector not installed" >&2
  exit 0
fi
sharedir="/usr/share/postgresql/$major/extension"
if [ -f "$sharedir/vector.control" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "note: pgvector is missing and installing it needs root (sudo bash scripts/install_pgvector.sh)" >&2
  exit 0
fi

echo "==> building pgvector $PGVECTOR_VERSION (Debian source package) for PostgreSQL $major"
if ! dpkg -s "postgresql-server-dev-$major" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-server-dev-$major" build-essential >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball="pgvector_${PGVECTOR_VERSION}.orig.tar.gz"
curl -fsSL -o "$work/$tarball" "$DEBIAN_POOL/$tarball"
echo "$PGVECTOR_SHA256  $work/$tarball" | sha256sum --check --quiet
tar -xzf "$work/$tarball" -C "$work"
src=$(find "$work" -maxdepth 1 -mindepth 1 -type d | head -1)
# OPTFLAGS="" keeps the build portable (no -march=native), as Debian's own build does.
make -s -C "$src" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" >/dev/null
make -s -C "$src" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" install >/dev/null
echo "==> pgvector installed: $sharedir/vector.control"
