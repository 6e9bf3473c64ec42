#!/usr/bin/env bash
# Build the cluster artefacts (environment archive, curate.zip, wheel, MANIFEST.json) into a folder:
#   cluster/package.sh [--out dist/cluster] [--venv .venv] [--exclude GLOB]... [--reuse-env] [--no-check]
# See cluster/package.py (the implementation) and docs/cluster.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CURATE_PYTHON:-$ROOT/.venv/bin/python}"
exec "$PY" "$ROOT/cluster/package.py" "$@"
