"""Heuristic quality steps (curation/filters/heuristics.py): every rule, real clean text, parity with datatrove.

* every drop rule of the four steps is triggered by a constructed, realistic text, run through
  ``steps.apply`` with that step alone (the rule order inside the step decides which reason wins),
  and the metric behind the rule is recorded in ``doc.scores`` on the far side of its threshold;
* real clean text (WikiText-2 articles) passes all four steps in FineWeb's configuration;
* on ~100 real texts (WikiText-2, Shakespeare, junk) our decisions agree with datatrove's filters;
* Japanese is not dropped by the rules that assume space-separated English words;
* hostile input never makes a step fail.
"""

from __future__ import annotations

import re

import pytest

import curation.filters.heuristics as H
from curation.filters import steps
from curation.schema import Document

FINEWEB_STEPS = (("gopher_repetition_v1", {}), ("gopher_quality_v1", {}),
                 ("c4_quality_v1", {"filter_no_terminal_punct": False}), ("fineweb_quality_v1", {}))


def run(name: str, text: str, lang: str | None = "en", **params) -> Document:
    """One document through one step (``steps.apply``)."""
    doc = Document(id="t", text=text, lang=lang)
    (out,) = steps.apply([doc], [steps.create(name, **params)])
    return out


def run_fineweb(text: str, lang: str | None = "en") -> Document:
    doc = Document(id="t", text=text, lang=lang)
    (out,) = steps.apply([doc], [steps.create(n, **p) for n, p in FINEWEB_STEPS])
    return out


# A local news article (distinct sentences, no repeated phrases) used as the "clean" part of texts.
ARTICLE = [
    "The city council voted on Tuesday evening to approve a new budget for the public library system.",
    "Funding for the three branch libraries had been cut twice since the recession, and several reading rooms "
    "closed early on weekdays.",
    "Under the new plan, opening hours will be extended until nine o'clock from Monday to Thursday.",
    "Librarians said the change would help students who work part-time jobs after school.",
    "The budget also includes money for a mobile book van that will visit villages without a branch of their own.",
    "Councillor Maria Jensen, who proposed the amendment, called it a modest investment with a large return.",
    "Opponents argued that the extra staff costs should have been covered by raising parking fees in the town "
    "centre instead.",
    "A final vote on the parking proposal was postponed until the spring session.",
    "Residents can comment on the plans at a public meeting in the town hall on the first Monday of next month.",
    "Minutes of the meeting will be published on the council website within two weeks.",
]
ARTICLE_TEXT = "\n\n".join(ARTICLE)
PROMO = ("Subscribe to our free weekly newsletter to receive the most important local stories, event listings, "
         "school news, sports results, weather warnings and exclusive offers from independent shops in your area "
         "directly in your inbox every Friday morning before breakfast so you never miss anything that matters").split()


def with_promo(n_words: int) -> str:
    """The article with a newsletter plug of ``n_words`` words after paragraph 3 and again at the end."""
    promo = " ".join(PROMO[:n_words])
    return "\n\n".join(ARTICLE[:3] + [promo + "."] + ARTICLE[3:] + [promo + "!"])


def check(doc: Document, step: str, reason: str, score: str | None = None, above: float | None = None,
          below: float | None = None) -> None:
    assert doc.drop_reason == f"{step}.{reason}", (doc.drop_reason, doc.scores)
    assert not doc.error
    if score is not None:
        assert score in doc.scores, (score, doc.scores)
        if above is not None:
            assert doc.scores[score] > above, (score, doc.scores[score])
        if below is not None:
            assert doc.scores[score] < below, (score, doc.scores[score])


# ------------------------------------------------------------------------------------------- tokenizer


