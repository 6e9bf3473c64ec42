"""The dashboard never reads outside the run (issue 16), its SQL page is bounded in time and memory,
and stopping ``curate dashboard`` stops the server.

Crafted runs are built from :func:`dashboards.sample_run.make_run` (real files, seconds): a report
naming a file outside the run, symlinks inside the run pointing out, ``..`` paths. The secret they
point at is a real file next to the run; every check asserts it is never shown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from curation import output_dir
from curation.query import confine, run_sql
from dashboards import ablation_outputs, data, docview, jobs, sample_run

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboards" / "app.py"
SECRET = "SECRET-c0ffee-issue16"


@pytest.fixture()
def crafted(tmp_path) -> sample_run.SampleRun:
    """A sample run, and beside it an ``outside/`` folder holding secrets in every format a viewer reads."""
    run = sample_run.make_run(tmp_path / "run", 300, seed=3)
    out = tmp_path / "outside"
    out.mkdir()
    # A benchmark file the report may name: valid gsm8k lines, so only the confinement keeps it hidden.
    (out / "gsm8k.jsonl").write_text("".join(json.dumps({"question": f"{SECRET} {i}", "answer": SECRET}) + "\n"
                                             for i in range(50)))
    (out / "secret.json").write_text(json.dumps({"sources": {SECRET: {"share": 1}}, "total_tokens": 1, "config": SECRET,
                                                 "benchmarks": {SECRET: {"files": [], "items": 1}}}))
    (out / "secret.txt").write_text(SECRET + "\n")
    shutil.copy(run.warc_file, out / "copy.warc.gz")
    return run


def _contaminated(run: Path) -> dict:
    con = run_sql.connect(run)
    try:
        row = con.execute("SELECT id, decontam_benchmark, decontam_item FROM decontaminate "
                          "WHERE decontam_status = 'contaminated' LIMIT 1").fetchone()
    finally:
        con.close()
    return {"id": row[0], "benchmark": row[1], "item": row[2]}


def _report(run: Path) -> dict:
    return json.loads((run / "decontaminate" / "_report.json").read_text())


def _set_report_files(run: Path, files: list[str]) -> None:
    report = _report(run)
    report["benchmarks"]["gsm8k"]["files"] = files
    (run / "decontaminate" / "_report.json").write_text(json.dumps(report))


def _app(run: Path, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv(data.RUN_DIR_ENV, str(run))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at: AppTest) -> str:
    """Everything the page rendered (every element's protobuf, as text)."""
    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return "\n".join(str(n.proto) for n in walk(at._tree) if getattr(n, "proto", None) is not None)


# ------------------------------------------------------------------------------ the helper


def test_confinement_resolves_links_and_dots_before_checking(tmp_path):
    root = tmp_path / "run"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "in.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text(SECRET)
    (root / "out_link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "in_link.txt").symlink_to(root / "sub" / "in.txt")
    (root / "dir_link").symlink_to(tmp_path, target_is_directory=True)
    (root / "loop").symlink_to(root / "loop")
    (tmp_path / "run_evil").mkdir()  # a sibling sharing the run's name as a prefix
    (tmp_path / "run_evil" / "x.txt").write_text(SECRET)
    c = confine.Confinement.under(root)
    assert c.read_text(root / "in_link.txt") == "inside"
    assert c.read_text("sub/in.txt") == "inside"  # relative to the run, not the working directory
    for bad in [root / "out_link.txt", root / "dir_link" / "secret.txt", f"{root}/sub/../../secret.txt",
                "../secret.txt", "/etc/passwd", tmp_path / "run_evil" / "x.txt", root / "loop"]:
        with pytest.raises(confine.OutsideRunError) as info:
            c.read_text(bad)
        msg = str(info.value)
        assert msg.startswith("refused: ") and "\n" not in msg and SECRET not in msg
    with pytest.raises(FileNotFoundError):
        c.resolve(root / "missing.txt")
    assert c.resolve(root / "missing.txt", strict=False) == root.resolve() / "missing.txt"
    with pytest.raises(ValueError):
        c.open(root / "sub" / "in.txt", "w")


@pytest.mark.slow  # ~1 s: Streamlit AppTest renders
def test_roots_are_the_run_and_the_input_folders_its_config_names(crafted, tmp_path):
    run = crafted.run_dir
    assert confine.for_run(run).roots == (run.resolve(),)  # the sample run keeps its benchmarks inside
    bench = tmp_path / "benchdir"
    shutil.move(run / "benchmarks", bench)
    warcs = tmp_path / "crawl"
    (warcs / "seg").mkdir(parents=True)
    acc = json.loads((run / "extract" / "_accounting.json").read_text())
    acc["per_file"] = {str(warcs / "seg" / "a.warc.gz"): {}, "s3://bucket/b.warc.gz": {}}
    (run / "extract" / "_accounting.json").write_text(json.dumps(acc))
    cfg = {"benchmarks": str(bench / "bench.yaml"), "decontam": {"allowlist": "/etc/allow.txt"}}
    (run / "decontaminate" / "_config.yaml").write_text(yaml.safe_dump(cfg))
    (run / "mix" / "_config.yaml").write_text(yaml.safe_dump({"input": str(run / "decontaminate"),
                                                              "sources": [{"input": "/"}, {"input": str(Path.home())}]}))
    roots = confine.for_run(run).roots
    # /etc, / and the home folder are named too, but never allowed: a config is data a run can craft.
    assert roots == (run.resolve(), bench.resolve(), (warcs / "seg").resolve())
    # A config file that is itself a link out of the run widens nothing.
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump({"benchmarks": str(tmp_path / "outside" / "x.yaml")}))
    (run / "decontaminate" / "_config.yaml").unlink()
    (run / "decontaminate" / "_config.yaml").symlink_to(tmp_path / "evil.yaml")
    assert (tmp_path / "outside").resolve() not in confine.for_run(run).roots


# ------------------------------------------------------------------------------ benchmark item


def test_benchmark_item_from_a_report_naming_etc_passwd_is_refused(crafted):
    run = crafted.run_dir
    report = _report(run)
    report["benchmarks"]["gsm8k"]["files"] = ["/etc/passwd"]
    text, why = docview.benchmark_item(report, "gsm8k", "passwd:1", run)
    assert text is None and why.startswith("refused: /etc/passwd is outside the run") and "\n" not in why
    assert "root:" not in why


@pytest.mark.slow  # ~3 s in all: Streamlit AppTest renders
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_benchmark_item_outside_the_run_is_refused_on_the_samples_page(crafted, monkeypatch, how):
    run = crafted.run_dir
    outside = run.parent / "outside" / "gsm8k.jsonl"
    if how == "absolute":
        _set_report_files(run, [str(outside)])
    elif how == "dotdot":
        _set_report_files(run, [f"{run}/benchmarks/../../outside/gsm8k.jsonl"])
    else:  # the report is untouched; the file it names is a link out of the run
        crafted.benchmark_file.unlink()
        crafted.benchmark_file.symlink_to(outside)
    doc = _contaminated(run)
    text, why = docview.benchmark_item(_report(run), doc["benchmark"], doc["item"], run)
    assert text is None and why.startswith("refused: ") and SECRET not in why
    at = _app(run, monkeypatch, "samples")
    at.text_input(key="samples_doc_id").set_value(doc["id"]).run()
    assert not at.exception
    assert any("Shared n-grams not highlighted: refused:" in c.value for c in at.caption)
    assert SECRET not in _shown(at)


@pytest.mark.slow  # ~2 s: Streamlit AppTest renders
def test_benchmark_item_in_a_config_named_folder_outside_the_run_is_shown(crafted, tmp_path, monkeypatch):
    run = crafted.run_dir
    bench = tmp_path / "benchdir"
    shutil.move(run / "benchmarks", bench)
    (run / "decontaminate" / "_config.yaml").write_text(yaml.safe_dump({"benchmarks": str(bench / "bench.yaml")}))
    report = _report(run)
    report["benchmarks_file"] = str(bench / "bench.yaml")
    report["benchmarks"]["gsm8k"]["files"] = [str(bench / "gsm8k.jsonl")]
    (run / "decontaminate" / "_report.json").write_text(json.dumps(report))
    doc = _contaminated(run)
    text, why = docview.benchmark_item(report, doc["benchmark"], doc["item"], run)
    assert why is None and text
    at = _app(run, monkeypatch, "samples")
    at.text_input(key="samples_doc_id").set_value(doc["id"]).run()
    assert any("<mark>" in h.proto.body for h in at.get("html"))


# ------------------------------------------------------------------------------ raw WARC, side files


def test_raw_record_through_a_link_or_dots_out_of_the_run_is_refused(crafted, monkeypatch):
    monkeypatch.delenv(docview.WARC_ROOTS_ENV, raising=False)
    run = crafted.run_dir
    outside = run.parent / "outside" / "copy.warc.gz"
    link = run / "warc" / "linked.warc.gz"
    link.symlink_to(outside)
    for source in [str(link), f"{run}/warc/../../outside/copy.warc.gz", "../outside/copy.warc.gz", str(outside)]:
        raw = docview.read_raw_html(source, 0, run)
        assert raw.html is None and raw.reason.startswith("refused: "), (source, raw.reason)
    # The same record through a path that stays inside the run is shown.
    assert docview.read_raw_html(f"{run}/warc/../warc/sample.warc.gz", 0, run).html


@pytest.mark.slow  # ~3 s in all: Streamlit AppTest renders
@pytest.mark.parametrize("page,target", [("decontamination", "decontaminate/_report.json"),
                                         ("mixture", "mix/mixture_manifest.json")])
def test_side_files_linked_out_of_the_run_are_refused_on_their_page(crafted, monkeypatch, page, target):
    run = crafted.run_dir
    (run / target).unlink()
    (run / target).symlink_to(run.parent / "outside" / "secret.json")
    at = _app(run, monkeypatch, page)
    assert any(e.value.split(": ", 1)[1].startswith("refused: ") for e in at.error), [e.value for e in at.error]
    assert SECRET not in _shown(at)


def test_ablation_files_linked_out_of_the_run_are_not_read(crafted):
    out = crafted.ablation_dir
    secret = crafted.run_dir.parent / "outside" / "secret.txt"
    for name in ("best_mixture.yaml", "regression.json", jobs.LOG_FILE):
        (out / name).unlink(missing_ok=True)
        (out / name).symlink_to(secret)
    assert ablation_outputs.best_mixture(out) is None and ablation_outputs.regression(out) is None
    assert jobs.log_tail(out).startswith("refused: ") and SECRET not in jobs.log_tail(out)
    # Nor appended to through the link when a job is launched in a folder holding one.
    new = crafted.run_dir / "ablations" / "new"
    output_dir.claim(str(new), "ablate")
    (new / jobs.LOG_FILE).symlink_to(secret)
    with pytest.raises(jobs.JobError, match="^refused: "):
        jobs.launch(new, "vocab_size: 8\n")
    assert secret.read_text() == SECRET + "\n"
    # An ablation folder that is a link out of the run is not listed.
    (crafted.run_dir / "ablations" / "elsewhere").symlink_to(out.parent.parent.parent / "outside", target_is_directory=True)
    (out.parent.parent.parent / "outside" / "plan.json").write_text("{}")
    assert all("elsewhere" not in str(p) for p in ablation_outputs.list_ablations(crafted.run_dir))


# ------------------------------------------------------------------------------ SQL page limits


@pytest.mark.slow  # ~3.5 s in all: runs queries to their time and memory limits
@pytest.mark.parametrize("env,sql,message", [
    ({"CURATE_SQL_TIMEOUT_S": "1"}, "SELECT count(*) FROM range(1000000) a, range(1000000) b",
     "query stopped after 1 s (--sql-timeout-s)"),
    ({"CURATE_SQL_MEMORY_LIMIT": "64MB"}, "SELECT list(range) FROM range(500000000)",
     "query needed more than 64MB (--sql-memory-limit)"),
    ({}, "SELECT * FROM read_blob('{run}/warc/*')", "refused"),
])
def test_sql_page_stops_a_query_at_its_limits(crafted, monkeypatch, env, sql, message):
    run = crafted.run_dir
    if message == "refused":  # a link out of the run, matched by a glob: one line, not a traceback
        (run / "warc" / "zz.txt").symlink_to(run.parent / "outside" / "secret.txt")
        message = "Permission Error"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = _app(run, monkeypatch, "sql")
    at.text_area(key="sql_text").set_value(sql.format(run=run.resolve())).run()
    started = time.monotonic()
    at.button(key="sql_run").click().run()
    assert time.monotonic() - started < 20
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error if message in e.value], [e.value for e in at.error]
    assert SECRET not in _shown(at)


# ------------------------------------------------------------------------------ stopping the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_curate_dashboard_stops_the_server(tmp_path, sig):
    psutil = pytest.importorskip("psutil")
    run = tmp_path / "run"
    run.mkdir()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "dashboard", str(run), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server = None
    try:
        assert _wait(lambda: _answers(port), 90), "the dashboard never answered"
        children = psutil.Process(proc.pid).children()
        assert len(children) == 1
        server = children[0]
        group = os.getpgid(server.pid)
        listening = [c.laddr for c in server.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
        assert listening and all(a.ip == "127.0.0.1" for a in listening)  # loopback only, by default
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
        assert _wait(lambda: not _answers(port), 5), "still serving after curate dashboard stopped"
        assert _wait(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE, 5)
        # Its own group (a terminal's Ctrl-C reaches curate alone), and nothing of it is left.
        assert group == server.pid != os.getpgid(os.getpid())
        assert _wait(lambda: jobs.group_members(group) == [], 5), jobs.group_members(group)
    finally:
        if proc.poll() is None:
            proc.kill()
        if server is not None and server.is_running():
            server.kill()  # never leave a server behind, whatever failed
        proc.wait(timeout=10)
