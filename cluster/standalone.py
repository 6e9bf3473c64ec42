"""A Spark standalone cluster on loopback: one master and N workers, from the pyspark package itself.

    python cluster/standalone.py start [--workers 2] [--port 7077] [--webui-port 8080] [--dir DIR]
    python cluster/standalone.py status [--dir DIR]
    python cluster/standalone.py stop [--dir DIR]

(``cluster/standalone.sh`` is the same with the project's interpreter.) pip's pyspark ships
``bin/spark-class`` but not ``sbin/start-master.sh``/``start-worker.sh``, so the daemons are started
here with ``spark-class org.apache.spark.deploy.master.Master`` / ``…deploy.worker.Worker``, which
``exec`` java: the PID we record is the JVM's. Everything binds 127.0.0.1 (``SPARK_LOCAL_IP`` and
``--host``), nothing else. ``start`` returns once the master's ``/json/`` lists every worker ALIVE;
``stop`` terminates exactly the PIDs it recorded (after checking each is still our JVM).

DIR (default /tmp/curate-cluster) holds ``cluster.json`` (ports and PIDs), ``logs/`` and each
worker's ``work/`` (one folder per application, one per executor, with its stdout/stderr: where the
archive shipped with ``--archives`` is unpacked).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_DIR = os.environ.get("CURATE_CLUSTER_DIR", "/tmp/curate-cluster")
STATE = "cluster.json"


@dataclass
class Cluster:
    dir: str
    port: int
    webui_port: int
    master_pid: int = 0
    worker_pids: list[int] = field(default_factory=list)
    worker_webui_ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"spark://{HOST}:{self.port}"

    @property
    def webui(self) -> str:
        return f"http://{HOST}:{self.webui_port}"

    def work_dir(self, i: int) -> Path:
        return Path(self.dir) / f"worker-{i}" / "work"

    def save(self) -> None:
        Path(self.dir, STATE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, directory: str) -> Cluster | None:
        path = Path(directory, STATE)
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def state(self, timeout: float = 5.0) -> dict:
        """The master web UI's JSON: workers, active and completed applications."""
        with urllib.request.urlopen(f"{self.webui}/json/", timeout=timeout) as resp:  # loopback only
            return json.load(resp)

    def alive_workers(self) -> list[dict]:
        try:
            return [w for w in self.state().get("workers", []) if w.get("state") == "ALIVE"]
        except OSError:
            return []


def spark_home() -> str:
    if os.environ.get("SPARK_HOME"):
        return os.environ["SPARK_HOME"]
    import pyspark

    return os.path.dirname(pyspark.__file__)


def spark_env() -> dict[str, str]:
    """What the daemons (and any spark-submit against them) need: loopback, this Spark, Java."""
    env = {**os.environ, "SPARK_HOME": spark_home(), "SPARK_LOCAL_IP": HOST,
           # No REST submission server: it would take the fixed port 6066 (Python apps cannot use it anyway).
           "SPARK_MASTER_OPTS": (os.environ.get("SPARK_MASTER_OPTS", "") + " -Dspark.master.rest.enabled=false").strip(),
           # The daemons' own JVM heap (default 1g each); executors get --memory from the worker.
           "SPARK_DAEMON_MEMORY": os.environ.get("SPARK_DAEMON_MEMORY", "512m")}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [os.path.join(spark_home(), "bin", "spark-class"), *args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)  # its own group: a Ctrl-C of the caller does not kill it
    return proc.pid