@pytest.mark.parametrize("text, expected", [
    # expected = datatrove's split_into_words (spaCy 3.8 English rules), checked when this was written
    ("Hello!!! I'm fine, don't worry.", ["Hello", "!", "!", "!", "I", "'m", "fine", ",", "do", "n't", "worry", "."]),
    ("l'université O'Neil rock'n'roll y'all", ["l'université", "O'Neil", "rock'n'roll", "y'", "all"]),
    ("Dr. Smith and J. K. Rowling met in the U.S. on 10am.",
     ["Dr.", "Smith", "and", "J.", "K.", "Rowling", "met", "in", "the", "U.S.", "on", "10", "am", "."]),
    ("COVID-19 well-known 2020-01-01 a/b and/or 5/10",
     ["COVID-19", "well", "-", "known", "2020", "-", "01", "-", "01", "a", "/", "b", "and/or", "5/10"]),
    ("Visit http://example.org/a-b. or www.foo.org, now",
     ["Visit", "http://example.org/a-b", ".", "or", "www.foo.org", ",", "now"]),
    ("Im sure you cant, he wont.", ["I", "m", "sure", "you", "ca", "nt", ",", "he", "wo", "nt", "."]),
    ("#love ★★ ©2020 •item →next", ["#", "love", "★", "★", "©", "2020", "•item", "→next"]),
    ("word:) (Mr.) file.txt. end.Start 5km $100 100%",
     ["word", ":)", "(", "Mr.", ")", "file.txt", ".", "end", ".", "Start", "5", "km", "$", "100", "100", "%"]),
    ("日本語の文章です。中文，很好。", ["日本語の文章です。中文，很好", "。"]),
])
def test_words_follow_spacy_english_rules(text, expected):
    assert H.words(text, "en") == expected


def test_words_of_unspaced_languages_are_characters():
    assert H.words("日本語です。", "ja") == ["日", "本", "語", "で", "す", "。"]


# ------------------------------------------------------------------------------------ gopher_repetition_v1

R = "gopher_repetition_v1"


def test_repetition_no_text():
    doc = run(R, "")
    check(doc, R, "no_text")


def test_repetition_duplicate_paragraphs():
    # a forum thread: the same "Reply" / "Quote" buttons under every post
    posts = ["I replaced the thermostat last winter and the boiler has worked fine since then.",
             "Did you need a plumber for that, or is it something you can do yourself with basic tools?",
             "It took me an afternoon with a screwdriver and the manual from the manufacturer's website."]
    text = "\n\n".join(p for post in posts for p in (post, "Reply", "Quote"))
    check(run(R, text), R, "dup_para_frac", "gopher_dup_para_frac", above=0.3)


def test_repetition_duplicate_paragraph_characters():
    disclaimer = ("This article is for general information only and does not constitute legal, financial or "
                  "medical advice. Always consult a qualified professional before making decisions based on its "
                  "content. The publisher accepts no liability for any loss arising from the use of this material.")
    text = "\n\n".join(ARTICLE[:4] + [disclaimer] + ARTICLE[4:6] + [disclaimer])
    doc = run(R, text)
    check(doc, R, "dup_para_char_frac", "gopher_dup_para_char_frac", above=0.2)
    assert doc.scores["gopher_dup_para_frac"] <= 0.3  # few paragraphs repeat, but they are long


def test_repetition_duplicate_lines():
    # a results table: one paragraph, many short lines that repeat
    rows = [("Arsenal", "Won"), ("Chelsea", "Lost"), ("Everton", "Won"), ("Fulham", "Drew"), ("Leeds", "Lost"),
            ("Burnley", "Won"), ("Brighton", "Drew"), ("Wolves", "Lost")]
    text = "\n".join(f"{team}\n{result}" for team, result in rows)
    doc = run(R, text)
    check(doc, R, "dup_line_frac", "gopher_dup_line_frac", above=0.3)
    assert doc.scores["gopher_dup_para_frac"] == 0


def test_repetition_duplicate_line_characters():
    banner = ("Free delivery on all orders over fifty pounds, easy returns within thirty days, "
              "and friendly customer support seven days a week.")
    text = "\n".join(ARTICLE[:1] + [banner] + ARTICLE[1:3] + [banner])
    doc = run(R, text)
    check(doc, R, "dup_line_char_frac", "gopher_dup_line_char_frac", above=0.2)
    assert doc.scores["gopher_dup_line_frac"] <= 0.3


@pytest.mark.parametrize("n, intro, suffix, product_lines", [
    # a shop page: a few sentences of introduction, then one line per product with the same words on each
    (2, 0, "Sold out", ["Red wool scarf", "Blue cotton socks", "Green rain jacket", "Black leather belt",
                        "Grey linen shirt", "White canvas shoes", "Brown felt hat", "Pink silk tie"]),
    (3, 2, "free worldwide shipping", ["Handmade ceramic mug", "Organic cotton tote bag", "Recycled glass vase",
                                       "Bamboo cutting board", "Scented soy candle", "Linen tea towel set"]),
    (4, 4, "complimentary gift wrapping available", ["Silver pendant necklace", "Leather card holder",
                                                     "Cashmere travel scarf", "Porcelain jewellery dish",
                                                     "Walnut desk organiser"]),
])
def test_repetition_top_n_gram(n, intro, suffix, product_lines):
    text = "\n".join(ARTICLE[:intro] + [f"{name}, {suffix}" for name in product_lines])
    doc = run(R, text)
    threshold = {2: 0.2, 3: 0.18, 4: 0.16}[n]
    check(doc, R, f"top_{n}_gram", f"gopher_top_{n}_gram_frac", above=threshold)
    for m in range(2, n):  # the shorter n-grams stayed under their thresholds
        assert doc.scores[f"gopher_top_{m}_gram_frac"] <= {2: 0.2, 3: 0.18}[m]


