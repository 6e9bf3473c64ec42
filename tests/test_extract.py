"""HTML → text: charsets, sniffing, math/code/tables, limits, and the record → document rules."""

import time

import pytest

from curation.ingest import extract
from curation.ingest.extract import ExtractConfig, decode_html, html_to_text, is_html, parse_content_type, rewrite_math
from curation.ingest.extract_task import record_to_document
from curation.ingest.warc import RawRecord

ARTICLE = """<html><head><title>Binary search</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/shop">Shop</a></nav>
<article><h1>Binary search explained</h1>
<p>Binary search finds an item in a sorted list by halving the search interval at every step, so it
needs only a logarithmic number of comparisons. It is one of the first algorithms worth learning.</p>
<pre><code>def bsearch(xs, target):
    lo, hi = 0, len(xs)
    while lo &lt; hi:
        mid = (lo + hi) // 2
        if xs[mid] &lt; target:
            lo = mid + 1
        else:
            hi = mid
    return lo
</code></pre>
<p>Its running time satisfies <script type="math/tex">T(n) = T(n/2) + O(1)</script>, and by the master
theorem <math><semantics><mi>T</mi><annotation encoding="application/x-tex">T(n) = O(\\log n)</annotation></semantics></math>.</p>
<table><tr><th>list size</th><th>comparisons</th></tr><tr><td>1024</td><td>10</td></tr><tr><td>1048576</td><td>20</td></tr></table>
<p>In practice the hardest part is getting the boundaries right, which is why the loop above keeps the
invariant that everything left of lo is smaller than the target.</p></article>
<footer>Copyright 2026 Example Corp. All rights reserved. Privacy policy. Cookie settings.</footer>
</body></html>"""


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse"])
def test_keeps_code_math_and_tables_and_drops_chrome(extractor):
    text = html_to_text(ARTICLE, ExtractConfig(extractor=extractor))
    assert "Binary search finds an item" in text
    assert "        mid = (lo + hi) // 2" in text  # code keeps its indentation and line breaks
    assert "$T(n) = T(n/2) + O(1)$" in text and "$T(n) = O(\\log n)$" in text
    assert "1048576" in text and "comparisons" in text
    assert "About us" not in text and "Cookie settings" not in text


def test_math_dropped_without_rewrite():
    # Proves the rewrite is what keeps formulas: without it the MathJax TeX is lost.
    text = html_to_text(ARTICLE, ExtractConfig(extractor="resiliparse", keep_math=False))
    assert "T(n/2)" not in text


def test_rewrite_math_variants():
    out = rewrite_math('<p><script type="math/tex; mode=display">a^2+b^2=c^2</script>'
                       '<math alttext="x_1"><mi>x</mi></math><math><mi>y</mi><mo>+</mo><mn>1</mn></math></p>')
    assert "$$a^2+b^2=c^2$$" in out and "$x_1$" in out and "$y + 1$" in out


def test_content_type_and_sniffing():
    assert parse_content_type('text/html; charset="Shift_JIS"') == ("text/html", "Shift_JIS")
    assert parse_content_type(None) == ("", None)
    assert is_html("text/html", b"anything")
    assert is_html("", b"\n  <!DOCTYPE html><html><body>x</body></html>")
    assert is_html("application/octet-stream", b"<html><head><title>t</title></head></html>")
    assert not is_html("image/png", b"<html>")  # an explicit non-HTML type is believed
    assert not is_html("text/plain", b"User-agent: *\nDisallow: /")


def test_charset_order_header_then_meta_then_detection():
    jp = "<html><head><meta charset='shift_jis'><title>t</title></head><body>日本語の文章です。</body></html>"
    text, codec = decode_html(jp.encode("cp932"))
    assert codec == "cp932" and "日本語の文章です" in text
    # The HTTP header wins over the meta tag when it decodes.
    fr = "<html><head><meta charset='utf-8'></head><body>Élève déjà là</body></html>".encode("cp1252")
    text, codec = decode_html(fr, "iso-8859-1")
    assert codec == "cp1252" and "Élève déjà là" in text
    # A lying header is skipped; detection handles pages with no declaration at all.
    text, codec = decode_html(fr, "utf-8")
    assert "Élève" in text
    euc = ("<html><body>" + "これは日本語のページです。文字コードの判定を試験します。" * 5 + "</body></html>").encode("euc-jp")
    text, codec = decode_html(euc)
    assert codec == "euc_jp" and "日本語のページ" in text


