"""Content filters: corrupted/binary-like text, URL block lists, bad-word lists, PII masking.

Four per-document steps (contract in :mod:`curation.filters.steps`):

* ``corruption_v1`` — phi-4's corruption filter: corrupted and binary-like text shows up as an
  outlier of compression ratio and character/n-gram statistics (replacement and control
  characters, mojibake, random-looking trigrams, encoded blobs, file signatures).
* ``url_filter_v1`` — domain block lists (plain, hosts-file or Adblock/EasyList syntax) matched on
  the URL's host and every parent domain, plus RefinedWeb-style banned words in URL tokens.
* ``word_filter_v1`` — share of the text's words that are on a bad-word list (LDNOOBW & co.),
  word-boundary matching with multi-word entries.
* ``pii_mask_v1`` — masks e-mail addresses and public IP addresses in ``doc.text``; never drops.

Word and domain lists load lazily on the first call, once per process (module-level caches keyed
by path): Spark executors unpickle the step objects, which carry only their small parameters.

Thresholds of ``corruption_v1`` were measured on real clean text (WikiText-2, Shakespeare, CCNet,
the DCLM human-labelled set, arXiv LaTeX, Python stdlib code, UDHR in 380+ languages, Tatoeba in
84 languages, ~1,000 pages of real web text extracted from the WARC/HTML test data) against
generated corruption (random bytes decoded as latin-1/cp1252/UTF-8, zlib streams, PDF/Office
binaries, base64 and hex blobs, UTF-8 decoded as cp1252/latin-1, repeated lines); the numbers are
next to each field.
"""

from __future__ import annotations

import gzip
import ipaddress
import math
import os
import re
import threading
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from curation.filters.steps import register
from curation.schema import Document

# ============================================================================================
# corruption_v1
# ============================================================================================

#: zlib level used for every ratio; the thresholds below were measured at this level (zlib's
#: default; ~90 MB/s on English here, 0.04 ms of the ~0.5 ms all scores take on a 5 kB page).
_ZLIB_LEVEL = 6

_WHITESPACE_CONTROLS = frozenset("\t\n\r\f\v")


def _byte_chars(codepage: str, byte: int) -> set[str]:
    """Characters a byte becomes when UTF-8 is misread as ``codepage`` (latin-1 too, for cp1252)."""
    chars = {chr(byte)} if codepage == "cp1252" else set()  # latin-1: the C1 controls
    try:
        chars.add(bytes([byte]).decode(codepage))
    except UnicodeDecodeError:  # undefined in the codepage (cp1252: 0x81 0x8D 0x8F 0x90 0x9D)
        chars.add(chr(byte))
    return chars


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


# Mojibake detection is hand-written on purpose: ftfy (the reference tool) is not a dependency,
# and we only need to *count* the tell-tale sequences, not repair them. UTF-8 misread as a
# single-byte codepage turns each multi-byte character into a lead character (bytes C2..F4)
# followed by 1-3 characters that were continuation bytes (0x80..0xBF).
#
# cp1252/latin-1 (Western web pages): "Ã©" (é), "â€™" (’), "ã‚¤" (Japanese), any lead.
_CONT_1252 = {c for b in range(0x80, 0xC0) for c in _byte_chars("cp1252", b)}
_MOJIBAKE_1252 = re.compile(
    f"[\u00c2-\u00df]{_char_class(_CONT_1252)}"
    f"|[\u00e0-\u00ef]{_char_class(_CONT_1252)}{{2}}"
    f"|[\u00f0-\u00f4]{_char_class(_CONT_1252)}{{3}}"
)
# cp1251 (Cyrillic web pages): "Р°" (а), "С‚" (т), "вЂ™" (’). Only the two Cyrillic leads Р/С
# with a non-letter continuation, and "вЂ" + one more: other cp1251 leads are ordinary
# Cyrillic capitals, and Ukrainian "Рік"/"Він" would look like mojibake (і is a continuation).
_CONT_1251 = {c for b in range(0x80, 0xC0) for c in _byte_chars("cp1251", b)}
_MOJIBAKE_1251 = re.compile(
    f"[\u0420\u0421]{_char_class(c for c in _CONT_1251 if not c.isalpha())}"
    f"|\u0432\u0402{_char_class(_CONT_1251)}"
)
_TO_BYTE = {
    cp: {c: b for b in range(0x80, 0x100) for c in _byte_chars(cp, b)} for cp in ("cp1252", "cp1251")
}
_NBSP_OK_LEADS = frozenset((0xC2, 0xC3, 0xD0, 0xD1))  # Latin-1 supplement and Cyrillic leads


