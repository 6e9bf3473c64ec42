"""Fault tolerance: killed Python workers, fuzzed WARC files, corrupt Parquet inputs.

Interruption between and within pipeline stages (resume, Spark debris, a crashed stage) is covered
by tests/test_pipeline.py::test_resume_skips_reruns_and_cascades; these tests cover what happens
inside one job:

1. A Spark Python worker SIGKILLed in the middle of a task (extract and annotate): Spark retries
   the task and the output equals an undisturbed run's. The kill is injected from this module only
   (no hook in production code): the job's ``mapInArrow`` function is swapped for a wrapper defined
   here, which makes attempt 0 of one task kill its own worker process after some records. Local
   mode retries only with ``local[N,F]``, so this runs in a child process with its own JVM.
2. Fuzzed real WARC files (truncations, byte flips, zeroed and duplicated regions, a valid file
   followed by a broken one): no crash, every record accounted for, nothing lost silently, and the
   records before the first damaged byte come out exactly as from the clean file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from curation.ingest.extract import ExtractConfig
from curation.ingest.extract_task import process_file

ROOT = Path(__file__).resolve().parent.parent
FAST = ExtractConfig(extractor="resiliparse")


# ----------------------------------------------------------------------------- 1. killed workers
# Everything below until the tests runs inside the child driver process and its Python workers.

def _kill_self(marker_dir: str, what: str) -> None:
    """Leave proof of the kill, then die the way an OOM-killed or crashed worker dies."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    Path(marker_dir, f"killed-{what}-p{ctx.partitionId()}-a{ctx.attemptNumber()}-{os.getpid()}").touch()
    os.kill(os.getpid(), signal.SIGKILL)


def _dying_extract_partition(batches, files, out_dir, cfg, keep_dropped, *, victim: str, after: int, marker_dir: str):
    """``extract_partition``, but attempt 0 of the task reading ``victim`` dies after ``after`` records."""
    from pyspark import TaskContext

    from curation.ingest import extract_task

    real = extract_task.documents_from_file
    attempt = TaskContext.get().attemptNumber()

    def documents(source_file, cfg):
        for n, doc in enumerate(real(source_file, cfg)):
            if source_file == victim and n == after:
                if attempt == 0:
                    _kill_self(marker_dir, "extract")
                Path(marker_dir, f"retried-extract-a{attempt}").touch()
            yield doc

    extract_task.documents_from_file = documents  # this worker process only; restored below
    try:
        yield from extract_task.extract_partition(batches, files, out_dir, cfg, keep_dropped)
    finally:
        extract_task.documents_from_file = real


def _dying_annotate_batches(batches, specs, promote, *, after_batches: int, marker_dir: str):
    """``annotate_batches``, but attempt 0 of partition 0 dies after yielding ``after_batches`` batches."""
    from pyspark import TaskContext

    from curation.filters.annotate_task import annotate_batches

    ctx = TaskContext.get()
    for n, batch in enumerate(annotate_batches(batches, specs, promote)):
        if ctx.partitionId() == 0 and n == after_batches:
            if ctx.attemptNumber() == 0:
                _kill_self(marker_dir, "annotate")
            Path(marker_dir, f"retried-annotate-a{ctx.attemptNumber()}").touch()
        yield batch


def _failed_tasks(sc, group: str) -> int:
    tracker = sc.statusTracker()
    failed = 0
    for job_id in tracker.getJobIdsForGroup(group):
        for stage_id in tracker.getJobInfo(job_id).stageIds:
            info = tracker.getStageInfo(stage_id)
            failed += info.numFailedTasks if info else 0
    return failed


