"""The demo pipeline on a real Spark standalone cluster (a master and two workers on 127.0.0.1),
shipped the way docs/cluster.md says: ``--archives curate-env.tar.gz#env`` (cluster/package.py) with
``spark.pyspark.python=./env/bin/python`` and ``--py-files curate.zip``; its output must equal the
same pipeline's in local mode, and its tasks must have run in the workers' executors.

The environment archive is cached in dist/cluster-test (``package.py --reuse-env``: rebuilt only when
the installed distributions change; the code travels in curate.zip every time). To keep the test
quick it leaves out the large packages no demo stage imports on the executors (measured with
``python -X importtime`` as the executors' interpreter); the default archive keeps everything.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("extract", "annotate", "dedup", "decontaminate", "mix")
#: Not imported by any demo stage on the executors; dropped from the test's archive for speed only.
LEAN_EXCLUDES = ("torch*", "functorch", "sympy*", "mpmath*", "networkx*", "transformers*", "spacy*", "thinc*",
                 "blis*", "scipy*", "sklearn", "scikit_learn*", "polars*", "_polars_runtime*", "*duckdb*",
                 "streamlit*", "pydeck*", "selenium*", "jedi*", "debugpy*", "IPython", "ipython*")

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"curate_cluster_{name}", ROOT / "cluster" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def standalone():
    if _java() is None:
        pytest.skip("Java 17+ is required for a Spark standalone cluster (Debian: apt-get install openjdk-17-jre-headless)")
    return _load("standalone")


@pytest.fixture(scope="module")
def packaged(standalone) -> Path:
    """dist/cluster-test/{curate-env.tar.gz, curate.zip}: the env reused while the venv is unchanged."""
    out = Path(os.environ.get("CURATE_CLUSTER_CACHE", ROOT / "dist" / "cluster-test"))
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "cluster" / "package.py"), "--out", str(out), "--venv", sys.prefix, "--reuse-env"]
    cmd += [f"--exclude={g}" for g in LEAN_EXCLUDES]
    with open(out / ".lock", "w") as lock:  # two test runs at once must not write the same archive
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert (out / "curate-env.tar.gz").is_file() and (out / "curate.zip").is_file()
    return out


@pytest.fixture(scope="module")
def cluster(standalone, tmp_path_factory):
    directory = tmp_path_factory.mktemp("standalone")
    c = standalone.start(str(directory), workers=2, port=standalone.free_port(), webui_port=standalone.free_port(),
                         worker_cores=1, worker_memory="2g", timeout=240)
    try:
        yield c
    finally:
        standalone.stop(str(directory))
        # Each executor unpacked its own copy of the environment (~0.9 GB): keep the logs, not those.
        for env in directory.glob("worker-*/work/app-*/*/env"):
            shutil.rmtree(env, ignore_errors=True)
        assert standalone.Cluster.load(str(directory)) is None


def _submit_cmd(cluster, packaged: Path, out: Path) -> list[str]:
    """The standalone invocation of docs/cluster.md, with this venv as the (client-mode) driver's python."""
    spark_home = os.environ.get("SPARK_HOME") or os.path.dirname(importlib.util.find_spec("pyspark").origin)
    return [
        os.path.join(spark_home, "bin", "spark-submit"), "--master", cluster.url, "--deploy-mode", "client",
        "--archives", f"{packaged / 'curate-env.tar.gz'}#env", "--py-files", str(packaged / "curate.zip"),
        "--conf", "spark.pyspark.python=./env/bin/python", "--conf", f"spark.pyspark.driver.python={sys.executable}",
        "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2",
        "--conf", "spark.executorEnv.HF_HUB_OFFLINE=1", "--conf", "spark.executorEnv.TRANSFORMERS_OFFLINE=1",
        # Start only once both executors are up, so every stage spreads over both workers.
        "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
        "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=180s",
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        str(ROOT / "cluster" / "run_pipeline.py"), "demo/pipeline.yaml", "--output", str(out), "--check-executors",
    ]


def _env(standalone) -> dict[str, str]:
    env = standalone.spark_env()
    for key in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):  # the --conf values are what is tested
        env.pop(key, None)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def _wait(proc: subprocess.Popen, log: Path, what: str, timeout: float) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    text = log.read_text(errors="replace")
    tail = "\n".join(line for line in text.splitlines() if " INFO " not in line)[-4000:]
    assert proc.returncode == 0, f"{what} failed (rc={proc.returncode}):\n{tail}"
    return text


def _worker_json(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=10) as resp:
        return json.load(resp)


def _compare_stage(con, stage: str, local: Path, remote: Path) -> None:
    a, b = (f"read_parquet('{d / stage}/*.parquet')" for d in (local, remote))
    n_local = con.execute(f"SELECT count(*) FROM {a}").fetchall()[0][0]
    n_remote = con.execute(f"SELECT count(*) FROM {b}").fetchall()[0][0]
    assert n_local == n_remote and n_local > 0, f"{stage}: {n_local} rows locally, {n_remote} on the cluster"
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()]
    assert cols == [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()], f"{stage}: columns differ"
    if stage != "mix":  # the per-document contract first, for a readable failure
        key = "id, drop_reason, text, scores"
        diff = con.execute(f"(SELECT 'local' AS side, {key} FROM {a} EXCEPT ALL SELECT 'local', {key} FROM {b}) UNION ALL "
                           f"(SELECT 'cluster', {key} FROM {b} EXCEPT ALL SELECT 'cluster', {key} FROM {a}) LIMIT 5").fetchall()
        assert not diff, f"{stage}: documents differ (side, id, drop_reason, …): {[r[:3] for r in diff]}"
    # Then every column of every row, order-independent (a multiset comparison).
    n_diff = con.execute(f"SELECT count(*) FROM ((SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) UNION ALL "
                         f"(SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}))").fetchall()[0][0]
    assert n_diff == 0, f"{stage}: {n_diff} rows differ between local and cluster output"


