"""bench/extraction_quality.py's WCXB-dev corpus: the loader on real pages and the per-page metric."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_shared


@pytest.fixture(scope="module")
def eq():
    spec = importlib.util.spec_from_file_location("bench_extraction_quality", ROOT / "bench" / "extraction_quality.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


def test_bow_f1_hand_made(eq):
    assert eq.bow_f1("The cat sat.", "the CAT, sat") == 1.0  # case and punctuation do not matter
    assert eq.bow_f1("alpha beta", "gamma delta") == 0.0
    # predicted a a b c (4 tokens), gold a b b d e (5 tokens): overlap min-counts a:1 b:1 = 2
    # P = 2/4, R = 2/5, F1 = 2PR/(P+R) = 0.4/0.9 = 4/9
    assert eq.bow_f1("a a b c", "a b b d e") == pytest.approx(4 / 9)
    # empty texts, as WCXB's word_f1: both empty -> 1, one empty -> 0
    assert eq.bow_f1("", "...") == 1.0
    assert eq.bow_f1("", "gold text") == 0.0
    assert eq.bow_f1("some output", "") == 0.0


def test_page_type_scores_means(eq):
    scores = eq.PageTypeScores()
    scores.add("forum", eq.tokens("a b"), eq.tokens("a b"))  # 1.0
    scores.add("forum", eq.tokens("x"), eq.tokens("y"))  # 0.0
    scores.add("article", eq.tokens("a a b c"), eq.tokens("a b b d e"))  # 4/9
    s = scores.summary()
    assert list(s["per_type"]) == ["article", "forum"]  # WCXB_TYPES order
    assert s["per_type"]["forum"]["mean_page_f1"] == pytest.approx(0.5)
    assert s["per_type"]["article"]["mean_page_f1"] == pytest.approx(4 / 9)
    assert s["pages"] == 3
    assert s["mean_page_f1"] == pytest.approx((1 + 0 + 4 / 9) / 3)  # mean over pages, not over types


def test_wcxb_loader_and_metric_on_real_pages(eq, shared_data: Path):
    root = shared_data / "html" / "wcxb-dev"
    require_shared(root / "ground-truth.jsonl.gz", "WCXB dev ground truth")
    entries, missing = eq.wcxb_entries(root, limit=5)
    assert len(entries) == 5 and missing == 0
    assert [e.file_id for e in entries] == sorted(e.file_id for e in entries)
    pages = list(eq.iter_wcxb(entries))
    for entry, page in zip(entries, pages):
        assert entry.path.name == f"{entry.file_id}.html.gz"
        assert page.page_type in eq.WCXB_TYPES
        assert page.url and page.url.startswith("http")
        assert "<" in page.html and len(page.html) > 1000
        assert sum(page.gold.values()) > 0
        # the gold text scores 1 against itself, nothing scores 0 against it
        assert eq.bow_f1(entry.gold, entry.gold) == 1.0
        assert eq.bow_f1("", entry.gold) == 0.0
    # the page's own visible text holds most gold tokens: high recall, F1 strictly between 0 and 1
    scores = eq.PageTypeScores()
    for page in pages:
        scores.add(page.page_type, eq.tokens(eq.visible_text(page.html)), page.gold)
    summary = scores.summary()
    assert summary["pages"] == 5 and summary["recall"] > 0.8
    assert 0.0 < summary["mean_page_f1"] < 1.0
    assert sum(v["pages"] for v in summary["per_type"].values()) == 5
    assert Counter(p.page_type for p in pages) == Counter({t: v["pages"] for t, v in summary["per_type"].items()})
