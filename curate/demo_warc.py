"""Deterministic generator of the bundled demo WARC (``demo/demo.warc.gz``).

``write_demo_warc(path)`` writes a small gzip WARC/1.0 file (one gzip member per record, as in
Common Crawl) whose records exercise every branch of the pipeline: extraction from pages wrapped
in site chrome, code / table / math preservation, boilerplate and spam filtering, exact and near
duplicates, charset resolution (HTTP header vs ``<meta>``), non-HTML payloads, HTTP errors and
redirects, a ``revisit`` record, a ``response`` whose HTTP block is garbage, and an HTML page
served without a Content-Type.

All page text is original, written for this project. The output is byte-for-byte reproducible:
WARC-Date values come from a fixed clock, WARC-Record-IDs are UUIDv5 hashes of record type +
URL, and warcio's gzip writer (``zlib.compressobj(wbits=31)``) stores an mtime of 0 and no file
name in every gzip header. The bytes depend only on this module (and on zlib producing the same
deflate stream, which holds for a given zlib build). The warcinfo record names the file
:data:`DEMO_WARC_FILENAME` whatever path it is written to, so the destination does not change
the bytes either.

Run ``python -m curate.demo_warc OUT.warc.gz`` to write it and print what each URL exercises.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import io
import struct
import sys
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from os import PathLike
from pathlib import Path

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

__all__ = ["DEMO_WARC_FILENAME", "KIND_DESCRIPTIONS", "DemoSummary", "demo_warc_bytes", "write_demo_warc", "main"]

#: File name recorded in the warcinfo record (fixed, so the output path does not change the bytes).
DEMO_WARC_FILENAME = "demo.warc.gz"

#: What each kind in :attr:`DemoSummary.urls` is there to exercise.
KIND_DESCRIPTIONS: dict[str, str] = {
    "robots-txt": "robots.txt as text/plain: a non-HTML document",
    "educational": "informative English article wrapped in nav/cookie banner/sidebar/footer chrome",
    "educational-code": "educational article with a Python <pre><code> block (line breaks must survive)",
    "educational-table": "educational article whose key content is a data <table>",
    "educational-math": "educational article with MathML (+ TeX annotation) and MathJax <script type=\"math/tex\">",
    "no-content-type": "HTML article served without any Content-Type header (must be sniffed as HTML)",
    "exact-duplicate": "byte-identical payload of another URL (the 'educational' photosynthesis page)",
    "near-duplicate": "the photosynthesis page with a few words changed (fuzzy dedup should catch it)",
    "redirect-301": "HTTP 301 Moved Permanently with a Location header",
    "http-404": "HTTP 404 Not Found error page",
    "boilerplate": "page that is almost entirely navigation and links, with next to no prose",
    "spam": "keyword stuffing, repeated lines, 'buy cheap ... click here'",
    "broken-http": "response record whose HTTP block is garbage bytes (WARC framing stays valid)",
    "non-english-de": "German article, UTF-8 (charset in HTTP header and <meta>)",
    "non-english-es": "Spanish article, UTF-8 (charset only in <meta>)",
    "non-english-ja-shift_jis": "Japanese article in Shift_JIS; charset ONLY in <meta charset>, none in HTTP",
    "non-english-fr-windows-1252": "French article in windows-1252; charset ONLY in the HTTP header",
    "non-html-png": "a valid PNG image (image/png)",
    "non-html-pdf": "a tiny one-page PDF (application/pdf)",
    "revisit": "revisit record (identical-payload-digest) referring to an earlier URL's response",
}


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`write_demo_warc` wrote."""

    path: Path
    #: Total number of WARC records.
    records: int
    #: Number of ``response`` records (the broken one included).
    responses: int
    #: ``{WARC-Target-URI: kind}`` for every URL in the file, in file order (kinds: :data:`KIND_DESCRIPTIONS`).
    urls: dict[str, str]
    #: ``{WARC-Type: count}``; sums to :attr:`records`.
    record_types: dict[str, int] = field(default_factory=dict)
    #: ``{url: original url}`` for the exact duplicate, near duplicate, redirect and revisit.
    related: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    sha256: str = ""

    def urls_of_kind(self, kind: str) -> list[str]:
        """URLs whose kind equals ``kind`` or starts with ``kind + '-'`` (``"educational"`` matches all four)."""
        return [u for u, k in self.urls.items() if k == kind or k.startswith(kind + "-")]

    def describe(self) -> str:
        types = ", ".join(f"{t}={n}" for t, n in self.record_types.items())
        lines = [
            f"{self.path}: {self.size_bytes} bytes, sha256 {self.sha256}",
            f"{self.records} records ({types}); {self.responses} responses",
        ]
        width = max(len(k) for k in self.urls.values())
        for url, kind in self.urls.items():
            extra = f"  (-> {self.related[url]})" if url in self.related else ""
            lines.append(f"  {kind:<{width}}  {url}{extra}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Determinism helpers

_START = datetime(2024, 3, 4, 10, 15, 0, tzinfo=UTC)
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://curate.example.org/demo-warc")
_USER_AGENT = "CurateDemoBot/1.0 (+https://curate.example.org/bot)"


def _record_id(rec_type: str, url: str) -> str:
    """Stable WARC-Record-ID: a UUIDv5 (SHA-1) of the record type and URL."""
    return f"<urn:uuid:{uuid.uuid5(_ID_NAMESPACE, rec_type + ' ' + url)}>"


def _warc_date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_date(dt: datetime) -> str:
    return format_datetime(dt, usegmt=True)


def _host(url: str) -> str:
    return url.split("/")[2]


def _ip_for(host: str) -> str:
    """An address in TEST-NET-3 (RFC 5737), fixed per host."""
    return f"203.0.113.{1 + hashlib.sha1(host.encode()).digest()[0] % 254}"


def _payload_digest(body: bytes) -> str:
    d = Digester("sha1")
    d.update(body)
    return str(d)


class _DeterministicWARCWriter(WARCWriter):
    """WARCWriter that refuses to invent a random record id or read the clock."""

    @classmethod
    def _make_warc_id(cls):  # pragma: no cover - a bug guard
        raise AssertionError("demo WARC records must carry an explicit WARC-Record-ID")

    def curr_warc_date(self):  # pragma: no cover - a bug guard
        raise AssertionError("demo WARC records must carry an explicit WARC-Date")

    def ensure_digest(self, record, block=True, payload=True):
        # A block that is not HTTP has no defined payload, so the broken record gets only a block digest.
        if getattr(record, "no_payload_digest", False):
            payload = False
        super().ensure_digest(record, block=block, payload=payload)


# --------------------------------------------------------------------------------------------
# Binary payloads


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _png_1x1() -> bytes:
    """A valid 1x1 RGB PNG (one teal pixel)."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # width, height, depth 8, RGB, deflate, filter, no interlace
    idat = zlib.compress(b"\x00" + bytes((0x1F, 0x8A, 0x8C)), 9)  # filter byte 0 + one pixel
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _tiny_pdf() -> bytes:
    """A minimal one-page PDF 1.4 with a correct xref table."""
    text = b"BT /F1 16 Tf 36 100 Td (Compound interest worksheet) Tj 0 -24 Td (A = P(1 + r/n)^(nt)) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 160] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


#: HTTP block of the broken record: what a crawler might store after speaking plain HTTP to a TLS
#: port (a TLS alert) followed by junk. No line starts with "HTTP/" and no status code parses.
_BROKEN_HTTP_BLOCK = (
    b"\x15\x03\x03\x00\x02\x02\x46\x00\xff\xfe<<not an HTTP status line>>\r\n"
    b"\x8b\x1f\x00\x07garbage:\x00\x01\x02\x03\r\n"
    + hashlib.sha256(b"curate demo broken record").digest() * 4
    + b"\r\n"
)


# --------------------------------------------------------------------------------------------
# Site chrome for learn.example.org

_LEARN = "https://learn.example.org"

_RELATED = [
    ("/finance/compound-interest", "Compound interest, with a worked example"),
    ("/cs/binary-search", "How binary search works"),
    ("/biology/photosynthesis", "Photosynthesis: how plants turn light into sugar"),
    ("/history/printing-press", "The printing press and the spread of books"),
    ("/science/planets", "The planets in numbers"),
    ("/math/quadratic-formula", "The quadratic formula, derived"),
    ("/notes/why-is-the-sky-blue", "Why is the sky blue?"),
]


def _learn_page(*, path: str, title: str, section: str, section_name: str, description: str,
                author: str, updated: str, minutes: int, body: str, head_extra: str = "") -> bytes:
    crumbs = '<a href="/">Home</a> &rsaquo; ' + (f'<a href="/{section}/">{section_name}</a> &rsaquo; ' if section else "")
    related = "\n".join(f'      <li><a href="{p}">{html.escape(t)}</a></li>' for p, t in _RELATED if p != path)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} | Open Learning Notes</title>
<meta name="description" content="{html.escape(description)}">
<link rel="canonical" href="{_LEARN}{path}">
<link rel="stylesheet" href="/static/css/site.css?v=42">
<script>
  window.olnQueue = window.olnQueue || [];
  function olnTrack(name) {{ window.olnQueue.push({{event: name, page: location.pathname}}); }}
  olnTrack("pageview");
</script>{head_extra}
</head>
<body class="page-article">
<div id="cookie-banner" class="cookie-banner" role="dialog" aria-label="Cookie consent">
  <p>We use cookies to remember your settings and to count visits so we can improve our notes.
  Choose "Accept all" to allow all cookies, or manage your preferences.</p>
  <button type="button" class="btn btn-primary" onclick="olnTrack('cookies-accept')">Accept all</button>
  <button type="button" class="btn">Only necessary</button>
  <a href="/privacy#cookies">Cookie settings</a>
</div>
<header class="site-header">
  <a class="logo" href="/"><img src="/static/img/logo.svg" alt="Open Learning Notes" width="160" height="32"></a>
  <nav class="main-nav" aria-label="Main menu">
    <ul>
      <li><a href="/">Home</a></li>
      <li><a href="/math/">Mathematics</a></li>
      <li><a href="/science/">Science</a></li>
      <li><a href="/biology/">Biology</a></li>
      <li><a href="/cs/">Computing</a></li>
      <li><a href="/history/">History</a></li>
      <li><a href="/finance/">Money &amp; Finance</a></li>
      <li><a href="/about">About</a></li>
      <li><a class="cta" href="/donate">Donate</a></li>
    </ul>
  </nav>
  <form class="search" action="/search" method="get" role="search">
    <input type="search" name="q" placeholder="Search the notes" aria-label="Search">
    <button type="submit">Search</button>
  </form>
</header>
<div class="layout">
<main id="content">
  <nav class="breadcrumbs" aria-label="Breadcrumb">{crumbs}<span>{html.escape(title)}</span></nav>
  <article>
    <h1>{html.escape(title)}</h1>
    <p class="byline">By {author} &middot; Updated {updated} &middot; {minutes} min read</p>
{body}
  </article>
  <div class="share">Share this note: <a href="#share-email">Email</a> &middot; <a href="#copy-link">Copy link</a> &middot; <a href="#print">Print</a></div>
  <section class="newsletter">
    <h2>One new note every week</h2>
    <form action="/newsletter" method="post"><input type="email" name="email" placeholder="you@example.org"><button type="submit">Subscribe</button></form>
  </section>
</main>
<aside class="sidebar">
  <h2>Related notes</h2>
  <ul>
{related}
  </ul>
  <h2>Popular this week</h2>
  <ol>
    <li><a href="/math/fractions-basics">Fractions without fear</a></li>
    <li><a href="/science/states-of-matter">States of matter</a></li>
    <li><a href="/cs/what-is-an-algorithm">What is an algorithm?</a></li>
  </ol>
  <div class="ad-slot" data-slot="sidebar-300x250">Advertisement</div>
</aside>
</div>
<footer class="site-footer">
  <ul>
    <li><a href="/about">About us</a></li>
    <li><a href="/contact">Contact</a></li>
    <li><a href="/privacy">Privacy policy</a></li>
    <li><a href="/terms">Terms of use</a></li>
    <li><a href="/accessibility">Accessibility</a></li>
    <li><a href="/sitemap">Sitemap</a></li>
  </ul>
  <p>&copy; 2024 Open Learning Notes. Written by volunteers; free for classroom use with attribution.</p>
  <p>Follow us: <a href="https://social.example.com/@openlearningnotes">Social</a> &middot; <a href="/feed.xml">RSS</a></p>
</footer>
<script src="/static/js/site.js?v=42" defer></script>
</body>
</html>
"""
    return page.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Article bodies (original text)

_COMPOUND_INTEREST = """\
    <p class="lead">Compound interest is interest that is earned on interest. When interest is added to
    a balance and then itself starts earning interest, money grows faster than it would if only the
    original amount earned a return. The same effect makes debts grow quickly when they are left unpaid.</p>
    <h2>Simple interest versus compound interest</h2>
    <p>With <em>simple interest</em>, the return is always calculated on the original amount, called the
    principal. Put $1,000 into an account paying 5% simple interest and you earn $50 every year:
    after ten years you have $1,500.</p>
    <p>With <em>compound interest</em>, each year's interest is added to the balance, and the next year's
    interest is calculated on the new, larger balance. At 5% compounded once a year, the first year
    earns $50, but the second year earns 5% of $1,050, which is $52.50, and the third year earns 5% of
    $1,102.50, which is about $55.13. The yearly gain keeps creeping upward.</p>
    <h2>The formula</h2>
    <p>If a principal <var>P</var> earns an annual rate <var>r</var> (written as a decimal), compounded
    <var>n</var> times per year for <var>t</var> years, the final amount <var>A</var> is</p>
    <p class="formula"><code>A = P &times; (1 + r/n)<sup>n&times;t</sup></code></p>
    <p>The term <code>r/n</code> is the interest rate for one compounding period, and <code>n&times;t</code>
    is the number of periods. The interest earned is simply <code>A &minus; P</code>.</p>
    <h2>A worked example</h2>
    <p>Suppose you deposit $1,000 at an annual rate of 5%, compounded monthly, and leave it alone for
    ten years. Then <var>P</var> = 1000, <var>r</var> = 0.05, <var>n</var> = 12 and <var>t</var> = 10.</p>
    <ol>
      <li>Rate per period: 0.05 &divide; 12 &asymp; 0.0041667.</li>
      <li>Number of periods: 12 &times; 10 = 120.</li>
      <li>Growth factor: (1.0041667)<sup>120</sup> &asymp; 1.64701.</li>
      <li>Final amount: 1000 &times; 1.64701 &asymp; $1,647.01.</li>
      <li>Interest earned: $1,647.01 &minus; $1,000 = $647.01.</li>
    </ol>
    <p>Compare that with the $500 earned under simple interest: compounding added almost $150 over the
    decade, without any extra deposits.</p>
    <h2>How much does the compounding frequency matter?</h2>
    <p>For the same $1,000 at 5% over ten years, the result depends on how often interest is added:</p>
    <ul>
      <li>Once a year: $1,628.89</li>
      <li>Quarterly: $1,643.62</li>
      <li>Monthly: $1,647.01</li>
      <li>Daily: $1,648.66</li>
      <li>Continuously (the limit, <code>A = P&times;e<sup>r&times;t</sup></code>): $1,648.72</li>
    </ul>
    <p>Going from yearly to monthly compounding makes a noticeable difference, but beyond that the gains
    become tiny. The rate and the length of time matter far more than the frequency.</p>
    <h2>The rule of 72</h2>
    <p>A handy shortcut estimates how long it takes money to double: divide 72 by the annual interest
    rate in percent. At 5%, the rule gives 72 &divide; 5 = 14.4 years; the exact answer with yearly
    compounding is about 14.2 years. At 8% the estimate is nine years. The rule works best for rates
    between about 4% and 12%.</p>
    <h2>When compounding works against you</h2>
    <p>Credit cards and many loans compound too. A card that charges 20% a year, compounded monthly,
    actually costs about 21.9% a year on an unpaid balance, because each month's interest is charged
    interest the following month. This is why paying off high-interest debt early is usually one of
    the best &ldquo;investments&rdquo; available.</p>
    <h2>Key points</h2>
    <ul>
      <li>Compound interest earns interest on past interest, so growth accelerates over time.</li>
      <li><code>A = P(1 + r/n)<sup>nt</sup></code> gives the final amount.</li>
      <li>Time and rate matter most; compounding more often than monthly adds little.</li>
      <li>The rule of 72 gives a quick estimate of the doubling time.</li>
    </ul>"""

_BINARY_SEARCH_CODE = '''\
def binary_search(items, target):
    """Return the index of target in the sorted list items, or -1 if it is absent."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1   # the target can only be in the right half
        else:
            hi = mid - 1   # the target can only be in the left half
    return -1


primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
print(binary_search(primes, 23))   # prints 8
print(binary_search(primes, 24))   # prints -1'''

_BISECT_CODE = '''\
import bisect

i = bisect.bisect_left(primes, 23)          # leftmost position where 23 could go
found = i < len(primes) and primes[i] == 23  # True'''

_BINARY_SEARCH = f"""\
    <p class="lead">Binary search finds an item in a sorted list by repeatedly halving the part of the list
    that could still contain it. Instead of checking every element in turn, it looks at the middle one
    and throws away the half where the target cannot be.</p>
    <h2>The idea</h2>
    <p>Think about looking up a word in a paper dictionary. You do not start on page one. You open the
    book somewhere near the middle, see whether your word comes before or after the words on that page,
    and then repeat the process in the half that is left. Every look cuts the remaining pages roughly in
    half, so even a very thick dictionary needs only a couple of dozen looks.</p>
    <p>Binary search does the same thing with a list. It only works when the list is sorted, because
    sortedness is what allows a single comparison to rule out half of the candidates at once.</p>
    <h2>Step by step</h2>
    <ol>
      <li>Keep two indices, <code>lo</code> and <code>hi</code>, marking the first and last positions that
      might still hold the target. At the start they cover the whole list.</li>
      <li>Look at the element in the middle, at index <code>mid = (lo + hi) // 2</code>.</li>
      <li>If it equals the target, you are done.</li>
      <li>If it is smaller than the target, the target can only be further right, so set
      <code>lo = mid + 1</code>.</li>
      <li>If it is larger, the target can only be further left, so set <code>hi = mid - 1</code>.</li>
      <li>When <code>lo</code> passes <code>hi</code>, the range is empty and the target is not in the list.</li>
    </ol>
    <h2>A Python implementation</h2>
<pre><code class="language-python">{html.escape(_BINARY_SEARCH_CODE, quote=False)}</code></pre>
    <p>Trace the search for 23. The list has twelve elements, so <code>lo</code> = 0 and <code>hi</code> = 11.
    The middle index is 5, which holds 13; since 13 &lt; 23, <code>lo</code> becomes 6. The new middle is
    (6 + 11) // 2 = 8, which holds 23, so the function returns 8. Two comparisons were enough, where a
    scan from the left would have needed nine.</p>
    <h2>Why it is fast</h2>
    <p>Each comparison halves the range, so a list of <var>n</var> elements needs at most about
    log<sub>2</sub>(<var>n</var>) + 1 comparisons. A thousand sorted items need at most 10, a million need
    20, and a billion need about 30. In big-O notation binary search takes O(log <var>n</var>) time,
    while checking elements one by one takes O(<var>n</var>). The price is that the data must be kept
    sorted, which costs time whenever items are added.</p>
    <h2>Common mistakes</h2>
    <ul>
      <li><strong>Off-by-one errors.</strong> Writing <code>while lo &lt; hi</code> with this version of the
      loop skips the last candidate, and setting <code>hi = mid</code> instead of <code>mid - 1</code> can
      make the loop run forever.</li>
      <li><strong>Searching unsorted data.</strong> The algorithm gives no error; it silently returns wrong
      answers.</li>
      <li><strong>Integer overflow.</strong> In languages with fixed-size integers, <code>lo + hi</code> can
      overflow for huge arrays. Writing <code>lo + (hi - lo) // 2</code> avoids this. Python integers
      do not overflow, so the simple form is fine there.</li>
    </ul>
    <h2>Use the standard library</h2>
    <p>Python already ships a careful implementation in the <code>bisect</code> module. Its functions return
    the position where a value would be inserted to keep the list sorted, which also tells you whether
    the value is present:</p>
<pre><code class="language-python">{html.escape(_BISECT_CODE, quote=False)}</code></pre>
    <p>Writing binary search yourself once is an excellent exercise in reasoning about loop invariants;
    in real programs, reach for <code>bisect</code>.</p>"""

_PHOTOSYNTHESIS = """\
    <p class="lead">Photosynthesis is the process by which plants, algae and some bacteria capture the energy
    of sunlight and store it in the chemical bonds of sugar. Almost every food chain on land begins with
    it, and the oxygen in the air we breathe is one of its by-products.</p>
    <h2>The overall equation</h2>
    <p>Written as a single balanced equation, photosynthesis looks deceptively simple:</p>
    <p class="equation">6 CO<sub>2</sub> + 6 H<sub>2</sub>O + light energy &rarr; C<sub>6</sub>H<sub>12</sub>O<sub>6</sub> + 6 O<sub>2</sub></p>
    <p>Six molecules of carbon dioxide and six molecules of water become one molecule of glucose and six
    molecules of oxygen. The equation hides dozens of intermediate steps, but it is a useful summary:
    the carbon comes from the air, the hydrogen comes from water, and the oxygen released is what is
    left over when water molecules are split.</p>
    <h2>Where it happens</h2>
    <p>In plants, photosynthesis takes place inside chloroplasts, small green structures packed into the
    cells of leaves. Each chloroplast contains stacks of flattened membrane sacs called thylakoids,
    surrounded by a fluid called the stroma. The two main stages of photosynthesis happen in these two
    different places.</p>
    <p>Leaves are shaped for the job. They are thin and broad, so light does not have far to travel, and
    their lower surface is dotted with tiny pores called stomata. Stomata open to let carbon dioxide in,
    but every time they open, water vapour escapes. A plant is always balancing its need for carbon
    against the risk of drying out.</p>
    <h2>Stage one: the light-dependent reactions</h2>
    <p>The pigment chlorophyll sits in the thylakoid membranes. It absorbs red and blue light strongly and
    reflects much of the green, which is why leaves look green to us. Some of the absorbed energy is used
    to pull electrons away from water molecules. Water is split into oxygen, hydrogen ions and electrons,
    and the oxygen leaves the leaf as a waste product.</p>
    <p>The energised electrons are passed along a chain of proteins in the membrane, and their energy is
    used to make two short-lived carrier molecules: ATP, which stores energy, and NADPH, which carries
    high-energy electrons. Neither is food in itself; they are more like charged batteries that power the
    next stage.</p>
    <h2>Stage two: the Calvin cycle</h2>
    <p>In the stroma, a cycle of reactions named after the chemist Melvin Calvin uses ATP and NADPH to build
    sugar. The key step is carried out by an enzyme called RuBisCO, which attaches carbon dioxide from the
    air to a five-carbon molecule. This is called carbon fixation: a gas becomes part of a solid molecule.
    After several more steps, three-carbon sugars are produced. Some leave the cycle and are made into
    glucose, sucrose, starch or cellulose; the rest are recycled so that the cycle can keep turning.</p>
    <p>RuBisCO is thought to be the most abundant protein on Earth, partly because it is slow and somewhat
    careless: it sometimes grabs oxygen instead of carbon dioxide, which wastes energy. Plants make up for
    this by producing enormous quantities of it.</p>
    <h2>Variations on the theme</h2>
    <p>Plants in hot, dry places have evolved workarounds. C<sub>4</sub> plants such as maize and sugar cane
    first capture carbon dioxide in outer cells and then deliver it, concentrated, to the cells where the
    Calvin cycle runs, which keeps RuBisCO from making mistakes. CAM plants such as cacti and pineapples
    open their stomata only at night, when it is cooler, store the carbon dioxide as an acid, and use it
    during the day with their pores closed.</p>
    <h2>What limits the rate?</h2>
    <p>The speed of photosynthesis depends on light intensity, carbon dioxide concentration and
    temperature. Whichever is in shortest supply sets the pace: on a dim morning extra carbon dioxide makes
    little difference, while on a bright day the plant may be limited by how fast carbon dioxide can
    diffuse into the leaf. Greenhouse growers use this idea when they add carbon dioxide to the air
    around their crops.</p>
    <h2>Key points</h2>
    <ul>
      <li>Photosynthesis converts light energy into chemical energy stored in sugar.</li>
      <li>The light-dependent reactions split water, release oxygen and make ATP and NADPH.</li>
      <li>The Calvin cycle uses ATP and NADPH to fix carbon dioxide into sugars.</li>
      <li>C<sub>4</sub> and CAM plants have adaptations that save water in hot climates.</li>
    </ul>"""

#: (old, new) edits that turn the photosynthesis page into its near duplicate.
_NEAR_DUP_EDITS = [
    ("Updated 12 February 2024", "Updated 3 May 2023"),
    ("algae and some bacteria", "algae and certain bacteria"),
    ("looks deceptively simple", "looks surprisingly simple"),
    ("dotted with tiny pores", "dotted with microscopic pores"),
    ("producing enormous quantities of it", "producing huge amounts of it"),
    ("Greenhouse growers use this idea", "Commercial growers use this idea"),
]

_PRINTING_PRESS = """\
    <p class="lead">For most of history, every copy of a book had to be written out by hand. The printing
    press that Johannes Gutenberg developed in the German city of Mainz in the middle of the fifteenth
    century changed that, and in doing so it changed how knowledge travelled across Europe.</p>
    <h2>Before Gutenberg</h2>
    <p>Printing itself was not new. Craftspeople in China were printing text from carved wooden blocks more
    than a thousand years ago, and in the eleventh century the artisan Bi Sheng experimented with movable
    type made of baked clay. Korean printers were using movable metal type by the fourteenth century. In
    Europe, however, books were still mostly copied by scribes, and a single large volume could take many
    months to finish. Books were expensive and rare, and most of them were kept in monasteries,
    universities and the houses of the wealthy.</p>
    <h2>What Gutenberg put together</h2>
    <p>Gutenberg's achievement was less a single invention than a working system in which several pieces
    had to fit together:</p>
    <ul>
      <li><strong>Movable metal type.</strong> Individual letters were cast from a metal alloy in a hand-held
      mould, so thousands of identical pieces could be made quickly, arranged into pages and reused.</li>
      <li><strong>An oil-based ink</strong> that clung to metal type far better than the water-based inks
      used for wooden blocks.</li>
      <li><strong>A screw press</strong>, adapted from the presses already used for making wine and pressing
      olives, which pushed the paper evenly against the inked type.</li>
      <li><strong>Paper</strong>, which had become cheaper and easier to obtain in Europe during the
      preceding centuries.</li>
    </ul>
    <p>The best-known product of his workshop is the Bible printed in Mainz in the 1450s. Fewer than two
    hundred copies were made, some on paper and some on vellum, and only a few dozen survive today.</p>
    <h2>How quickly it spread</h2>
    <p>Printers who had learned the craft in Mainz carried it to other cities, and within a few decades
    presses were at work in Italy, France, the Low Countries, Spain and England. By 1500 printing shops had
    been set up in hundreds of European towns, and millions of printed items had been produced. Books
    printed before 1501 are called incunabula, from a Latin word for the cradle, because they come from
    the infancy of printing.</p>
    <h2>Why it mattered</h2>
    <p>Cheaper books meant more readers, and more readers created demand for still more books. Printing also
    made texts consistent: every copy of an edition said the same thing, so a scholar in one city could
    cite a page and be understood by a scholar in another. Mistakes could be corrected in a new edition
    instead of being copied and multiplied by hand.</p>
    <p>Historians connect the press with many later developments, among them the rapid spread of
    religious pamphlets during the Reformation, the growth of scientific communities that shared their
    results in print, and the gradual standardisation of spelling in languages such as English and German.
    These changes took generations, and printing was only one of the forces behind them, but it is hard
    to imagine them happening as quickly without it.</p>
    <h2>Questions to think about</h2>
    <ol>
      <li>Movable type was invented earlier in China, so why did it transform European book production so
      quickly? (Hint: compare how many different characters each writing system needs.)</li>
      <li>Which modern technology has, in your view, changed the flow of information as much as the
      printing press did?</li>
    </ol>"""

_PLANETS = """\
    <p class="lead">The eight planets of the Solar System differ enormously in size and in their distance from
    the Sun. The table below collects a few basic measurements so you can compare them at a glance.</p>
    <table class="data-table">
      <caption>The planets of the Solar System (rounded values)</caption>
      <thead>
        <tr><th scope="col">Planet</th><th scope="col">Type</th><th scope="col">Equatorial diameter (km)</th><th scope="col">Mean distance from the Sun (AU)</th><th scope="col">Orbital period (Earth years)</th></tr>
      </thead>
      <tbody>
        <tr><th scope="row">Mercury</th><td>Rocky</td><td>4,879</td><td>0.39</td><td>0.24</td></tr>
        <tr><th scope="row">Venus</th><td>Rocky</td><td>12,104</td><td>0.72</td><td>0.62</td></tr>
        <tr><th scope="row">Earth</th><td>Rocky</td><td>12,756</td><td>1.00</td><td>1.00</td></tr>
        <tr><th scope="row">Mars</th><td>Rocky</td><td>6,792</td><td>1.52</td><td>1.88</td></tr>
        <tr><th scope="row">Jupiter</th><td>Gas giant</td><td>142,984</td><td>5.20</td><td>11.86</td></tr>
        <tr><th scope="row">Saturn</th><td>Gas giant</td><td>120,536</td><td>9.54</td><td>29.46</td></tr>
        <tr><th scope="row">Uranus</th><td>Ice giant</td><td>51,118</td><td>19.19</td><td>84.01</td></tr>
        <tr><th scope="row">Neptune</th><td>Ice giant</td><td>49,528</td><td>30.07</td><td>164.79</td></tr>
      </tbody>
    </table>
    <h2>Reading the table</h2>
    <p>Distances are given in astronomical units (AU). One AU is the average distance between the Earth and
    the Sun, about 149.6 million kilometres, so the column tells you directly how many times farther from
    the Sun a planet is than we are. Neptune, at about 30 AU, is thirty times as far out as the Earth.</p>
    <p>The four inner planets are small and rocky. The four outer planets are giants: Jupiter's diameter is
    about eleven times the Earth's, and it contains more mass than all the other planets combined. Uranus
    and Neptune are called ice giants because, beneath their atmospheres, much of their material is
    water, ammonia and methane rather than hydrogen and helium.</p>
    <h2>A pattern hiding in the numbers</h2>
    <p>In the early seventeenth century Johannes Kepler noticed that the square of a planet's orbital period
    is proportional to the cube of its distance from the Sun. With periods in years and distances in AU,
    the two numbers are almost exactly equal, as a few rows show:</p>
    <table class="data-table">
      <caption>Checking Kepler's third law (period&sup2; versus distance&sup3;)</caption>
      <thead><tr><th scope="col">Planet</th><th scope="col">Distance&sup3; (AU&sup3;)</th><th scope="col">Period&sup2; (years&sup2;)</th></tr></thead>
      <tbody>
        <tr><th scope="row">Mars</th><td>3.51</td><td>3.53</td></tr>
        <tr><th scope="row">Jupiter</th><td>140.6</td><td>140.7</td></tr>
        <tr><th scope="row">Neptune</th><td>27,189</td><td>27,156</td></tr>
      </tbody>
    </table>
    <p>The small differences come from rounding and from the planets tugging on one another. Isaac Newton
    later showed that the law follows from his theory of gravity.</p>
    <h2>Why is Pluto missing?</h2>
    <p>In 2006 the International Astronomical Union agreed that a planet must orbit the Sun, be massive
    enough for its own gravity to pull it into a nearly round shape, and have cleared the neighbourhood
    around its orbit of other objects. Pluto passes the first two tests but shares its region with many
    other icy bodies in the Kuiper belt, so it is now classed as a dwarf planet.</p>
    <h2>Try it yourself: a scale model</h2>
    <p>Shrink the Sun to a ball 30 centimetres across. On that scale the Earth is a peppercorn less than
    3 millimetres wide, about 32 metres away, and Neptune is a small bead almost a kilometre from the
    ball. Pacing out the distances in a park is the quickest way to feel how empty the Solar System is.</p>"""

_QUADRATIC_HEAD = """
<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {inlineMath: [["\\\\(", "\\\\)"]]}});</script>
<script src="https://cdn.example.net/mathjax/2.7.9/MathJax.js?config=TeX-AMS_HTML" async></script>"""

_QUADRATIC = r"""
    <p class="lead">A quadratic equation is any equation that can be written as
    <script type="math/tex">ax^2 + bx + c = 0</script> with <script type="math/tex">a \neq 0</script>.
    The quadratic formula solves every such equation, and it can be derived in a few lines with a technique
    called completing the square.</p>
    <h2>The formula</h2>
    <p>The solutions of <var>ax</var><sup>2</sup> + <var>bx</var> + <var>c</var> = 0 are</p>
    <math xmlns="http://www.w3.org/1998/Math/MathML" display="block"><semantics><mrow><mi>x</mi><mo>=</mo><mfrac><mrow><mo>&#x2212;</mo><mi>b</mi><mo>&#x00B1;</mo><msqrt><mrow><msup><mi>b</mi><mn>2</mn></msup><mo>&#x2212;</mo><mn>4</mn><mi>a</mi><mi>c</mi></mrow></msqrt></mrow><mrow><mn>2</mn><mi>a</mi></mrow></mfrac></mrow><annotation encoding="application/x-tex">x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}</annotation></semantics></math>
    <p>The &plusmn; sign means there are usually two answers: one using the plus sign and one using the
    minus sign.</p>
    <h2>Deriving it by completing the square</h2>
    <p>Start from the general equation and divide every term by <var>a</var>, which is allowed because
    <var>a</var> is not zero. Then move the constant term to the right-hand side:</p>
    <script type="math/tex; mode=display">x^2 + \frac{b}{a}x = -\frac{c}{a}</script>
    <p>The left side would be a perfect square if it had one more term. Half of the coefficient of
    <var>x</var> is <script type="math/tex">\frac{b}{2a}</script>; adding its square to both sides gives</p>
    <script type="math/tex; mode=display">\left(x + \frac{b}{2a}\right)^2 = \frac{b^2 - 4ac}{4a^2}</script>
    <p>Taking the square root of both sides, and remembering that a square root can be positive or
    negative, gives <script type="math/tex">x + \frac{b}{2a} = \pm\frac{\sqrt{b^2 - 4ac}}{2a}</script>.
    Subtracting <script type="math/tex">\frac{b}{2a}</script> from both sides produces the formula above.</p>
    <h2>The discriminant</h2>
    <p>The expression under the square root decides what kind of solutions the equation has. It is called the
    discriminant:</p>
    <math xmlns="http://www.w3.org/1998/Math/MathML" display="block"><semantics><mrow><mi>&#x0394;</mi><mo>=</mo><msup><mi>b</mi><mn>2</mn></msup><mo>&#x2212;</mo><mn>4</mn><mi>a</mi><mi>c</mi></mrow><annotation encoding="application/x-tex">\Delta = b^2 - 4ac</annotation></semantics></math>
    <ul>
      <li>If the discriminant is positive, there are two different real solutions.</li>
      <li>If it is zero, the two solutions coincide: there is exactly one (repeated) real solution.</li>
      <li>If it is negative, there are no real solutions, only a pair of complex ones.</li>
    </ul>
    <h2>A worked example</h2>
    <p>Solve <script type="math/tex">2x^2 + 3x - 2 = 0</script>. Here <var>a</var> = 2, <var>b</var> = 3 and
    <var>c</var> = &minus;2.</p>
    <ol>
      <li>Discriminant: 3<sup>2</sup> &minus; 4 &times; 2 &times; (&minus;2) = 9 + 16 = 25, which is positive,
      so there are two real solutions.</li>
      <li>Square root of the discriminant: 5.</li>
      <li>Solutions: <script type="math/tex">x = \frac{-3 \pm 5}{4}</script>, that is <var>x</var> = 1/2 or
      <var>x</var> = &minus;2.</li>
      <li>Check: 2(1/2)<sup>2</sup> + 3(1/2) &minus; 2 = 0.5 + 1.5 &minus; 2 = 0, and
      2(&minus;2)<sup>2</sup> + 3(&minus;2) &minus; 2 = 8 &minus; 6 &minus; 2 = 0.</li>
    </ol>
    <h2>What it means on a graph</h2>
    <p>The graph of <script type="math/tex">y = ax^2 + bx + c</script> is a parabola, and the solutions are
    the points where it crosses the <var>x</var>-axis. The lowest or highest point of the parabola, its
    vertex, lies exactly halfway between them, at <script type="math/tex">x = -\frac{b}{2a}</script>. In
    the example the vertex is at <var>x</var> = &minus;3/4, which is indeed the midpoint of 1/2 and &minus;2.</p>
    <h2>Practice</h2>
    <ol>
      <li><script type="math/tex">x^2 - 6x + 9 = 0</script></li>
      <li><script type="math/tex">x^2 + x + 1 = 0</script></li>
      <li><script type="math/tex">3x^2 - 12 = 0</script></li>
    </ol>
    <details><summary>Answers</summary><p>1. The discriminant is 0, so <var>x</var> = 3 is the only solution.
    2. The discriminant is &minus;3, so there are no real solutions. 3. Here <var>b</var> = 0, and
    <var>x</var> = 2 or <var>x</var> = &minus;2.</p></details>"""

_SKY = """\
    <p class="lead">On a clear day the sky is blue, yet sunlight is white and space is black. The colour comes
    from the way air scatters sunlight, an effect named after the physicist Lord Rayleigh.</p>
    <h2>Sunlight is a mixture</h2>
    <p>White sunlight contains all the colours of the rainbow, each with its own wavelength. Violet and blue
    light have short wavelengths, around 400 to 480 nanometres, while red light has long wavelengths,
    around 650 to 700 nanometres.</p>
    <h2>Tiny molecules, strong preferences</h2>
    <p>The nitrogen and oxygen molecules in air are far smaller than the wavelength of visible light. Such
    small particles scatter light in all directions, and they scatter short wavelengths much more strongly
    than long ones: the amount of scattering grows with the inverse fourth power of the wavelength. Blue
    light at 450 nanometres is therefore scattered nearly six times as much as red light at 700
    nanometres. Wherever you look in the sky, away from the Sun itself, you see sunlight that has been
    bounced towards you by air molecules, and that light is rich in blue.</p>
    <h2>Why not violet?</h2>
    <p>Violet light is scattered even more than blue, but the Sun emits less violet than blue, some of it is
    absorbed high in the atmosphere, and our eyes are less sensitive to it. The mixture we perceive is sky
    blue.</p>
    <h2>Red sunsets</h2>
    <p>When the Sun is low, its light crosses much more air before reaching you. Most of the blue has been
    scattered out of the direct beam along the way, so the Sun and the clouds it lights look yellow,
    orange or red. Dust and smoke can make the colours even stronger.</p>
    <h2>Try it</h2>
    <p>Shine a torch through a glass of water with a few drops of milk stirred in. Seen from the side, the
    water looks faintly blue; looking through the glass at the torch, the light looks orange.</p>"""


# --------------------------------------------------------------------------------------------
# Other pages


def _tags_page() -> bytes:
    tags = ["algebra", "algorithms", "ancient history", "astronomy", "biology", "botany", "calculus",
            "chemistry", "climate", "coding", "data", "ecology", "economics", "electricity", "energy",
            "exam tips", "fractions", "geography", "geometry", "grammar", "inventions", "light",
            "maps", "medieval history", "money", "music", "physics", "plants", "probability", "python",
            "revision", "savings", "space", "statistics", "trigonometry", "water", "weather", "writing"]
    items = "\n".join(f'      <li><a href="/tags/{t.replace(" ", "-")}">{t}</a> <span class="count">({3 + len(t) % 9})</span></li>'
                      for t in tags)
    body = f"""    <ul class="tag-cloud">
{items}
    </ul>
    <nav class="pagination" aria-label="Pages"><a href="/tags/?page=1">&laquo; Previous</a> <a href="/tags/?page=1">1</a> <span>2</span> <a href="/tags/?page=3">3</a> <a href="/tags/?page=4">4</a> <a href="/tags/?page=3">Next &raquo;</a></nav>"""
    return _learn_page(path="/tags/", title="All tags", section="tags", section_name="Tags",
                       description="Browse all tags", author="The editors", updated="1 March 2024",
                       minutes=1, body=body)


def _portal_login_page() -> bytes:
    groups = {
        "Products": ["Overview", "Pricing", "Plans", "Integrations", "Release notes", "Roadmap", "Status"],
        "Solutions": ["Schools", "Universities", "Libraries", "Non-profits", "Enterprise", "Government"],
        "Resources": ["Help centre", "Guides", "Webinars", "Community forum", "Blog", "Events", "Partners"],
        "Company": ["About", "Careers", "Press", "Contact sales", "Legal", "Security", "Sustainability"],
    }
    menu = "\n".join(
        f'    <li class="menu-group"><span>{g}</span><ul>'
        + "".join(f'<li><a href="/{g.lower()}/{i.lower().replace(" ", "-")}">{i}</a></li>' for i in items)
        + "</ul></li>"
        for g, items in groups.items())
    languages = ["Deutsch", "English", "Espa&ntilde;ol", "Fran&ccedil;ais", "Italiano", "Nederlands", "Polski",
                 "Portugu&ecirc;s", "Svenska", "T&uuml;rk&ccedil;e", "&#26085;&#26412;&#35486;", "&#54620;&#44397;&#50612;"]
    langs = " | ".join(f'<a href="?lang={i}">{n}</a>' for i, n in enumerate(languages))
    footer = "\n".join(
        f'    <div class="col"><h4>{g}</h4>' + " ".join(f'<a href="/{g.lower()}/{i.lower().replace(" ", "-")}">{i}</a>'
                                                      for i in items) + "</div>"
        for g, items in groups.items())
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sign in | Example Portal</title>
<link rel="stylesheet" href="/assets/portal.min.css">
<script src="/assets/vendor.min.js"></script>
<script src="/assets/portal.min.js"></script>
</head>
<body>
<div class="topbar"><a href="/">Example Portal</a> <a href="/status">System status</a> <a href="/help">Help</a> <a href="/account/register">Create account</a></div>
<nav class="mega-menu">
  <ul>
{menu}
  </ul>
</nav>
<div class="cookie-consent">This site uses cookies. <a href="/legal/cookies">Learn more</a> <button>OK</button></div>
<main>
  <h1>Sign in</h1>
  <form method="post" action="/account/login">
    <label>Email <input type="email" name="email"></label>
    <label>Password <input type="password" name="password"></label>
    <label><input type="checkbox" name="remember"> Remember me</label>
    <button type="submit">Sign in</button>
  </form>
  <p><a href="/account/forgot">Forgot password?</a> &middot; <a href="/account/register">Create account</a> &middot; <a href="/account/sso">Single sign-on</a></p>
  <noscript>Please enable JavaScript.</noscript>
</main>
<footer>
{footer}
  <div class="languages">{langs}</div>
  <p>&copy; 2024 Example Portal Inc. All rights reserved. <a href="/legal/privacy">Privacy</a> <a href="/legal/terms">Terms</a> <a href="/legal/cookies">Cookies</a> <a href="/sitemap.xml">Sitemap</a></p>
</footer>
</body>
</html>
"""
    return page.encode("utf-8")


def _watch_spam_page() -> bytes:
    kw = "cheap watches"
    stuffed = " ".join(f"{p} {kw}" for p in ["buy", "best", "discount", "cheap", "top", "replica", "sale", "online"] * 3)
    click = "\n".join(f'<p><b>BUY CHEAP WATCHES NOW!!! <a href="/go?id={i}">CLICK HERE</a> !!! BEST PRICE CHEAP WATCHES</b></p>'
                      for i in range(12))
    doorways = "\n".join(f'<a href="/cheap-watches-{i}.html">cheap watches {i}</a>' for i in range(1, 31))
    page = f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Buy Cheap Watches | Cheap Watches Online | Best Cheap Watches Cheap Price Cheap Watches</title>
<meta name="keywords" content="cheap watches, buy cheap watches, cheap watches online, discount watches, cheap watch sale, cheap watches free shipping, best cheap watches, cheap cheap watches">
<meta name="description" content="cheap watches cheap watches cheap watches buy cheap watches online click here">
</head>
<body>
<h1>BUY CHEAP WATCHES ONLINE - CHEAP WATCHES - CHEAP WATCHES</h1>
<p>Cheap watches cheap watches best cheap watches. Buy cheap watches online at the lowest cheap watches price.
Our cheap watches are the best cheap watches for cheap watches buyers who want cheap watches today. Cheap
watches! Cheap watches! Cheap watches!</p>
<p>{stuffed}</p>
{click}
<div style="display:none">{" ".join([kw] * 60)}</div>
<div class="links">{doorways}</div>
<p style="color:#ffffff;background:#ffffff">{stuffed} {stuffed}</p>
<p>CLICK HERE CLICK HERE CLICK HERE to buy cheap watches cheap watches cheap watches!!!</p>
</body>
</html>
"""
    return page.encode("utf-8")


def _tea_spam_page() -> bytes:
    line = "LOSE 10 KG IN 7 DAYS!!! Buy cheap slim tea now - click here - limited offer - free shipping!!!"
    repeated = "\n".join(f"<p>{line}</p>" for _ in range(15))
    page = f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>buy cheap slim tea buy cheap slim tea best slim tea cheap</title>
<meta name="keywords" content="slim tea, buy cheap slim tea, cheap diet tea, weight loss tea cheap, slim tea click here">
</head>
<body>
<center>
<h1>!!! BUY CHEAP SLIM TEA !!! CLICK HERE !!!</h1>
<h2>Congratulations! You have been selected for a special cheap price. Click here. Click here. Click here.</h2>
{repeated}
<p>slim tea cheap slim tea buy slim tea best slim tea cheap diet tea buy cheap diet tea weight loss tea cheap
weight loss tea buy weight loss tea online slim tea slim tea slim tea</p>
<p><a href="/order">&gt;&gt;&gt; CLICK HERE TO BUY CHEAP &lt;&lt;&lt;</a> <a href="/order">&gt;&gt;&gt; CLICK HERE TO BUY CHEAP &lt;&lt;&lt;</a>
<a href="/order">&gt;&gt;&gt; CLICK HERE TO BUY CHEAP &lt;&lt;&lt;</a></p>
<p>100% GUARANTEED!!! 100% GUARANTEED!!! 100% GUARANTEED!!! ACT NOW!!! OFFER ENDS TODAY!!!</p>
</center>
</body>
</html>
"""
    return page.encode("utf-8")


def _not_found_page() -> bytes:
    body = """    <p>Sorry, we could not find the page you asked for. It may have moved, or the address may be mistyped.</p>
    <p><a href="/">Go to the home page</a> or try the search box above.</p>"""
    return _learn_page(path="/404", title="Page not found", section="", section_name="Home",
                       description="Page not found", author="The editors", updated="1 January 2024",
                       minutes=1, body=body)


_REDIRECT_BODY = b"""<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>301 Moved Permanently</title>
</head><body>
<h1>Moved Permanently</h1>
<p>The document has moved <a href="https://learn.example.org/finance/compound-interest">here</a>.</p>
</body></html>
"""

_ROBOTS_TXT = b"""# robots.txt for learn.example.org
User-agent: *
Disallow: /search
Disallow: /account/
Disallow: /newsletter
Allow: /

User-agent: BadBot
Disallow: /

Sitemap: https://learn.example.org/sitemap.xml
"""


def _german_page() -> bytes:
    page = """<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Wie entsteht ein Regenbogen? | Offene Lernnotizen</title>
</head>
<body>
<div class="cookie-hinweis">Wir verwenden Cookies, um unsere Seiten zu verbessern. <button>Einverstanden</button> <a href="/datenschutz">Mehr erfahren</a></div>
<header><a href="/">Offene Lernnotizen</a>
<nav><a href="/">Startseite</a> <a href="/physik/">Physik</a> <a href="/biologie/">Biologie</a> <a href="/mathematik/">Mathematik</a> <a href="/ueber-uns">Über uns</a></nav></header>
<main>
<article>
<h1>Wie entsteht ein Regenbogen?</h1>
<p>Ein Regenbogen entsteht, wenn Sonnenlicht auf sehr viele kleine Wassertropfen trifft, zum Beispiel
nach einem Regenschauer. Damit man ihn sehen kann, muss die Sonne hinter dem Beobachter stehen und die
Regenwand vor ihm liegen. Außerdem darf die Sonne nicht zu hoch stehen, weshalb Regenbögen am häufigsten
am Morgen oder am späten Nachmittag zu sehen sind.</p>
<h2>Brechung und Spiegelung im Tropfen</h2>
<p>Beim Eintritt in einen Tropfen wird das Licht gebrochen, also aus seiner Richtung abgelenkt. Weil Wasser
das Licht je nach Farbe ein wenig unterschiedlich stark bricht, wird blaues Licht stärker abgelenkt als
rotes. Das weiße Sonnenlicht fächert sich dadurch in seine Farben auf. An der Rückseite des Tropfens wird
das Licht gespiegelt und beim Austritt noch einmal gebrochen.</p>
<h2>Warum ist Rot außen?</h2>
<p>Für rotes Licht beträgt der Winkel zwischen der Richtung zur Sonne und der Richtung zum Tropfen etwa
42 Grad, für violettes etwa 40 Grad. Deshalb liegt Rot immer außen und Violett innen. Jeder Tropfen
schickt nur eine Farbe in das Auge eines bestimmten Beobachters; der ganze Bogen setzt sich aus Millionen
Tropfen in unterschiedlichen Richtungen zusammen. Zwei Menschen, die nebeneinander stehen, sehen deshalb
streng genommen nie genau denselben Regenbogen.</p>
<h2>Der Nebenregenbogen</h2>
<p>Manchmal erscheint über dem Hauptbogen ein schwächerer zweiter Bogen. Hier wird das Licht im Tropfen
zweimal gespiegelt, und die Reihenfolge der Farben ist umgekehrt: Rot liegt innen. Der Himmel zwischen
beiden Bögen wirkt auffällig dunkel; dieser Streifen heißt Alexanders dunkles Band.</p>
<h2>Ein kleiner Versuch</h2>
<p>Stelle dich an einem sonnigen Nachmittag mit dem Rücken zur Sonne und erzeuge mit dem Gartenschlauch
einen feinen Sprühnebel. Mit etwas Geduld findest du deinen eigenen Regenbogen – und kannst prüfen, ob
Rot wirklich außen liegt.</p>
</article>
</main>
<footer><a href="/impressum">Impressum</a> · <a href="/datenschutz">Datenschutz</a> · © 2024 Offene Lernnotizen</footer>
</body>
</html>
"""
    return page.encode("utf-8")


def _spanish_page() -> bytes:
    page = """<!DOCTYPE html>
<html lang="es">
<head>
<meta charset="UTF-8">
<title>El ciclo del agua | Apuntes Abiertos</title>
</head>
<body>
<div class="aviso-cookies">Usamos cookies para mejorar tu experiencia. <button>Aceptar</button></div>
<header><a href="/">Apuntes Abiertos</a>
<nav><a href="/">Inicio</a> <a href="/ciencias/">Ciencias</a> <a href="/historia/">Historia</a> <a href="/contacto">Contacto</a></nav></header>
<main>
<article>
<h1>El ciclo del agua</h1>
<p>El agua de la Tierra está en movimiento constante. Pasa de los océanos a la atmósfera, de la atmósfera
a los continentes y de nuevo al mar, en un recorrido que llamamos ciclo del agua o ciclo hidrológico. El
Sol aporta la energía que lo mantiene en marcha, y la gravedad se encarga de devolver el agua hacia abajo.</p>
<h2>Evaporación y transpiración</h2>
<p>Cuando el Sol calienta la superficie de mares, lagos y ríos, parte del agua se convierte en vapor y
asciende. Las plantas también liberan vapor a través de los pequeños poros de sus hojas, un proceso
llamado transpiración. En un día caluroso, un árbol grande puede devolver al aire cientos de litros.</p>
<h2>Condensación</h2>
<p>Al subir, el aire se enfría. El vapor se condensa en gotitas diminutas alrededor de partículas de polvo
o de sal, y así se forman las nubes y la niebla.</p>
<h2>Precipitación</h2>
<p>Cuando las gotas crecen y pesan demasiado para seguir flotando, caen en forma de lluvia, nieve o
granizo. La mayor parte de la precipitación cae directamente sobre el océano.</p>
<h2>Infiltración y escorrentía</h2>
<p>Parte del agua que cae sobre tierra firme se filtra en el suelo y recarga los acuíferos; otra parte
corre por la superficie hasta los arroyos y los ríos, que la llevan de vuelta al mar.</p>
<p><strong>¿Sabías que...?</strong> La mayor parte del agua dulce del planeta no está en ríos ni lagos,
sino congelada en glaciares y casquetes polares o guardada bajo tierra. ¡Por eso cuidar los acuíferos es
tan importante!</p>
</article>
</main>
<footer><a href="/privacidad">Privacidad</a> · <a href="/aviso-legal">Aviso legal</a> · © 2024 Apuntes Abiertos</footer>
</body>
</html>
"""
    return page.encode("utf-8")


def _japanese_page() -> bytes:
    page = """<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="shift_jis">
<title>月の満ち欠けのしくみ | オープン学習ノート</title>
</head>
<body>
<div class="cookie">このサイトではクッキーを使用しています。<button>同意する</button></div>
<header><a href="/">オープン学習ノート</a>
<nav><a href="/">ホーム</a> <a href="/rika/">理科</a> <a href="/sansu/">算数</a> <a href="/about">このサイトについて</a></nav></header>
<main>
<article>
<h1>月の満ち欠けのしくみ</h1>
<p>月は自分では光っていません。私たちが見ている月の明るい部分は、太陽の光を反射している面です。月が地球のまわりを約一か月かけて回るあいだに、太陽と地球と月の位置関係が変わるため、地球から見える明るい部分の形が少しずつ変化します。これが月の満ち欠けです。</p>
<h2>新月から満月まで</h2>
<p>月が太陽と同じ方向にあるとき、地球には光の当たっていない面が向くので、月はほとんど見えません。これを新月といいます。数日たつと、夕方の西の空に細い三日月が見えるようになります。新月から約一週間で右半分が光る上弦の月になり、約二週間で全体が光る満月になります。</p>
<h2>満月から新月へ</h2>
<p>満月を過ぎると、光る部分は右側から欠けていきます。約三週間後には左半分が光る下弦の月になり、やがてまた新月にもどります。新月から次の新月までは、平均すると約二十九日半です。</p>
<h2>観察してみよう</h2>
<p>毎日同じ時刻に同じ場所から月を観察し、形と位置をノートに記録してみましょう。一か月続けると、月の形と、見える時刻や方角との関係がよくわかります。</p>
</article>
</main>
<footer><a href="/privacy">プライバシー</a>　<a href="/contact">お問い合わせ</a>　(C) 2024 オープン学習ノート</footer>
</body>
</html>
"""
    return page.encode("shift_jis")


def _french_page() -> bytes:
    # No <meta charset>: the only charset declaration is the HTTP header (windows-1252). The text
    # uses characters that exist in windows-1252 but not in ISO-8859-1 (œ, €, ’, —, …).
    page = """<!DOCTYPE html>
<html lang="fr">
<head>
<title>Le pain au levain, une œuvre de patience | Notes ouvertes</title>
</head>
<body>
<div class="bandeau-cookies">Nous utilisons des cookies pour améliorer le site. <button>J’accepte</button></div>
<header><a href="/">Notes ouvertes</a>
<nav><a href="/">Accueil</a> <a href="/sciences/">Sciences</a> <a href="/cuisine/">Cuisine</a> <a href="/contact">Contact</a></nav></header>
<main>
<article>
<h1>Le pain au levain, une œuvre de patience</h1>
<p>Le levain est un mélange de farine et d’eau dans lequel se développent naturellement des levures
sauvages et des bactéries lactiques. Contrairement à la levure de boulanger, qu’on achète en cube ou en
sachet, le levain se cultive : on le « nourrit » régulièrement avec de la farine et de l’eau fraîches.</p>
<h2>Pourquoi la pâte lève-t-elle ?</h2>
<p>Les levures consomment les sucres de la farine et rejettent du gaz carbonique. Le réseau de gluten,
formé pendant le pétrissage, retient ces bulles comme une multitude de petits ballons : la pâte gonfle.
Les bactéries, elles, produisent des acides qui donnent au pain sa saveur légèrement acidulée et l’aident
à se conserver plus longtemps.</p>
<h2>Le cœur de la mie</h2>
<p>Une fermentation lente — souvent douze heures ou davantage — laisse aux arômes le temps de se
développer. C’est ce qui explique la mie alvéolée et la croûte bien dorée d’un bon pain au levain. À la
cuisson, la vapeur d’eau et le gaz se dilatent encore, puis la chaleur fige la structure.</p>
<h2>Et le prix ?</h2>
<p>Un pain au levain artisanal de 800 g coûte souvent entre 4 € et 6 € en boulangerie, plus qu’une
baguette ordinaire… mais il se garde plusieurs jours sans rassir.</p>
</article>
</main>
<footer><a href="/mentions-legales">Mentions légales</a> · © 2024 Notes ouvertes</footer>
</body>
</html>
"""
    return page.encode("windows-1252")


# --------------------------------------------------------------------------------------------
# Writer


class _DemoBuilder:
    def __init__(self, out: io.BufferedIOBase) -> None:
        self.writer = _DeterministicWARCWriter(out, gzip=True, warc_version="1.0")
        self.clock = _START
        self.counts: Counter[str] = Counter()
        self.urls: dict[str, str] = {}
        self.related: dict[str, str] = {}
        self.sent: dict[str, tuple[str, str, str, list[tuple[str, str]]]] = {}  # url -> (id, date, digest, headers)
        self.warcinfo_id = _record_id("warcinfo", DEMO_WARC_FILENAME)

    # -- low level
    def _tick(self, seconds: int = 3) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def _write(self, record) -> None:
        self.writer.write_record(record)
        self.counts[record.rec_type] += 1

    def _common(self, rec_type: str, url: str, when: datetime) -> dict[str, str]:
        return {
            "WARC-Type": rec_type,
            "WARC-Target-URI": url,
            "WARC-Date": _warc_date(when),
            "WARC-Record-ID": _record_id(rec_type, url),
            "WARC-Warcinfo-ID": self.warcinfo_id,
        }

    def _register(self, url: str, kind: str, related_to: str | None = None) -> None:
        assert kind in KIND_DESCRIPTIONS, kind
        assert url not in self.urls, f"duplicate demo URL {url}"
        self.urls[url] = kind
        if related_to:
            self.related[url] = related_to

    # -- records
    def warcinfo(self) -> None:
        info = {
            "software": "Curate demo_warc (curate/demo_warc.py) using warcio",
            "format": "WARC File Format 1.0",
            "conformsTo": "http://bibnum.bnf.fr/WARC/WARC_ISO_28500_version1_latestdraft.pdf",
            "isPartOf": "curate-demo",
            "description": "Synthetic demo crawl for the Curate pipeline. All page text is original; "
                           "all hosts are example.com/.org/.net names reserved by RFC 2606.",
            "operator": "Curate project",
            "robots": "obey",
            "http-header-user-agent": _USER_AGENT,
        }
        payload = "".join(f"{k}: {v}\r\n" for k, v in info.items()).encode("utf-8")
        headers = {
            "WARC-Type": "warcinfo",
            "WARC-Date": _warc_date(self.clock),
            "WARC-Record-ID": self.warcinfo_id,
            "WARC-Filename": DEMO_WARC_FILENAME,
        }
        self._write(self.writer.create_warc_record("", "warcinfo", payload=io.BytesIO(payload),
                                                   length=len(payload), warc_headers_dict=headers))

    def response(self, url: str, kind: str, body: bytes, content_type: str | None, *,
                 status: str = "200 OK", server: str = "nginx/1.24.0", extra: list[tuple[str, str]] | None = None,
                 request: bool = False, metadata: str | None = None, related_to: str | None = None) -> None:
        when = self._tick()
        self._register(url, kind, related_to)
        resp_id = _record_id("response", url)
        host = _host(url)
        ip = _ip_for(host)

        if request:
            path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
            req_headers = StatusAndHeaders(f"GET {path} HTTP/1.1", [
                ("User-Agent", _USER_AGENT),
                ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                ("Accept-Language", "en-US,en;q=0.5"),
                ("Accept-Encoding", "identity"),
                ("Host", host),
                ("Connection", "Keep-Alive"),
            ], is_http_request=True)
            h = self._common("request", url, when)
            h["WARC-IP-Address"] = ip
            h["WARC-Concurrent-To"] = resp_id
            self._write(self.writer.create_warc_record(url, "request", http_headers=req_headers, warc_headers_dict=h))

        http = [("Date", _http_date(when)), ("Server", server)]
        if content_type is not None:
            http.append(("Content-Type", content_type))
        http.append(("Content-Length", str(len(body))))
        http.extend(extra or [])
        http.append(("Connection", "close"))
        h = self._common("response", url, when)
        h["WARC-IP-Address"] = ip
        record = self.writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body),
            http_headers=StatusAndHeaders(status, http, protocol="HTTP/1.1"), warc_headers_dict=h)
        self._write(record)
        self.sent[url] = (resp_id, _warc_date(when), _payload_digest(body), http)

        if metadata is not None:
            payload = metadata.encode("utf-8")
            h = self._common("metadata", url, when)
            h["WARC-Concurrent-To"] = resp_id
            self._write(self.writer.create_warc_record(url, "metadata", payload=io.BytesIO(payload),
                                                       length=len(payload), warc_headers_dict=h))

    def broken_response(self, url: str, kind: str, block: bytes) -> None:
        """A response record whose block is not HTTP; built directly so warcio does not try to parse it."""
        when = self._tick()
        self._register(url, kind)
        h = self._common("response", url, when)
        h["WARC-IP-Address"] = _ip_for(_host(url))
        rec_headers = StatusAndHeaders("", list(h.items()), protocol="WARC/1.0")
        record = ArcWarcRecord("warc", "response", rec_headers, io.BytesIO(block), None,
                               "application/http; msgtype=response", len(block))
        record.payload_length = len(block)
        record.no_payload_digest = True
        self._write(record)

    def revisit(self, url: str, kind: str, refers_to: str) -> None:
        when = self._tick(3600)
        self._register(url, kind, refers_to)
        orig_id, orig_date, digest, orig_http = self.sent[refers_to]
        http = [(k, _http_date(when) if k == "Date" else v) for k, v in orig_http]
        h = self._common("revisit", url, when)
        h["WARC-IP-Address"] = _ip_for(_host(url))
        h["WARC-Refers-To"] = orig_id
        record = self.writer.create_revisit_record(
            url, digest, refers_to, orig_date,
            http_headers=StatusAndHeaders("200 OK", http, protocol="HTTP/1.1"), warc_headers_dict=h)
        self._write(record)


def _build(out: io.BufferedIOBase) -> _DemoBuilder:
    b = _DemoBuilder(out)
    L = _LEARN
    html_utf8 = "text/html; charset=utf-8"
    learn_extra = [("Cache-Control", "public, max-age=600"), ("Vary", "Accept-Encoding"),
                   ("X-Content-Type-Options", "nosniff")]

    b.warcinfo()
    b.response(f"{L}/robots.txt", "robots-txt", _ROBOTS_TXT, "text/plain; charset=utf-8",
               extra=[("Last-Modified", "Thu, 01 Feb 2024 09:00:00 GMT")])

    compound = _learn_page(path="/finance/compound-interest", title="Compound interest, with a worked example",
                           section="finance", section_name="Money &amp; Finance",
                           description="What compound interest is, the formula, a step-by-step example and the rule of 72.",
                           author="Priya Natarajan", updated="20 January 2024", minutes=6, body=_COMPOUND_INTEREST)
    b.response(f"{L}/finance/compound-interest", "educational", compound, html_utf8,
               extra=learn_extra + [("ETag", '"6b1f-compound-interest"'), ("Last-Modified", "Sat, 20 Jan 2024 08:30:00 GMT")],
               request=True,
               metadata=("fetchTimeMs: 212\r\n"
                         "charset-detected: UTF-8\r\n"
                         'languages-cld2: {"reliable":true,"text-bytes":3520,"languages":[{"code":"en",'
                         '"code-iso-639-3":"eng","text-covered":0.99,"score":962.0,"name":"ENGLISH"}]}\r\n'))

    binary = _learn_page(path="/cs/binary-search", title="How binary search works", section="cs",
                         section_name="Computing",
                         description="Binary search explained step by step, with a Python implementation.",
                         author="Tomás Ferreira", updated="8 February 2024", minutes=7, body=_BINARY_SEARCH)
    b.response(f"{L}/cs/binary-search", "educational-code", binary, html_utf8, extra=learn_extra, request=True)

    photo_kwargs = dict(path="/biology/photosynthesis", title="Photosynthesis: how plants turn light into sugar",
                        section="biology", section_name="Biology",
                        description="The light-dependent reactions, the Calvin cycle, and C4 and CAM plants.",
                        author="Hannah Okafor", updated="12 February 2024", minutes=6)
    photosynthesis = _learn_page(body=_PHOTOSYNTHESIS, **photo_kwargs)
    b.response(f"{L}/biology/photosynthesis", "educational", photosynthesis, html_utf8, extra=learn_extra)

    printing = _learn_page(path="/history/printing-press", title="The printing press and the spread of books",
                           section="history", section_name="History",
                           description="How Gutenberg's press worked, how fast printing spread, and why it mattered.",
                           author="Jonas Lindqvist", updated="29 January 2024", minutes=5, body=_PRINTING_PRESS)
    b.response(f"{L}/history/printing-press", "educational", printing, html_utf8, extra=learn_extra)

    planets = _learn_page(path="/science/planets", title="The planets in numbers", section="science",
                          section_name="Science",
                          description="Sizes, distances and orbital periods of the eight planets, and Kepler's third law.",
                          author="Mei Tanaka", updated="15 February 2024", minutes=5, body=_PLANETS)
    b.response(f"{L}/science/planets", "educational-table", planets, html_utf8, extra=learn_extra)

    quadratic = _learn_page(path="/math/quadratic-formula", title="The quadratic formula, derived", section="math",
                            section_name="Mathematics",
                            description="Derive the quadratic formula by completing the square; the discriminant; a worked example.",
                            author="Samuel Adeyemi", updated="22 February 2024", minutes=6, body=_QUADRATIC,
                            head_extra=_QUADRATIC_HEAD)
    b.response(f"{L}/math/quadratic-formula", "educational-math", quadratic, html_utf8, extra=learn_extra)

    sky = _learn_page(path="/notes/why-is-the-sky-blue", title="Why is the sky blue?", section="science",
                      section_name="Science", description="Rayleigh scattering in plain words.",
                      author="Mei Tanaka", updated="2 March 2024", minutes=3, body=_SKY)
    # Deliberately no Content-Type header (and no nosniff): readers must sniff the payload.
    b.response(f"{L}/notes/why-is-the-sky-blue", "no-content-type", sky, None, server="Apache/2.4.58 (Debian)")

    # The same bytes again under the www. alias, then an older revision with a few words changed.
    b.response("https://www.learn.example.org/biology/photosynthesis", "exact-duplicate", photosynthesis,
               html_utf8, extra=learn_extra, related_to=f"{L}/biology/photosynthesis")
    near = _learn_page(body=_PHOTOSYNTHESIS, **photo_kwargs).decode("utf-8")
    for old, new in _NEAR_DUP_EDITS:
        assert near.count(old) == 1, old
        near = near.replace(old, new)
    b.response(f"{L}/archive/2023/photosynthesis", "near-duplicate", near.encode("utf-8"), html_utf8,
               extra=learn_extra, related_to=f"{L}/biology/photosynthesis")

    b.response("http://learn.example.org/finance/compound-interest", "redirect-301", _REDIRECT_BODY,
               "text/html; charset=iso-8859-1", status="301 Moved Permanently", server="Apache/2.4.58 (Debian)",
               extra=[("Location", f"{L}/finance/compound-interest")],
               related_to=f"{L}/finance/compound-interest")
    b.response(f"{L}/cs/binary-serch", "http-404", _not_found_page(), html_utf8, status="404 Not Found",
               extra=[("Cache-Control", "no-store")])

    b.response(f"{L}/tags/", "boilerplate", _tags_page(), html_utf8, extra=learn_extra)
    b.response("https://portal.example.com/account/login", "boilerplate", _portal_login_page(), html_utf8,
               server="envoy", extra=[("Set-Cookie", "session=0f3c9a; Path=/; Secure; HttpOnly"),
                                      ("Cache-Control", "no-cache")])

    b.response("https://cheap-watches.example.com/buy-cheap-watches-online.html", "spam", _watch_spam_page(),
               "text/html", server="Apache")
    b.broken_response("https://legacy.example.net/api/stats", "broken-http", _BROKEN_HTTP_BLOCK)
    b.response("https://slim-tea-deals.example.net/", "spam", _tea_spam_page(), "text/html; charset=UTF-8",
               server="LiteSpeed")

    b.response("https://de.learn.example.org/physik/regenbogen", "non-english-de", _german_page(),
               "text/html; charset=utf-8", request=True)
    b.response("https://es.learn.example.org/ciencias/ciclo-del-agua", "non-english-es", _spanish_page(),
               "text/html")
    b.response("https://ja.learn.example.org/rika/tsuki-no-michikake", "non-english-ja-shift_jis",
               _japanese_page(), "text/html", server="Apache/2.2.15 (CentOS)")
    b.response("https://fr.learn.example.org/cuisine/pain-au-levain", "non-english-fr-windows-1252",
               _french_page(), "text/html; charset=windows-1252", server="Microsoft-IIS/10.0")

    b.response(f"{L}/static/img/pixel.png", "non-html-png", _png_1x1(), "image/png",
               extra=[("Cache-Control", "public, max-age=31536000, immutable")])
    b.response(f"{L}/files/compound-interest-worksheet.pdf", "non-html-pdf", _tiny_pdf(), "application/pdf",
               extra=[("Content-Disposition", 'inline; filename="compound-interest-worksheet.pdf"')])

    b.revisit(f"{L}/finance/compound-interest?utm_source=newsletter", "revisit",
              refers_to=f"{L}/finance/compound-interest")
    return b


def demo_warc_bytes() -> bytes:
    """The demo WARC as bytes (what :func:`write_demo_warc` writes)."""
    buf = io.BytesIO()
    _build(buf)
    return buf.getvalue()


def write_demo_warc(path: str | PathLike[str]) -> DemoSummary:
    """Write the demo WARC to ``path`` (parent folders are created) and describe it."""
    path = Path(path)
    buf = io.BytesIO()
    b = _build(buf)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return DemoSummary(
        path=path,
        records=sum(b.counts.values()),
        responses=b.counts["response"],
        urls=dict(b.urls),
        record_types=dict(b.counts),
        related=dict(b.related),
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curate.demo_warc",
                                     description="Write the deterministic Curate demo WARC.")
    parser.add_argument("output", help="path of the .warc.gz file to write")
    args = parser.parse_args(argv)
    summary = write_demo_warc(args.output)
    print(summary.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