def _is_mojibake(seq: str, codepage: str) -> bool:
    """Filter the regex candidates against false positives seen in clean text.

    * ``é\\xa0»`` (French ``café »`` with a no-break space), ``ß\\xad`` (German soft hyphen),
      ``×\\xa0``: NBSP/soft hyphen right after a lead letter is normal typography; only after the
      leads of Latin-1 and Cyrillic (``Â\\xa0`` = NBSP, ``Ã\\xad`` = í, ``Р\\xa0`` = Р) is it
      the classic mojibake.
    * ``ášš`` (Northern Sami): in 3-4 byte sequences at least one continuation must be a
      non-letter (``€``, ``‚``, ``¸`` …), which is true of virtually all real mojibake.
    * The bytes must decode as UTF-8 to an assigned, non-private character (rejects overlong and
      surrogate forms such as ``à€``).
    """
    table = _TO_BYTE[codepage]
    try:
        raw = bytes(table[c] for c in seq)
        decoded = raw.decode("utf-8")
    except (UnicodeDecodeError, KeyError):
        return False
    if raw[1] in (0xA0, 0xAD) and raw[0] not in _NBSP_OK_LEADS:
        return False
    if len(seq) > 2 and all(c.isalpha() for c in seq[1:]):
        return False
    return unicodedata.category(decoded) not in ("Co", "Cn", "Cs", "Cc")


def _mojibake_sequences(text: str) -> list[str]:
    found = [m.group() for m in _MOJIBAKE_1252.finditer(text) if _is_mojibake(m.group(), "cp1252")]
    if "\u0420" in text or "\u0421" in text or "\u0432\u0402" in text:
        found += [m.group() for m in _MOJIBAKE_1251.finditer(text) if _is_mojibake(m.group(), "cp1251")]
    return found


# Base64/hex runs: long unbroken runs of the base64 alphabet that mix digits and letters. Plain
# words, slugs (hyphens break runs) and paths rarely reach 64 characters with digits inside.
_BLOB_RUN = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}")
_DROP_DIGITS = str.maketrans("", "", "0123456789")

# Signatures of binary/document file formats that end up decoded as text (latin-1/cp1252/UTF-8
# with replacement all keep the ASCII bytes of a signature). Only unambiguous ones; RTF is text
# but a document *file* (markup, not prose) when it reaches a text filter undecoded.
_FILE_MAGIC = re.compile(
    r"\A(?:%PDF-\d|\{\\rtf\d|.PNG\r\n|GIF8[79]a|PK\x03\x04|\x7fELF|\x1f\x8b\x08|Rar!\x1a\x07|7z.{0,2}\x27\x1c"
    r"|wOFF|wOF2|OggS\x00|RIFF.{4}(?:WEBP|WAVE|AVI )|\x00\x00\x01\x00|ID3[\x02-\x04]\x00)",
    re.S,
)


