"""The default annotate config selects by classifier score (issue 18).

* written texts: the shipped spark_jobs/configs/annotate.yaml records the fast classifier scores as
  promoted columns and drops a chrome-like shop listing (by score, not by a heuristic rule) while
  keeping a written article; runs the exact per-partition work of the Spark job in-process.
* the labelled chrome/content pages (tests/data/chrome_pages, pages from ../shared/data):
  bench/chrome_pages.py through the default pipeline; the measured kept/dropped percentages must not
  fall below what the shipped defaults achieved when they were chosen (slow, needs ../shared/data).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from curation import config
from curation.filters.annotate_task import AnnotateJobConfig, annotate_batches
from curation.schema import Document, to_batch

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "spark_jobs" / "configs" / "annotate.yaml"

SHOP_LISTING = """Shop all products

Free shipping on orders over $50. Sign up for our newsletter and get 10% off your first order.
Sort by: featured, best selling, price low to high, price high to low, newest. Showing 1 to 24 of 312 products.
Add to cart. Quick view. Add to wishlist. Only a few left in stock, order soon.
Add to cart. Quick view. Add to wishlist. New colours available this season.
Add to cart. Quick view. Add to wishlist. Sale ends on Sunday at midnight.
Load more products. Back to top. Customer service, returns and exchanges, track your order.
Home | Men | Women | Kids | Sale | Gift cards | Store locator
Copyright 2024 Example Store. All rights reserved."""

ARTICLE = """Why the sky is blue

Sunlight looks white, but it is a mixture of all the colours of the rainbow. When this light enters the atmosphere, it meets molecules of nitrogen and oxygen that are much smaller than the wavelength of the light itself.
Such small particles scatter light in all directions, and they scatter short wavelengths far more strongly than long ones. The effect is called Rayleigh scattering, and its strength grows with the inverse fourth power of the wavelength.
Blue light has a wavelength of about 450 nanometres, red light about 700. Because of the fourth power, blue light is scattered roughly five to six times more than red light. Wherever we look in the sky, away from the sun, we see this scattered blue light coming towards us.
Violet light is scattered even more than blue, so why is the sky not violet? Part of the answer is that sunlight contains less violet than blue, part is that some violet is absorbed high in the atmosphere, and part is that our eyes are much more sensitive to blue.
At sunrise and sunset the light travels through much more air before it reaches us. Most of the blue has been scattered out of the direct beam along the way, and the light that is left is dominated by orange and red. That is why the sun and the clouds around it glow red in the evening.
The same physics explains why distant mountains look bluish and why the sky on Mars, with its thin atmosphere full of fine dust, looks butterscotch by day and blue around the setting sun."""

GERMAN_ARTICLE = """Wie entsteht ein Regenbogen?