@pytest.mark.parametrize("n, promo_words", [(5, 46), (6, 43), (7, 39), (8, 35), (9, 32), (10, 27)])
def test_repetition_duplicated_n_grams(n, promo_words):
    # a newsletter plug pasted twice into an article; its length decides which n-gram rule fires first
    doc = run(R, with_promo(promo_words))
    threshold = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}[n]
    check(doc, R, f"duplicated_{n}_n_grams", f"gopher_dup_{n}_gram_frac", above=threshold)


def test_repetition_keeps_the_article():
    doc = run(R, ARTICLE_TEXT)
    assert doc.drop_reason is None
    assert doc.scores["gopher_dup_5_gram_frac"] == 0 and doc.scores["gopher_top_2_gram_frac"] < 0.05


# --------------------------------------------------------------------------------------- gopher_quality_v1

Q = "gopher_quality_v1"


def test_quality_no_words():
    doc = run(Q, "... --- !!! ??? ((( ))) ;;; ***")
    check(doc, Q, "no_words", "gopher_n_words")
    assert doc.scores["gopher_n_words"] == 0


def test_quality_too_few_words():
    doc = run(Q, "Page not found. The page you requested could not be found on this server.")
    check(doc, Q, "too_few_words", "gopher_n_words", below=50)


def test_quality_too_many_words():
    doc = run(Q, "\n\n".join([ARTICLE_TEXT] * 620))
    check(doc, Q, "too_many_words", "gopher_n_words", above=100_000)


def test_quality_short_words():
    draws = "\n".join(f"Draw {d}: {' '.join(str((d * 7 + k * 13) % 49 + 1) for k in range(6))} bonus {d % 9 + 1}"
                      for d in range(1, 15))
    doc = run(Q, "Lotto results\n" + draws)
    check(doc, Q, "short_words", "gopher_avg_word_length", below=3)


def test_quality_long_words():
    lines = [f"sha256 {h}" for h in (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
        "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13",
        "a4e624d686e03ed2767c0abd85c14426b0b1157d2ce81d27bb4fe4f6f01d688a",
    )]
    text = "Checksums for the release archives, verify them before installing:\n" + "\n".join(lines * 6)
    doc = run(Q, text)
    check(doc, Q, "long_words", "gopher_avg_word_length", above=10)


def test_quality_too_many_hashes():
    text = ("Sunset over the harbour tonight, what a view from the pier. "
            "#sunset #harbour #photography #nofilter #travel #instatravel #beautiful #nature #sky #ocean "
            "#goldenhour #photooftheday #picoftheday #landscape #wanderlust #explore #summer #weekend "
            "Thanks for all the likes on my last post, more pictures from the coast coming soon. "
            "#coast #seaside #boats #clouds #evening #love")
    check(run(Q, text), Q, "too_many_hashes", "gopher_hash_ratio", above=0.1)


def test_quality_too_many_ellipsis():
    text = " ".join(["Loading... please wait... still loading... almost there... connecting to the server..."] * 8)
    check(run(Q, text), Q, "too_many_ellipsis", "gopher_ellipsis_ratio", above=0.1)


def test_quality_too_many_bullets():
    items = ["fresh basil leaves from the garden", "two cloves of garlic, peeled", "a handful of pine nuts",
             "fifty grams of grated parmesan", "good olive oil, about half a cup", "a pinch of sea salt",
             "the juice of half a lemon", "black pepper to taste", "a small bunch of flat parsley",
             "one teaspoon of chilli flakes", "a splash of cold water"]
    text = "\n".join(f"- {item}" for item in items)
    check(run(Q, text), Q, "too_many_bullets", "gopher_bullet_lines_ratio", above=0.9)


