"""The run directory's file names (curation/rundir.py) and the atomic writes behind them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curation import fsutil, output_dir, rundir, stages

REPO = Path(__file__).resolve().parent.parent
#: Every run-directory file name as a quoted literal, or at the end of one (docstrings use ``…``).
NAMES = (rundir.CONFIG, rundir.ACCOUNTING, rundir.REPORT, rundir.MANIFEST, rundir.PIPELINE_STATE,
         rundir.OUTPUT_MARKER, rundir.SPARK_SUCCESS, rundir.PARTS_DIR, rundir.TOKENS_DIR, rundir.SPARK_TEMPORARY)
LITERAL = re.compile("|".join(rf"[\"']{re.escape(n)}[\"'/]|/{re.escape(n)}[\"']" for n in NAMES))


def test_no_run_dir_file_name_is_spelled_outside_rundir():
    """Code names run-directory files through curation.rundir, so renaming one is one edit."""
    offenders = []
    for folder in ("curate", "curation", "spark_jobs", "dashboards", "classifiers"):
        for py in sorted((REPO / folder).rglob("*.py")):
            if py.name == "rundir.py":
                continue
            for i, line in enumerate(py.read_text().splitlines(), 1):
                if LITERAL.search(line):
                    offenders.append(f"{py.relative_to(REPO)}:{i}: {line.strip()}")
    assert offenders == []


def test_names_are_the_ones_old_runs_have():
    """Runs written before this module must still read: the names on disk never change."""
    assert (rundir.CONFIG, rundir.ACCOUNTING, rundir.REPORT, rundir.MANIFEST, rundir.PIPELINE_STATE,
            rundir.OUTPUT_MARKER) == ("_config.yaml", "_accounting.json", "_report.json", "mixture_manifest.json",
                                      "_pipeline.json", "_curate_output.json")
    assert rundir.stage_section_file("/r", "dedup") == "/r/dedup.yaml"
    assert rundir.stage_folder("s3a://b/r/", "extract") == "s3a://b/r/extract"


def test_an_overwrite_may_delete_every_completion_file():
    """output_dir deletes only names Curate writes: every stage's completion files are among them."""
    for st in stages.ordered():
        assert all(output_dir.is_written_name(name) for name in st.completion), st.name


def test_side_files_are_written_atomically_and_read_back(tmp_path):
    acc = {"records_read": 3, "kept": 2, "by_outcome": {"kept": 2, "x.y": 1}}
    path = rundir.write_accounting(tmp_path / "s", acc)
    assert Path(path).read_bytes() == json.dumps(acc, indent=2).encode()  # the bytes the jobs always wrote
    assert rundir.read_accounting(tmp_path / "s") == acc
    rundir.write_config(tmp_path / "s", "a: 1\n")
    assert (tmp_path / "s" / rundir.CONFIG).read_text() == "a: 1\n"
    assert rundir.missing(tmp_path / "s", (rundir.ACCOUNTING, rundir.CONFIG)) is None
    assert rundir.missing(tmp_path / "s", (rundir.ACCOUNTING, rundir.REPORT, rundir.MANIFEST)) == rundir.REPORT
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [rundir.ACCOUNTING, rundir.CONFIG]  # no temporaries


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "sub" / "model.json"
    with fsutil.atomic_path(target) as tmp:
        Path(tmp).write_text("new")
        assert not target.exists()  # not visible until the block ends
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), fsutil.atomic_path(target) as tmp:
        Path(tmp).write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["model.json"]  # the temporary is gone


def test_hand_written_atomic_writes_go_through_fsutil():
    """tmp file + os.replace is written once (curation/fsutil.py); everything else calls it.
    commoncrawl's download renames a verified, resumable .part file (not a write); classifiers/
    llm_label.py's cache is still its own (another owner)."""
    allowed = {"curation/fsutil.py": 1, "curation/ingest/commoncrawl.py": 1, "classifiers/llm_label.py": 1,
               "curation/ablations/trainer.py": 1}  # trainer: rotating the previous checkpoint aside
    found: dict[str, int] = {}
    for folder in ("curate", "curation", "spark_jobs", "dashboards", "classifiers"):
        for py in sorted((REPO / folder).rglob("*.py")):
            n = py.read_text().count("os.replace(")
            if n:
                found[str(py.relative_to(REPO))] = n
    assert {f: n for f, n in found.items() if n > allowed.get(f, 0)} == {}  # fewer is fine: one more routed
