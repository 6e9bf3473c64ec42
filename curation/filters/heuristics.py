"""Heuristic quality filters: Gopher quality + repetition, C4 line/document rules, FineWeb's extras.

The rules, their order and their default thresholds are datatrove's (FineWeb's pipeline), and
``find_duplicates`` and the constant lists are imported from datatrove, not copied. What differs:

* **n-gram repetition** (``find_top_duplicate``, ``find_all_duplicate``): the same integers from
  curation/filters/repetition.py, which counts n-grams as integer rows and hashed substrings instead
  of building a string per n-gram (those were ~40% of annotate's time), and falls back to datatrove's
  own function on a hash collision.
* **Every metric is recorded as a score** (``gopher_n_words``, ``gopher_alpha_words_ratio``, …), not
  only the yes/no, so thresholds can be re-tuned afterwards with a DuckDB query.
* **Word tokenisation**: datatrove spends most of its filter time in spaCy's tokenizer (a spaCy
  pipeline per call). We apply spaCy's English tokenizer rules with ``re`` (prefix/suffix/infix
  regexes and its exception table; see the tokenizer section), cache each distinct
  whitespace-separated chunk, and share the result between the steps of one document. Decision
  parity with datatrove is measured by bench/filter_parity.py.
* **C4 sentence counting** replays spaCy's Sentencizer rule over those tokens, and stops once
  ``min_num_sentences`` is reached (the rule only compares it).
* **Languages without spaces** (ja, zh, th, …): each CJK/Thai character counts as a word and the
  rules that assume space-separated words (average word length, English stop words) are skipped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, ELLIPSIS, END_PUNCTUATION, POLICY_SUBSTRINGS
from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

from curation.filters.repetition import NGramIndex
from curation.filters.steps import register
from curation.schema import Document

#: Languages whose words are not separated by spaces.
UNSPACED_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo", "wuu", "yue"})

# --------------------------------------------------------------------------------------------
# Word tokenizer
#
# Parity fix (bench/filter_parity.py): the first version used one ad-hoc regex over the whole text
# (``\w+`` runs, punctuation runs as one token, any ``'s/'re/'ll/'d/'m`` split off). Its counts
# drifted from datatrove's spaCy tokens exactly where the Gopher rules are decided: ``!!!`` was one
# non-alpha token where spaCy has three, ``l'université``/``O'Neil``/``COVID-19``/``a/b``
# were split, ``Dr.``/``J.`` lost their period, combining marks (Bengali, Hindi vowel signs) became
# punctuation tokens, ``im``/``dont`` (spaCy: ``i m``/``do nt``) stayed whole, and CJK commas
# split runs spaCy keeps. It now applies spaCy's English tokenizer *rules* with ``re``: split on
# whitespace, then per chunk peel prefixes and suffixes, keep special cases and URLs whole, split
# the rest at infixes (spaCy's ``Tokenizer._split_affixes``/``_attach_tokens`` loop). The rule
# tables below are spaCy's (``spacy/lang/char_classes.py``, ``lang/punctuation.py``,
# ``lang/en/tokenizer_exceptions.py``, MIT); spaCy itself is not imported (2.5 s, and the
# pipeline is what made datatrove slow). Chunks repeat (Zipf), so each distinct chunk is split
# once and cached.

_PUNCT = "… …… , : ; ! ? ¿ ؟ ¡ ( ) [ ] { } < > _ # * & 。 ？ ！ ， 、 ； ： ～ · । ، ۔ ؛ ٪".split()
_QUOTES = "' \" ” “ ` ‘ ´ ’ ‚ , „ » « 「 」 『 』 （ ） 〔 〕 【 】 《 》 〈 〉 〈 〉 ⟦ ⟧".split()
_CURRENCY = "$ £ € ¥ ฿ US$ C$ A$ ₽ ﷼ ₴ ₠ ₡ ₢ ₣ ₤ ₥ ₦ ₧ ₨ ₩ ₪ ₫ € ₭ ₮ ₯ ₰ ₱ ₲ ₳ ₴ ₵ ₶ ₷ ₸ ₹ ₺ ₻ ₼ ₽ ₾ ₿".split()
_UNITS = (
    "km km² km³ m m² m³ dm dm² dm³ cm cm² cm³ mm mm² mm³ ha µm nm yd in ft kg g mg µg t lb oz m/s km/h kmh mph "
    "hPa Pa mbar mb MB kb KB gb GB tb TB T G M K % км км² км³ м м² м³ дм дм² дм³ см см² см³ мм мм² мм³ нм кг г "
    "мг м/с км/ч кПа Па мбар Кб КБ кб Мб МБ мб Гб ГБ гб Тб ТБ тбكم كم² كم³ م م² م³ سم سم² سم³ مم مم² مم³ كم "
    "غرام جرام جم كغ ملغ كوب اكواب"
).split()
_HYPHENS = "- – — -- --- —— ~".split()
# Unicode "So" symbols as spaCy lists them (emoji, dingbats, box drawing; not ©, °, →).
_ICONS = (
    r"\u00A6\u00A9\u00AE\u00B0\u0482\u058D\u058E\u060E\u060F\u06DE\u06E9\u06FD\u06FE\u07F6\u09FA\u0B70"
    r"\u0BF3-\u0BF8\u0BFA\u0C7F\u0D4F\u0D79\u0F01-\u0F03\u0F13\u0F15-\u0F17\u0F1A-\u0F1F\u0F34"
    r"\u0F36\u0F38\u0FBE-\u0FC5\u0FC7-\u0FCC\u0FCE\u0FCF\u0FD5-\u0FD8\u109E\u109F\u1390-\u1399"
    r"\u1940\u19DE-\u19FF\u1B61-\u1B6A\u1B74-\u1B7C\u2100\u2101\u2103-\u2106\u2108\u2109\u2114\u2116"
    r"\u2117\u211E-\u2123\u2125\u2127\u2129\u212E\u213A\u213B\u214A\u214C\u214D\u214F\u218A\u218B"
    r"\u2195-\u2199\u219C-\u219F\u21A1\u21A2\u21A4\u21A5\u21A7-\u21AD\u21AF-\u21CD\u21D0\u21D1\u21D3"
    r"\u21D5-\u21F3\u2300-\u2307\u230C-\u231F\u2322-\u2328\u232B-\u237B\u237D-\u239A\u23B4-\u23DB"
    r"\u23E2-\u2426\u2440-\u244A\u249C-\u24E9\u2500-\u25B6\u25B8-\u25C0\u25C2-\u25F7\u2600-\u266E"
    r"\u2670-\u2767\u2794-\u27BF\u2800-\u28FF\u2B00-\u2B2F\u2B45\u2B46\u2B4D-\u2B73\u2B76-\u2B95"
    r"\u2B98-\u2BC8\u2BCA-\u2BFE\u2CE5-\u2CEA\u2E80-\u2E99\u2E9B-\u2EF3\u2F00-\u2FD5\u2FF0-\u2FFB"
    r"\u3004\u3012\u3013\u3020\u3036\u3037\u303E\u303F\u3190\u3191\u3196-\u319F\u31C0-\u31E3"
    r"\u3200-\u321E\u322A-\u3247\u3250\u3260-\u327F\u328A-\u32B0\u32C0-\u32FE\u3300-\u33FF\u4DC0-\u4DFF"
    r"\uA490-\uA4C6\uA828-\uA82B\uA836\uA837\uA839\uAA77-\uAA79\uFDFD\uFFE4\uFFE8\uFFED\uFFEE\uFFFC"
    r"\uFFFD\U00010137-\U0001013F\U00010179-\U00010189\U0001018C-\U0001018E\U00010190-\U0001019B"
    r"\U000101A0\U000101D0-\U000101FC\U00010877\U00010878\U00010AC8\U0001173F\U00016B3C-\U00016B3F"
    r"\U00016B45\U0001BC9C\U0001D000-\U0001D0F5\U0001D100-\U0001D126\U0001D129-\U0001D164"
    r"\U0001D16A-\U0001D16C\U0001D183\U0001D184\U0001D18C-\U0001D1A9\U0001D1AE-\U0001D1E8"
    r"\U0001D200-\U0001D241\U0001D245\U0001D300-\U0001D356\U0001D800-\U0001D9FF\U0001DA37-\U0001DA3A"
    r"\U0001DA6D-\U0001DA74\U0001DA76-\U0001DA83\U0001DA85\U0001DA86\U0001ECAC\U0001F000-\U0001F02B"
    r"\U0001F030-\U0001F093\U0001F0A0-\U0001F0AE\U0001F0B1-\U0001F0BF\U0001F0C1-\U0001F0CF"
    r"\U0001F0D1-\U0001F0F5\U0001F110-\U0001F16B\U0001F170-\U0001F1AC\U0001F1E6-\U0001F202"
    r"\U0001F210-\U0001F23B\U0001F240-\U0001F248\U0001F250\U0001F251\U0001F260-\U0001F265"
    r"\U0001F300-\U0001F3FA\U0001F400-\U0001F6D4\U0001F6E0-\U0001F6EC\U0001F6F0-\U0001F6F9"
    r"\U0001F700-\U0001F773\U0001F780-\U0001F7D8\U0001F800-\U0001F80B\U0001F810-\U0001F847"
    r"\U0001F850-\U0001F859\U0001F860-\U0001F887\U0001F890-\U0001F8AD\U0001F900-\U0001F90B"
    r"\U0001F910-\U0001F93E\U0001F940-\U0001F970\U0001F973-\U0001F976\U0001F97A\U0001F97C-\U0001F9A2"
    r"\U0001F9B0-\U0001F9B9\U0001F9C0-\U0001F9C2\U0001F9D0-\U0001F9FF\U0001FA60-\U0001FA6D"
)
# Scripts spaCy counts as letters that are both "upper" and "lower" case (no case distinction).
_UNCASED = (  # Ethiopic, Bengali, Hebrew, Arabic/Persian, Sinhala, Devanagari, Kannada, Tamil, Telugu, Hangul, kana, CJK
    r"\u1200-\u137F\u0980-\u09FF\u0591-\u05F4\uFB1D-\uFB4F"
    r"\u0620-\u064A\u066E-\u06D5\u06E5-\u06FF\u0750-\u077F\u08A0-\u08BD"
    r"\uFB50-\uFBB1\uFBD3-\uFD3D\uFD50-\uFDC7\uFDF0-\uFDFB\uFE70-\uFEFC\U0001EE00-\U0001EEBB"
    r"\u0D80-\u0DFF\u0900-\u097F\u0C80-\u0CFF\u0B80-\u0BFF\u0C00-\u0C7F\uAC00-\uD7AF\u1100-\u11FF"
    r"\u3040-\u309F\u30A0-\u30FFー"
    r"\u4E00-\u62FF\u6300-\u77FF\u7800-\u8CFF\u8D00-\u9FFF\u3400-\u4DBF"
    r"\U00020000-\U000215FF\U00021600-\U000230FF\U00023100-\U000245FF"
    r"\U00024600-\U000260FF\U00026100-\U000275FF\U00027600-\U000290FF"
    r"\U00029100-\U0002A6DF\U0002A700-\U0002B73F\U0002B740-\U0002B81F"
    r"\U0002B820-\U0002CEAF\U0002CEB0-\U0002EBEF\u2E80-\u2EFF\u2F00-\u2FDF"
    r"\u2FF0-\u2FFF\u3000-\u303F\u31C0-\u31EF\u3200-\u32FF\u3300-\u33FF"
    r"\uF900-\uFAFF\uFE30-\uFE4F\U0001F200-\U0001F2FF\U0002F800-\U0002FA1F"
)
# Cased letters spaCy knows: Latin (all extensions, fullwidth, phonetic), Greek, Cyrillic.
_CASED_BLOCKS = ((0x41, 0x2AF), (0x370, 0x3FF), (0x400, 0x4FF), (0x1D00, 0x1DBF), (0x1E00, 0x1EFF),
                 (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xAB30, 0xAB6F), (0xFF21, 0xFF5A))


def _char_class(pred) -> str:
    chars = [chr(c) for lo, hi in _CASED_BLOCKS for c in range(lo, hi + 1) if pred(chr(c))]
    return "".join(re.escape(c) for c in chars)


_LOWER = _char_class(str.islower) + _UNCASED
_UPPER = _char_class(str.isupper) + _UNCASED
_ALPHA = _LOWER + _UPPER
_Q = "".join(re.escape(q) for q in _QUOTES)
_P = "".join(re.escape(p) for p in _PUNCT) + re.escape("|(?:)")  # spaCy pastes an alternation into a class
_alt = "|".join


def _esc(items):
    return [re.escape(i) for i in items]


# spaCy joins its affix rules into one alternation (``^p1|^p2|...``, ``s1$|s2$|...``). Here the
# one-character rules are one character class: the same matches (a prefix's first character picks
# the only rule that can match; every suffix match ends at the end), without trying ~100 branches.
def _ONE(items):
    return "".join(re.escape(i) for i in items if len(i) == 1)


_PREFIX = re.compile(
    rf"^(?:[§%=—–{_ONE(_PUNCT + _QUOTES + _CURRENCY)}{_ICONS}]|\+(?![0-9])|\.\.+|"
    + _alt(_esc(c for c in _PUNCT + _CURRENCY if len(c) > 1)) + ")"
).search
_SUFFIX = re.compile(
    rf"(?:[{_ONE(_PUNCT + _QUOTES)}{_ICONS}—–]|\.\.+|{_alt(_esc(c for c in _PUNCT if len(c) > 1))}|'s|'S|’s|’S"
    rf"|(?<=[0-9])\+|(?<=°[FfCcKk])\.|(?<=[0-9])(?:{_alt(_esc(_CURRENCY))})|(?<=[0-9])(?:{_alt(_esc(_UNITS))})"
    rf"|(?<=[0-9{_LOWER}%²\-\+{_P}{_Q}])\.|(?<=[{_UPPER}][{_UPPER}])\.)$"
).search
_INFIX = re.compile(_alt([
    r"\.\.+", "…", f"[{_ICONS}]", r"(?<=[0-9])[+\-\*^](?=[0-9-])", rf"(?<=[{_LOWER}{_Q}])\.(?=[{_UPPER}{_Q}])",
    rf"(?<=[{_ALPHA}]),(?=[{_ALPHA}])", rf"(?<=[{_ALPHA}0-9])(?:{_alt(_esc(_HYPHENS))})(?=[{_ALPHA}])",
    rf"(?<=[{_ALPHA}0-9])[:<>=/](?=[{_ALPHA}])"])).finditer
# spaCy's URL_MATCH (after Diego Perini's URL regex, MIT): such a chunk is not split at infixes.
_URL = re.compile(
    r"^(?:(?:[\w\+\-\.]{2,})://)?(?:\S+(?::\S*)?@)?(?:(?!(?:10|127)(?:\.\d{1,3}){3})"
    r"(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
    r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
    r"|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    rf"(?:[{_LOWER}]{{2,63}}))(?::\d{{2,5}})?(?:[/?#]\S*)?$"
).match


def _special_cases() -> dict[str, tuple[str, ...]]:
    """spaCy's English tokenizer exceptions: chunks kept whole or split in a fixed way."""
    single = (  # kept as one token (abbreviations keep their period, emoticons are not split)
        r"""' '' 'Cause 'Cos 'Coz 'Cuz 'S 'bout 'cause 'cos 'coz 'cuz 'd 'em 'll 'nuff 're 's (*_*) (-8 (-: (-;
        (-_-) (._.) (: (; (= (>_<) (^_^) (o: (¬_¬) (ಠ_ಠ) (╯°□°）╯︵┻━┻ )-: ): -_- -__- ._. 0.0 0.o 0_0 0_o 8) 8-) 8-D
        8D :'( :') :'-( :'-) :( :(( :((( :() :) :)) :))) :* :-( :-(( :-((( :-) :-)) :-))) :-* :-/ :-0 :-3 :-> :-D
        :-O :-P :-X :-] :-o :-p :-x :-| :-} :/ :0 :1 :3 :> :D :O :P :X :] :o :o) :p :x :| :} :’( :’) :’-( :’-) ;)
        ;-) ;-D ;D ;_; <.< </3 <3 <33 <333 <space> =( =) =/ =3 =D =[ =] =| >.< >.> >:( >:o ><(((*> @_@ Adm. Ak.
        Ala. Apr. Ariz. Ark. Aug. Bros. C++ Calif. Co. Colo. Conn. Corp. D.C. Dec. Del. Doin Doin' Doin’ Dr. E.G.
        E.g. Feb. Fla. Ga. Gen. Goin Goin' Goin’ Gov. Havin Havin' Havin’ I.E. I.e. Ia. Id. Ill. Inc. Ind. Jan.
        Jr. Jul. Jun. Kan. Kans. Ky. La. Lovin Lovin' Lovin’ Ltd. Ma'am Mar. Mass. Ma’am Md. Messrs. Mich. Minn.
        Miss. Mo. Mont. Mr. Mrs. Ms. Mt. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Nothin Nothin' Nothin’
        Nov. Nuthin Nuthin' Nuthin’ O'clock O.O O.o O_O O_o Oct. Okla. Ol Ol' Ol’ Ore. O’clock Pa. Ph.D. Prof.
        Rep. Rev. S.C. Sen. Sep. Sept. Somethin Somethin' Somethin’ St. Tenn. V.V V_V Va. Wash. Wis. XD XDD [-:
        [: [= \") \n \t ]= ^_^ ^__^ ^___^ a. a.m. and/or b. c. co. d. doin doin' doin’ e. e.g. em f. g. goin
        goin' goin’ h. havin havin' havin’ i. i.e. j. k. l. ll lovin lovin' lovin’ m. ma'am ma’am n. nothin
        nothin' nothin’ nuff nuthin nuthin' nuthin’ o'clock o. o.0 o.O o.o o_0 o_O o_o ol ol' ol’ o’clock p.
        p.m. q. r. s. somethin somethin' somethin’ t. u. v. v.s. v.v v_v vs. w. w/o x. xD xDD y. z. ¯\(ツ)/¯ ä.
        ö. ü. ಠ_ಠ ಠ︵ಠ — ‘S ‘s ’ ’Cause ’Cos ’Coz ’Cuz ’S ’bout ’cause ’cos ’coz ’cuz ’d ’em ’ll ’nuff ’re ’s ’’"""
    )
    out: dict[str, tuple[str, ...]] = {s: (s,) for s in single.split()}
    # Contractions, as "base: suffixes" (a suffix's parts joined by '+'), spaCy's generator tables;
    # spaCy adds the Title-case and ’ forms, then removes real words (its _exclude list, below).
    d, ll, nt = "'d 'd+'ve d d+ve", "'ll 'll+'ve ll ll+ve", "n't n't+'ve nt nt+ve"
    re_ve, s = "'re re 've ve", "'s s"
    table = {
        "i": f"{d} {ll} 'm 'm+a m m+a 've ve", **{p: f"{d} {ll} {re_ve}" for p in ("you", "we", "they")},
        **{p: f"{d} {ll} {s}" for p in ("he", "she", "it", "that", "this")},
        **{p: f"{d} {ll} {re_ve}" for p in ("these", "those")},
        **{p: f"{d} {ll} {s} {re_ve}" for p in ("who", "what", "when", "where", "why", "how", "there")},
        **{v: f"{nt} 've ve" for v in ("could", "might", "must", "should", "would")},
        **{v: nt for v in ("ca", "did", "does", "do", "had", "may", "need", "ought", "sha", "wo")},
        **{v: "n't nt" for v in ("ai", "are", "dare", "has", "have", "is", "was", "were")},
        "not": "'ve ve", "let": "'s", "can": "not", "gon": "na", "got": "ta", "c'm": "on",
    }
    table["how"] += " 'd+'y"
    for base, suffixes in table.items():
        for suffix in suffixes.split():
            parts = (base, *suffix.split("+"))
            for form in (parts, (base[0].upper() + base[1:], *parts[1:])):
                out["".join(form)] = form
                if "'" in "".join(form):
                    curly = tuple(p.replace("'", "’") for p in form)
                    out["".join(curly)] = curly
    for word in ("Ill", "ill", "Its", "its", "Hell", "hell", "Shell", "shell", "Shed", "shed", "were", "Were",
                 "Well", "well", "Whore", "whore"):  # spaCy's _exclude: real words, not contractions
        out.pop(word, None)
    out.update({"y'all": ("y'", "all"), "y’all": ("y’", "all"), "yall": ("y", "all")})
    for h in range(1, 13):
        for ampm in ("am", "pm", "a.m.", "p.m."):
            out[f"{h}{ampm}"] = (str(h), ampm)
    for deg in "CFKcfk":
        out[f"°{deg}."] = ("°", deg, ".")
    return out


