"""Leave-one-source-out evaluation of the ``reasoning`` recipe (classifiers/reasoning_eval.py).

Two folds of the real recipe on ../shared/data (sources read up to 400 rows each, so it runs in
well under a minute): the training rows never come from a held-out source (checked on the selection's
per-source counts *and* on the written training file's texts). The goal bar (held-out AUC well above
chance) is an expected failure today: the recipe's fastText model learns which *source* a text
comes from, and on sources it never saw it ranks below chance (bench/classifier_quality.py
--sections reasoning: LOSO mean 0.28 over 12 folds; 7 recipe/parameter variants compared, none
reached 0.90). ``strict`` makes the test fail loudly once a recipe clears the bar.
"""

from __future__ import annotations

import hashlib

import pytest

from classifiers.reasoning_eval import held_out_docs, loso
from classifiers.training_data import RECIPES, collect_raw

FOLD_PAIRS = (("gsm8k_train", "brown_non_stem"), ("arxiv", "wikitext2"))
AUC_BAR = 0.75


@pytest.fixture(scope="module")
def result(shared_data, tmp_path_factory):
    r = RECIPES["reasoning"]
    rows = collect_raw(shared_data, positives=r.positives,
                       negatives=r.negatives, max_per_source=400,
                       labels=(r.positive_label, r.negative_label))
    work = tmp_path_factory.mktemp("loso")
    return rows, loso(r, shared_data, rows=rows, pairs=FOLD_PAIRS, work_dir=work, keep_files=True)


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def test_folds_never_train_on_held_out_sources(result):
    rows, res = result
    assert [(f["held_out_positive"], f["held_out_negative"]) for f in res["folds"]] == list(FOLD_PAIRS)
    for f in res["folds"]:
        held = {f["held_out_positive"], f["held_out_negative"]}
        assert not held & set(f["train_sources"]), f
        assert set(f["train_sources"]) == {s for s, _, _ in rows} - held
        trained = set()
        with open(f["train_file"], encoding="utf-8") as fh:
            for line in fh:
                trained.add(_md5(line.rstrip("\n").partition(" ")[2]))
        assert len(trained) == f["train_rows"]
        for src in held:  # not one held-out text is among the training texts
            docs = held_out_docs(rows, src, set(), 10**9)
            assert docs and not trained & {_md5(t) for t in docs}
        assert f["n_pos"] > 50 and f["n_neg"] > 50


@pytest.mark.xfail(strict=True, reason="goal not met: the reasoning recipe's LOSO ROC-AUC is below chance "
                   "(mean 0.28 on the full sources; fastText learns source identity, not reasoning density)")
def test_loso_auc_above_chance(result):
    _, res = result
    for f in res["folds"]:
        assert f["roc_auc"] >= AUC_BAR, f
    assert res["min"] == min(f["roc_auc"] for f in res["folds"])


def test_unknown_pair_refused(shared_data):
    with pytest.raises(ValueError, match="not a positive/negative source pair"):
        loso("reasoning", shared_data, rows=[], pairs=[("wikitext2", "arxiv")])


def test_harness_sees_a_cue_shared_across_sources(tmp_path):
    """Positive control without ../shared: each source has its own vocabulary, but every positive
    source also uses reasoning connectives, so a held-out pair is ranked almost perfectly."""
    import random

    from classifiers.training_data import HQ, LQ, Recipe

    rng = random.Random(0)
    cues = ["therefore", "because", "thus", "hence", "so", "implies"]
    rows = []
    for label, sources in ((HQ, ("p1", "p2", "p3")), (LQ, ("n1", "n2", "n3"))):
        for src in sources:
            own = [f"{src}w{i}" for i in range(40)]
            for _ in range(120):
                words = [rng.choice(own) for _ in range(50)]
                if label == HQ:
                    words += [rng.choice(cues) for _ in range(8)]
                rng.shuffle(words)
                rows.append((src, label, " ".join(words)))
    r = Recipe("synthetic", "", ("p1", "p2", "p3"), ("n1", "n2", "n3"))
    res = loso(r, tmp_path, rows=rows, pairs=[("p1", "n1"), ("p3", "n2")], params={"minCount": 1})
    assert res["min"] >= 0.95, res["folds"]