@dataclass
@register("corruption_v1")
class CorruptionFilter:
    """Drops corrupted and binary-like text (phi-4's "corruption filter").

    Scores (all recorded for every document): ``zlib_ratio`` (compressed/UTF-8 bytes, zlib level
    6), ``zlib_entropy_ratio`` (compressed bits per character / character entropy),
    ``char_entropy`` (bits, non-whitespace characters), ``char_3gram_unique_frac`` (distinct /
    total character trigrams in a ``ngram_window``-char window from the middle of the text),
    ``replacement_char_frac`` (U+FFFD), ``control_char_frac`` (C0/C1 controls and DEL, except
    ``\\t\\n\\r\\f\\v``), ``non_printable_frac`` (controls + lone surrogates + private use +
    unassigned), ``mojibake_frac`` / ``mojibake_sequences`` (characters in, and number of,
    sequences of UTF-8 misread as cp1252/latin-1 or cp1251), ``blob_frac`` (share of characters in
    base64/hex runs), ``utf8_bytes``.

    Drop reasons, in the order checked: ``file_signature`` (starts with the signature of a binary
    or document file format: PDF, PNG, ZIP/Office, RTF, ...; any length), then for texts of at
    least ``min_chars`` characters: ``replacement_chars``, ``control_chars``, ``non_printable``,
    ``mojibake``, ``encoded_blob``, ``low_entropy``, ``too_compressible``, ``incompressible``
    (texts of ``incompressible_min_bytes`` bytes or more), ``random_ngrams`` (texts of
    ``ngram_window`` characters or more). Shorter texts are scored but never dropped by these
    rules: their statistics are too noisy.

    Documents made of one short line repeated a few times (~10x, < 500 characters) are not
    caught here (their compression statistics are dominated by zlib's fixed overhead); that is
    the job of line-repetition rules (Gopher).

    Measured ranges (clean = 2,398 real documents of 200+ characters in 380+ languages, see the
    module docstring; "corrupt" = generated): each default sits in the gap between the two. With
    the defaults the only clean document dropped is a lorem-ipsum placeholder page
    (``too_compressible``); every generated corruption of 200+ characters is dropped except
    English pages with a few misread quotes (mojibake below 0.5%) and ~10x repeated short lines.
    """

    #: Texts shorter than this are scored only (clean 200-500 byte texts reach zlib_ratio 0.81).
    min_chars: int = 200
    #: U+FFFD share. Clean max 0.0003; random bytes decoded as UTF-8 >= 0.41, as cp1252 (undefined
    #: bytes replaced) >= 0.013. 1 in 100 characters replaced is past "a few broken characters".
    max_replacement_frac: float = 0.01
    #: Control characters. Clean max 0.006 (a UDHR file with cp1252 quotes read as latin-1 C1
    #: controls); binary/zlib/PDF streams decoded as text >= 0.074.
    max_control_frac: float = 0.02
    #: Controls + lone surrogates + private use + unassigned. Clean max 0.0056 (the controls above);
    #: icon-font private-use characters appear a few at a time in real pages.
    max_non_printable_frac: float = 0.05
    #: Mojibake share. Clean max 0.0037 (one real "â€™" in a 817-character DCLM page; real
    #: archive.org pages with some mojibake <= 0.0015); French/German/Italian/Spanish UDHR read as
    #: cp1252 >= 0.012, CJK/Hindi/Russian ~0.3-0.9, all 25 Cyrillic UDHRs read as cp1251 caught.
    max_mojibake_frac: float = 0.005
    #: ... and at least this many sequences: one broken quote in a short page is a blemish (two
    #: real DCLM pages of ~900 characters have exactly one and reach 0.0037).
    min_mojibake_sequences: int = 3
    #: Share of characters in base64/hex runs. Clean max 0.0022; base64 (76-char lines too) >= 0.89,
    #: hex dumps 1.0.
    max_blob_frac: float = 0.5
    #: Bits per non-whitespace character (whitespace is left out: one real indented page is 58%
    #: spaces/tabs). Clean min 3.37 (languages with 13-16 letter alphabets: Polynesian, Zaparo);
    #: runs of one or two symbols, binary digits, "=-=-" rules <= 1.0.
    min_char_entropy: float = 2.5
    #: zlib bits per character / character entropy: script-neutral repetition measure. Clean min
    #: 0.165 (a lorem-ipsum test page), other real pages >= 0.236; documents made of one line
    #: repeated 100+ times <= 0.1. (The plain byte ratio is biased by script: clean Indic UDHR
    #: texts compress to 0.155, below repeated English lines at 0.145.)
    min_zlib_entropy_ratio: float = 0.2
    #: Compressed/raw bytes for texts >= incompressible_min_bytes. Clean max 0.689 over 6,400
    #: windows of 1,000+ bytes (short CJK pages are the worst case); base64 >= 0.757, random
    #: printable or binary text >= 0.8.
    max_zlib_ratio: float = 0.72
    incompressible_min_bytes: int = 1000
    #: Distinct/total character trigrams in a window from the middle of the text. Clean max 0.918
    #: over 29,700 windows of 1,024 characters (Chinese); random text, base64 >= 0.99.
    max_3gram_unique_frac: float = 0.97
    ngram_window: int = 1024
    changes_text: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.min_chars < 0 or self.ngram_window < 3 or self.incompressible_min_bytes < 0:
            raise ValueError("min_chars and incompressible_min_bytes must be >= 0, ngram_window >= 3")

    def __call__(self, doc: Document) -> str | None:
        text = doc.text or ""
        scores = corruption_scores(text, self.ngram_window)
        doc.scores.update(scores)
        if _FILE_MAGIC.match(text.lstrip("\ufeff \t\r\n")):
            return "file_signature"
        n = len(text)
        if n < self.min_chars:
            return None
        if scores["replacement_char_frac"] > self.max_replacement_frac:
            return "replacement_chars"
        if scores["control_char_frac"] > self.max_control_frac:
            return "control_chars"
        if scores["non_printable_frac"] > self.max_non_printable_frac:
            return "non_printable"
        if scores["mojibake_frac"] > self.max_mojibake_frac and scores["mojibake_sequences"] >= self.min_mojibake_sequences:
            return "mojibake"
        if scores["blob_frac"] > self.max_blob_frac:
            return "encoded_blob"
        if scores["char_entropy"] < self.min_char_entropy:
            return "low_entropy"
        if scores["zlib_entropy_ratio"] < self.min_zlib_entropy_ratio:
            return "too_compressible"
        if scores["zlib_ratio"] > self.max_zlib_ratio and scores["utf8_bytes"] >= self.incompressible_min_bytes:
            return "incompressible"
        if n >= self.ngram_window and scores["char_3gram_unique_frac"] > self.max_3gram_unique_frac:
            return "random_ngrams"
        return None


