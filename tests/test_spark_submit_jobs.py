"""The cross-document jobs run as plain scripts under spark-submit, as on a cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _submit(script: str, args: list[str]) -> subprocess.CompletedProcess:
    import pyspark

    env = {**os.environ, "SPARK_HOME": os.path.dirname(pyspark.__file__), "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    submit = Path(env["SPARK_HOME"]) / "bin" / "spark-submit"
    return subprocess.run([str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                           str(ROOT / "spark_jobs" / script), *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_dedup_and_decontaminate_under_spark_submit(shared_data, tmp_path):
    questions = [json.loads(line)["question"] for line in (shared_data / "benchmarks/gsm8k/test.jsonl").open()][:5]
    paras = [p.strip() for p in (shared_data / "corpora/wikitext2/valid.txt").read_text().split("\n") if len(p.split()) > 100][:20]
    rows = [{"id": f"w{i}", "text": p} for i, p in enumerate(paras)]
    rows += [{"id": "copy", "text": paras[0]}, {"id": "leak", "text": paras[1] + " " + questions[0]}]
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))

    proc = _submit("dedup.py", [str(docs), "--output", str(tmp_path / "dedup")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = json.loads((tmp_path / "dedup/_accounting.json").read_text())
    assert acc["records_read"] == len(rows) and acc["by_outcome"]["dedup.exact"] == 1

    bench = tmp_path / "bench.yaml"
    bench.write_text(f"benchmarks:\n  - name: gsm8k\n    path: {shared_data / 'benchmarks/gsm8k/test.jsonl'}\n"
                     "    format: jsonl\n    fields: [question]\n")
    proc = _submit("decontaminate.py", ["--input", str(tmp_path / "dedup"), "--benchmarks", str(bench),
                                        "--output", str(tmp_path / "decontam")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = json.loads((tmp_path / "decontam/_accounting.json").read_text())
    assert acc["records_read"] == len(rows)
    assert acc["by_status"]["contaminated"] == 1 and acc["by_status"]["unchecked"] == 1  # the exact copy was dropped
