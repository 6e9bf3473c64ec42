"""Layout tables vs data tables (issue 18): unwrap tables used for page layout before extraction.

Old sites lay whole pages out with ``<table>``: a 3-column table whose middle cell is the article,
a forum post as a table row, a login form aligned in a table. Both extractors render every
``<table>`` as a table (trafilatura: ``| cell | cell |`` rows, resiliparse: tab-separated cells), so
the page's prose came out as rows of pipes and failed the line/punctuation filters downstream
(``fineweb_quality_v1.line_punct_ratio``, the gopher rules), and the page was dropped.

:func:`unwrap_layout_tables` classifies every table of a parsed lxml tree and rewrites the *layout*
tables in place into ordinary blocks, so that every extractor sees them as text: ``<table>``,
``<thead>``/``<tbody>``/``<tfoot>``, ``<tr>`` become ``<div>``; a cell becomes ``<p>`` (one paragraph
per cell) or, when it holds block content of its own (paragraphs, lists, other tables), a ``<div>``
that keeps those blocks. Data tables are left as they are and stay tables in the output.

Rules (:func:`is_data_table`), the ones readability.js (``_markDataTables``) and boilerpipe-style
extractors use, plus two for the layouts this project met on real pages. A table is **layout** when

1. the author says so: ``role="presentation"``/``"none"`` (or readability's ``datatable="0"``);
2. it holds another table, a ``<form>`` or visible form controls: data tables do not nest, and a
   table wrapping a form only aligns its labels and fields. Except a grid (at least 10 rows, and
   header markup or three columns or more): there the controls or detail tables belong to the rows
   (a ranking with checkboxes, a book list with a rating form per row);
3. it has a single row or a single column: that is a strip or a box, not a grid;
4. most of its text (> 50 %) sits in cells that hold text blocks (two or more ``<p>``, or a list,
   heading, ``<pre>``, ``<blockquote>``, …): data cells hold values, not paragraphs. One ``<p>``
   around a cell's value is not a block: CMS editors (WordPress) write every data cell that way;
5. most of its text (> 50 %) sits in long cells (> 200 characters, ~35 words, i.e. prose) and it has
   at most two columns or no header markup: the "sidebar | article" and "label | post body"
   layouts. A header-marked table with three or more columns keeps long cells (a "Name | Type |
   Description" reference table is data).

Otherwise it is **data** when it has header markup (``<th>``, ``<thead>``, ``<tfoot>``, a non-empty
``<caption>``, ``<col>``/``<colgroup>``, a ``summary`` attribute, or ``role="table"``/``"grid"``),
or when it is a real grid without one: at least 10 rows, or more than 4 columns, or more than 10
cells (readability's size rule), or at least half its non-empty cells numbers. Anything left (a
2x2 or 2x3 box of short cells with no header) is layout: it reads as well as text.

The rules run on each extractor's own parse: lxml's for trafilatura (:func:`unwrap_layout_tables`),
lexbor's for resiliparse (:func:`unwrap_layout_tables_lexbor`), through one event walk.

Cost: one walk over the document (each element's start and end once,
attributes and text read once) and one pass over the tables' own parts to rename them: linear in the
size of the page, no recursion, so a hostile page (100k cells, tables nested hundreds deep) cannot
blow the stack or go quadratic. Text is attributed only to the innermost enclosing cell, so nested
tables are not re-counted per level. The parse itself is the caller's: it uses libxml2 without
``huge_tree`` (trafilatura's parser), which stops at depth 256; :mod:`curation.ingest.extract` skips the
rewrite on a parse that hit a libxml2 resource limit and leaves such pages to the existing checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Cells whose text is longer than this are prose (~35 English words).
LONG_CELL_CHARS = 200
#: Rules 4 and 5: share of the table's text in block / long cells above which it is a layout.
BLOCK_TEXT_SHARE = 0.5
LONG_TEXT_SHARE = 0.5
#: readability's size rule for tables without header markup.
DATA_MIN_ROWS = 10
DATA_MIN_COLS = 5
DATA_MIN_CELLS = 11
#: Share of non-empty cells that are numbers above which a headerless grid is data.
NUMERIC_SHARE = 0.5
#: colspan values are capped (hostile pages put colspan=1e9).
MAX_COLSPAN = 100
#: In a layout table, a row of several short inline cells (at most LONG_CELL_CHARS in all) becomes one
#: paragraph (cells separated by a space) rather than one paragraph per cell.
JOIN_SHORT_ROWS = True
#: Characters kept of a cell's text to test whether it is a number.
_SAMPLE_CHARS = 40

# Block content that marks a cell as holding text blocks rather than a value (rule 4). <div> is not
# in it: modern data tables wrap every cell value in a <div>.
_BLOCK_CONTENT = frozenset(
    {"p", "ul", "ol", "dl", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table"}
)
# Every element that closes an open <p> in HTML5: a cell holding any of them becomes a <div>, not a
# <p>, so that the rewritten tree serialises to HTML that an HTML5 parser (lexbor, resiliparse's)
# reads back with the same structure.
_P_CLOSERS = _BLOCK_CONTENT | frozenset(
    {"form", "address", "article", "aside", "center", "details", "dialog", "dir", "div", "dd", "dt", "fieldset",
     "figcaption", "figure", "footer", "header", "hgroup", "li", "listing", "main", "menu", "nav",
     "plaintext", "search", "section", "summary", "xmp", "noscript", "iframe", "tr", "td", "th",
     "tbody", "thead", "tfoot", "caption", "colgroup", "col"}
)
_FORM_CONTROLS = frozenset({"form", "select", "textarea", "button"})
_HEADER_PARTS = frozenset({"th", "thead", "tfoot", "col", "colgroup"})
_SECTIONS = frozenset({"thead", "tbody", "tfoot"})
# A number as a data cell shows it: 12, -3.5, 1,234, $20, 45%, 12:50, 2008-04-30, (3), 12 kg, v2.1 is not.
_NUMBER = re.compile(r"^[(+\-−–$€£¥~≈<>]*\s?\d[\d\s.,:/%'()\-–]*(?:\s?[A-Za-z%°µ]{1,3}\.?)?$")


@dataclass
class _Cell:
    elem: object
    chars: int = 0
    sample: str = ""
    blocks: int = 0  # <p> counts 1, other _BLOCK_CONTENT 2
    block: bool = False  # holds text blocks (rule 4): two paragraphs, or a list, heading, table …
    p_closer: bool = False  # holds anything that cannot sit inside a <p>


@dataclass
class TableStats:
    """What :func:`is_data_table` looks at, gathered in one pass (cells of nested tables excluded)."""

    rows: int = 0
    max_cols: int = 0
    cells: int = 0
    nonempty: int = 0
    numeric: int = 0
    chars: int = 0
    block_chars: int = 0
    long_chars: int = 0
    header: bool = False
    caption_text: bool = False
    nested_table: bool = False
    form: bool = False
    role: str = ""
    datatable_attr: str | None = None
    summary: bool = False
    # internal
    _cols: int = 0
    _cell: _Cell | None = None
    _in_caption: int = 0
    _parts: list = field(default_factory=list)  # (section/caption/col element, new tag) for the rewrite
    _rows: list = field(default_factory=list)  # (<tr> or None, [_Cell]) for the rewrite
    _selects: list = field(default_factory=list)  # <select> elements, dropped from a layout table


def is_data_table(t: TableStats) -> bool:
    """The rules of the module docstring, in order; False means layout."""
    if t.role in ("presentation", "none") or t.datatable_attr == "0":  # 1
        return False
    if (t.nested_table or t.form) and not _is_grid(t):  # 2
        return False
    if t.rows < 2 or t.max_cols < 2 or t.nonempty == 0:  # 3
        return False
    if t.block_chars > BLOCK_TEXT_SHARE * t.chars:  # 4
        return False
    header = _has_header(t)
    if t.long_chars > LONG_TEXT_SHARE * t.chars and (t.max_cols <= 2 or not header):  # 5
        return False
    if header:
        return True
    if t.rows >= DATA_MIN_ROWS or t.max_cols >= DATA_MIN_COLS or t.rows * t.max_cols >= DATA_MIN_CELLS:
        return True
    return t.numeric >= NUMERIC_SHARE * t.nonempty


def _is_grid(t: TableStats) -> bool:
    """Rule 2's exception: a grid of many rows, with header markup or three columns or more, holds
    a control or a detail table per row (checkboxes, rating widgets, expandable rows: a ranking, a
    book list, a citation list). WCXB-dev's listings lost up to 0.74 page-F1 when such grids were
    unwrapped and the extractor then dropped their rows as link lists."""
    return t.rows >= DATA_MIN_ROWS and (_has_header(t) or t.max_cols >= 3)


def _has_header(t: TableStats) -> bool:
    """Header markup, a caption, a summary or a table/grid role: the author marked a data table."""
    return t.header or t.caption_text or t.summary or t.role in ("table", "grid", "treegrid")


def _colspan(value: str | None) -> int:
    try:
        return min(max(int(value or "1"), 1), MAX_COLSPAN)
    except ValueError:
        return 1


def _add_text(tables: list[TableStats], text: str | None) -> None:
    if not text or not tables:
        return
    t = tables[-1]
    cell = t._cell
    if cell is None:
        if t._in_caption and text.strip():
            t.caption_text = True
        return
    stripped = text.strip()
    if stripped:
        # whitespace runs count as one character: indentation in the markup is not text
        cell.chars += len(stripped) + (1 if cell.chars else 0)
        if len(cell.sample) < _SAMPLE_CHARS:
            cell.sample = (cell.sample + " " + stripped)[:_SAMPLE_CHARS + 1]


def _close_cell(t: TableStats) -> None:
    cell = t._cell
    if cell is None:
        return
    t._cell = None
    t.cells += 1
    if not t._rows:
        t._rows.append((None, []))
    t._rows[-1][1].append(cell)
    if cell.chars == 0:
        return
    t.nonempty += 1
    t.chars += cell.chars
    if cell.block:
        t.block_chars += cell.chars
    if cell.chars > LONG_CELL_CHARS:
        t.long_chars += cell.chars
    if _NUMBER.match(cell.sample.strip()):
        t.numeric += 1


# The walk consumes a stream of events, so that the same rules run on lxml's tree (trafilatura's
# parse) and on lexbor's (resiliparse's), each page in its extractor's own parse:
#   ("start", node, tag, get_attribute)   ("text", text)   ("end", node, tag)
# Serialising one parse and re-parsing it with the other is no option: libxml2 nests HTML5
# sectioning elements differently, and resiliparse's main-content pass then dropped whole articles.


def lxml_events(root):
    """Events of an lxml element's subtree (iterative: :func:`lxml.etree.iterwalk`)."""
    from lxml import etree

    for event, elem in etree.iterwalk(root, events=("start", "end")):
        tag = elem.tag
        if not isinstance(tag, str):  # comment or processing instruction: only its tail is text
            if event == "end" and elem.tail:
                yield ("text", elem.tail)
            continue
        if event == "start":
            yield ("start", elem, tag.lower(), elem.get)
            if elem.text:
                yield ("text", elem.text)
        else:
            yield ("end", elem, tag.lower())
            if elem.tail:
                yield ("text", elem.tail)


