"""What kind of page a document came from (issue 19): article, forum, product, collection, listing, docs,
service or other, from the markup the site itself publishes.

Common Crawl is mostly not articles, and extractors tuned on articles lose forum replies and product
descriptions; recording the page type lets the funnel, SQL and the mixture tell them apart. The
signals are the ones sites write for search engines and that no extractor keeps:

1. schema.org types (JSON-LD ``"@type"`` and microdata ``itemtype``): ``DiscussionForumPosting``,
   ``QAPage``, ``Product`` + ``Offer``, ``CollectionPage``/``ItemList``, ``TechArticle``,
   ``Article``/``NewsArticle``/``BlogPosting``, ``FAQPage``/``Service``;
2. ``og:type`` (``product``, ``product.group``, ``article``);
3. the generator (Discourse, phpBB, vBulletin, XenForo … are forums; Sphinx, MkDocs, rustdoc,
   Docusaurus … are documentation);
4. the URL path (``/t/<slug>/<id>``, ``/questions/``, ``/products/``, ``/collections/``, ``/docs/`` …),
   only when the markup says nothing more specific.

Rules in that order of trust, first match wins; a page with no signal is ``other``. Written by hand
(not learned) because the signals are explicit vocabularies and a few dozen rules read better than
a model nobody can audit; measured against WCXB-dev's human page types in
``bench/extraction_quality.py`` (the confusion matrix is printed).

Cost: one case-sensitive pattern over the first :data:`SCAN_CHARS` characters of the HTML and the
``<meta>`` tags of its ``<head>``, bounded patterns, no parse: 1.9 ms a page on WCXB-dev's (large,
modern) pages, against ~30 ms for trafilatura.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

PAGE_TYPES = ("article", "forum", "product", "collection", "listing", "docs", "service", "other")

#: JSON-LD blocks and microdata are read from this many first characters (bounded patterns: no
#: backtracking across the page).
SCAN_CHARS = 400_000

# JSON keys and microdata attributes are case-sensitive and lower-case in practice: case-sensitive
# patterns run ~4x faster than re.I over a whole page. Meta tags are read from the <head> only.
# Two patterns, not one alternation: each then starts with a literal, which re scans for quickly
# (one alternation was ~60% of detect's time on the bench's pages; the two give the same matches).
_SCHEMA_TYPES = (re.compile(r'"@type"\s*:\s*\[?\s*"(?:https?://schema\.org/)?([A-Za-z]{3,40})"'),
                 re.compile(r"itemtype\s*=\s*[\"']https?://schema\.org/([A-Za-z]{3,40})"))
_META = re.compile(r"<meta\s[^>]{0,400}>", re.I)
_META_ATTR = re.compile(r"""(property|name|content)\s*=\s*["']\s*([^"']{0,80})""", re.I)

_FORUM_SOFTWARE = ("discourse", "phpbb", "vbulletin", "xenforo", "invision", "mybb", "smf", "simple machines",
                   "vanilla", "nodebb", "flarum", "fluxbb", "punbb", "bbpress", "yabb")
_DOCS_SOFTWARE = ("sphinx", "docutils", "mkdocs", "rustdoc", "docusaurus", "gitbook", "readthedocs", "hugo-book",
                  "vuepress", "vitepress", "jsdoc", "doxygen", "javadoc", "antora", "mdbook")

_FORUM_TYPES = {"discussionforumposting", "qapage"}
_PRODUCT_TYPES = {"product", "productgroup", "individualproduct", "productmodel"}
_COLLECTION_TYPES = {"collectionpage", "itemlist", "offercatalog", "searchresultspage"}
_DOCS_TYPES = {"techarticle", "apireference", "softwaresourcecode"}
_ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "scholarlyarticle",
                  "analysisnewsarticle", "opinionnewsarticle", "posting", "socialmediaposting", "liveblogposting"}
