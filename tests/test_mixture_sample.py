"""Deterministic sampling with repetition to a token budget."""

from __future__ import annotations

import numpy as np
import pytest

from curation.mixture.sample import doc_key, doc_keys, repeats


@pytest.fixture(scope="module")
def source(shared_data):
    from curation.mixture.tokens import load_tokenizer

    paras = [p for p in (shared_data / "corpora/wikitext2/valid.txt").read_text().split("\n") if p.strip()]
    tokens = load_tokenizer(shared_data / "tokenizers/gpt-neo-test-tokenizer.json").count(paras)
    ids = [f"wiki-{i}" for i in range(len(paras))]
    return ids, tokens


@pytest.mark.parametrize("factor", [0.05, 0.37, 1.0, 1.5, 2.9])
def test_budget_reached_within_one_percent(source, factor):
    ids, tokens = source
    unique = int(tokens.sum())
    budget = int(unique * factor)
    r = repeats(doc_keys(7, ids), tokens, budget)
    achieved = int((r * tokens).sum())
    assert abs(achieved - budget) <= max(0.01 * budget, tokens.max())
    assert abs(achieved - budget) / budget < 0.01
    assert r.min() >= int(factor) and r.max() <= int(factor) + 1  # every document before any repeats twice


def test_same_seed_same_sample_and_seed_matters(source):
    ids, tokens = source
    budget = int(tokens.sum() * 0.3)
    a = repeats(doc_keys(1, ids), tokens, budget)
    assert (a == repeats(doc_keys(1, ids), tokens, budget)).all()
    assert not (a == repeats(doc_keys(2, ids), tokens, budget)).all()
    # order-independent: shuffling the input does not change who is picked
    perm = np.random.default_rng(0).permutation(len(ids))
    b = repeats(doc_keys(1, [ids[i] for i in perm]), tokens[perm], budget)
    assert (b == a[perm]).all()


def test_keys_are_uniform_and_stable():
    k = doc_keys(3, [str(i) for i in range(20_000)])
    assert 0 <= k.min() and k.max() < 1 and abs(k.mean() - 0.5) < 0.01
    assert doc_key(3, "x") == doc_key(3, "x") != doc_key(4, "x")
    with pytest.raises(ValueError):
        repeats(np.array([0.5]), np.array([0]), 10)
