"""HTML → main text: charset resolution, HTML sniffing, math/code preservation, two extractors.

* ``trafilatura`` (default) is the quality extractor; ``resiliparse`` is ~5x faster. Every HTML page
  gets a page type (:mod:`curation.ingest.page_type`); on the default path resiliparse also runs as a
  second opinion: their agreement is an extraction confidence, and on forum pages the fuller text
  is kept (:func:`extract_page`).
* Charset order: HTTP header → ``<meta>`` tag → byte-level detection (uchardet via resiliparse).
  Labels are mapped the way browsers do (WHATWG), e.g. ``iso-8859-1`` decodes as cp1252.
* Code: ``<pre>`` blocks keep their line breaks and indentation with both extractors.
* Math: extractors drop ``<script>`` (MathJax TeX) and flatten MathML into unreadable runs of
  symbols, which is why phi-4 wrote a custom extractor. We rewrite those elements into inline
  ``$…$`` / ``$$…$$`` TeX text *before* extraction, so both extractors keep them.
* Each page has a wall-clock time limit (SIGALRM; see :func:`time_limit`) so a pathological page
  is dropped with a reason instead of hanging a Spark task.
* A page the extractor cannot handle faithfully raises :class:`PageRefused` with the real cause
  (nesting too deep, a parser resource limit, a crash trafilatura would swallow) instead of coming
  out as empty text: the cause then shows in the funnel as its own drop reason.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import html as htmllib
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from curation.config import bounded

Extractor = Literal["trafilatura", "resiliparse"]

#: Registry keys of the extractor versions (drop reasons are prefixed with them).
EXTRACTOR_STEPS: dict[str, str] = {"trafilatura": "trafilatura_v1", "resiliparse": "resiliparse_v1"}


@dataclass(frozen=True)
class ExtractConfig:
    extractor: Extractor = "trafilatura"
    #: Wall-clock seconds allowed per page (0 disables the limit).
    time_limit_s: float = 10.0
    #: Payloads larger than this are dropped unread (``<extractor>.too_large``).
    max_payload_bytes: int = 5_000_000
    #: Rewrite MathML and MathJax TeX into ``$…$`` text before extraction.
    keep_math: bool = True
    #: Keep data tables as tables (trafilatura ``| a | b |`` rows, resiliparse tab-separated cells).
    keep_tables: bool = True
    #: Rewrite tables used for page layout (nested, one column of prose, forms, cells of paragraphs)
    #: into ordinary blocks before extraction, with either extractor and either keep_tables; see
    #: curation/ingest/html_tables.py. Off: every table is extracted as a table (the behaviour before).
    unwrap_layout_tables: bool = True
    #: Pages whose extracted text is shorter than this are dropped as ``<extractor>.empty``.
    min_text_chars: int = 1
    #: trafilatura only: "precision" drops more boilerplate, "recall" keeps more text.
    trafilatura_focus: Literal["balanced", "precision", "recall"] = "balanced"
    #: Pages nested deeper than this are dropped as ``<extractor>.too_deep`` (0: no check).
    #: resiliparse's main-content pass is quadratic in depth, in C, where the time limit cannot
    #: interrupt it (100k nested divs: 5 minutes); trafilatura's parser (libxml2) stops at depth 256
    #: on its own. Real pages in ../shared/data nest at most 56 deep.
    max_html_depth: int = bounded(256, lo=0)
    #: Reader limits: a WARC or HTTP header line / header block over these is ``error.header_too_large``
    #: and skipped, so a hostile header cannot take the worker's memory. Real crawls never come close.
    max_header_line_bytes: int = bounded(64 * 1024, lo=1)
    max_header_block_bytes: int = bounded(1024 * 1024, lo=1)

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTOR_STEPS:
            raise ValueError(f"extractor must be one of {', '.join(EXTRACTOR_STEPS)}, got {self.extractor!r}")
        if self.time_limit_s < 0 or self.max_payload_bytes <= 0:
            raise ValueError("time_limit_s must be >= 0 and max_payload_bytes > 0")
        if self.max_html_depth < 0:
            raise ValueError("max_html_depth must be >= 0 (0 disables the check)")
        if not 0 < self.max_header_line_bytes <= self.max_header_block_bytes:
            raise ValueError("need 0 < max_header_line_bytes <= max_header_block_bytes")

    @property
    def step_name(self) -> str:
        return EXTRACTOR_STEPS[self.extractor]


# --------------------------------------------------------------------------------------------
# Content type and charset


_HTML_MIME = ("text/html", "application/xhtml+xml", "application/xml+html")
# Content types that say nothing about the payload, so sniffing decides.
_GENERIC_MIME = ("", "text/plain", "application/octet-stream", "unknown/unknown", "application/unknown")
_SNIFF = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta|div|p)[\s>/]", re.I | re.S)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.+-]+)""", re.I)


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """``'text/html; charset=UTF-8'`` -> ``('text/html', 'UTF-8')``."""
    if not value:
        return "", None
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'")
    return mime.strip().lower(), charset