_SPECIAL = _special_cases()
_CHUNKS: dict[str, tuple[str, ...]] = {}
_CHUNK_CACHE_MAX = 200_000
#: Longer whitespace-free runs (base64, minified code, a 10 MB line of "!") are one token: the affix
#: loop is quadratic in the chunk length, and such a run is junk whichever way it is split.
_MAX_CHUNK = 1000


def _find_suffix(s: str) -> int:
    """Length of spaCy's suffix match; searched in the last 32 characters (suffixes are short and
    look back at most 2 characters), the whole string only when a run of dots fills that window."""
    w = s[-32:]
    m = _SUFFIX(w)
    if m and m.start() == 0 and len(s) > 32:
        m = _SUFFIX(s)
    return m.end() - m.start() if m else 0


def _split_chunk(chunk: str, specials: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """spaCy's per-chunk loop: prefixes and suffixes off, special cases whole, infixes split."""
    specials = _SPECIAL if specials is None else specials
    special = specials.get(chunk)
    if special is not None:
        return special
    if chunk.isalpha() or chunk.isdecimal() or len(chunk) > _MAX_CHUNK:
        return (chunk,)  # no prefix, suffix or infix rule applies to letters only or digits only
    prefixes: list[str] = []
    suffixes: list[str] = []
    s, last = chunk, -1
    while s and len(s) != last:
        if s in specials:
            break
        last = len(s)
        m = _PREFIX(s)
        pre = m.end() if m else 0
        if pre and s[pre:] in specials:
            prefixes.append(s[:pre])
            s = s[pre:]
            break
        suf = _find_suffix(s[pre:])
        if suf and s[:-suf] in specials:
            suffixes.append(s[-suf:])
            s = s[:-suf]
            break
        if pre and suf and pre + suf <= len(s):
            prefixes.append(s[:pre])
            suffixes.append(s[-suf:])
            s = s[pre:-suf]
        elif pre:
            prefixes.append(s[:pre])
            s = s[pre:]
        elif suf:
            suffixes.append(s[-suf:])
            s = s[:-suf]
    out = prefixes
    if s:
        special = specials.get(s)
        if special is not None:
            out.extend(special)
        elif _URL(s):
            out.append(s)
        else:
            start = 0
            for m in _INFIX(s):
                a, b = m.span()
                if a == 0:  # spaCy skips an infix at the very start
                    continue
                if a != start:
                    out.append(s[start:a])
                if a != b:
                    out.append(s[a:b])
                start = b
            if s[start:]:
                out.append(s[start:])
    out.extend(reversed(suffixes))
    if len(out) > 1 and specials:
        out = _merge_specials(out)
    return tuple(out)


def _affix_specials() -> dict[tuple[str, ...], str]:
    """Special cases that the affix rules would split (``:)``, ``C++``), by their split."""
    out = {}
    for text in _SPECIAL:
        pieces = _split_chunk(text, {})
        if len(pieces) > 1:
            out[pieces] = text
    return out


def _merge_specials(toks: list[str]) -> list[str]:
    """spaCy's special-case matcher: ``word:)`` is ``word :)``, not ``word : )``."""
    if _AFFIX_FIRST.isdisjoint(toks):
        return toks
    merged: list[str] = []
    i = 0
    while i < len(toks):
        for n in range(min(_AFFIX_SPECIAL_MAX, len(toks) - i), 1, -1):
            text = _AFFIX_SPECIALS.get(tuple(toks[i : i + n]))
            if text is not None:
                merged.extend(_SPECIAL[text])
                i += n
                break
        else:
            merged.append(toks[i])
            i += 1
    return merged


_AFFIX_SPECIALS = _affix_specials()
_AFFIX_SPECIAL_MAX = max(map(len, _AFFIX_SPECIALS))
_AFFIX_FIRST = frozenset(p[0] for p in _AFFIX_SPECIALS)


def _tokenize(text: str) -> list[str]:
    out: list[str] = []
    cache = _CHUNKS
    for chunk in text.split():
        toks = cache.get(chunk)
        if toks is None:
            if len(cache) >= _CHUNK_CACHE_MAX:
                cache.clear()
            toks = cache[chunk] = _split_chunk(chunk)
        out += toks
    return out


_UNSPACED_CHAR = re.compile(r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: spaCy's Sentencizer ends a sentence at these tokens (its default_punct_chars; datatrove's set
#: adds 31 rare-script marks).
_SENTENCE_PUNCT = frozenset(TERMINAL_PUNCTUATION)
_WHITESPACE_RUNS = re.compile(r"(\s+)")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")

_last: tuple[int, str, bool, list[str]] | None = None


def words(text: str, lang: str | None = None) -> list[str]:
    """Word tokens; the last result is cached because several steps tokenise the same text."""
    global _last
    unspaced = lang in UNSPACED_LANGUAGES
    if _last is not None and _last[0] == id(text) and _last[1] is text and _last[2] == unspaced:
        return _last[3]
    out = _tokenize(text)
    if unspaced:
        out = [piece for tok in out for piece in (_split_unspaced(tok) if _UNSPACED_CHAR.search(tok) else [tok])]
    _last = (id(text), text, unspaced, out)
    return out


def _split_unspaced(token: str) -> list[str]:
    return [c for c in re.findall(r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", token)]


def _count_sentences(line: str) -> int:
    """Sentences in one line as datatrove counts them (spaCy's Sentencizer over spaCy's tokens).

    Parity fix: the first version counted runs of ``.!?`` followed by a space, so a line whose last
    sentence has no final stop ("Home. About us") counted 1 instead of 2, and "U.S." or "Dr." ended
    sentences. The Sentencizer starts a new sentence at the first token after a ``.!?``-token that
    is not punctuation itself; spaCy also makes a token of every whitespace run other than one
    space, which can start a sentence too.
    """
    n, seen_end = 1, False
    for i, piece in enumerate(_WHITESPACE_RUNS.split(line)):
        if not piece:
            continue
        for tok in _tokenize(piece) if i % 2 == 0 else (() if piece == " " else (piece,)):
            if tok in _SENTENCE_PUNCT:
                seen_end = True
            elif seen_end and not all(unicodedata.category(c).startswith("P") for c in tok):
                n += 1
                seen_end = False
    return n


def _is_unspaced(doc: Document) -> bool:
    return doc.lang in UNSPACED_LANGUAGES


@register("gopher_quality_v1")
@dataclass
class GopherQuality:
    """Gopher quality rules (Rae et al. 2021, Table A1), datatrove's order and defaults."""

    changes_text: ClassVar[bool] = False
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = 0.8  # datatrove's name: minimum share of words with a letter
    min_stop_words: int | None = 2
    #: Stop words per language; languages not listed skip the stop-word rule.
    stop_words: dict[str, list[str]] | None = None

    def __call__(self, doc: Document) -> str | None:
        text = doc.text
        toks = words(text, doc.lang)
        n_words = len(toks)
        content = [w for w in toks if any(ch not in PUNCTUATION_SET for ch in w)]
        n_content = len(content)
        s = doc.scores
        s["gopher_n_words"] = float(n_content)
        if not n_words or not n_content:
            return "no_words"
        avg_len = sum(len(w) for w in content) / n_content
        lines = text.splitlines() or [""]
        hash_ratio = text.count("#") / n_words
        ellipsis_ratio = (text.count("...") + text.count("…")) / n_words
        bullet_ratio = sum(ln.lstrip().startswith(("•", "-")) for ln in lines) / len(lines)
        end_ellipsis_ratio = sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines)
        alpha_ratio = sum(any(c.isalpha() for c in w) for w in toks) / n_words
        s.update(gopher_avg_word_length=avg_len, gopher_hash_ratio=hash_ratio, gopher_ellipsis_ratio=ellipsis_ratio,
                 gopher_bullet_lines_ratio=bullet_ratio, gopher_end_ellipsis_lines_ratio=end_ellipsis_ratio,
                 gopher_alpha_words_ratio=alpha_ratio)
        stops = self._stop_words(doc.lang)
        if stops is not None:
            s["gopher_stop_words"] = float(len(stops.intersection(toks)))

        if self.min_doc_words and n_content < self.min_doc_words:
            return "too_few_words"
        if self.max_doc_words and n_content > self.max_doc_words:
            return "too_many_words"
        if not _is_unspaced(doc):
            if self.min_avg_word_length and avg_len < self.min_avg_word_length:
                return "short_words"
            if self.max_avg_word_length and avg_len > self.max_avg_word_length:
                return "long_words"
        if self.max_symbol_word_ratio and hash_ratio > self.max_symbol_word_ratio:
            return "too_many_hashes"
        if self.max_symbol_word_ratio and ellipsis_ratio > self.max_symbol_word_ratio:
            return "too_many_ellipsis"
        if self.max_bullet_lines_ratio and bullet_ratio > self.max_bullet_lines_ratio:
            return "too_many_bullets"
        if self.max_ellipsis_lines_ratio and end_ellipsis_ratio > self.max_ellipsis_lines_ratio:
            return "too_many_end_ellipsis"
        if self.max_non_alpha_words_ratio and alpha_ratio < self.max_non_alpha_words_ratio:
            return "too_few_alpha_words"
        if self.min_stop_words and stops is not None and s["gopher_stop_words"] < self.min_stop_words:
            return "too_few_stop_words"
        return None

    def _stop_words(self, lang: str | None) -> set[str] | None:
        table = self.stop_words if self.stop_words is not None else {"en": STOP_WORDS}
        # Untagged documents (no language ID ran) are treated as English, as datatrove does.
        found = table.get(lang or "en")
        return set(found) if found is not None else None


@register("gopher_repetition_v1")
@dataclass
class GopherRepetition:
    """Gopher repetition rules: duplicate lines/paragraphs and repeated n-grams (character shares)."""

    changes_text: ClassVar[bool] = False
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: dict[int, float] | None = None  # default {2: 0.2, 3: 0.18, 4: 0.16}
    dup_n_grams: dict[int, float] | None = None  # default {5: 0.15, 6: 0.14, ..., 10: 0.10}

    def __call__(self, doc: Document) -> str | None:
        text = doc.text
        if not text:
            return "no_text"
        s = doc.scores
        n_chars = len(text)
        paragraphs = _PARAGRAPHS.split(text.strip())
        para_dups, para_dup_chars = find_duplicates(paragraphs)
        lines = _LINES.split(text)
        line_dups, line_dup_chars = find_duplicates(lines)
        s.update(gopher_dup_para_frac=para_dups / len(paragraphs), gopher_dup_para_char_frac=para_dup_chars / n_chars,
                 gopher_dup_line_frac=line_dups / len(lines), gopher_dup_line_char_frac=line_dup_chars / n_chars)
        if self.dup_para_frac and s["gopher_dup_para_frac"] > self.dup_para_frac:
            return "dup_para_frac"
        if self.dup_para_char_frac and s["gopher_dup_para_char_frac"] > self.dup_para_char_frac:
            return "dup_para_char_frac"
        if self.dup_line_frac and s["gopher_dup_line_frac"] > self.dup_line_frac:
            return "dup_line_frac"
        if self.dup_line_char_frac and s["gopher_dup_line_char_frac"] > self.dup_line_char_frac:
            return "dup_line_char_frac"
        toks = words(text, doc.lang)
        grams = NGramIndex(toks)  # datatrove's n-gram counts, exactly, without a string per n-gram
        top = self.top_n_grams if self.top_n_grams is not None else {2: 0.2, 3: 0.18, 4: 0.16}
        for n, frac in sorted(top.items()):
            if len(toks) < n:  # no n-gram
                continue
            ratio = grams.top_duplicate_chars(n) / n_chars
            s[f"gopher_top_{n}_gram_frac"] = ratio
            if ratio > frac:
                return f"top_{n}_gram"
        dup = self.dup_n_grams if self.dup_n_grams is not None else {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
        for n, frac in sorted(dup.items()):
            ratio = grams.all_duplicate_chars(n) / n_chars
            s[f"gopher_dup_{n}_gram_frac"] = ratio
            if ratio > frac:
                return f"duplicated_{n}_n_grams"
        return None


@register("c4_quality_v1")
@dataclass
class C4Quality:
    """C4's line rules (lines are removed from the text) and document rules (the page is dropped)."""

    changes_text: ClassVar[bool] = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # -1 disables
    min_words_per_line: int = 3  # -1 disables
    max_word_length: int = 1000  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    def __call__(self, doc: Document) -> str | None:
        lines = doc.text.splitlines()
        kept: list[str] = []
        sentences = 0
        unspaced = _is_unspaced(doc)
        for line in lines:
            line = line.strip()
            # Without spaces between words, count words the way the other rules do (per character).
            toks = words(line, doc.lang) if unspaced else line.split()
            if self.max_word_length != -1 and any(len(w) > self.max_word_length for w in toks):
                continue
            if self.remove_citations:
                line = CITATION_REGEX.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)):
                continue
            if len(toks) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                return "lorem_ipsum"
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                return "curly_bracket"
            if self.filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
                continue
            if self.min_num_sentences != -1 and sentences < self.min_num_sentences:
                sentences += _count_sentences(line)
            kept.append(line)
        doc.scores["c4_lines_kept_frac"] = len(kept) / len(lines) if lines else 0.0
        doc.scores["c4_sentences"] = float(sentences)
        if sentences < self.min_num_sentences:
            return "too_few_sentences"
        doc.text = "\n".join(kept).strip()
        return None


@register("fineweb_quality_v1")
@dataclass
class FineWebQuality:
    """FineWeb's additional rules: line punctuation, short lines, duplicated line characters, list ratio."""

    changes_text: ClassVar[bool] = False
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3

    def __call__(self, doc: Document) -> str | None:
        text = doc.text
        lines = [ln for ln in text.split("\n") if ln.strip() != ""]
        if not lines:
            return "empty"
        s = doc.scores
        punct = sum(1 for ln in lines if ln.endswith(tuple(TERMINAL_PUNCTUATION))) / len(lines)
        short = sum(1 for ln in lines if len(ln) <= self.short_line_length) / len(lines)
        dup_chars = find_duplicates(lines)[1] / max(1, len(text.replace("\n", "")))
        toks = words(text, doc.lang)
        newline = text.count("\n") / max(1, len(toks))
        s.update(fineweb_line_punct_ratio=punct, fineweb_short_line_ratio=short,
                 fineweb_char_dup_ratio=dup_chars, fineweb_newline_ratio=newline)
        if punct < self.line_punct_thr and not (punct == 0 and self.line_punct_exclude_zero):
            return "line_punct_ratio"
        if short > self.short_line_thr:
            return "short_line_ratio"
        if dup_chars > self.char_duplicates_ratio:
            return "char_dup_ratio"
        if newline > self.new_line_ratio:
            return "list_ratio"
        return None