_SERVICE_TYPES = {"service", "faqpage", "localbusiness", "professionalservice", "medicalbusiness", "legalservice",
                  "financialservice", "homeandconstructionbusiness", "howto"}

_URL_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("forum", re.compile(r"/(?:forums?|boards?|community|discussions?|threads?|topics?|viewtopic|showthread|"
                         r"questions|t/[^/]+/\d+|r/[^/]+/comments)(?:[/.?_-]|$)", re.I)),
    ("docs", re.compile(r"/(?:docs?|documentation|manual|reference|api|guides?|handbook|kb|knowledge-?base|"
                        r"help|man|wiki|tutorials?)(?:[/.?_-]|$)", re.I)),
    ("product", re.compile(r"/(?:products?|item|itm|dp|p)/[^/]+", re.I)),
    ("collection", re.compile(r"/(?:collections?|categor(?:y|ies)|shop|store|catalog|brands?)(?:/|$)", re.I)),
    ("listing", re.compile(r"/(?:news|blog|events|press|articles|archives?|tags?|search|results|directory|"
                           r"jobs|careers)/?$", re.I)),
    ("article", re.compile(r"/(?:19|20)\d\d/\d\d?/|/(?:blog|news|articles?|stories|posts?)/[^/]{8,}", re.I)),
    ("service", re.compile(r"/(?:services?|solutions?|pricing|plans|about|contact|locations?)(?:[/.?_-]|$)", re.I)),
)


def detect(html: str, url: str | None = None) -> str:
    """The page type of one HTML page (one of :data:`PAGE_TYPES`)."""
    head = html[:SCAN_CHARS]
    types = Counter(t.lower() for rx in _SCHEMA_TYPES for t in rx.findall(head))
    og, generator = _meta(head)

    # A Question outside an FAQPage is a Q&A thread; FAQ blocks (Question + Answer) sit on service pages.
    if (types.keys() & _FORUM_TYPES or any(s in generator for s in _FORUM_SOFTWARE)
            or types["question"] and not types["faqpage"]):
        return "forum"
    n_products = sum(types[t] for t in _PRODUCT_TYPES)
    if types.keys() & _COLLECTION_TYPES and n_products != 1 or "product.group" in og or n_products >= 3:
        return "collection"
    if n_products or "product" in og or any(o.endswith(":item") for o in og):
        return "product"
    if types.keys() & _DOCS_TYPES or any(s in generator for s in _DOCS_SOFTWARE):
        return "docs"
    if types["comment"] >= 2:  # a thread of replies under one post
        return "forum"
    path = _url_path(url)
    by_url = next((kind for kind, rule in _URL_RULES if rule.search(path)), None)
    if by_url in ("forum", "docs", "product", "collection", "listing"):
        return by_url
    if types.keys() & _ARTICLE_TYPES or "article" in og:
        return "article"
    if types.keys() & _SERVICE_TYPES:
        return "service"
    return by_url or "other"


def _url_path(url: str | None) -> str:
    """The URL's path, or "" for no URL or one that does not parse (``http://[::1/x``): a bad
    WARC-Target-URI costs the URL signal, never the page."""
    try:
        return urlsplit(url).path if url else ""
    except ValueError:
        return ""


def _meta(html: str) -> tuple[set[str], str]:
    """``og:type`` values and the generator string(s), lower-case, from the page's ``<head>``."""
    end = html.find("</head>")
    if end < 0:
        end = html.find("</HEAD>")
    head = html[: end if 0 <= end < 100_000 else 100_000]
    og: set[str] = set()
    generators = []
    for tag in _META.findall(head):
        attrs = {k.lower(): v.strip().lower() for k, v in _META_ATTR.findall(tag)}
        if attrs.get("property") == "og:type" and attrs.get("content"):
            og.add(attrs["content"])
        elif attrs.get("name") == "generator" and attrs.get("content"):
            generators.append(attrs["content"])
    return og, " ".join(generators)
