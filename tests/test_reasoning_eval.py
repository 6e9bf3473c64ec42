"""Leave-one-source-out evaluation of the ``reasoning`` recipe (classifiers/reasoning_eval.py) and
the shipped reasoning model (classifiers/models/reasoning).

Two folds of the real recipe on ../shared/data (sources read up to 400 rows each, so it runs in
well under a minute): the training rows never come from a held-out source (checked on the selection's
per-source counts *and* on the written training file's texts). The goal (LOSO mean ROC-AUC >= 0.90)
is an expected failure today: bench/classifier_quality.py --sections reasoning compares 6 variants
over the 12 folds; fastText 0.28 (min 0.03), MiniLM last layer 0.40, all layers 0.45, + text
statistics 0.45, + web documentation/commercial pages 0.62, + FineWeb-Edu train labels 0.73 (min
0.41, val Spearman +0.44: the shipped variant). ``strict`` makes the goal test fail loudly once a
variant clears the bar.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from classifiers import loading
from classifiers.reasoning_eval import CHOSEN, VARIANTS, EmbeddingCache, Variant, held_out_docs, loso
from classifiers.training_data import RECIPES, collect_raw
from tests.conftest import slow_fixture

MODEL_DIR = Path(__file__).resolve().parent.parent / "classifiers" / "models" / "reasoning"
GOAL = 0.90

FOLD_PAIRS = (("gsm8k_train", "brown_non_stem"), ("arxiv", "wikitext2"))
AUC_BAR = 0.75


@pytest.fixture(scope="module")
@slow_fixture("two leave-one-source-out folds of the reasoning recipe on ../shared/data: ~13 s")
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


@pytest.mark.slow
@pytest.mark.expensive
@pytest.mark.xfail(strict=True, reason="goal not met: the best of 6 variants (MiniLM all layers + web "
                   "documentation/commercial pages + FineWeb-Edu train labels) reaches LOSO mean 0.73, min 0.41 "
                   "(fastText 0.28); gsm8k_train vs wikitext2 stays below chance (0.41)")
def test_loso_goal_chosen_variant(shared_data):
    """All 12 folds of the shipped variant. Slow only on a cold cache: every text is embedded once
    into bench/_work/reasoning_emb (~15 min on one core), later runs fit heads only (~1 min)."""
    import torch

    from classifiers.reasoning_eval import extra_source_rows

    torch.set_num_threads(1)
    v = {x.name: x for x in VARIANTS}[CHOSEN]
    res = loso(RECIPES["reasoning"], shared_data, variant=v, cache=EmbeddingCache(),
               extra_rows=extra_source_rows(shared_data, v.extra))
    assert len(res["folds"]) == 12
    assert res["mean"] >= GOAL, res["per_positive_source"]


def test_unknown_pair_refused(shared_data):
    with pytest.raises(ValueError, match="not a positive/negative source pair"):
        loso("reasoning", shared_data, rows=[], pairs=[("wikitext2", "arxiv")])


@pytest.mark.slow  # ~1.5 s: trains fastText in every fold
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


@pytest.mark.slow  # ~10 s: MiniLM-embedding folds of the harness
def test_transformer_variant_folds(tmp_path):
    """The transformer kind on the same fold logic (the leakage check on the written training file
    runs inside loso) and the same positive control: a cue shared by every positive source is
    found by a logistic head on frozen MiniLM embeddings, cached under ``tmp_path``."""
    import random

    from classifiers.training_data import HQ, LQ, Recipe

    rng = random.Random(1)
    cues = ["therefore", "because", "thus", "hence", "so", "implies"]
    rows = []
    for label, sources in ((HQ, ("p1", "p2", "p3")), (LQ, ("n1", "n2", "n3"))):
        for src in sources:
            own = [f"{src}w{i}" for i in range(40)]
            for _ in range(40):
                words = [rng.choice(own) for _ in range(50)]  # >= MIN_CHARS
                if label == HQ:
                    words += [rng.choice(cues) for _ in range(8)]
                rng.shuffle(words)
                rows.append((src, label, " ".join(words)))
    r = Recipe("synthetic", "", ("p1", "p2", "p3"), ("n1", "n2", "n3"))
    cache = EmbeddingCache(tmp_path / "emb", max_tokens=128, max_chunks=1)
    v = Variant("t", "transformer", layers=(6,))
    res = loso(r, tmp_path, rows=rows, pairs=[("p1", "n1"), ("p3", "n2")], variant=v, cache=cache,
               work_dir=tmp_path / "w", keep_files=True)
    for f in res["folds"]:
        assert not {f["held_out_positive"], f["held_out_negative"]} & set(f["train_sources"])
        assert f["n_pos"] == f["n_neg"] == 40
    assert res["min"] >= 0.95, res["folds"]
    assert len(list((cache.dir).glob("shard-*.npz"))) >= 1  # and a second cache reads them back
    again = EmbeddingCache(tmp_path / "emb", max_tokens=128, max_chunks=1)
    assert set(again.vecs) == set(cache.vecs)


# ----------------------------------------------------------------------------- the shipped model

WORKED = ("A train travels 180 km in 3 hours. What is its average speed?\n"
          "Solution: average speed is distance divided by time, so the speed is 180 / 3 = 60 km per hour. "
          "To check the answer, 60 km per hour for 3 hours gives 60 x 3 = 180 km, which matches the distance "
          "in the question. If the train then goes 120 km further at the same speed, that takes 120 / 60 = "
          "2 more hours, so the whole trip of 300 km takes 3 + 2 = 5 hours.\nAnswer: 60 km per hour")
NAVIGATION = ("Home | About us | Shop | Men | Women | Kids | Sale | Contact\nSign in | Register | Basket (0)\n"
              "Follow us on Facebook, Twitter and Instagram\nPrivacy policy | Terms of use | Cookie settings\n"
              "Newsletter: enter your email address Subscribe\n(c) 2024 Example Store Ltd. All rights reserved.")
NARRATIVE = ("The rain had stopped by the time Margaret reached the old house on the hill. She paused at the "
             "gate, listening to the wind in the elms, and remembered the summers she had spent there as a "
             "girl, running barefoot across the lawn while her grandmother called her in for supper. The "
             "windows were dark now, and the roses along the path had grown wild.")


@pytest.fixture(scope="module")
@slow_fixture("loads the shipped MiniLM reasoning model: ~3 s in all")
def shipped():
    if not MODEL_DIR.is_dir():
        pytest.fail(f"{MODEL_DIR} is missing: python -m classifiers.reasoning_eval build --output {MODEL_DIR}")
    assert loading.check(MODEL_DIR) == "transformer"
    return loading.load(MODEL_DIR, device="cpu")


def test_shipped_model_files_and_meta():
    import json

    meta = json.loads((MODEL_DIR / "meta.json").read_text())
    size = sum(p.stat().st_size for p in MODEL_DIR.rglob("*") if p.is_file())
    assert size < 5 * 2 ** 20, size
    assert (MODEL_DIR / "_curate_output.json").is_file()
    td = meta["training_data"]
    assert td["recipe"] == "reasoning" and td["variant"] == CHOSEN and len(td["sha256"]) == 64
    ev = meta["evaluation"]
    assert len(ev["loso"]["folds"]) == 12 and ev["loso"]["mean"] > 0.5 and ev["fineweb_edu_val"]["spearman"] > 0


def test_shipped_model_ranks_worked_solution_first(shipped):
    s = loading.score(shipped, [WORKED, NAVIGATION, NARRATIVE])
    assert s.shape == (3,) and np.all((s >= 0) & (s <= 1))
    assert s[0] > s[1] and s[0] > s[2], s


def test_shipped_model_empty_text_scores_nan(shipped):
    """Blank text has no score (NaN), as with the other shipped models (meta ``empty_text: nan``),
    not the head's prior for '' (which would look like a real score)."""
    s = loading.score(shipped, ["", "   \n\t", None, WORKED])
    assert np.all(np.isnan(s[:3])) and np.isfinite(s[3])