def fault_driver(spec_file: str) -> None:
    """Child-process driver: extract + annotate undisturbed, then again with a worker killed in each."""
    import functools

    import spark_jobs.annotate as annotate_mod
    import spark_jobs.extract as extract_mod
    from spark_jobs.job import get_session

    spec = json.loads(Path(spec_file).read_text())
    out, markers = Path(spec["out"]), spec["markers"]
    # local[2,4]: 2 threads, a task may fail 4 times (plain local[N] never retries).
    spark = get_session("curate-fault-tolerance", "local[2,4]", {"spark.sql.shuffle.partitions": "2"})
    sc = spark.sparkContext

    def run(job, argv, group):
        sc.setJobGroup(group, group)
        args = job.build_parser().parse_args(argv)
        started = time.perf_counter()
        rc = job.run(spark, args, job.load_config(args))
        return {"rc": rc, "failed_tasks": _failed_tasks(sc, group), "seconds": round(time.perf_counter() - started, 1)}

    def pipeline(name):
        ex, an = str(out / name / "extract"), str(out / name / "annotate")
        return {
            "extract": run(extract_mod.ExtractJob(), [*spec["inputs"], "-o", ex, "--extractor", "resiliparse",
                                                      "--keep-dropped"], f"{name}-extract"),
            "annotate": run(annotate_mod.AnnotateJob(), [ex, "-o", an, "--keep-dropped", "--set", "batch_rows=10"],
                            f"{name}-annotate"),
        }

    report = {"clean": pipeline("clean")}
    extract_mod.extract_partition = functools.partial(_dying_extract_partition, victim=spec["victim"], after=12,
                                                      marker_dir=markers)
    annotate_mod.annotate_batches = functools.partial(_dying_annotate_batches, after_batches=1, marker_dir=markers)
    report["killed"] = pipeline("killed")
    spark.stop()
    (out / "report.json").write_text(json.dumps(report))


def _rows(path: Path, columns: str) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(f"SELECT {columns} FROM read_parquet('{path}/*.parquet') ORDER BY id").fetchall()


def _accounting(path: Path) -> dict:
    acc = json.loads((path / "_accounting.json").read_text())
    acc.pop("seconds")
    return acc


@pytest.mark.spark
@pytest.mark.slow
def test_killed_python_worker_is_retried_and_output_is_identical(warc_dir, tmp_path):
    inputs = [warc_dir / "commoncrawl/cc-2020-excerpt.warc.gz", warc_dir / "dolma-2024/sample-0000.warc.gz",
              warc_dir / "clueweb09-quirk/clueweb-eucjp.warc.gz", warc_dir / "truncated/clipped.warc.gz"]
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"inputs": list(map(str, inputs)), "victim": str(inputs[0]), "out": str(tmp_path),
                                "markers": str(markers)}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", "import sys; from tests.test_fault_tolerance import fault_driver; "
                           "fault_driver(sys.argv[1])", str(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text())

    # The kills happened (the worker left its marker, Spark counted a failed attempt) and the
    # retries ran: attempt 1 of the same task got past the point where attempt 0 died.
    names = sorted(p.name for p in markers.iterdir())
    assert [n for n in names if n.startswith("killed-extract-")] and "retried-extract-a1" in names, names
    assert [n for n in names if n.startswith("killed-annotate-p0-a0")] and "retried-annotate-a1" in names, names
    for stage in ("extract", "annotate"):
        assert report["clean"][stage] == {**report["clean"][stage], "rc": 0, "failed_tasks": 0}
        assert report["killed"][stage]["rc"] == 0
        assert report["killed"][stage]["failed_tasks"] >= 1, report

    clean, killed = tmp_path / "clean", tmp_path / "killed"
    # Extract: the same parts, rows, texts, errors and accounting; nothing half-written is visible.
    assert sorted(p.name for p in (clean / "extract").glob("*.parquet")) == \
           sorted(p.name for p in (killed / "extract").glob("*.parquet"))
    cols = "id, url, drop_reason, error, text, source_file, source_offset, charset, payload_bytes"
    clean_rows = _rows(clean / "extract", cols)
    assert clean_rows == _rows(killed / "extract", cols)
    acc = _accounting(clean / "extract")
    assert acc == _accounting(killed / "extract")
    assert not list((killed / "extract").rglob("*.inprogress"))  # the killed attempt's temporary part is gone
    assert acc["records_read"] == len(clean_rows) == 50 + 48 + 30 + 1
    # Annotate: the same documents, decisions and scores, no row duplicated by the retry.
    cols = "id, drop_reason, lang, lang_score, text, scores"
    annotated = _rows(killed / "annotate", cols)
    assert annotated == _rows(clean / "annotate", cols)
    assert len(annotated) == len({r[0] for r in annotated}) == len(clean_rows)
    assert _accounting(clean / "annotate") == _accounting(killed / "annotate")


# ----------------------------------------------------------------------------- 2. fuzzed WARC files
FUZZ_SOURCES = ("commoncrawl/cc-2020-excerpt.warc.gz", "dolma-2024/sample-0000.warc.gz",
                "clueweb09-quirk/clueweb-eucjp.warc.gz", "nodewarc/books.toscrape.warc",
                "ukwa-govuk-2014/heritrix-2008-small.warc.gz", "warcio-edge/example-iana.org-chunked.warc")
