"""curation/filters/repetition.py returns datatrove's Gopher repetition integers exactly.

Compared with datatrove's own ``find_top_duplicate``/``find_all_duplicate`` on real web documents
(CCNet's head shard, FineWeb-Edu's LLM-labelled pages) tokenised as the annotate stage tokenises
them, on documents built to repeat, on ties between n-grams of different lengths, on n-grams whose
concatenations are equal while their tokens differ, and on a forced hash collision.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random

import numpy as np
import pytest
from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_top_duplicate, get_n_grams

from curation.filters.heuristics import words
from curation.filters.repetition import NGramIndex
from tests.conftest import SHARED, require_shared


def _check(tokens: list[str]) -> None:
    idx = NGramIndex(tokens)
    for n in range(2, 5):
        if len(tokens) >= n:
            assert idx.top_duplicate_chars(n) == find_top_duplicate(get_n_grams(tokens, n)), (n, tokens[:20])
    for n in range(5, 11):
        assert idx.all_duplicate_chars(n) == find_all_duplicate(tokens, n), (n, tokens[:20])


def _real_texts(limit: int) -> list[str]:
    head = require_shared(SHARED / "corpora" / "cc-ccnet-head" / "cc_en_head-0091.jsonl.gz", "CCNet head shard")
    labelled = require_shared(SHARED / "labels" / "fineweb-edu-llm" / "val.jsonl", "FineWeb-Edu LLM labels")
    texts = []
    with gzip.open(head, "rt", encoding="utf-8") as f:
        texts += [json.loads(line).get("text", "") for line in itertools.islice(f, limit)]
    with open(labelled, encoding="utf-8") as f:
        texts += [json.loads(line).get("text", "") for line in itertools.islice(f, limit)]
    return [t for t in texts if t]


def test_matches_datatrove_on_real_documents():
    texts = _real_texts(200)
    assert len(texts) >= 200
    dup_docs = 0
    for text in texts:
        tokens = words(text)
        _check(tokens)
        dup_docs += find_all_duplicate(tokens, 5) > 0
    assert dup_docs >= 20  # the loop path (not only the all-distinct shortcut) was exercised


@pytest.mark.parametrize("seed", range(20))
def test_matches_datatrove_on_repetitive_documents(seed):
    rnd = random.Random(seed)
    vocab = ["a", "ab", "b", "ba", "the", "of", "x", ".", "", "é", "日本"][: rnd.randint(2, 11)]
    _check([rnd.choice(vocab) for _ in range(rnd.randint(0, 400))])


def test_ties_go_to_the_first_seen_n_gram():
    # "xx yy" and "a b" both occur twice; "xx yy" is seen first and is longer: 2 x 5 chars
    tokens = ["xx", "yy", "a", "b", "xx", "yy", "a", "b"]
    assert NGramIndex(tokens).top_duplicate_chars(2) == find_top_duplicate(get_n_grams(tokens, 2)) == 10


def test_concatenation_equality_counts_as_a_duplicate():
    # ("ab","c","d","e","f") and ("a","bc","d","e","f") join to the same "abcdef" without a separator
    tokens = ["ab", "c", "d", "e", "f", "a", "bc", "d", "e", "f"]
    assert NGramIndex(tokens).all_duplicate_chars(5) == find_all_duplicate(tokens, 5) == 6


def _thue_morse(k: int) -> str:
    s = "a"
    for _ in range(k):
        s += s.translate(str.maketrans("ab", "ba"))
    return s


def test_a_hash_collision_falls_back_to_datatrove():
    s = _thue_morse(11)  # 2,048 characters: its complement has the same polynomial hash mod 2^64
    t = s.translate(str.maketrans("ab", "ba"))
    tokens = [s, "x", "y", "z", "w", t, "x", "y", "z", "w", s, "x", "y", "z", "w"]
    idx = NGramIndex(tokens)
    hashes = idx._hashes(5)
    assert hashes[0] == hashes[5] and s != t  # the collision is real
    assert idx.all_duplicate_chars(5) == find_all_duplicate(tokens, 5) == len(s) + 4
    assert np.unique(hashes).size < hashes.size


def test_a_vocabulary_too_large_for_one_integer_key():
    # 60,000 distinct tokens: 60,000^4 overflows int64, so 4-grams are compared as rows
    tokens = [f"w{i}" for i in range(60_000)] + ["w1", "w2", "w3", "w4"] * 3
    _check(tokens)