def lexbor_events(root):
    """Events of a resiliparse (lexbor) node's subtree, walked iteratively (first_child/next/parent)."""
    from resiliparse.parse.html import NodeType

    element, text = NodeType.ELEMENT, NodeType.TEXT
    node = root
    while node is not None:
        kind = node.type
        if kind == element:
            tag = node.tag
            yield ("start", node, tag, node.getattr)
            child = node.first_child
            if child is not None:
                node = child
                continue
            yield ("end", node, tag)
        elif kind == text:
            yield ("text", node.text)
        elif node == root and (child := node.first_child) is not None:  # the document node itself
            node = child
            continue
        # next sibling, or climb (closing elements) until one has a next sibling
        while node is not None:
            if node == root:
                return
            nxt = node.next
            if nxt is not None:
                node = nxt
                break
            node = node.parent
            if node is not None and node.type == element:
                yield ("end", node, node.tag)
        else:
            return


def classify_tables(root, events=None) -> list[tuple[object, TableStats]]:
    """``(table node, stats)`` for every ``<table>`` under ``root``, in document order.

    ``root`` is an lxml element (default) or, with ``events=lexbor_events``, a resiliparse node.
    """
    out: list[tuple[object, TableStats]] = []
    tables: list[TableStats] = []  # the open tables, innermost last
    for ev in (events or lxml_events)(root):
        kind = ev[0]
        if kind == "text":
            _add_text(tables, ev[1])
            continue
        if kind == "start":
            _, elem, tag, get = ev
            if tables:
                t = tables[-1]
                cell = t._cell
                if cell is not None:
                    if tag in _BLOCK_CONTENT:
                        # one <p> wrapping a cell's value is how CMS tables are written; two blocks,
                        # or a list, heading, table … are text blocks
                        cell.blocks += 1 if tag == "p" else 2
                        cell.block = cell.blocks >= 2
                    if tag in _P_CLOSERS:
                        cell.p_closer = True
                if tag == "table":
                    t.nested_table = True
                elif tag in _FORM_CONTROLS or (tag == "input" and (get("type") or "").lower() != "hidden"):
                    t.form = True
                    if tag == "select":
                        t._selects.append(elem)
                elif tag == "tr":
                    _close_cell(t)
                    t.rows += 1
                    t._cols = 0
                    t._rows.append((elem, []))
                elif tag in ("td", "th"):
                    _close_cell(t)
                    if t.rows == 0:  # a cell outside any <tr> starts the first row
                        t.rows = 1
                        t._rows.append((None, []))
                    t._cols += _colspan(get("colspan"))
                    t.max_cols = max(t.max_cols, t._cols)
                    t._cell = _Cell(elem)
                    if tag == "th":
                        t.header = True
                elif tag in _SECTIONS or tag in ("col", "colgroup", "caption"):
                    t._parts.append((elem, "p" if tag == "caption" else "div"))
                    if tag in _HEADER_PARTS:
                        t.header = True
                    elif tag == "caption":
                        t._in_caption += 1
            if tag == "table":
                t = TableStats(role=(get("role") or "").strip().lower(), datatable_attr=get("datatable"),
                               summary=bool((get("summary") or "").strip()))
                tables.append(t)
                out.append((elem, t))
        else:
            _, elem, tag = ev
            if tag == "table" and tables:
                _close_cell(tables.pop())
            elif tables:
                t = tables[-1]
                if tag in ("td", "th") and t._cell is not None and t._cell.elem == elem:
                    _close_cell(t)
                elif tag == "caption" and t._in_caption:
                    t._in_caption -= 1
    return out


