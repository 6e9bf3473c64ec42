"""The models shipped in classifiers/models: present, verified, small, documented, usable with no
../shared data, and rebuilt by ``make models`` to the figures their meta.json records.

The fast tests need nothing outside the repository. The rebuild tests need ../shared/data; the cheap
models are rebuilt on every run, the ones that embed thousands of documents with MiniLM on CPU
(tens of minutes on 2 cores) only with ``CURATE_EXPENSIVE_TESTS=1``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from classifiers import build_models, loading, score_command
from classifiers.artifacts import META_FILE

SHIPPED = loading.shipped_names()
MATHS = ("To solve 3x + 5 = 20, subtract 5 from both sides to get 3x = 15, then divide both sides by 3, so "
         "x = 5. We check the answer: 3 times 5 is 15, and 15 plus 5 is 20, which matches the right-hand side. "
         "The same method works for any linear equation: isolate the variable by undoing each operation.")
CHROME = "Home | About | Login | Register | Cart (0) | Privacy policy | Terms | Contact | Follow us on Twitter"


def test_the_named_models_are_shipped_and_small():
    for name in ("quality", "quality-minilm", "quality-fasttext", "quality-reference", "reasoning",
                 "reasoning-fasttext"):
        assert name in SHIPPED, f"{name} missing from {loading.SHIPPED_DIR}"
    total = sum(f.stat().st_size for f in loading.SHIPPED_DIR.rglob("*") if f.is_file())
    assert total < 20 * 2**20, f"shipped models take {total / 2**20:.1f} MB (budget 20 MB)"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_verifies_and_records_its_provenance(name):
    d = loading.resolve(name)
    kind = loading.check(name)
    meta = json.loads((d / META_FILE).read_text())
    if kind == "combined":
        assert meta["calibration"]["n"] >= 500 and len(meta["components"]) >= 2
        return
    td = meta["training_data"]
    assert len(td.get("sha256") or "") == 64, "training data sha256 missing"
    assert td.get("recipe") or meta.get("recipe"), "recipe missing"
    assert _metrics(meta), "metrics missing"
    # no absolute path of the machine that built it may be needed to load it (the encoder resolves
    # to this install's copy of the bundled MiniLM)
    assert loading.load(name, device="cpu") is not None


@pytest.mark.slow  # ~2 s per MiniLM model: scores 10 MB of hostile text
@pytest.mark.parametrize("name", ["quality", "quality-fasttext", "reasoning", "reasoning-fasttext"])
def test_score_command_by_name_on_hostile_input(name, tmp_path):
    rows = [{"id": "maths", "text": MATHS}, {"id": "chrome", "text": CHROME}, {"id": "empty", "text": ""},
            {"id": "blank", "text": " \n\t "}, {"id": "none", "text": None}, {"id": "number", "text": 42},
            {"id": "big", "text": "word " * 2_000_000},  # 10 MB
            {"id": "german", "text": "Die Ableitung einer Funktion beschreibt ihre momentane Änderungsrate."}]
    src = tmp_path / "in.jsonl"
    with src.open("wb") as fh:
        for r in rows:
            fh.write(json.dumps(r).encode() + b"\n")
        fh.write(b'{"id": "latin1", "text": "caf\xe9 cr\xe8me"}\n')  # not UTF-8: scored, not dropped
    out = tmp_path / "out.parquet"
    p = argparse.ArgumentParser()
    score_command.add_arguments(p)
    assert score_command.run(p.parse_args(["--model", name, "--input", str(src), "--output", str(out),
                                           "--device", "cpu"])) == 0
    t = pq.read_table(out).to_pylist()
    assert [r["id"] for r in t] == [r["id"] for r in rows] + ["latin1"]
    s = {r["id"]: r["score"] for r in t}
    assert s["empty"] is None and s["blank"] is None and s["none"] is None and s["number"] is None
    why = {r["id"]: r["reason"] for r in t}
    assert (why["empty"], why["blank"], why["none"], why["number"], why["maths"]) == (
        "empty_text", "empty_text", "no_text", "no_text", None)
    for k in ("maths", "chrome", "big", "german", "latin1"):
        assert s[k] is not None and np.isfinite(s[k]), k
    assert s["maths"] > s["chrome"]


def _metrics(meta: dict) -> dict[str, float]:
    """Every float figure of a model's own evaluation, flattened (``valid_metrics`` of a trained
    model, ``eval_metrics`` of a distilled one)."""
    out: dict[str, float] = {}

    def walk(prefix: str, v) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else k, x)
        elif isinstance(v, float):
            out[prefix] = v

    walk("", {k: meta.get(k) for k in ("valid_metrics", "eval_metrics") if meta.get(k)})
    return out


def _close(got: dict, want: dict, keys: tuple[str, ...], tol: float) -> None:
    for k in keys:
        assert abs(got[k] - want[k]) <= tol, (k, got[k], want[k])


@pytest.mark.slow
def test_rebuild_of_the_reference_model_matches_meta(shared_data, tmp_path):
    out = tmp_path / "models"
    assert build_models.main(["--data", str(shared_data), "--output", str(out), "--only", "quality-reference"]) == 0
    got = json.loads((out / "quality-reference" / META_FILE).read_text())
    want = json.loads((loading.SHIPPED_DIR / "quality-reference" / META_FILE).read_text())
    assert got["training_data"]["sha256"] == want["training_data"]["sha256"]
    _close(got["valid_metrics"], want["valid_metrics"], ("roc_auc", "accuracy"), 0.01)


@pytest.mark.slow
@pytest.mark.expensive  # embeds ~6,000 documents with MiniLM on CPU: ~1 h on 2 cores
def test_full_rebuild_matches_meta(shared_data, tmp_path):
    out = tmp_path / "models"
    assert build_models.main(["--data", str(shared_data), "--output", str(out)]) == 0
    for name in SHIPPED:
        got = json.loads((out / name / META_FILE).read_text())
        want = json.loads((loading.SHIPPED_DIR / name / META_FILE).read_text())
        if want["kind"] == "combined":
            for g, w in zip(got["components"], want["components"]):
                assert abs(g["mean"] - w["mean"]) <= 0.01 * abs(w["std"]) and abs(g["std"] / w["std"] - 1) <= 0.01
            continue
        g, w = _metrics(got), _metrics(want)
        assert w and set(g) == set(w), name
        for k, v in w.items():
            assert abs(g[k] - v) <= 0.01, (name, k, g[k], v)