def _raw(payload: bytes, content_type="text/html; charset=utf-8", status=200, record_type="response") -> RawRecord:
    return RawRecord(record_type=record_type, offset=0, record_id="r1", url="http://x.test/", http_status=status,
                     content_type=content_type, payload=payload, payload_bytes=len(payload))


def test_record_rules_give_named_reasons():
    cfg = ExtractConfig(extractor="resiliparse")
    assert record_to_document(_raw(ARTICLE.encode()), "f", cfg).drop_reason is None
    assert record_to_document(_raw(b"x", status=404), "f", cfg).drop_reason == "http.status_4xx"
    assert record_to_document(_raw(b"\x89PNG", "image/png"), "f", cfg).drop_reason == "resiliparse_v1.not_html"
    assert record_to_document(_raw(b"<html><body></body></html>"), "f", cfg).drop_reason == "resiliparse_v1.empty"
    over = _raw(b"")
    over.payload = None
    assert record_to_document(over, "f", cfg).drop_reason == "resiliparse_v1.too_large"
    req = _raw(b"", record_type="request")
    assert record_to_document(req, "f", cfg).drop_reason == "warc.request"
    bad = _raw(b"")
    bad.error, bad.error_detail = "http_headers", "bad status line"
    doc = record_to_document(bad, "f", cfg)
    assert doc.drop_reason == "error.http_headers" and doc.error == "bad status line"


def test_time_limit_drops_a_slow_page(monkeypatch):
    def slow(html, cfg, url=None, page_type="other"):
        time.sleep(5)
        return "never"

    monkeypatch.setitem(extract._EXTRACTORS, "trafilatura", slow)
    start = time.perf_counter()
    doc = record_to_document(_raw(ARTICLE.encode()), "f", ExtractConfig(time_limit_s=0.3))
    assert doc.drop_reason == "trafilatura_v1.timeout"
    assert time.perf_counter() - start < 2


def test_extractor_crash_is_an_error_not_a_crash(monkeypatch):
    def boom(html, cfg, url=None, page_type="other"):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(extract._EXTRACTORS, "trafilatura", boom)
    doc = record_to_document(_raw(ARTICLE.encode()), "f", ExtractConfig())
    assert doc.drop_reason == "error.extract" and "RecursionError" in doc.error


def test_config_rejects_unknown_extractor():
    with pytest.raises(ValueError):
        ExtractConfig(extractor="lynx")


def test_resiliparse_drops_widgets_but_not_articles_named_like_them():
    body = " ".join(["Real article text that explains a topic in full sentences."] * 8)
    html = f"""<html><body><div class="docked-sharebar-content-container"><h1>Title here</h1>
    <p>{body}</p><p>{body}</p></div>
    <div class="share-buttons">Share on Facebook Share on Twitter</div>
    <div id="comments"><p>First comment, what a great post.</p></div>
    <div class="site-footer">Imprint Contact Privacy</div></body></html>"""
    text = html_to_text(html, ExtractConfig(extractor="resiliparse"))
    assert "Title here" in text and text.count("Real article text") == 16
    for boilerplate in ("Share on Facebook", "First comment", "Imprint"):
        assert boilerplate not in text


def test_resiliparse_tail_trim_keeps_code_tables_and_sentences():
    from curation.ingest.extract import _rp_trim_tail

    assert _rp_trim_tail("A real paragraph ends here.\nRelated articles\nShare this\nTags") == "A real paragraph ends here."
    code = "Example:\n    for x in xs:\n        print(x)\nend"
    assert _rp_trim_tail(code) == code
    table = "Results:\nname\tscore\nalice\t3"
    assert _rp_trim_tail(table) == table
    assert _rp_trim_tail("Only a label") == "Only a label"


def test_declared_charset_with_a_few_bad_bytes_is_kept_not_detected_as_mojibake():
    page = ("<html><head><meta charset='utf-8'></head><body>" + "Grüße aus München, schöne Straße. " * 50
            + "</body></html>").encode("utf-8")
    broken = page[:300] + b"\xff" + page[300:]  # one stray byte, as on real pages
    text, codec = decode_html(broken)
    assert codec == "utf-8" and "Grüße aus München" in text and text.count("\ufffd") == 1


# --------------------------------------------------------------------------------------------
# Hostile pages: the real cause as the drop reason, never a hang, never a silent "empty"

PARAGRAPH = "<p>" + "A sentence of real prose that goes on for a while. " * 20 + "</p>"


