"""Background ``curate ablate`` jobs: launch, watch, stop, resume (plain Python, no Streamlit).

A Streamlit script reruns on every click and its server may restart, so a job cannot live in the
script's memory: everything about it is in files of its output directory, and any later process
(another rerun, another browser tab, a test) finds it there.

* ``job_config.yaml``: the ablation config the job runs (written by :func:`launch`);
* ``job.json``: the command, working directory, supervisor PID (= process group id), start time;
* ``job.log``: the job's stdout and stderr;
* ``job.exit``: the exit code, written by the supervisor when the command ends by itself;
* ``job.stopped``: written by :func:`stop`, so a stopped job is not mistaken for a crash.

The supervisor (``python -m dashboards.jobs supervise OUT -- CMD…``) is a tiny parent that runs the
command and records its exit code: the dashboard is usually not the job's parent any more by the
time it ends, so it could not learn the code otherwise. It starts a new session, so the job, its
training worker processes and the supervisor form one process group, and :func:`stop` ends all of
them with one signal. ``curate ablate`` resumes from its own files, so resuming is launching the
same command again.

Every job file is read (and the log appended to) only where it resolves inside the output folder
(:class:`curation.query.confine.Confinement`): a ``job.log`` that is a symlink to a private file must not
be shown on the page, nor written through.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from curation import fsutil, output_dir
from curation.errors import JobError as JobError  # launch/stop refused: the one job error (a CurateError)
from curation.query import confine

CONFIG_FILE = "job_config.yaml"
JOB_FILE = "job.json"
LOG_FILE = "job.log"
EXIT_FILE = "job.exit"
STOPPED_FILE = "job.stopped"
#: Present when ``curate ablate`` finished: the fit and the proposal are written last.
DONE_FILE = "regression.json"
ROOT = Path(__file__).resolve().parent.parent

NOT_STARTED, RUNNING, FINISHED, FAILED, STOPPED, INTERRUPTED = (
    "not started", "running", "finished", "failed", "stopped", "interrupted")


@dataclass(frozen=True)
class JobStatus:
    state: str
    pid: int | None = None
    exit_code: int | None = None
    started: float | None = None
    command: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == RUNNING


def ablate_command(config: Path, out: Path, verify: bool = False) -> list[str]:
    return [sys.executable, "-m", "curate.cli", "ablate", "--config", str(config), "--output", str(out),
            *(["--verify"] if verify else [])]


def _read(out: Path, name: str) -> str | None:
    """``out/name`` when it is a readable file inside ``out``; None otherwise."""
    try:
        return confine.Confinement.under(out).read_text(out / name)
    except (OSError, confine.OutsideRunError):
        return None


def _read_job(out: Path) -> dict | None:
    try:
        job = json.loads(_read(out, JOB_FILE) or "")
    except ValueError:
        return None
    return job if isinstance(job, dict) else None


def _proc_state(pid: int) -> str | None:
    """The /proc state letter (R, S, Z, …) of a process, None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[1].split()[0]  # the name field may hold spaces and parentheses


def _reap(pid: int) -> None:
    """Collect the exit status of our own finished child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass  # not our child: its parent (or init) reaps it


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    _reap(pid)
    if Path("/proc").is_dir():
        state = _proc_state(pid)
        return state is not None and state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group; zombies wait for a parent, they run nothing."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _is_our_job(pid: int, out: Path) -> bool:
    """Guard against PID reuse: the process must be this job's supervisor."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid_alive(pid)  # no /proc: trust the PID
    args = [a.decode(errors="replace") for a in cmdline]
    return "dashboards.jobs" in args and str(out) in args


def status(out_dir: str | Path) -> JobStatus:
    out = Path(out_dir).resolve()
    job = _read_job(out)
    done = (out / DONE_FILE).is_file()
    if job is None:
        # An ablation run from the command line (no job files): finished if it wrote its fit.
        return JobStatus(FINISHED if done else NOT_STARTED)
    pid, started, cmd = int(job["pid"]), job.get("started"), tuple(job.get("command", ()))
    if pid_alive(pid) and _is_our_job(pid, out):
        return JobStatus(RUNNING, pid, None, started, cmd)
    code = None
    try:
        code = int((_read(out, EXIT_FILE) or "").strip())
    except ValueError:
        pass
    if code is not None:
        state = FINISHED if code == 0 and done else FAILED
    elif (out / STOPPED_FILE).is_file():
        state = STOPPED
    else:
        state = INTERRUPTED  # killed from outside, or the machine restarted: resume continues it
    return JobStatus(state, pid, code, started, cmd)


