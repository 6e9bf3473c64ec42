"""Annotate steps in plain Python: hostile documents never crash and every row is accounted for."""

from collections import Counter

import pyarrow as pa

from curation.filters.annotate_task import AnnotateJobConfig, annotate_batches, output_schema
from curation.schema import Document, to_batch

HOSTILE = {
    "empty": "",
    "whitespace": " \n\t \n",
    "ten_mb_line": "word " * 2_000_000,
    "punctuation": "!?.,;:-—…" * 500,
    "mixed_scripts": "English text, русский текст, 日本語の文章, हिन्दी पाठ, العربية. " * 40,
    "surrogates": "valid text \ud800 broken \udfff pairs " * 50,
    "nul_bytes": "a\x00b\x00c " * 300,
    "binary": bytes(range(256)).decode("latin-1") * 50,
}


def test_hostile_documents_are_scored_or_dropped_never_crash():
    cfg = AnnotateJobConfig()
    docs = [Document(id=k, text=v) for k, v in HOSTILE.items()]
    docs.append(Document(id="upstream", text="", drop_reason="warc.request"))
    out = list(annotate_batches(iter([to_batch(docs)]), cfg.steps, cfg.promote))
    table = pa.Table.from_batches(out)
    assert table.schema == output_schema(cfg.promote)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert set(rows) == set(HOSTILE) | {"upstream"}
    assert rows["upstream"]["drop_reason"] == "warc.request"  # passes through untouched
    for key in ("empty", "whitespace", "punctuation", "binary"):
        assert rows[key]["drop_reason"], key
    outcomes = Counter(r["drop_reason"] or "kept" for r in rows.values())
    assert sum(outcomes.values()) == len(docs)
    assert not any(k.startswith("error.") for k in outcomes), outcomes