def is_html(mime: str, payload: bytes) -> bool:
    if mime in _HTML_MIME:
        return True
    if mime in _GENERIC_MIME:
        head = payload[:1024].lstrip(b"\xef\xbb\xbf")
        return bool(_SNIFF.match(head))
    return False


def _python_codec(label: str | None) -> str | None:
    """Map an HTTP/HTML charset label to a Python codec the way browsers do, or None if unknown."""
    if not label:
        return None
    label = label.strip().lower()
    try:
        codecs.lookup(label)
    except LookupError:
        if label.replace("-", "").replace("_", "") not in ("xsjis", "sjis", "shiftjis", "windows31j"):
            return None
    from resiliparse.parse.encoding import map_encoding_to_html5

    name = map_encoding_to_html5(label)
    # WHATWG decodes these labels with the vendor supersets; the strict codecs fail on real pages.
    return {"shift_jis": "cp932", "gbk": "gb18030", "gb2312": "gb18030", "euc_kr": "cp949"}.get(name, name)


def decode_html(payload: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """Decode an HTML payload; returns ``(text, codec used)``.

    Order: BOM, HTTP header charset, ``<meta>`` charset, detection. A declared charset that fails
    to decode strictly is skipped (servers lie); the last resort decodes with replacement.
    """
    if payload.startswith(b"\xef\xbb\xbf"):
        return payload[3:].decode("utf-8", errors="replace"), "utf-8"
    candidates: list[str] = []
    meta = _META_CHARSET.search(payload[:4096])
    for label in (header_charset, meta.group(1).decode("ascii", "ignore") if meta else None):
        codec = _python_codec(label)
        if codec and codec not in candidates:
            candidates.append(codec)
    for codec in candidates:
        try:
            return payload.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # A declared (or UTF-8) page with a few bad bytes is still in that charset: browsers decode it
    # with replacement characters, while byte-level detection would turn the whole page to mojibake.
    for codec in (*candidates, "utf-8"):
        text = payload.decode(codec, errors="replace")
        if text.count("\ufffd") <= max(2, len(text) // 1000):
            return text, codec
    from resiliparse.parse.encoding import detect_encoding

    codec = _python_codec(detect_encoding(payload)) or "cp1252"
    return payload.decode(codec, errors="replace"), codec


# --------------------------------------------------------------------------------------------
# Math preservation (hand-written: no maintained library rewrites MathML/MathJax to TeX text)

# Elements are found with str.find (see _elements); these regexes only look inside one start tag.
_MATHJAX_TYPE = re.compile(r"type\s*=\s*[\"']math/tex(;\s*mode\s*=\s*display)?[\"']", re.I)
_TEX_ENCODING = re.compile(r"encoding\s*=\s*[\"']application/x-tex[\"']", re.I)
_ALTTEXT = re.compile(r"alttext\s*=\s*[\"']([^\"']*)[\"']", re.I)
_TAG = re.compile(r"<[^<>]+>")  # [^<>]: an unclosed "<" fails at the next "<", not at the end of the page


def _tex_span(tex: str, display: bool) -> str:
    tex = htmllib.escape(htmllib.unescape(tex).strip(), quote=False)
    return f"<span>$${tex}$$</span>" if display else f"<span>${tex}$</span>"


def may_have_math(payload: bytes) -> bool:
    """Cheap pre-check on the raw bytes (bytes search is several times faster than on str)."""
    return b"math" in payload or b"MATH" in payload


def _elements(html: str, name: str, word_boundary: bool = True) -> Iterator[tuple[int, int, str, str]]:
    """``(start, end, attributes, body)`` of each ``<name ...>body</name>`` in ``html``, in one pass.

    Case-insensitive; the body ends at the first closing tag. This replaces regexes of the form
    ``<name[^>]*>(.*?)</name>``, which scan to the end of the page from every unclosed opening tag:
    a 140 KB page of 20,000 unclosed ``<math>`` took 36 s. Here each search starts where the last
    one ended, so the time is linear, and an opening tag with no closing tag after it ends the scan.
    """
    lowered = html.lower()
    opening, closing = "<" + name, "</" + name + ">"
    i = 0
    while (start := lowered.find(opening, i)) >= 0:
        after = start + len(opening)
        if word_boundary and after < len(html) and (html[after].isalnum() or html[after] == "_"):
            i = after  # <mathx> is another element
            continue
        gt = html.find(">", after)
        close = lowered.find(closing, gt + 1) if gt >= 0 else -1
        if close < 0:
            return
        yield start, close + len(closing), html[after:gt], html[gt + 1 : close]
        i = close + len(closing)


def _replace(html: str, spans: Iterator[tuple[int, int, str | None]]) -> str:
    """``html`` with each ``(start, end, text)`` span replaced by ``text`` (None: left as it is)."""
    out, last = [], 0
    for start, end, text in spans:
        if text is not None:
            out += [html[last:start], text]
            last = end
    return "".join(out) + html[last:] if out else html


def _mathjax(html: str) -> Iterator[tuple[int, int, str | None]]:
    for start, end, attrs, body in _elements(html, "script", word_boundary=False):
        kind = _MATHJAX_TYPE.search(attrs)
        yield start, end, _tex_span(body, bool(kind.group(1))) if kind else None


def _mathml(html: str) -> Iterator[tuple[int, int, str | None]]:
    for start, end, attrs, body in _elements(html, "math"):
        display = "display" in attrs.lower() and "block" in attrs.lower()
        tex = next((b for _, _, a, b in _elements(body, "annotation", word_boundary=False) if _TEX_ENCODING.search(a)), None)
        if tex is None and (alt := _ALTTEXT.search(attrs)):
            tex = alt.group(1)
        if tex is None:  # no TeX available: keep the symbols as plain text rather than losing the formula
            tex = " ".join(_TAG.sub(" ", body).split())
        yield start, end, _tex_span(tex, display)


def rewrite_math(html: str) -> str:
    """Replace MathJax ``<script type=math/tex>`` and MathML with ``$TeX$`` text spans."""
    lowered = html.lower()
    if "math/tex" in lowered:
        html = _replace(html, _mathjax(html))
    if "<math" in lowered:
        html = _replace(html, _mathml(html))
    return html


# --------------------------------------------------------------------------------------------
# Time limit


class ExtractTimeout(BaseException):
    """A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way can
    swallow it: trafilatura wraps its recall retry in one, and a timeout raised there used to be
    logged as "recall retry failed" and the page went on without any time limit."""


class PageRefused(Exception):
    """The extractor cannot give this page's text faithfully; ``reason`` names why.

    It becomes the drop reason ``<extractor>.<reason>`` (and the message the ``error`` column), so
    the funnel shows the real cause instead of ``<extractor>.empty``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`ExtractTimeout` after ``seconds`` of wall time.

    Uses SIGALRM, which is cheap (no subprocess per page, unlike datatrove's sandbox) and works in
    Spark's Python workers, which run tasks on their main thread. Off the main thread, or on
    platforms without SIGALRM, the limit is not enforced. Code inside a C extension is interrupted
    when it returns to Python, which is where trafilatura's slow paths are.
    """
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise ExtractTimeout(f"extraction exceeded {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------------
# Extractors


# --------------------------------------------------------------------------------------------
# What the extractors hide: depth, parser limits, swallowed crashes

#: libxml2 (lxml without huge_tree, as trafilatura parses) stops at this element depth.
LIBXML2_MAX_DEPTH = 256


def check_depth(tree, limit: int) -> None:
    """Raise :class:`PageRefused` ``too_deep`` when ``tree`` (resiliparse's parse) nests deeper than ``limit``.

    A selector of ``limit + 1`` child steps matches exactly the elements that deep; lexbor evaluates
    it in C from each element up its ancestors, ~0.3 ms on a typical page (a Python walk: 2 ms), and
    stops at the first hit on a hostile one. No byte scan can do this: parsers ignore end tags that
    do not fit (``<span><div></span>``), so counting tags underestimates depth without bound.
    """
    if limit and tree.document is not None and tree.document.query_selector(_depth_selector(limit + 1)) is not None:
        raise PageRefused("too_deep", f"elements nested deeper than max_html_depth={limit}")


@functools.lru_cache(maxsize=8)
def _depth_selector(depth: int) -> str:
    return " > ".join(["*"] * depth)


def _check_libxml2(parser) -> None:
    """Turn a libxml2 resource limit hit during trafilatura's parse into :class:`PageRefused`.

    Without huge_tree, libxml2 stops parsing at depth 256 ("Excessive depth in document") and at a
    text node over 10,000,000 bytes ("Buffer size limit exceeded"; a 50 MB one-line page is one such
    node); it keeps the tree built so far and lxml raises nothing, so trafilatura returned '' or a
    silently cut text. The parser's error log still says what happened.
    """
    from lxml import etree

    for entry in parser.error_log:
        if entry.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT:
            reason = "too_deep" if "depth" in entry.message.lower() else "parser_limit"
            raise PageRefused(reason, f"libxml2: {entry.message.strip()}"[:500])


class ExtractorCrash(Exception):
    """An exception inside the extraction proper; not a ValueError, so trafilatura lets it through."""


def _trafilatura_surfacing_crashes():
    """trafilatura, with crashes inside its extraction raised instead of returned as ``None``.

    ``bare_extraction`` catches every TypeError/ValueError and returns nothing: its own rejections
    (raised in ``bare_extraction`` itself, each logged) and genuine crashes alike. Crashes come from
    ``trafilatura_sequence``, which raises nothing on purpose, so that one function is wrapped once
    per process to re-raise them as :class:`ExtractorCrash` (then ``error.extract`` with the message).
    """
    import trafilatura
    import trafilatura.core as core

    if not getattr(core.trafilatura_sequence, "surfaces_crashes", False):
        sequence = core.trafilatura_sequence

        @functools.wraps(sequence)
        def surfacing(*args, **kwargs):
            try:
                return sequence(*args, **kwargs)
            except (TypeError, ValueError) as exc:
                raise ExtractorCrash(f"{type(exc).__name__} inside trafilatura: {exc}"[:500]) from exc

        surfacing.surfaces_crashes = True  # type: ignore[attr-defined]
        core.trafilatura_sequence = surfacing
    return trafilatura


# --------------------------------------------------------------------------------------------
# Layout tables (issue 18): the rules of curation/ingest/html_tables.py, run on each extractor's own parse

_TABLE_TAG = re.compile(r"<table[\s>/]", re.I)


def _trafilatura(html: str, cfg: ExtractConfig, url: str | None = None, page_type: str = "other") -> str:
    from trafilatura.utils import HTML_PARSER, load_html

    trafilatura = _trafilatura_surfacing_crashes()
    if 0 < cfg.max_html_depth < LIBXML2_MAX_DEPTH:  # libxml2 enforces anything deeper by itself
        from resiliparse.parse.html import HTMLTree

        check_depth(HTMLTree.parse(html), cfg.max_html_depth)
    # The page is parsed here, with trafilatura's own loader, and the tree handed to it: the libxml2
    # error log is read right after this parse (its fallback extractors parse again and clear it),
    # and layout tables are rewritten in that tree (curation/ingest/html_tables.py).
    tree = load_html(html)
    _check_libxml2(HTML_PARSER)
    if tree is None:
        return ""
    if cfg.unwrap_layout_tables and _TABLE_TAG.search(html):
        from curation.ingest.html_tables import unwrap_layout_tables

        unwrap_layout_tables(tree)
    text = trafilatura.extract(
        tree,
        url=url,
        # Comments are the text of a forum thread (trafilatura files replies under comments) and
        # boilerplate under an article. The fallback extractors (trafilatura's readability port and
        # jusText, run when its own pass finds little) as in trafilatura's defaults. Both were off
        # (fast=True, no comments), chosen on the two article sets; on WCXB-dev's page types that
        # cost 0.14 F1 on forums and 0.05 on service pages (bench/extraction_quality.py).
        include_comments=page_type in COMMENT_PAGE_TYPES,
        include_tables=cfg.keep_tables,
        fast=False,
        # Plain text keeps <pre> code with its line breaks; markdown formatting would put **bold**
        # markers inside sentences (measured: -0.6 F1 on trafilatura's own benchmark).
        include_formatting=False,
        favor_precision=cfg.trafilatura_focus == "precision",
        favor_recall=cfg.trafilatura_focus == "recall",
        deduplicate=False,
        output_format="txt",
    )
    return text or ""


# Boilerplate blocks that resiliparse's main-content heuristic keeps. Measured on trafilatura's
# evaluation set and the readability corpus; each one cut leaked boilerplate without losing text.
_RP_SKIP_ALWAYS = (
    "footer",  # page/article footers: copyright, imprint, tag and share rows
    # The same built from divs (site-footer, entry-footer, post-footer), but not a page wrapper
    # named after its footer (sticky-footer layouts), which holds the title or <main>.
    "[class*=footer i]:not(:has(h1, main))",
    "[id*=footer i]:not(:has(h1, main))",
)
# Class/id substrings of widgets that sit next to or inside the article. Substrings also hit
# wrappers ("docked-sharebar-content-container" holds a whole article), hence the guards below.
_RP_WIDGET_CLASSES = (
    "author",  # author boxes and bios ("about the author")
    "newsletter", "subscri", "signup",  # newsletter / subscription prompts and paywall teasers
    "cookie",  # cookie banners
    "share", "social",  # share bars and follow-us widgets
    "related",  # related-article lists
    "breadcrumb",  # breadcrumb trails
    "pagination",  # pager links
)
# Ids: the same kinds of blocks; comment sections by id only (class "commentary" marks articles).
_RP_WIDGET_IDS = ("author", "newsletter", "cookie", "comment")
_RP_WIDGET_GUARD = (
    # Only block containers (and bylines' spans): an inline <a class="popup"> is part of the text.
    ":is(div,section,aside,ul,ol,dl,p,form,span)"
    # Never a block whose own name says it holds the content (e.g. "post-with-share content").
    ":not([class*=content i]):not([class*=article i]):not([class*=main i])"
    ":not([id*=content i]):not([id*=article i]):not([id*=main i])"
    # Widgets are not multi-paragraph and do not hold the page title; article wrappers are/do.
    ":not(:has(p ~ p, h1))"
)
# One selector per attribute, "[class]"/"[id]" test first: measured ~1/3 less overhead in lexbor.
_RP_WIDGET_SKIP = tuple(
    f"[{attr}]:is({','.join(f'[{attr}*={name} i]' for name in names)}){_RP_WIDGET_GUARD}"
    for attr, names in (("class", _RP_WIDGET_CLASSES), ("id", _RP_WIDGET_IDS))
)
_RP_SKIP = (*_RP_SKIP_ALWAYS, *_RP_WIDGET_SKIP)

# Trailing-line trim: after the last real paragraph, pages end with short labels whose links or
# widgets the extractor already dropped ("Related articles", "Share this", "Tags:", "© 2020 …").
_RP_TAIL_MAX_WORDS = 15  # a trailing line this short that is no sentence is such a label
_RP_SENTENCE_END = re.compile(r"[.!?\"”“»«'’…)\]}:;,]$")  # sentence or code-line endings are kept
_RP_LETTER = re.compile(r"[^\W\d_]")
_RP_LIST_ITEM = re.compile(r"\s+(?:•|\d+\.)\s")  # resiliparse's list bullets ("  • ", "  1. ")


def _rp_is_trailing_label(line: str, previous: str) -> bool:
    """A short, non-sentence text line that is no code, table row, list item or number."""
    if "\t" in line or line[:1] == " ":  # table rows have tab-separated cells; indent = <pre>/list
        return False
    if previous[:1] in (" ", "\t") and previous.strip() and not _RP_LIST_ITEM.match(previous):
        return False  # an unindented "end" / "fi" closing an indented <pre> block
    text = line.strip()
    return (len(text.split()) < _RP_TAIL_MAX_WORDS and not _RP_SENTENCE_END.search(text)
            and _RP_LETTER.search(text) is not None)


def _rp_trim_tail(text: str) -> str:
    """Drop trailing short label lines; a text made only of such lines is returned unchanged."""
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end:
        line, previous = lines[end - 1], lines[end - 2] if end > 1 else ""
        if line.strip() and not _rp_is_trailing_label(line, previous):
            break
        end -= 1
    return "\n".join(lines[:end]) if end else text


def _resiliparse(html: str, cfg: ExtractConfig, url: str | None = None, page_type: str = "other") -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)  # parsed once, for the depth check and the extraction (same output)
    check_depth(tree, cfg.max_html_depth)
    if cfg.unwrap_layout_tables and _TABLE_TAG.search(html):
        from curation.ingest.html_tables import unwrap_layout_tables_lexbor

        # the same rules as for trafilatura, on lexbor's own parse (depth already checked above)
        unwrap_layout_tables_lexbor(tree)
    skip = _RP_SKIP if cfg.keep_tables else (*_RP_SKIP, "table")
    text = extract_plain_text(
        tree,
        main_content=True,
        preserve_formatting=True,  # keeps <pre> code blocks and paragraph breaks
        list_bullets=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        # Comments are a forum thread's text and not an article's (as for trafilatura): on WCXB-dev's
        # forums this raised page-F1 0.635 -> 0.726, keeping them everywhere cost 0.005 on articles.
        comments=page_type in COMMENT_PAGE_TYPES,
        skip_elements=skip,
    )
    return _rp_trim_tail(text)


_EXTRACTORS = {"trafilatura": _trafilatura, "resiliparse": _resiliparse}

#: Default path: page types (curation.ingest.page_type) whose text is the fuller of the two extractors'
#: outputs. On forum threads trafilatura keeps the first post and loses replies on many layouts.
#: Also routing untyped ("other") pages raised WCXB-dev more (0.767) but cost 0.011 F1 on
#: trafilatura's article set, where untyped article pages got resiliparse's boilerplate.
ROUTE_TO_FULLER = frozenset({"forum"})
#: Page types whose comments both extractors keep: replies are a thread's text, an article's comments
#: are not its text (keeping them everywhere cost 0.004 F1 on the readability set).
COMMENT_PAGE_TYPES = frozenset({"forum"})
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Extraction:
    """One page's main text and what is known about it."""

    text: str
    #: curation.ingest.page_type.detect: article, forum, product, collection, listing, docs, service, other.
    page_type: str
    #: Default path only: bag-of-words F1 between trafilatura's and resiliparse's text, a label-free
    #: extraction confidence (two independent extractors agree on the main text). On WCXB-dev its
    #: Spearman correlation with the true page-F1 is 0.58; pages under 0.5 average F1 0.52, the rest
    #: 0.81. None on the fast path (it runs one extractor) and where the second one failed.
    agreement: float | None = None


def word_overlap_f1(a: str, b: str) -> float:
    """F1 of the two texts' lower-case \\w+ word multisets (1.0 when both are empty)."""
    ca, cb = Counter(_WORD.findall(a.lower())), Counter(_WORD.findall(b.lower()))
    na, nb = sum(ca.values()), sum(cb.values())
    if not na or not nb:
        return float(na == nb)
    overlap = sum((ca & cb).values())
    return 2 * overlap / (na + nb)


def extract_page(html: str, cfg: ExtractConfig, url: str | None = None, *, math: bool = True) -> Extraction:
    """Extract the main text of one HTML page with its page type (and, on the default path, the two
    extractors' agreement). No time limit here.

    ``math=False`` says the page has no math markup (see :func:`may_have_math`), skipping the rewrite.
    """
    from curation.ingest.page_type import detect

    page_type = detect(html, url)
    if cfg.keep_math and math and ("math" in html or "MATH" in html):
        html = rewrite_math(html)
    text = _EXTRACTORS[cfg.extractor](html, cfg, url, page_type).strip()
    if cfg.extractor != "trafilatura":
        return Extraction(text, page_type)
    try:
        # resiliparse costs ~1/5 of trafilatura: the confidence and the routing for +~20% time.
        other = _resiliparse(html, cfg, url, page_type).strip()
    except (PageRefused, ValueError, RuntimeError):  # the primary text stands; no second opinion
        return Extraction(text, page_type)
    agreement = word_overlap_f1(text, other)
    if page_type in ROUTE_TO_FULLER and len(other.split()) > len(text.split()):
        text = other
    return Extraction(text, page_type, agreement)


def html_to_text(html: str, cfg: ExtractConfig, url: str | None = None, *, math: bool = True) -> str:
    """The main text of one HTML page ('' when there is none): :func:`extract_page`'s text."""
    return extract_page(html, cfg, url, math=math).text