def _entropy(counts: Iterable[int], total: int) -> float:
    if total <= 0:
        return 0.0
    return max(0.0, -sum(c / total * math.log2(c / total) for c in counts))


def corruption_scores(text: str, ngram_window: int = 1024) -> dict[str, float]:
    """All ``corruption_v1`` statistics of one text, as floats (fractions rounded to 4-6 places)."""
    n = len(text)
    # surrogatepass: lone surrogates ("\\ud800" from broken JSON escapes) must not raise.
    raw = text.encode("utf-8", "surrogatepass")
    compressed = len(zlib.compress(raw, _ZLIB_LEVEL)) if raw else 0
    counts = Counter(text)
    controls = non_printable = 0
    for ch, c in counts.items():
        o = ord(ch)
        if (o < 0x20 and ch not in _WHITESPACE_CONTROLS) or 0x7F <= o <= 0x9F:
            controls += c
            non_printable += c
        elif o >= 0xA0 and unicodedata.category(ch) in ("Cs", "Co", "Cn"):
            non_printable += c
    visible = {ch: c for ch, c in counts.items() if not ch.isspace()}
    h_visible = _entropy(visible.values(), sum(visible.values()))
    h_all = _entropy(counts.values(), n)
    moji_seqs = _mojibake_sequences(text)
    moji = sum(map(len, moji_seqs))
    blob = 0
    for m in _BLOB_RUN.finditer(text):
        run = m.group()
        digits = len(run) - len(run.translate(_DROP_DIGITS))
        # Real blobs mix digits with letters (base64 ~15% digits, hex ~60%); long words do not.
        if 0.05 <= digits / len(run) < 1.0:
            blob += len(run)
    start = max(0, (n - ngram_window) // 2)
    window = text[start : start + ngram_window]
    trigrams = max(0, len(window) - 2)
    unique3 = len({window[i : i + 3] for i in range(trigrams)}) / trigrams if trigrams else 0.0
    denom = max(n, 1)
    return {
        "utf8_bytes": float(len(raw)),
        "zlib_ratio": round(compressed / len(raw), 4) if raw else 0.0,
        # compressed bits per character relative to the order-0 entropy: ~1 for text with no
        # repeats beyond single characters, << 1 for repetition, whatever the script's bytes/char.
        "zlib_entropy_ratio": round(8 * compressed / n / h_all, 4) if n and h_all > 0 else 0.0,
        "char_entropy": round(h_visible, 4),
        "char_3gram_unique_frac": round(unique3, 4),
        "replacement_char_frac": round(counts.get("\ufffd", 0) / denom, 6),
        "control_char_frac": round(controls / denom, 6),
        "non_printable_frac": round(non_printable / denom, 6),
        "mojibake_frac": round(moji / denom, 6),
        "mojibake_sequences": float(len(moji_seqs)),
        "blob_frac": round(blob / denom, 4),
    }


# ============================================================================================
# List loading (shared by url_filter_v1 and word_filter_v1)
# ============================================================================================

# One lock for every cache: a Python worker may run steps from several threads; loading twice
# would only waste time, but a half-filled dict must never be seen.
_LOCK = threading.Lock()
_LINES: dict[str, tuple[str, ...]] = {}


def _read_lines(path: str) -> tuple[str, ...]:
    """Lines of a (possibly gzip-compressed) UTF-8 text file, cached per path and process."""
    lines = _LINES.get(path)
    if lines is None:
        with open(os.path.expanduser(path), "rb") as fh:
            data = fh.read()
        if data[:2] == b"\x1f\x8b":  # by content, not by name: lists get renamed
            data = gzip.decompress(data)
        lines = tuple(data.decode("utf-8", "replace").splitlines())
        with _LOCK:
            _LINES[path] = lines
    return lines


# Words: maximal runs of letters/digits/marks (``\w`` minus ``_``), case-folded. Both the text and
# the list entries are tokenised the same way, so "g-spot" matches "G-Spot" and "g spot".
_WORD = re.compile(r"[^\W_]+")


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


@dataclass(frozen=True)
class _WordList:
    single: frozenset[str]  # one-word entries
    multi: dict[str, tuple[tuple[str, ...], ...]]  # first word -> longer entries starting with it
    #: entries with punctuation or symbols ("s&m", "g-spot", an emoji) as one regex: tokenising
    #: them would turn "s&m" into the words "s m", which occur in any math paper.
    pattern: re.Pattern[str] | None

    def __bool__(self) -> bool:
        return bool(self.single or self.multi or self.pattern)


_WORDLISTS: dict[tuple[str, ...], _WordList] = {}
_PLAIN_ENTRY = re.compile(r"^[^\W_]+(?: +[^\W_]+)*$")


def _word_list_entries(path: str) -> Iterable[str]:
    for line in _read_lines(path):
        entry = line.strip()
        if entry and not entry.startswith("#"):
            yield entry


def _entry_regex(entry: str) -> str:
    # Word boundaries only where the entry itself begins/ends with a word character.
    left = r"(?<![^\W_])" if _WORD.match(entry[0]) else ""
    right = r"(?![^\W_])" if _WORD.match(entry[-1]) else ""
    return left + re.escape(entry) + right


def load_word_list(paths: tuple[str, ...]) -> _WordList:
    """Word lists (one entry per line, ``#`` comments; LDNOOBW, RefinedWeb, Dolma formats)."""
    wl = _WORDLISTS.get(paths)
    if wl is None:
        single: set[str] = set()
        multi: dict[str, set[tuple[str, ...]]] = {}
        patterns: set[str] = set()
        for path in paths:
            for entry in _word_list_entries(path):
                entry = " ".join(entry.casefold().split())
                if not _PLAIN_ENTRY.match(entry):
                    patterns.add(entry)
                    continue
                toks = tuple(entry.split())
                if len(toks) == 1:
                    single.add(toks[0])
                else:
                    multi.setdefault(toks[0], set()).add(toks)
        pattern = None
        if patterns:
            pattern = re.compile("|".join(_entry_regex(e) for e in sorted(patterns, key=len, reverse=True)))
        wl = _WordList(
            frozenset(single),
            {k: tuple(sorted(v, key=len, reverse=True)) for k, v in multi.items()},
            pattern,
        )
        with _LOCK:
            _WORDLISTS[paths] = wl
    return wl


def _match_tokens(tokens: list[str], wl: _WordList) -> tuple[int, set[str]]:
    """Number of tokens covered by plain list entries, and the entries that matched."""
    covered = 0
    hits: set[str] = set()
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        step = 0
        for entry in wl.multi.get(tok, ()):  # longest first: "ball gag" before "ball"
            if tuple(tokens[i : i + len(entry)]) == entry:
                step = len(entry)
                hits.add(" ".join(entry))
                break
        if not step and tok in wl.single:
            step = 1
            hits.add(tok)
        if step:
            covered += step
            i += step
        else:
            i += 1
    return covered, hits


def _match_patterns(folded: str, wl: _WordList) -> tuple[int, set[str]]:
    """Words covered by punctuated/symbol entries in case-folded text (a symbol counts as one)."""
    if wl.pattern is None:
        return 0, set()
    covered, hits = 0, set()
    for m in wl.pattern.finditer(folded):
        covered += max(1, len(_tokens(m.group())))
        hits.add(m.group())
    return covered, hits


# ============================================================================================
# url_filter_v1
# ============================================================================================

_HOST = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)+$")
_IP_LITERAL = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$")
# Adblock options that only narrow *which requests* to a host are blocked (resource type, party,
# popup); the host itself is still an ad/tracking host. Any other option (domain=, csp=,
# redirect=, removeparam, ...) makes the rule site-specific or not a block of the host at all.
_ADBLOCK_HOST_OPTIONS = frozenset(
    "third-party 3p first-party 1p popup document doc script image stylesheet css subdocument frame "
    "xmlhttprequest xhr media object font ping websocket other all match-case".split()
)
_DOMAIN_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def _normalise_host(host: str) -> str:
    host = host.strip().strip(".").lower()
    if host.startswith("*."):
        host = host[2:]
    if host and not host.isascii():
        try:  # IDN: lists and URLs may use either form; compare in punycode
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _adblock_host(rule: str) -> str | None:
    """The host of a domain-anchored rule ``||host^`` (``||host``, ``||host^|``, ``||host^$opts``).

    Everything else in EasyList is ignored on purpose: element-hiding/cosmetic rules (``##``,
    ``#@#``, ``#?#``), exceptions (``@@``), regex rules (``/.../``), path or wildcard rules
    (``||host/ads/*``, ``||cdn.*^``) and rules restricted by options like ``$domain=`` say which
    *requests* to block on which *sites*, not that a whole host serves ads.
    """
    body, _, options = rule[2:].partition("$")
    if options and not all(o.lstrip("~") in _ADBLOCK_HOST_OPTIONS for o in options.split(",")):
        return None
    body = body.removesuffix("|").removesuffix("^")
    host = _normalise_host(body)
    return host if _HOST.match(host) else None


