#!/usr/bin/env bash
# Build everything Coverline needs on a fresh machine; cheap to re-run (each step checks first).
#  - a Python 3.10 virtualenv from requirements.lock (rebuilt when the lock file changes)
#  - Coverline itself installed into it, editable (redone when it points at another checkout)
#  - front-end packages from npm: the rasa-webchat widget and Swagger UI (rebuilt when a package.json changes)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${COVERLINE_VENV:-.venv}"

find_python310() {
  local candidates=("${PYTHON:-}" python3.10 /root/.pyenv/versions/3.10.*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.10.*/bin/python3.10)
  fi
  for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; then
      command -v "$candidate" 2>/dev/null || echo "$candidate"
      return 0
    fi
  done
  return 1
}

lock_hash=$(sha256sum requirements.lock | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
  if ! PY=$(find_python310); then
    echo "error: Coverline needs Python 3.10 (Rasa 3.6 supports 3.8-3.10) and none was found." >&2
    echo "       Install it (e.g. 'pyenv install 3.10.13') or point PYTHON=/path/to/python3.10." >&2
    exit 2
  fi
  echo "==> building $VENV with $PY from requirements.lock (first run: ~10 minutes, ~9 GB)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip<25"
  "$VENV/bin/python" -m pip install --progress-bar off -r requirements.lock
  echo "$lock_hash" > "$VENV/.lock-hash"
fi

# Coverline itself, installed editable: every process of the venv imports bot, actions, ... from this
# checkout, from any folder, without PYTHONPATH. CI shares one venv (per lock hash) between clones in
# different folders, and the install maps each top-level package to a folder when it is made, so it is
# redone when a package of this checkout (any folder with __init__.py but tests/ and benchmarks/, the rule
# pyproject.toml's package discovery follows) does not import from here. -I: ignore PYTHONPATH and the cwd.
editable_points_here='
import importlib.util, sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
names = [p.parent.name for p in root.glob("*/__init__.py") if p.parent.name not in ("tests", "benchmarks")]
for name in names:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or Path(spec.origin).resolve() != root / name / "__init__.py":
        sys.exit(1)
'
if ! "$VENV/bin/python" -I -c "$editable_points_here" "$PWD" 2>/dev/null; then
  echo "==> installing Coverline (editable) from $PWD into $VENV"
  "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
fi

# npm projects: the web chat widget, and Swagger UI for the inbox's API docs (served locally, no CDN)
npm_project() {  # $1 = folder with package.json, $2 = a file that exists once it is installed
  local hash
  hash=$(sha256sum "$1/package.json" | cut -c1-16)
  if [ ! -f "$1/node_modules/$2" ] || [ "$(cat "$1/node_modules/.package-hash" 2>/dev/null)" != "$hash" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "error: npm is needed to install $1's front-end packages (apt-get install -y nodejs npm)." >&2
      exit 2
    fi
    echo "==> installing $1's front-end packages from npm"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$hash" > "$1/node_modules/.package-hash"
  fi
}
npm_project webchat rasa-webchat/lib/index.js
npm_project inbox/web/vendor swagger-ui-dist/swagger-ui-bundle.js

# Browser tests drive Debian's Chromium (never a downloaded browser); install it where we can.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "note: /usr/bin/chromium is missing; browser tests will be skipped (apt-get install chromium chromium-driver)" >&2
  fi
fi

# pgvector for the retrieval backend on PostgreSQL (built from Debian's source package when missing).
bash scripts/install_pgvector.sh || echo "note: pgvector could not be installed; pgvector tests will fail if PostgreSQL answers" >&2