def _drop_keeping_tail(elem) -> None:
    parent = elem.getparent()
    if parent is None:
        return
    if elem.tail:
        prev = elem.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + elem.tail
        else:
            parent.text = (parent.text or "") + elem.tail
    parent.remove(elem)


def _lxml_rename(elem, tag: str) -> None:
    elem.tag = tag  # attributes stay: class/id still match the extractors' boilerplate rules


def _lxml_space_after(elem) -> None:
    elem.tail = " " + (elem.tail or "")


def _rewrite(stats: TableStats, rename=_lxml_rename, drop=_drop_keeping_tail, space_after=_lxml_space_after) -> None:
    for elem, tag in stats._parts:
        rename(elem, tag)
    for tr, cells in stats._rows:
        if (JOIN_SHORT_ROWS and tr is not None and len(cells) > 1 and not any(c.p_closer for c in cells)
                and sum(c.chars for c in cells) <= LONG_CELL_CHARS):
            # a row of short inline cells ("Poster: | name | Date: | …") reads as one line
            rename(tr, "p")
            for c in cells:
                space_after(c.elem)
                rename(c.elem, "span")
            continue
        if tr is not None:
            rename(tr, "div")
        for c in cells:
            rename(c.elem, "div" if c.p_closer else "p")
    # Option lists of a layout table's form widgets are no text (the table path never showed them;
    # trafilatura keeps a form holding most of a short page's text, options and all).
    for sel in stats._selects:
        drop(sel)
    stats._parts.clear()
    stats._rows.clear()
    stats._selects.clear()


