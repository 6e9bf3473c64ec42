"""``curate dashboard RUN_DIR``: serve the Streamlit app over one run directory.

Binds 127.0.0.1 by default: the dashboard can launch jobs and read the run's files, so exposing
it on a network is a deliberate ``--host 0.0.0.0``, never an accident.

Stopping ``curate dashboard`` stops the server. Streamlit runs in a process group of its own
(``start_new_session``), so that one ``killpg`` reaches it and anything it started in its group,
and so that a Ctrl-C in the terminal reaches only ``curate``, which then ends the group in order
(SIGTERM, then SIGKILL) and waits until no member is left. SIGTERM and SIGHUP to ``curate`` do the
same. Before, ``subprocess.call`` left a SIGTERM'd ``curate`` gone and its server still serving.
Ablation jobs launched from the page keep running: they start sessions of their own on purpose.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from curation.errors import report
from curation.query import run_sql
from dashboards.docview import WARC_ROOTS_ENV

APP = Path(__file__).resolve().parent / "app.py"
#: Seconds Streamlit gets to shut down after SIGTERM before the group is killed.
STOP_TIMEOUT_S = 10.0
#: The SQL page's limits, from ``--sql-timeout-s`` / ``--sql-memory-limit`` (see dashboards.data).
SQL_TIMEOUT_ENV = "CURATE_SQL_TIMEOUT_S"
SQL_MEMORY_ENV = "CURATE_SQL_MEMORY_LIMIT"


class _Stop(Exception):
    """A signal asked ``curate dashboard`` to stop."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (stage outputs, mix/, ablations/ …)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--warc-root", action="append", default=[], metavar="DIR",
                   help="also let the viewers read files under DIR (raw WARC records, benchmark files); the run "
                        "directory and the input folders its config names are always allowed")
    run_sql.add_limit_arguments(p, prefix="sql-")


def command(args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", args.host, "--server.port", str(args.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--", str(Path(args.run_dir).resolve())]


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if ``curate`` dies without cleaning up (SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux only)
    except (OSError, AttributeError):
        pass


def _group_members(pgid: int) -> list[int]:
    from dashboards.jobs import group_members

    return group_members(pgid)


def stop_group(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``timeout``; return once no
    member of the group is alive (the leader reaped)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass  # the group is already empty
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reaps the leader, so it does not count as a member
            if proc.returncode is not None and not _group_members(proc.pid):
                return
            time.sleep(0.05)


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        return report("dashboard", f"run directory {run_dir} does not exist")
    env = dict(os.environ)
    roots = [str(Path(r).resolve()) for r in args.warc_root]
    if roots:
        env[WARC_ROOTS_ENV] = os.pathsep.join([*roots, *filter(None, [env.get(WARC_ROOTS_ENV)])])
    env[SQL_TIMEOUT_ENV] = str(args.sql_timeout_s)
    env[SQL_MEMORY_ENV] = args.sql_memory_limit
    print(f"dashboard: http://{args.host}:{args.port}/  (run {run_dir.resolve()}; Ctrl-C stops it)", flush=True)

    def on_signal(signum: int, _frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    proc = None
    try:
        proc = subprocess.Popen(command(args), env=env, start_new_session=True, preexec_fn=_die_with_parent)
        return proc.wait()
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc is not None:
            # A second Ctrl-C while stopping must not leave the server behind either.
            interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                stop_group(proc)
            finally:
                signal.signal(signal.SIGINT, interrupt)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="curate dashboard", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
