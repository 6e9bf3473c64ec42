"""Forum and Q&A dumps into the document schema: one document per thread.

Reads the Stack Exchange data-dump format (``Posts.xml``: ``<row>`` elements with ``PostTypeId``
1 = question, 2 = answer with ``ParentId``; HTML in ``Body``), as published per site on the
Internet Archive. A thread becomes one document: title, question, then its answers (the accepted
one first, then by score), each body converted from HTML to text with resiliparse, code blocks
kept. Answers below ``min_answer_score`` are left out of the text; a question with no answer left
is dropped as ``qa.unanswered`` (phi-4's "Q&A" data is about answers), and rows that are not
questions or answers (wiki, tag excerpts) are counted as ``qa.other_post``. Nothing is lost:
every row is either part of a thread document or a counted drop.

Posts are staged in a temporary SQLite file rather than in memory: a site's dump lists answers
long after their questions, and the largest dumps (tens of GB) do not fit in memory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from curation.ingest.sources import SourceKind
from curation.schema import Document


def html_to_text(html: str) -> str:
    """A post body as text: paragraphs and list items on their own lines, ``<pre>`` code kept as is."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=False, preserve_formatting=True, list_bullets=True,
                              alt_texts=False, links=False, form_fields=False, noscript=False).strip()


def _id(site: str, qid: str) -> str:
    return hashlib.sha1(f"qa:{site}:{qid}".encode()).hexdigest()


def stackexchange_documents(posts_xml: str | Path, min_answer_score: int = 0) -> Iterator[Document]:
    """Threads of a Stack Exchange ``Posts.xml`` (or a folder holding one per site)."""
    root = Path(posts_xml)
    if not root.exists():
        raise FileNotFoundError(f"input not found: {root}")
    files = [root] if root.is_file() else sorted(root.rglob("Posts.xml"))
    if not files:
        raise FileNotFoundError(f"no Posts.xml under {root}")
    for f in files:
        yield from _site_documents(f, min_answer_score)


def _site_documents(f: Path, min_answer_score: int) -> Iterator[Document]:
    site = f.parent.name or f.stem
    fd, db_path = tempfile.mkstemp(suffix=".sqlite", prefix="curate-qa-")
    os.close(fd)
    db = sqlite3.connect(db_path)
    try:
        db.execute("CREATE TABLE q (id TEXT PRIMARY KEY, title TEXT, body TEXT, accepted TEXT, created TEXT, tags TEXT)")
        db.execute("CREATE TABLE a (id TEXT, parent TEXT, body TEXT, score INTEGER)")
        errors: list[Document] = []
        others = 0
        try:
            # expat (Python >= 3.11 bundles 2.5+) refuses entity-expansion bombs; dumps declare no DTD.
            for _, el in ET.iterparse(f, events=("end",)):
                if el.tag != "row":
                    continue
                a = el.attrib
                kind = a.get("PostTypeId")
                if kind == "1" and a.get("Id"):
                    db.execute("INSERT OR REPLACE INTO q VALUES (?,?,?,?,?,?)",
                               (a["Id"], a.get("Title", ""), a.get("Body", ""), a.get("AcceptedAnswerId"),
                                a.get("CreationDate"), a.get("Tags", "")))
                elif kind == "2" and a.get("ParentId"):
                    db.execute("INSERT INTO a VALUES (?,?,?,?)", (a.get("Id"), a["ParentId"], a.get("Body", ""),
                                                               _int(a.get("Score"))))
                else:
                    others += 1
                el.clear()
        except ET.ParseError as exc:
            # A truncated or corrupt dump: the threads read so far are still written, and the rest
            # of the file is one counted error rather than a crashed ingest.
            errors.append(Document(id=_id(site, f"error:{f}"), url=str(f.name), source_file=str(f),
                                   drop_reason="error.xml", error=f"{f}: {exc}"))
        db.execute("CREATE INDEX a_parent ON a (parent)")
        yield from _threads(db, site, f, min_answer_score)
        # Answers whose question is not in the dump (deleted questions) are accounted too.
        (orphans,) = db.execute("SELECT count(*) FROM a WHERE parent NOT IN (SELECT id FROM q)").fetchone()
        for i in range(orphans + others):
            yield Document(id=_id(site, f"drop:{i}"), url=f.name, source_file=str(f),
                           drop_reason="qa.orphan_answer" if i < orphans else "qa.other_post")
        yield from errors
    finally:
        db.close()
        os.unlink(db_path)


def _threads(db: sqlite3.Connection, site: str, f: Path, min_answer_score: int) -> Iterator[Document]:
    for qid, title, body, accepted, created, _tags in db.execute("SELECT * FROM q ORDER BY CAST(id AS INTEGER)"):
        answers = db.execute("SELECT id, body, score FROM a WHERE parent = ? ORDER BY (id = ?) DESC, score DESC, "
                             "CAST(id AS INTEGER)", (qid, accepted)).fetchall()
        kept = [b for aid, b, score in answers if score >= min_answer_score or aid == accepted]
        parts = [title.strip(), html_to_text(body)] + [html_to_text(b) for b in kept]
        text = "\n\n".join(p for p in parts if p)
        doc = Document(id=_id(site, qid), text=text, url=f"{site}/questions/{qid}", source_file=str(f),
                       crawl_date=created, content_type="text/x-qa-thread",
                       drop_reason=None if kept else "qa.unanswered")
        # Answers left out for their score belong to this thread's row, not lost ones.
        doc.payload_bytes = len(body.encode("utf-8", "replace")) + sum(len(b.encode("utf-8", "replace")) for _, b, _ in answers)
        yield doc


def _int(v: str | None) -> int:
    try:
        return int(v or 0)
    except ValueError:
        return 0


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-answer-score", type=int, default=0,
                   help="answers below this score are left out (accepted ones kept)")


#: ``curate ingest qa``, registered in pyproject.toml's ``curate.sources`` entry points.
QA = SourceKind("qa", "a Stack Exchange dump (Posts.xml, or a folder of sites): one document per thread",
                lambda input, args: stackexchange_documents(input, args.min_answer_score), _arguments)