def _is_ours(pid: int, marker: str) -> bool:
    """Still running and still the JVM we started (a PID can be reused after it exits)."""
    for _ in range(20):  # the command line reads empty for an instant while spark-class execs java
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if cmdline:
            return marker in cmdline
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    """Exists and is not a zombie (its command line is briefly unreadable while spark-class execs java)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _log_tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def start(directory: str = DEFAULT_DIR, workers: int = 2, port: int = 7077, webui_port: int = 8080,
          worker_cores: int = 1, worker_memory: str = "2g", timeout: float = 120.0) -> Cluster:
    """Start a master and ``workers`` workers; return once all are registered (else stop them and raise)."""
    existing = Cluster.load(directory)
    if existing and _is_ours(existing.master_pid, "deploy.master.Master"):
        raise RuntimeError(f"a cluster from {directory} is already running at {existing.url}; stop it first")
    for p in (port, webui_port):
        if _port_open(p):
            raise RuntimeError(f"port {p} on {HOST} is already in use")
    Path(directory).mkdir(parents=True, exist_ok=True)
    env = spark_env()
    logs = Path(directory) / "logs"
    cluster = Cluster(directory, port, webui_port)
    cluster.master_pid = _spawn(["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(port),
                                 "--webui-port", str(webui_port)], logs / "master.log", env)
    cluster.save()
    try:
        _wait(lambda: _port_open(port) and _state_ok(cluster), timeout, "master", logs / "master.log", cluster.master_pid)
        for i in range(workers):
            ui = free_port()
            work = cluster.work_dir(i)
            work.mkdir(parents=True, exist_ok=True)
            cluster.worker_webui_ports.append(ui)
            cluster.worker_pids.append(_spawn(
                ["org.apache.spark.deploy.worker.Worker", cluster.url, "--host", HOST, "--cores", str(worker_cores),
                 "--memory", worker_memory, "--work-dir", str(work), "--webui-port", str(ui)],
                logs / f"worker-{i}.log", env))
            cluster.save()
        _wait(lambda: len(cluster.alive_workers()) >= workers, timeout, f"{workers} workers", logs / "worker-0.log",
              *cluster.worker_pids)
    except BaseException:
        stop(directory)
        raise
    return cluster


def _state_ok(cluster: Cluster) -> bool:
    try:
        cluster.state(timeout=2)
        return True
    except OSError:
        return False


def _wait(ready, timeout: float, what: str, log: Path, *pids: int) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        dead = [p for p in pids if not _alive(p)]
        if dead:
            raise RuntimeError(f"{what}: process {dead[0]} exited during start-up; log:\n{_log_tail(log)}")
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s; log:\n{_log_tail(log)}")


def stop(directory: str = DEFAULT_DIR, timeout: float = 30.0) -> list[int]:
    """Stop the workers, then the master, started from ``directory``; return the PIDs stopped."""
    cluster = Cluster.load(directory)
    if cluster is None:
        return []
    targets = [(p, "deploy.worker.Worker") for p in cluster.worker_pids] + [(cluster.master_pid, "deploy.master.Master")]
    stopped = []
    for pid, marker in targets:
        if pid and _is_ours(pid, marker):
            os.kill(pid, signal.SIGTERM)
            stopped.append(pid)
    deadline = time.monotonic() + timeout
    for pid in stopped:
        while _is_ours(pid, "org.apache.spark.deploy") and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if _is_ours(pid, "org.apache.spark.deploy"):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    Path(directory, STATE).unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie (when started by this process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="standalone", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", default=DEFAULT_DIR, help="state, logs and work dirs (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=7077, help="master RPC port")
    parser.add_argument("--webui-port", type=int, default=8080, help="master web UI port (its /json/ is polled)")
    parser.add_argument("--worker-cores", type=int, default=1)
    parser.add_argument("--worker-memory", default="2g")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    if args.command == "start":
        try:
            c = start(args.dir, args.workers, args.port, args.webui_port, args.worker_cores, args.worker_memory, args.timeout)
        except RuntimeError as exc:
            print(f"standalone: {exc}", file=sys.stderr)
            return 1
        print(f"master {c.url} (web UI {c.webui}), {len(c.worker_pids)} workers; state in {c.dir}")
        return 0
    if args.command == "stop":
        pids = stop(args.dir)
        print(f"stopped {len(pids)} processes" if pids else f"no cluster running from {args.dir}")
        return 0
    cluster = Cluster.load(args.dir)
    if cluster is None or not _is_ours(cluster.master_pid, "deploy.master.Master"):
        print(f"no cluster running from {args.dir}")
        return 1
    st = cluster.state()
    print(json.dumps({"url": cluster.url, "webui": cluster.webui,
                      "workers": [{k: w.get(k) for k in ("id", "host", "state", "cores", "memory")} for w in st.get("workers", [])],
                      "activeapps": [a.get("id") for a in st.get("activeapps", [])]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