FUZZ_SEED = 20240613
N_RANDOM = 20


def _mutate(rng: random.Random, data: bytes, kind: str) -> tuple[bytes, int]:
    """One damaged copy of ``data`` and the offset of its first changed byte."""
    buf = bytearray(data)
    if kind == "truncate":
        cut = rng.randrange(1, len(buf))
        return bytes(buf[:cut]), cut
    if kind == "flip":  # a few bytes anywhere: headers, gzip framing, payloads
        spots = [rng.randrange(len(buf)) for _ in range(rng.randint(1, 6))]
        for p in spots:
            buf[p] ^= rng.randrange(1, 256)
        return bytes(buf), min(spots)
    start = rng.randrange(len(buf))
    size = rng.randint(1, 4000)
    if kind == "zero":
        buf[start:start + size] = bytes(len(buf[start:start + size]))
    else:  # "duplicate": a region repeated in place, as a bad resumed download leaves it
        buf[start:start] = buf[start:start + size]
    return bytes(buf), start


def _record_spans(clean: list[dict], size: int) -> list[tuple[int, int, dict]]:
    """(start, end, row) of every record of a clean file: a record ends where the next begins."""
    rows = sorted(clean, key=lambda r: r["source_offset"])
    ends = [r["source_offset"] for r in rows[1:]] + [size]
    return [(r["source_offset"], end, r) for r, end in zip(rows, ends)]