Ein Regenbogen entsteht, wenn Sonnenlicht auf Regentropfen trifft. Das Licht wird beim Eintritt in den Tropfen gebrochen, an der Rückseite des Tropfens reflektiert und beim Austritt noch einmal gebrochen.
Weil Licht verschiedener Farben unterschiedlich stark gebrochen wird, fächert sich das weiße Sonnenlicht dabei in seine Farben auf. Rotes Licht wird am wenigsten abgelenkt, violettes am stärksten.
Deshalb sehen wir einen Regenbogen immer dann, wenn die Sonne hinter uns steht und vor uns Regen fällt. Der Bogen hat einen Winkel von etwa 42 Grad zu dem Punkt, der der Sonne genau gegenüberliegt.
Manchmal sieht man über dem ersten Bogen noch einen zweiten, schwächeren Regenbogen. Bei ihm wird das Licht zweimal im Tropfen reflektiert, und die Reihenfolge der Farben ist umgekehrt.
Zwischen den beiden Bögen ist der Himmel etwas dunkler. Dieser Streifen heißt nach einem griechischen Philosophen das Alexandersche Dunkelband, weil er ihn als Erster beschrieben hat."""


def _annotate(cfg: AnnotateJobConfig, docs: list[Document]) -> dict[str, dict]:
    out = list(annotate_batches(iter([to_batch(docs)]), specs=tuple(cfg.steps), promote=tuple(cfg.promote)))
    return {r["id"]: r for b in out for r in b.to_pylist()}


def test_default_config_scores_as_columns_drops_chrome_keeps_article():
    cfg = config.load(AnnotateJobConfig, CONFIG)
    rows = _annotate(cfg, [Document(id="shop", text=SHOP_LISTING), Document(id="article", text=ARTICLE),
                           Document(id="empty", text="")])
    article, shop = rows["article"], rows["shop"]
    for name in ("quality_fasttext", "quality_reference"):
        assert name in cfg.promote
        assert article[name] == dict(article["scores"])[name] and isinstance(article[name], float)
        assert shop[name] is not None  # scored: it passed every heuristic step
    assert article["drop_reason"] is None
    assert article["quality_fasttext"] > shop["quality_fasttext"]
    assert article["quality_reference"] > 0.5
    assert shop["drop_reason"] == "score_threshold_v1.quality_reference_below"
    # a page dropped before the classifier steps has NULL score columns, never a made-up score
    assert rows["empty"]["drop_reason"] is not None and rows["empty"]["quality_reference"] is None

    # the same config without the threshold step keeps the shop page: the drop above is the classifier's
    off = config.load(AnnotateJobConfig, CONFIG, ["steps=" + json.dumps(
        [{"name": s.name, "params": s.params} for s in cfg.steps if s.name != "score_threshold_v1"])])
    assert _annotate(off, [Document(id="shop", text=SHOP_LISTING)])["shop"]["drop_reason"] is None


def test_default_threshold_judges_english_only():
    """The shipped quality models are English: a German article scores near 0 and must not be dropped."""
    cfg = config.load(AnnotateJobConfig, CONFIG)
    row = _annotate(cfg, [Document(id="de", text=GERMAN_ARTICLE)])["de"]
    assert row["lang"] == "de" and row["drop_reason"] is None
    assert row["quality_reference"] < 0.03  # below the English cut, yet kept


def test_score_threshold_step():
    from curation.filters.score_filters import ScoreThreshold

    step = ScoreThreshold(score="q", min_score=0.5, languages=["en"])
    assert step(Document(id="a", lang="en", scores={"q": 0.4})) == "q_below"
    assert step(Document(id="b", lang="en", scores={"q": 0.6})) is None
    assert step(Document(id="c", lang="de", scores={"q": 0.1})) is None
    assert step(Document(id="d", lang="en")) is None  # no score: no evidence
    assert ScoreThreshold(score="q", max_score=0.5)(Document(id="e", lang="fr", scores={"q": 0.9})) == "q_above"
    with pytest.raises(ValueError):
        ScoreThreshold(score="q")


# What the shipped defaults measure on tests/data/chrome_pages (191 pages: 101 content, 90 chrome).
# When the classifier threshold was chosen (issue 18): 74/101 kept, 77/90 dropped (the heuristic steps
# alone: 77/101, 74/90). Issue 19 turned trafilatura's fallback extractors on (WCXB-dev page-F1 +0.04
# on forums, +0.05 on service pages): their fuller text on a few pages moved this set to 73/101 kept,
# 75/90 dropped (3 archive.org listings/login pages now pass the heuristics, one product page fails).
MIN_CONTENT_KEPT = 73   # 72.3 %
MIN_CHROME_DROPPED = 75  # 83.3 %


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.shared_data
def test_chrome_pages_kept_and_dropped_at_least_as_measured(shared_data, tmp_path):
    out = tmp_path / "chrome.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "chrome_pages.py"), "--data", str(shared_data),
                    "--work", str(tmp_path / "work"), "--json", str(out)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    assert not result["missing"]
    t = result["all"]
    assert t["pages"] == 191 and t["content_kept"] + t["content_dropped"] == 101
    # an extraction time-out of a content page on a loaded machine is not the selection's doing
    timeouts = sum(n for reason, n in result["drop_reasons"].get("content", {}).items() if reason.endswith(".timeout"))
    assert t["content_kept"] + timeouts >= MIN_CONTENT_KEPT, t
    assert t["chrome_dropped"] >= MIN_CHROME_DROPPED, t
