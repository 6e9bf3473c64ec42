"""Progress lines of the local loops (issue 22): ``curate ingest`` and classifier training log at
INFO every few seconds (the interval set low here)."""

from __future__ import annotations

import logging
import re
import time

import pytest

from curation import progress


@pytest.fixture()
def fast_progress(monkeypatch, caplog):
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    caplog.set_level(logging.INFO, logger="curate.progress")
    return caplog


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "curate.progress"]


def test_curate_ingest_logs_progress(tmp_path, fast_progress):
    from curate import cli

    src = tmp_path / "texts"
    src.mkdir()
    for i in range(30):
        (src / f"doc{i:02d}.txt").write_text(f"document number {i}\n" * 5)
    assert cli.main(["ingest", "text", str(src), "--output", str(tmp_path / "out")]) == 0
    lines = _lines(fast_progress)
    counted = [int(m.group(1).replace(",", "")) for line in lines
               if (m := re.match(r"ingest text: (?:done: )?([\d,]+) documents read", line))]
    assert len(counted) >= 30 and counted == sorted(counted)  # one per document at interval 0, growing
    assert lines[-1].startswith("ingest text: done: 30 documents read")


def test_progress_is_silent_for_a_short_loop(caplog):
    caplog.set_level(logging.INFO, logger="curate.progress")
    p = progress.Progress("quick", "items", every_s=60)
    for _ in range(1000):
        p.update()
    p.done()
    assert _lines(caplog) == []


def test_heartbeat_logs_while_a_step_runs(caplog):
    caplog.set_level(logging.INFO, logger="curate.progress")
    with progress.heartbeat("slow step", every_s=0.05):
        time.sleep(0.3)
    lines = _lines(caplog)
    assert len(lines) >= 2 and all(re.fullmatch(r"slow step: still running, \d+s elapsed", x) for x in lines)
    n = len(lines)
    time.sleep(0.15)
    assert len(_lines(caplog)) == n  # stopped with the block


def test_fasttext_training_logs_a_heartbeat(tmp_path, monkeypatch, caplog):
    pytest.importorskip("fasttext")
    from classifiers import fasttext_model

    monkeypatch.setattr(progress, "EVERY_S", 0.05)
    caplog.set_level(logging.INFO, logger="curate.progress")
    train = tmp_path / "train.txt"
    train.write_text("".join(f"__label__{'hq' if i % 2 else 'lq'} word{i % 7} text number {i}\n" for i in range(400)))
    fasttext_model.train_model_file(train, tmp_path / "model.bin", {**fasttext_model.DEFAULT_PARAMS, "epoch": 50})
    assert any(x.startswith("fastText training on train.txt: still running") for x in _lines(caplog))
