"""``curate dashboard RUN_DIR``: serve the Streamlit app over one run directory.

Binds 127.0.0.1 by default: the dashboard can launch jobs and read the run's files, so exposing
it on a network is a deliberate ``--host 0.0.0.0``, never an accident.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from dashboards.docview import WARC_ROOTS_ENV

APP = Path(__file__).resolve().parent / "app.py"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (stage outputs, mix/, ablations/ …)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--warc-root", action="append", default=[], metavar="DIR",
                   help="also show raw WARC records from files under DIR (the run directory is always allowed)")


def command(args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", args.host, "--server.port", str(args.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--", str(Path(args.run_dir).resolve())]


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        print(f"dashboard: run directory {run_dir} does not exist", file=sys.stderr)
        return 2
    env = dict(os.environ)
    roots = [str(Path(r).resolve()) for r in args.warc_root]
    if roots:
        env[WARC_ROOTS_ENV] = os.pathsep.join([*roots, *filter(None, [env.get(WARC_ROOTS_ENV)])])
    print(f"dashboard: http://{args.host}:{args.port}/  (run {run_dir.resolve()}; Ctrl-C stops it)", flush=True)
    try:
        return subprocess.call(command(args), env=env)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="curate dashboard", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