@pytest.fixture(scope="module")
def fuzz_case(warc_dir, tmp_path_factory):
    """~28 damaged copies of real files in one folder, the clean files' rows, each copy's damage."""
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "inputs"
    folder.mkdir()
    sources = {name: warc_dir / name for name in FUZZ_SOURCES}
    clean = {}
    for name, path in sources.items():
        res = process_file(str(path), str(root / "clean"), FAST, keep_dropped=True)
        clean[name] = pq.read_table(root / "clean" / res.part).to_pylist()
    cases = {}  # file name -> (source name, offset of the first changed byte, whether the file was cut there)

    def add(label, name, data, first, cut=False):
        suffix = ".warc.gz" if name.endswith(".gz") else ".warc"
        fname = f"{len(cases):02d}-{label}{suffix}"
        (folder / fname).write_bytes(data)
        cases[fname] = (name, first, cut)

    rng = random.Random(FUZZ_SEED)
    kinds = ("truncate", "flip", "zero", "duplicate")
    for i in range(N_RANDOM):
        name = rng.choice(FUZZ_SOURCES)
        data, first = _mutate(rng, sources[name].read_bytes(), kinds[i % len(kinds)])
        add(kinds[i % len(kinds)], name, data, first, cut=kinds[i % len(kinds)] == "truncate")
    # Targeted damage at record boundaries of a multi-member gzip WARC (records of 2-30 KB).
    name = "commoncrawl/cc-2020-excerpt.warc.gz"
    data = sources[name].read_bytes()
    spans = _record_spans(clean[name], len(data))
    start, end, _ = spans[len(spans) // 2]
    add("half", name, data[: len(data) // 2], len(data) // 2, cut=True)
    add("cut-in-header", name, data[: start + 40], start + 40, cut=True)  # inside a gzip member's WARC headers
    request = next(s for s in spans if s[2]["record_type"] == "request" and s[0] > start)
    add("cut-in-request", name, data[: request[1] - 30], request[1] - 30, cut=True)
    crc = bytearray(data)
    crc[end - 6] ^= 0xFF  # the member's CRC-32: the payload decodes, the member does not check out
    add("bad-crc", name, bytes(crc), end - 6)
    add("valid-then-cut", name, data + data[: start + 200], len(data))
    add("empty", name, b"", 0, cut=True)
    return {"root": root, "folder": folder, "cases": cases, "clean": clean,
            "sizes": {n: p.stat().st_size for n, p in sources.items()}}


def _check_file(fname: str, rows: list[dict], records_read: int, by_outcome: dict, fuzz_case) -> None:
    """The per-file contract for a damaged copy (rows: its output with keep_dropped)."""
    source, first, cut = fuzz_case["cases"][fname]
    assert sum(by_outcome.values()) == records_read == len(rows), fname
    assert Counter(r["drop_reason"] or "kept" for r in rows) == Counter(by_outcome), fname
    assert len({r["id"] for r in rows}) == len(rows), f"{fname}: document ids must stay unique"
    for r in rows:
        if (r["drop_reason"] or "").startswith("error."):
            assert r["error"], f"{fname}: {r['drop_reason']} without a message"
        elif r["drop_reason"] is None:
            assert r["text"], fname
    # Records wholly before the first damaged byte come out exactly as from the clean file.
    got = {r["source_offset"]: r for r in rows}
    intact = [r for s, e, r in _record_spans(fuzz_case["clean"][source], fuzz_case["sizes"][source]) if e <= first]
    for r in intact:
        mine = got.get(r["source_offset"])
        assert mine is not None, f"{fname}: record at {r['source_offset']} before the damage at {first} is lost"
        assert (mine["drop_reason"], mine["text"], mine["url"]) == (r["drop_reason"], r["text"], r["url"]), fname
    # Nothing is lost silently. A cut file: the record the cut falls in comes out whole (the cut
    # only took a gzip trailer) or an error says it is incomplete. Any other damage: a file that
    # yields fewer records than its source says why.
    errors = any(k.startswith("error.") for k in by_outcome)
    if cut:
        across = [r for s, e, r in _record_spans(fuzz_case["clean"][source], fuzz_case["sizes"][source]) if s < first < e]
        for r in across:
            mine = got.get(r["source_offset"])
            whole = mine is not None and (mine["drop_reason"], mine["text"]) == (r["drop_reason"], r["text"])
            assert whole or errors, f"{fname}: record at {r['source_offset']} cut at {first}, no error: {by_outcome}"
    elif records_read < len(fuzz_case["clean"][source]):
        assert errors, f"{fname}: {by_outcome}"


@pytest.mark.slow  # ~2 s: extracts the fuzzed WARC files
def test_fuzzed_files_plain_python(fuzz_case, tmp_path):
    """The pure-Python path (one file, no JVM): the per-file contract for every damaged copy."""
    by_label = {}
    for fname in sorted(fuzz_case["cases"]):
        res = process_file(str(fuzz_case["folder"] / fname), str(tmp_path), FAST, keep_dropped=True)
        rows = pq.read_table(tmp_path / res.part).to_pylist()
        _check_file(fname, rows, res.records_read, res.by_outcome, fuzz_case)
        by_label[fname.split("-", 1)[1].split(".")[0]] = Counter(res.by_outcome)
    # The targeted cases do what their names say.
    assert by_label["cut-in-request"]["error.truncated"] == 1
    assert by_label["bad-crc"]["error.read"] == 1
    assert sum(v for k, v in by_label["cut-in-header"].items() if k.startswith("error.")) == 1
    assert by_label["half"]["kept"] >= 1 and by_label["valid-then-cut"]["kept"] > 16
    assert sum(v for k, v in by_label["valid-then-cut"].items() if k.startswith("error.")) == 1
    assert sum(by_label["empty"].values()) == 0


@pytest.mark.spark
def test_fuzzed_files_through_the_extract_job(spark, fuzz_case):
    """One Spark run over the folder of damaged copies: exit 0, exact accounting per file."""
    from spark_jobs.extract import ExtractJob

    out = fuzz_case["root"] / "out"
    job = ExtractJob()
    args = job.build_parser().parse_args([str(fuzz_case["folder"]), "-o", str(out), "--extractor", "resiliparse",
                                          "--keep-dropped"])
    assert job.run(spark, args, job.load_config(args)) == 0
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc["files"] == len(fuzz_case["cases"])
    assert acc["records_read"] == acc["kept"] + acc["dropped"] + acc["errored"] == sum(acc["by_outcome"].values())
    assert acc["errored"] > 0
    rows = [r for part in sorted(out.glob('*.parquet')) for r in pq.read_table(part).to_pylist()]
    assert len(rows) == acc["records_read"] == acc["rows_written"]
    per_file: dict[str, list] = {}
    for r in rows:
        per_file.setdefault(Path(r["source_file"]).name, []).append(r)
    for source_file, counts in acc["per_file"].items():
        fname = Path(source_file).name
        _check_file(fname, per_file.get(fname, []), counts["records_read"], counts["by_outcome"], fuzz_case)