def _domains_in(path: str) -> Iterable[str]:
    lines = _read_lines(path)
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    # Adblock files announce themselves ("[Adblock Plus 2.0]") or start with "!" comments; in
    # them only "||host^" rules name hosts (a bare "adsbygoogle.js" is a URL pattern).
    adblock = first.startswith(("[Adblock", "!"))
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", "!", "[")):
            continue
        if line.startswith("||"):
            host = _adblock_host(line)
        elif adblock:
            continue
        else:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            # hosts-file format: "0.0.0.0 ads.example.com"
            token = fields[1] if len(fields) > 1 and _IP_LITERAL.match(fields[0]) else fields[0]
            if "://" in token:
                token = url_host(token) or ""
            host = _normalise_host(token)
        if host and (_HOST.match(host) or "." not in host and host.isalnum()):  # bare TLDs allowed
            yield host


def load_domains(paths: tuple[str, ...]) -> frozenset[str]:
    """Blocked hosts from domain lists, hosts files and Adblock/EasyList files (gzip or not)."""
    domains = _DOMAIN_SETS.get(paths)
    if domains is None:
        domains = frozenset(h for p in paths for h in _domains_in(p))
        with _LOCK:
            _DOMAIN_SETS[paths] = domains
    return domains


def url_host(url: str) -> str | None:
    """Lower-case host of a URL (no port, user info or trailing dot), punycode for IDNs."""
    url = url.strip()
    if "://" not in url[:12]:
        url = "http://" + url.lstrip("/")
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. "http://[::1" (unbalanced IPv6 bracket)
        return None
    return _normalise_host(host) if host else None


def parent_domains(host: str) -> list[str]:
    """``a.b.example.com`` -> ``[a.b.example.com, b.example.com, example.com, com]``."""
    if _IP_LITERAL.match(host) or ":" in host:
        return [host]
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def _url_parts(url: str) -> tuple[str, str, str]:
    """(host, path, query) percent-decoded; scheme, user info, port and fragment left out."""
    url = url.strip()
    try:
        parts = urlsplit(url if "://" in url[:12] else "http://" + url.lstrip("/"))
        host, path, query = parts.hostname or "", parts.path, parts.query
    except ValueError:
        host, path, query = "", url, ""
    return host, unquote(path, errors="replace"), unquote(query, errors="replace")


@dataclass
@register("url_filter_v1")
class URLFilter:
    """Drops documents whose URL is on a domain block list or contains banned words.

    * ``blocklist_files``: plain domain lists (one per line, ``#`` comments), hosts files
      (``0.0.0.0 host``) or Adblock/EasyList files (only ``||host^`` rules, see
      :func:`_adblock_host`); gzip is detected by content. The URL's host and every parent domain
      are looked up, so ``ads.tracker.com`` is blocked by ``tracker.com``. Reason
      ``blocked_domain``.
    * ``banned_words_files``: any word of the URL (host, path and query split on non-alphanumerics,
      like RefinedWeb/datatrove's URLFilter) on the list drops it: reason ``banned_url_word``.
      Multi-word entries ("2 girls 1 cup") match as consecutive URL words and, squashed
      ("2girls1cup"), as one word.
    * ``soft_banned_words_files``: RefinedWeb's "soft" words drop only when at least
      ``min_soft_banned_words`` distinct ones occur: reason ``soft_banned_url_words``.

    RefinedWeb also matched a "strict" list as *substrings* of the URL with separators removed. It
    is left out on purpose: on 1,336 real URLs from the test data the reverse-engineered strict
    list flagged 10, all false ("blogspot.com" contains "gspot").

    Scores: ``url_banned_words`` (distinct hard-list entries found), ``url_soft_banned_words``.
    Documents without URL pass unscored.
    """

    blocklist_files: tuple[str, ...] = ()
    banned_words_files: tuple[str, ...] = ()
    soft_banned_words_files: tuple[str, ...] = ()
    min_soft_banned_words: int = 2  # datatrove's soft_word_threshold
    changes_text: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not (self.blocklist_files or self.banned_words_files or self.soft_banned_words_files):
            raise ValueError("url_filter_v1 needs at least one list (blocklist_files, banned_words_files, ...)")
        if self.min_soft_banned_words < 1:
            raise ValueError("min_soft_banned_words must be >= 1")
        try:  # read now (cached per process): a bad path fails on the driver, not on every document
            load_domains(self.blocklist_files)
            load_word_list(self.banned_words_files)
            load_word_list(self.soft_banned_words_files)
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read a list: {exc}") from None

    def __call__(self, doc: Document) -> str | None:
        url = (doc.url or "").strip()
        if not url:
            return None
        if self.blocklist_files:
            host = url_host(url)
            if host:
                blocked = load_domains(self.blocklist_files)
                if any(d in blocked for d in parent_domains(host)):
                    return "blocked_domain"
        host, path, query = _url_parts(url)
        tokens = _tokens(f"{host} {path} {query}")
        # Punctuated entries ("g-spot") are matched on host and path as written; the query is
        # left out there because "&" and "=" are its syntax ("?s&m=1").
        url_text = f"{host} {path}".casefold()
        if self.banned_words_files:
            found = _url_word_hits(tokens, url_text, load_word_list(self.banned_words_files))
            doc.scores["url_banned_words"] = float(len(found))
            if found:
                return "banned_url_word"
        if self.soft_banned_words_files:
            found = _url_word_hits(tokens, url_text, load_word_list(self.soft_banned_words_files))
            doc.scores["url_soft_banned_words"] = float(len(found))
            if len(found) >= self.min_soft_banned_words:
                return "soft_banned_url_words"
        return None


def _url_word_hits(tokens: list[str], url_text: str, wl: _WordList) -> set[str]:
    _, hits = _match_tokens(tokens, wl)
    hits |= _match_patterns(url_text, wl)[1]
    for toks in wl.multi.values():  # squashed multi-word entries as a single URL word
        for entry in toks:
            if "".join(entry) in tokens:
                hits.add(" ".join(entry))
    return hits


# ============================================================================================
# word_filter_v1
# ============================================================================================


@dataclass
@register("word_filter_v1")
class WordFilter:
    """Drops documents where more than ``max_ratio`` of the words are on a bad-word list.

    Matching is case-insensitive on whole words (``[^\\W_]+`` tokens), so "Scunthorpe", "Essex"
    and "assassin" never match "cunt", "sex", "ass"; multi-word entries ("barely legal") match as
    consecutive words; entries with punctuation or symbols ("s&m", "g-spot", an emoji) match as
    written (with word boundaries where they begin/end with a letter), not as "s m".
    ``bad_word_ratio`` = words covered by matches / all words.

    Default ``max_ratio=0.02`` (more than 2 words in 100). C4 dropped a page on *any* LDNOOBW hit
    (``max_ratio: 0``). Measured with LDNOOBW: any-hit drops 23% of WikiText-2 articles, 7% of the
    DCLM pages humans rated *good*, 25% of arXiv papers and stdlib modules ("sex", "nude",
    "escort", "domination", "xxx" placeholders). At 0.02 it drops no WikiText-2 article and none
    of ~1,000 real extracted web pages (max 0.017), 1 of 120 good DCLM pages (a news item on a
    paedophile's arrest, 0.0204), and 4 of 30 webtext chat/forum samples (max 0.035). Ratio
    thresholds are the BigScience/data-juicer practice. Reason ``bad_words``.
    """

    word_files: tuple[str, ...] = ()
    max_ratio: float = 0.02
    changes_text: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.word_files:
            raise ValueError("word_filter_v1 needs word_files")
        if not 0.0 <= self.max_ratio <= 1.0:
            raise ValueError(f"max_ratio must be in [0, 1], got {self.max_ratio}")
        try:  # read now (cached per process): a bad path fails on the driver, not on every document
            load_word_list(self.word_files)
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read a word list: {exc}") from None

    def __call__(self, doc: Document) -> str | None:
        wl = load_word_list(self.word_files)
        text = doc.text or ""
        tokens = _tokens(text)
        covered, _ = _match_tokens(tokens, wl)
        covered += _match_patterns(text.casefold(), wl)[0]
        # An emoji entry is not a word of `tokens`: cap so symbol-only texts read as 1.0.
        ratio = min(1.0, covered / max(1, len(tokens)))
        doc.scores["bad_word_ratio"] = round(ratio, 6)
        if covered and ratio > self.max_ratio:
            return "bad_words"
        return None


# ============================================================================================
# pii_mask_v1
# ============================================================================================

# The look-behinds make each match start only at the beginning of a run, which keeps the scan
# linear on hostile input (a 10 MB line of word characters has a single candidate start).
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# Dotted quads not glued to other digits/dots/letters: "1.2.3.4.5", "v1.2.3.4", "1.2.3.4a" are
# not addresses; a trailing sentence period is allowed ("... at 8.8.4.4.").
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\w)")
# IPv6 candidates: hex groups with at least two colons; validated by ipaddress below (so times
# "12:30:45" and MAC addresses do not parse; C++ "a::b" parses but lies outside 2000::/3).
_IPV6_UNICAST = ipaddress.ip_network("2000::/3")  # all allocated global unicast; "a::b" is not in it
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