def launch(out_dir: str | Path, config_text: str | None = None, cwd: str | Path | None = None,
           verify: bool = False) -> JobStatus:
    """Start (or, without ``config_text``, resume) the ablation in ``out_dir`` in the background;
    ``verify``: with ``--verify`` (the scale-up check), which a later resume keeps."""
    out = Path(out_dir).resolve()
    current = status(out)
    if current.running:
        raise JobError(f"a job is already running in {out} (pid {current.pid})")
    try:  # the job files below go in first: claim the folder for curate ablate before writing them
        output_dir.claim(str(out), "ablate", resume=True)
    except output_dir.OutputRefused as exc:
        raise JobError(str(exc)) from exc
    try:  # written through below: a job file that links out of the folder must not be followed
        real_config, log_path = (confine.Confinement.under(out).resolve(out / n, strict=False)
                                 for n in (CONFIG_FILE, LOG_FILE))
    except confine.OutsideRunError as exc:
        raise JobError(str(exc)) from exc
    config = out / CONFIG_FILE
    if config_text is not None:
        real_config.write_text(config_text)
    elif not config.is_file():
        raise JobError(f"nothing to resume: {config} does not exist")
    job = _read_job(out) or {}
    workdir = str(Path(cwd or job.get("cwd") or os.getcwd()).resolve())
    for name in (EXIT_FILE, STOPPED_FILE):
        (out / name).unlink(missing_ok=True)
    cmd = ablate_command(config, out, verify or (config_text is None and "--verify" in job.get("command", ())))
    env = dict(os.environ)
    # The job imports curation from this checkout even when the package is not installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen([sys.executable, "-m", "dashboards.jobs", "supervise", str(out), "--", *cmd],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=workdir, env=env, start_new_session=True)
    _wait_for_exec(proc)
    started = time.time()
    record = {"pid": proc.pid, "pgid": proc.pid, "command": cmd, "cwd": workdir, "started": started,
              "launches": int(job.get("launches", 0)) + 1}
    fsutil.write_atomic(str(out / JOB_FILE), json.dumps(record, indent=2).encode())
    return JobStatus(RUNNING, proc.pid, None, started, tuple(cmd))


def _wait_for_exec(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Until the child has exec'd the supervisor: before that, /proc shows the parent's command
    line, and :func:`status` (which checks it against PID reuse) would call the job not running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if b"dashboards.jobs" in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                return
        except OSError:
            return  # no /proc: nothing to wait for
        time.sleep(0.01)


def resume(out_dir: str | Path) -> JobStatus:
    return launch(out_dir, None)


def stop(out_dir: str | Path, timeout: float = 15.0) -> bool:
    """End the job's whole process group (SIGTERM, then SIGKILL after ``timeout``).

    Returns True when a running job was stopped, False when none was running. Afterwards no
    process of the group is left; the ablation's finished proxies and checkpoints stay on disk.
    """
    out = Path(out_dir).resolve()
    st = status(out)
    if not st.running:
        return False
    (out / STOPPED_FILE).write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    pgid = int((_read_job(out) or {}).get("pgid", st.pid))
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(st.pid)
            if not group_members(pgid):
                return True
            time.sleep(0.1)
    raise JobError(f"process group {pgid} still has members after SIGKILL: {group_members(pgid)}")


def log_tail(out_dir: str | Path, max_bytes: int = 8000) -> str:
    out = Path(out_dir)
    try:
        with confine.Confinement.under(out).open(out / LOG_FILE) as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", "replace")
    except confine.OutsideRunError as exc:
        return str(exc)
    except OSError:
        return ""


def supervise(out: Path, cmd: list[str]) -> int:
    """Run ``cmd`` and write its exit code to ``out/job.exit`` (atomically)."""
    code = subprocess.call(cmd)
    fsutil.write_atomic(str(out / EXIT_FILE), f"{code}\n".encode())
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 4 or argv[0] != "supervise" or argv[2] != "--":
        print("usage: python -m dashboards.jobs supervise OUT_DIR -- COMMAND...", file=sys.stderr)
        return 2
    return supervise(Path(argv[1]), argv[3:])


if __name__ == "__main__":
    sys.exit(main())