def test_quality_too_many_end_ellipsis():
    teasers = [
        "Council approves new library budget after a long debate about parking fees in the town centre and the",
        "Local bakery wins national award for its sourdough bread, and the owners say they never expected",
        "Road works on the main bridge will continue until the end of the month, causing delays for",
        "The football club announced a new coach this morning, a former player who spent ten years at",
        "Heavy rain is expected over the weekend, and the weather service has warned residents near the",
    ]
    text = "\n".join(t + "..." for t in teasers) + "\n" + "\n".join(ARTICLE[:3])
    doc = run(Q, text)
    check(doc, Q, "too_many_end_ellipsis", "gopher_end_ellipsis_lines_ratio", above=0.3)
    assert doc.scores["gopher_ellipsis_ratio"] <= 0.1


def test_quality_too_few_alpha_words():
    rows = ["AAPL 189.84 +1.23 (+0.65%) 52,113,400", "MSFT 411.22 -2.10 (-0.51%) 18,004,300",
            "AMZN 178.15 +0.87 (+0.49%) 31,212,800", "GOOG 141.80 +0.12 (+0.08%) 22,515,100",
            "NVDA 875.28 +15.42 (+1.79%) 44,861,200", "META 493.50 -4.77 (-0.96%) 12,240,900"]
    text = "Closing prices, change and volume\n" + "\n".join(rows * 3)
    check(run(Q, text), Q, "too_few_alpha_words", "gopher_alpha_words_ratio", below=0.8)


def test_quality_too_few_stop_words():
    text = ("Die Stadtbibliothek verlängert ab nächster Woche ihre Öffnungszeiten. Montags bis donnerstags "
            "können Leserinnen und Leser künftig bis einundzwanzig Uhr Bücher ausleihen, Zeitschriften lesen "
            "oder Arbeitsplätze nutzen. Außerdem fährt ein Bücherbus regelmäßig Dörfer ohne eigene Filiale an. "
            "Finanziert werden die zusätzlichen Stellen aus dem neuen Haushalt, den der Stadtrat am Dienstag "
            "beschlossen hat. Kritiker hätten lieber höhere Parkgebühren gesehen.")
    doc = run(Q, text)
    check(doc, Q, "too_few_stop_words", "gopher_stop_words", below=2)


def test_quality_keeps_the_article_and_records_every_metric():
    doc = run(Q, ARTICLE_TEXT)
    assert doc.drop_reason is None
    for key in ("gopher_n_words", "gopher_avg_word_length", "gopher_hash_ratio", "gopher_ellipsis_ratio",
                "gopher_bullet_lines_ratio", "gopher_end_ellipsis_lines_ratio", "gopher_alpha_words_ratio",
                "gopher_stop_words"):
        assert key in doc.scores


# ------------------------------------------------------------------------------------------ c4_quality_v1

C = "c4_quality_v1"


# lorem_ipsum and curly_bracket are document-level flags: the step stops at the offending line and
# records no metric for them (as datatrove's C4 filter does).
def test_c4_lorem_ipsum():
    text = ARTICLE_TEXT + "\n\nLorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."
    check(run(C, text, filter_no_terminal_punct=False), C, "lorem_ipsum")


def test_c4_curly_bracket():
    text = ARTICLE_TEXT + "\n\nif (total > limit) { return cart.checkout(total); }"
    check(run(C, text, filter_no_terminal_punct=False), C, "curly_bracket")


def test_c4_too_few_sentences():
    text = "\n".join(ARTICLE[:3])
    doc = run(C, text, filter_no_terminal_punct=False)
    check(doc, C, "too_few_sentences", "c4_sentences", below=5)
    assert doc.scores["c4_sentences"] == 3


def test_c4_counts_sentences_like_spacy():
    # the last sentence of a line counts even without a full stop; abbreviations do not end sentences
    assert H._count_sentences("Home. About us. Contact") == 3
    assert H._count_sentences("Dr. Smith met Mr. Jones in the U.S. on Monday.") == 1
    assert H._count_sentences("Wait... what?! Really.") == 2


def test_c4_removes_lines_and_records_the_kept_share():
    lines = ARTICLE[:6] + [
        "Please enable JavaScript to view the comments powered by our partner.",
        "By using this site you agree to our privacy policy and terms of use.",
        "Download the full report " + "x" * 1001 + " here.",
        "Share this page",  # no terminal punctuation
    ]
    text = "\n".join(lines[:3]) + "\nThe library opened in 1904.[1]\n" + "\n".join(lines[3:])
    doc = run(C, text)  # C4's own defaults: lines without terminal punctuation go too
    assert doc.drop_reason is None
    assert doc.text.splitlines() == ARTICLE[:3] + ["The library opened in 1904."] + ARTICLE[3:6]
    assert doc.scores["c4_lines_kept_frac"] == pytest.approx(7 / 11)
    kept_fineweb = run(C, text, filter_no_terminal_punct=False)
    assert kept_fineweb.text.splitlines()[-1] == "Share this page"