def _nested(depth: int) -> bytes:
    return ("<html><body>" + "<div>" * depth + PARAGRAPH + "</div>" * depth + "</body></html>").encode()


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse"])
def test_deep_nesting_is_too_deep_not_empty_and_not_a_hang(extractor):
    """100k nested divs: trafilatura came out empty (libxml2 stops at depth 256); resiliparse ran
    5 minutes in C, where the SIGALRM time limit cannot interrupt it."""
    cfg = ExtractConfig(extractor=extractor, time_limit_s=5)
    start = time.perf_counter()
    doc = record_to_document(_raw(_nested(100_000)), "f", cfg)
    assert doc.drop_reason == f"{cfg.step_name}.too_deep" and doc.error
    assert time.perf_counter() - start < 3
    assert record_to_document(_raw(_nested(200)), "f", cfg).drop_reason is None


def test_depth_limit_is_configurable():
    for extractor in ("trafilatura", "resiliparse"):
        cfg = ExtractConfig(extractor=extractor, max_html_depth=50)
        assert record_to_document(_raw(_nested(60)), "f", cfg).drop_reason == f"{cfg.step_name}.too_deep"
        assert record_to_document(_raw(_nested(40)), "f", cfg).drop_reason is None
    unlimited = ExtractConfig(extractor="resiliparse", max_html_depth=0)
    assert record_to_document(_raw(_nested(400)), "f", unlimited).drop_reason is None
    with pytest.raises(ValueError):
        ExtractConfig(max_html_depth=-1)


def test_huge_text_node_is_a_parser_limit_not_empty():
    """A one-line page whose text is one node over 10 MB: libxml2 (no huge_tree) refuses the node
    and keeps nothing, which came out as trafilatura_v1.empty. resiliparse extracts it."""
    page = b"<html><body><p>" + b"word " * 2_200_000 + b"</p></body></html>"
    big = dict(max_payload_bytes=50_000_000, time_limit_s=60)
    doc = record_to_document(_raw(page), "f", ExtractConfig(extractor="trafilatura", **big))
    assert doc.drop_reason == "trafilatura_v1.parser_limit" and "Buffer size limit" in doc.error
    doc = record_to_document(_raw(page), "f", ExtractConfig(extractor="resiliparse", **big))
    assert doc.drop_reason is None and len(doc.text) > 10_000_000


def test_a_crash_trafilatura_swallows_is_an_error_not_empty(monkeypatch):
    """trafilatura's bare_extraction returns None for any TypeError/ValueError inside it."""
    import trafilatura.main_extractor

    def broken(*args, **kwargs):
        raise TypeError("'NoneType' object is not subscriptable")

    extract._trafilatura_surfacing_crashes()  # wraps trafilatura_sequence (once per process)
    monkeypatch.setattr(trafilatura.main_extractor, "extract_content", broken)
    monkeypatch.setattr("trafilatura.core.extract_content", broken, raising=False)
    doc = record_to_document(_raw(ARTICLE.encode()), "f", ExtractConfig())
    assert doc.drop_reason == "error.extract" and "TypeError inside trafilatura" in doc.error


def test_trafilatura_rejections_are_still_empty():
    """Its own rejections (no text found) stay what they are: empty, not an error."""
    doc = record_to_document(_raw(b"<html><body><div><img src='a.png'></div></body></html>"), "f", ExtractConfig())
    assert doc.drop_reason == "trafilatura_v1.empty" and doc.error is None


def test_time_limit_cannot_be_swallowed_by_except_exception():
    """trafilatura wraps its recall retry in ``except Exception``: a timeout raised there was
    logged as a failed retry and the page then ran on with no limit at all."""
    start = time.perf_counter()
    with pytest.raises(extract.ExtractTimeout):
        with extract.time_limit(0.2):
            try:
                time.sleep(2)
            except Exception:  # what trafilatura does
                pass
            time.sleep(2)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("unclosed", ["<math>x", '<script type="math/tex">x', "<math><annotation encoding='application/x-tex'>x",
                                      "<math>x</math><math><<<<", "</math><math "])
def test_math_rewrite_is_linear_on_unclosed_tags(unclosed):
    """The math regexes scanned to the end of the page from every unclosed tag: 20,000 unclosed
    <math> (140 KB) took 36 s, MathJax scripts 2 minutes."""
    html = "<html><body><p>text</p>" + unclosed * 20_000 + "</body></html>"
    start = time.perf_counter()
    out = rewrite_math(html)
    assert time.perf_counter() - start < 1
    assert out.startswith("<html><body><p>text</p>")