def unwrap_layout_tables(root) -> int:
    """Rewrite every layout table under ``root`` (an lxml element) into divs and paragraphs, in place.

    Returns how many tables were rewritten (0: the tree is untouched).
    """
    changed = 0
    for table, stats in _classify_outermost(root.iter("table")):
        if is_data_table(stats):
            continue
        changed += 1
        _lxml_rename(table, "div")
        _rewrite(stats)
    return changed


def _classify_outermost(tables, events=lxml_events) -> list[tuple[object, TableStats]]:
    """:func:`classify_tables` over a document, walking only its outermost tables' subtrees.

    ``tables``: every ``<table>`` of the document in document order, listed by the parser's own C
    code (lxml's ``iter``, lexbor's selector engine). The rules see nothing outside a table, and a
    walk from Python costs per node (for lexbor a wrapper object each): on the bench's real pages
    the whole-document walk was ~45% of the resiliparse path's time. Each walk starts at the first
    table not seen inside an earlier walk, so the cost stays linear in the tables' size.
    """
    out: list[tuple[object, TableStats]] = []
    seen: set = set()
    for table in tables:
        if table in seen:
            continue
        found = classify_tables(table, events=events)
        seen.update(t for t, _ in found)
        out.extend(found)
    return out


def unwrap_layout_tables_lexbor(tree) -> int:
    """:func:`unwrap_layout_tables` on a resiliparse :class:`HTMLTree`, in place (same rules).

    lexbor cannot rename an element, so each one is replaced by a new element of the new tag that
    takes over its attributes and children (moved, not copied: linear, and the cells the walk
    recorded stay valid).
    """
    root = tree.document
    if root is None or root.query_selector("table") is None:
        return 0

    def rename(node, tag: str) -> None:
        new = tree.create_element(tag)
        for name in node.attrs:
            value = node.getattr(name)
            if value is not None:
                new.setattr(name, value)
        while (child := node.first_child) is not None:
            new.append_child(child)
        node.parent.replace_child(new, node)

    def drop(node) -> None:
        if node.parent is not None:
            node.parent.remove_child(node)

    def space_after(node) -> None:
        if node.parent is not None:
            node.parent.insert_before(tree.create_text_node(" "), node.next) if node.next is not None \
                else node.parent.append_child(tree.create_text_node(" "))

    changed = 0
    for table, stats in _classify_outermost(root.query_selector_all("table"), lexbor_events):
        if is_data_table(stats):
            continue
        changed += 1
        rename(table, "div")
        _rewrite(stats, rename, drop, space_after)
    return changed