# ------------------------------------------------------------------------------------- fineweb_quality_v1

F = "fineweb_quality_v1"


def test_fineweb_empty():
    check(run(F, "\n  \n\t\n"), F, "empty")


def test_fineweb_line_punct_ratio():
    menu = ["Home", "News and current affairs", "Sport results and fixtures", "Weather forecast for the region",
            "Business and local economy", "Contact the newsroom team", "Subscribe to the print edition",
            "Advertise with us today", "Jobs at the newspaper group"]
    check(run(F, "\n".join(menu)), F, "line_punct_ratio", "fineweb_line_punct_ratio", below=0.12)


def test_fineweb_short_line_ratio():
    poem = ["Roses are red,", "Violets are blue,", "Sugar is sweet,", "And so are you.", "The sun is warm,",
            "The sky is wide,", "I walk the town", "With you beside."]
    doc = run(F, "\n".join(poem))
    check(doc, F, "short_line_ratio", "fineweb_short_line_ratio", above=0.67)
    assert doc.scores["fineweb_line_punct_ratio"] >= 0.12


def test_fineweb_char_dup_ratio():
    text = "\n".join(ARTICLE[:5] + ["Share this article with your friends."] + ARTICLE[5:]
                     + ["Share this article with your friends."])
    check(run(F, text), F, "char_dup_ratio", "fineweb_char_dup_ratio", above=0.01)


def test_fineweb_list_ratio():
    # a hospital's list of services: two long words per line
    terms = ["Electroencephalography technicians.", "Otorhinolaryngology consultants.",
             "Interdisciplinary rehabilitation.", "Immunohistochemistry laboratories.",
             "Pharmacovigilance coordinators.", "Neuropsychological assessments.",
             "Telecommunications infrastructure.", "Anaesthesiology subspecialisation."]
    doc = run(F, "".join(t + "\n" for t in terms))
    check(doc, F, "list_ratio", "fineweb_newline_ratio", above=0.3)
    assert doc.scores["fineweb_short_line_ratio"] <= 0.67


def test_fineweb_keeps_the_article():
    doc = run(F, ARTICLE_TEXT)
    assert doc.drop_reason is None and doc.scores["fineweb_line_punct_ratio"] == 1.0


# --------------------------------------------------------------------------------------------- real text


def _wikitext_articles(shared_data) -> dict[str, str]:
    """WikiText-2 validation articles by title, detokenised back to plain text (`` @-@ `` -> ``-``,
    `` , `` -> ``,``, heading markers dropped, one paragraph per line, blank lines between)."""
    raw = (shared_data / "corpora" / "wikitext2" / "valid.txt").read_text(encoding="utf-8")

    def detok(line: str) -> str:
        line = line.strip()
        heading = re.fullmatch(r"(=+) (.*?) \1", line)
        if heading:
            return detok(heading.group(2))
        line = line.replace(" <unk>", "").replace("<unk> ", "")
        line = re.sub(r" @(.)@ ", r"\1", line)
        line = re.sub(r" ([.,;:!?)\]]|'s|n't|'re|'ve|'ll|'d|'m)(?=\s|$)", r"\1", line)
        line = re.sub(r"([(\[]) ", r"\1", line)
        return re.sub(r'" (.*?) "', r'"\1"', line)

    out = {}
    for article in re.split(r"\n \n (?== [^=].* = \n)", raw):
        lines = [ln for ln in article.splitlines() if ln.strip()]
        if lines:
            out[detok(lines[0])] = "\n\n".join(detok(ln) for ln in lines)
    return out


@pytest.fixture(scope="module")
def wikitext(shared_data):
    return _wikitext_articles(shared_data)


@pytest.mark.parametrize("title", ["Scientology in Germany", "Raid on Manila (1798)", "Battle of Sullivan's Island",
                                   "Die Another Day", "The Same Old Story"])
def test_real_wikipedia_articles_pass_all_four_steps(wikitext, title):
    doc = run_fineweb(wikitext[title])
    assert doc.drop_reason is None, (title, doc.drop_reason, doc.scores)
    assert doc.scores["gopher_n_words"] > 500 and doc.scores["gopher_stop_words"] >= 2
    assert doc.scores["c4_sentences"] >= 5


