#!/usr/bin/env bash
# Start/stop a Spark standalone master + workers on 127.0.0.1 with the project's own pyspark.
#   cluster/standalone.sh start [--workers 2] [--port 7077] [--webui-port 8080] [--dir /tmp/curate-cluster]
#   cluster/standalone.sh status|stop [--dir …]
# See cluster/standalone.py (the implementation) and docs/cluster.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${CURATE_PYTHON:-$ROOT/.venv/bin/python}"
export SPARK_LOCAL_IP=127.0.0.1
exec "$PY" "$ROOT/cluster/standalone.py" "$@"
