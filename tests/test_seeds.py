"""Web-rewrite seeds: passages scored for reasoning, the best kept per topic."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from classifiers import fasttext_model
from classifiers.seeds import passages
from classifiers.training_data import build_default_training_set
from curate import cli
from tests.test_fasttext_classifier import TINY


def test_passages_are_paragraph_aligned():
    text = "\n\n".join(" ".join(f"w{i}_{j}" for j in range(50)) for i in range(7))
    ps = passages("d", text, min_words=60, max_words=120)
    assert [len(p.text.split()) for p in ps] == [100, 100, 150]  # the 50-word tail joins the last passage
    assert passages("d", "too short", 60) == [] and passages("d", None) == []


@pytest.mark.slow  # ~6 s: builds two training sets and trains two fastText models
def test_seeds_keep_every_topic(shared_data, tmp_path):
    models = {}
    for recipe in ("reasoning", "topic"):
        tr, va, info = build_default_training_set(shared_data, tmp_path / recipe / "data", recipe=recipe, max_per_source=80)
        fasttext_model.train(tr, va, tmp_path / recipe, params=TINY, data_info=info)
        models[recipe] = tmp_path / recipe
    rows = []
    for i, line in enumerate((shared_data / "benchmarks/gsm8k/train.jsonl").open()):  # STEM, worked reasoning
        if 2000 <= i < 2040:
            r = json.loads(line)
            rows.append({"id": f"g{i}", "text": (r["question"] + "\n" + r["answer"] + "\n") * 3})
    paras = [p for p in (shared_data / "corpora/wikitext2/test.txt").read_text().split("\n") if len(p.split()) > 80]
    rows += [{"id": f"w{i}", "text": p} for i, p in enumerate(paras[:60])]
    src = tmp_path / "top.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "seeds.parquet"
    assert cli.main(["seeds", "--input", str(src), "--reasoning-model", str(models["reasoning"]),
                     "--topic-model", str(models["topic"]), "--output", str(out), "--per-topic", "10"]) == 0
    seeds = pq.read_table(out).to_pylist()
    topics = {s["topic"] for s in seeds}
    assert topics == {"stem", "non_stem"}  # non-STEM passages survive though they score lower
    for t in topics:
        ranked = [s["reasoning_score"] for s in seeds if s["topic"] == t]
        assert len(ranked) == 10 and ranked == sorted(ranked, reverse=True)
    stem = [s for s in seeds if s["topic"] == "stem"]
    assert sum(s["doc_id"].startswith("g") for s in stem) >= 7