@dataclass
@register("pii_mask_v1")
class PIIMask:
    """Replaces e-mail addresses and IP addresses in ``doc.text`` with placeholders; never drops.

    Which IPs: only *global* (publicly routable) addresses, as decided by :mod:`ipaddress`.
    Private (192.168.0.1, 10.x), loopback (127.0.0.1), unspecified (0.0.0.0), link-local,
    multicast, broadcast and documentation ranges (192.0.2.x, 2001:db8::) identify no one and are
    common in technical text (router and server configuration), so they stay. ``keep_ips`` lists
    public addresses that are not personal either (public DNS resolvers). Invalid quads
    (999.1.1.1, leading zeros) and version numbers (1.2.3, v1.2.3.4) are not addresses.

    Scores: ``pii_emails``, ``pii_ips`` (how many were masked).
    """

    mask_emails: bool = True
    mask_ips: bool = True
    email_placeholder: str = "<EMAIL>"
    ip_placeholder: str = "<IP>"
    keep_ips: tuple[str, ...] = ("8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "2001:4860:4860::8888", "2606:4700:4700::1111")
    changes_text: ClassVar[bool] = True

    def __call__(self, doc: Document) -> str | None:
        text = doc.text or ""
        emails = ips = 0
        if self.mask_emails and "@" in text:
            text, emails = _EMAIL.subn(self.email_placeholder, text)
        if self.mask_ips:
            keep = frozenset(self.keep_ips)
            counter = [0]

            def repl(m: re.Match[str]) -> str:
                candidate = m.group()
                try:
                    addr = ipaddress.ip_address(candidate)
                except ValueError:
                    return candidate
                if not addr.is_global or candidate in keep or str(addr) in keep:
                    return candidate
                if addr.version == 6 and addr not in _IPV6_UNICAST:
                    return candidate
                counter[0] += 1
                return self.ip_placeholder

            if "." in text:
                text = _IPV4.sub(repl, text)
            if "::" in text or text.count(":") >= 7:
                text = _IPV6.sub(repl, text)
            ips = counter[0]
        if emails or ips:
            doc.text = text
        doc.scores["pii_emails"] = float(emails)
        doc.scores["pii_ips"] = float(ips)
        return None
