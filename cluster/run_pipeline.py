"""spark-submit entry for ``curate run``: the whole pipeline as one Spark application.

    spark-submit --master spark://HOST:7077 --archives dist/cluster/curate-env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python --py-files dist/cluster/curate.zip \\
        --conf spark.pyspark.driver.python=$PWD/.venv/bin/python \\
        cluster/run_pipeline.py demo/pipeline.yaml --output /shared/runs/demo [--check-executors]

Arguments are exactly ``curate run``'s (``--master`` is ignored: spark-submit's wins). Two things differ
from ``curate run``, both because executors run in their own working directory on other machines:

* a relative local ``--output`` (or ``output:`` in the YAML) is made absolute here, so the parts the
  executors write land where the driver looks (on a real cluster it must be a shared filesystem or
  an object store: every node writes there);
* ``--check-executors`` first runs one tiny task per executor slot and prints, per executor, its
  host, interpreter, working directory and where it imports curate from, then fails fast (exit 3)
  when an executor cannot import curate (a broken ``--archives``/``--py-files`` setup otherwise
  shows up only as a pickling error deep inside the first stage).
"""

from __future__ import annotations

import json
import os
import sys

if __package__ in (None, ""):  # run as a script by spark-submit: make the checkout's packages importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXECUTOR_REPORT = "curate-executors: "


def _probe(_):
    """Runs on an executor: where am I, and which curate do I import?"""
    import os
    import socket
    import sys

    try:
        import curation
        import spark_jobs.extract  # noqa: F401 - the first stage's task code

        where = curation.__file__
    except Exception as exc:  # reported, not raised
        where = f"ERROR {type(exc).__name__}: {exc}"
    yield {"host": socket.gethostname(), "cwd": os.getcwd(), "python": sys.executable, "prefix": sys.prefix,
           "curation": where}


def check_executors(spark) -> list[dict]:
    sc = spark.sparkContext
    slots = max(sc.defaultParallelism, 1)
    rows = sc.parallelize(range(slots * 2), slots * 2).mapPartitions(_probe).collect()
    seen = {}
    for r in rows:
        seen[(r["host"], r["cwd"], r["python"])] = r
    report = sorted(seen.values(), key=lambda r: (r["host"], r["cwd"]))
    print(EXECUTOR_REPORT + json.dumps(report), flush=True)
    return report


def _absolute_output(args) -> None:
    from curate.pipeline import load_pipeline
    from curation import fsutil

    out = args.output
    if not out:
        try:
            out = load_pipeline(args.pipeline, args.overrides).output
        except Exception:  # the pipeline reports config errors itself
            return
    if out and not fsutil.is_uri(out):
        args.output = fsutil.local_path(out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from curate import pipeline
    from spark_jobs.job import configure_logging, get_session

    parser = argparse.ArgumentParser(prog="run_pipeline", description="curate run, as a spark-submit application")
    pipeline.add_arguments(parser)
    parser.add_argument("--check-executors", action="store_true",
                        help="first report each executor's interpreter and curate location; exit 3 if one cannot import curate")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    _absolute_output(args)
    if args.check_executors:
        conf = dict(kv.split("=", 1) for kv in args.spark_conf if "=" in kv)
        # The same session the pipeline then reuses (session() leaves a caller's session running, so stop it here).
        spark = get_session("curate-pipeline", args.master, conf)
        try:
            report = check_executors(spark)
            broken = [r for r in report if str(r["curation"]).startswith("ERROR")]
            if broken:
                print(f"run_pipeline: {len(broken)} executor(s) cannot import curate: {broken[0]['curation']}", file=sys.stderr)
                return 3
            return pipeline.run(args)
        finally:
            spark.stop()
    return pipeline.run(args)


if __name__ == "__main__":
    sys.exit(main())