def _manifest(run: Path) -> dict:
    """mixture_manifest.json without what names the run (paths, output fingerprints, timings)."""
    text = (run / "mix" / "mixture_manifest.json").read_text().replace(str(run), "RUN")
    data = json.loads(text)
    for key in ("seconds", "inputs", "config"):
        data.pop(key, None)
    return data


def test_demo_pipeline_on_standalone_cluster_matches_local(standalone, packaged, cluster, tmp_path):
    import duckdb

    started = time.monotonic()
    env = _env(standalone)
    remote, local = tmp_path / "cluster", tmp_path / "local"
    logs = {name: tmp_path / f"{name}.log" for name in ("cluster", "local")}
    # Both runs at once: they wait on JVMs and Spark scheduling far more than on the two cores.
    with open(logs["cluster"], "w") as clog, open(logs["local"], "w") as llog:
        cproc = subprocess.Popen(_submit_cmd(cluster, packaged, remote), cwd=ROOT, env=env, stdout=clog,
                                 stderr=subprocess.STDOUT)
        lproc = subprocess.Popen([sys.executable, "-c", "import sys; from curate.cli import main; sys.exit(main())",
                                  "run", "demo/pipeline.yaml", "--output", str(local), "--master", "local[2]"],
                                 cwd=ROOT, env={**env, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable},
                                 stdout=llog, stderr=subprocess.STDOUT)
        local_log = _wait(lproc, logs["local"], "local run", 600)
        cluster_log = _wait(cproc, logs["cluster"], "cluster run", 600)
    print(f"both runs done in {time.monotonic() - started:.0f}s")
    assert "pipeline " in local_log

    # --- the executors: one per worker, running the archive's interpreter and curate.zip's code
    report_line = next(line for line in cluster_log.splitlines() if line.startswith("curate-executors: "))
    report = json.loads(report_line.split(": ", 1)[1])
    work_dirs = [cluster.work_dir(i) for i in range(2)]
    assert len(report) == 2, report
    for r in report:
        home = next((w for w in work_dirs if r["cwd"].startswith(str(w))), None)
        assert home is not None, f"an executor ran outside the workers' work dirs: {r}"
        assert r["python"].startswith(os.path.join(r["cwd"], "env", "bin")), r
        assert r["prefix"] == os.path.join(r["cwd"], "env"), r
        assert r["curation"].startswith("./curate.zip/") or "curate.zip" in r["curation"], r
    assert {next(str(w) for w in work_dirs if r["cwd"].startswith(str(w))) for r in report} == {str(w) for w in work_dirs}

    apps = [a for a in cluster.state()["completedapps"] if a["name"] == "curate-pipeline"]
    assert len(apps) == 1 and apps[0]["state"] == "FINISHED", apps
    app_id = apps[0]["id"]
    assert re.search(rf"\b{app_id}\b", cluster_log)
    for i, port in enumerate(cluster.worker_webui_ports):
        executors = [e for e in _worker_json(port).get("finishedexecutors", []) if e.get("appid") == app_id]
        assert executors, f"worker {i} ran no executor of {app_id}"
        for e in executors:
            exec_dir = work_dirs[i] / app_id / str(e["id"])
            assert (exec_dir / "env" / "bin" / "python").is_file(), f"archive not unpacked in {exec_dir}"
            stderr = (exec_dir / "stderr").read_text(errors="replace")
            assert re.search(r"Running task \d+\.\d+ in stage", stderr), f"no task ran in {exec_dir}"
            assert "Unpacking an archive" in stderr

    # --- the outputs: identical, stage by stage
    for run in (remote, local):
        state = json.loads((run / "_pipeline.json").read_text())
        assert state["status"] == "done" and all(state["stages"][s]["status"] == "done" for s in STAGES), run
    con = duckdb.connect()
    for stage in STAGES:
        _compare_stage(con, stage, local, remote)
    assert _manifest(remote) == _manifest(local)
    shards = sorted(p.name for p in (local / "mix" / "_tokens").iterdir())
    assert shards and shards == sorted(p.name for p in (remote / "mix" / "_tokens").iterdir())
    for name in shards:
        assert (local / "mix" / "_tokens" / name).read_bytes() == (remote / "mix" / "_tokens" / name).read_bytes(), name
    for stage in STAGES[:-1]:
        acc = [json.loads((run / stage / "_accounting.json").read_text()) for run in (local, remote)]
        for a in acc:
            a.pop("seconds", None)
            a.pop("files_detail", None)
        assert acc[0].get("by_outcome", acc[0].get("by_status")) == acc[1].get("by_outcome", acc[1].get("by_status")), stage