def _junk_texts() -> list[str]:
    return [
        "", "Home\nAbout\nContact\nLogin", "#tbt #love #instagood " * 30, "Loading... " * 200,
        "\n".join(f"- item {i}" for i in range(40)), "Click here! " * 100, "a b c d e f g " * 40,
        "\n".join(f"{i}\t{i * 3.5:.2f}\t{i % 7}" for i in range(60)),
        "lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20,
        "function init() { var x = document.getElementById('nav'); x.style.display = 'none'; }\n" * 5,
        "BUY NOW!!! CHEAP!!! FREE SHIPPING!!! LIMITED OFFER!!! " * 15,
        "Terms of use | Privacy policy | Cookie policy | Sitemap\n" * 10,
    ]


@pytest.fixture(scope="module")
def parity_sample(shared_data, wikitext) -> list[str]:
    texts = []
    for _title, article in sorted(wikitext.items())[:50]:
        texts.append(article[:2500])  # plain Wikipedia text
    raw = (shared_data / "corpora" / "wikitext2" / "valid.txt").read_text(encoding="utf-8")
    texts += [raw[i : i + 2000] for i in range(0, 20 * 50_000, 50_000)]  # tokenised WikiText as it is
    plays = (shared_data / "corpora" / "shakespeare" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    speeches = plays.split("\n\n")
    step = len(speeches) // 24
    texts += ["\n\n".join(speeches[i : i + 12]) for i in range(0, 24 * step, step)]
    return texts + _junk_texts()


@pytest.mark.slow  # ~3 s: parity with datatrove on real text
def test_decisions_agree_with_datatrove(parity_sample):
    from datatrove.data import Document as DTDoc
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.utils.text import split_into_words

    filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False),
               FineWebQualityFilter()]
    agree, same_words, decisive = 0, 0, []
    for i, text in enumerate(parity_sample):
        doc = DTDoc(text=text, id=str(i))
        dt_kept = True
        for f in filters:
            if f.filter(doc) is not True:
                dt_kept = False
                break
        ours = run_fineweb(text)
        agree += (ours.drop_reason is None) == dt_kept
        decisive.append(dt_kept)
        same_words += H.words(text, "en") == split_into_words(text)
    n = len(parity_sample)
    assert n >= 100 and 10 <= sum(decisive) <= n - 10  # both outcomes are represented
    assert agree / n >= 0.95, f"keep/drop agreement {agree}/{n}"
    assert same_words / n >= 0.95, f"identical word lists {same_words}/{n}"  # the rules' inputs, too


def test_japanese_is_not_dropped_by_english_word_rules(shared_data):
    rows = (shared_data / "lid" / "tatoeba-84-languages.tsv").read_text(encoding="utf-8").splitlines()[1:]
    sentences = list(dict.fromkeys(r.split("\t")[3] for r in rows if r.split("\t")[0] == "ja"))
    assert len(sentences) >= 4
    text = "\n".join(sentences)
    quality = run(Q, text, lang="ja")
    assert quality.drop_reason is None, (quality.drop_reason, quality.scores)
    assert "gopher_stop_words" not in quality.scores  # no Japanese stop-word list: the rule is skipped
    assert quality.scores["gopher_n_words"] >= 50  # each kanji/kana counts as a word
    full = run_fineweb(text, lang="ja")
    assert full.drop_reason not in (f"{Q}.short_words", f"{Q}.too_few_stop_words")
    assert not (full.drop_reason or "").startswith("error.")


# ------------------------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("text", [
    "",
    "x" * 10_000_000,  # 10 MB, one line, one "word"
    ("spam eggs ham " * 800_000)[:10_000_000],  # 10 MB, one line, many words
    "!?.,;:-()[]{}\"'" * 200,
    "before \ud800 after " * 40,  # lone surrogate (undecodable in UTF-8)
    "null\x00byte " * 60,
    "\x00" * 1000,
], ids=["empty", "10MB-one-word", "10MB-words", "punctuation", "lone-surrogate", "nul-words", "nul-only"])
def test_hostile_input_never_fails_a_step(text):
    doc = Document(id="h", text=text, lang="en")
    (out,) = steps.apply([doc], [steps.create(n, **p) for n, p in FINEWEB_STEPS])
    assert not (out.drop_reason or "").startswith("error."), (out.drop_reason, out.error)
    assert out.drop_reason is not None or out.scores
