"""The step contract (registry, apply) and the one schema across Python, Arrow, Parquet and Spark."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.filters import steps
from curation.schema import DOC_SCHEMA, Document, from_batch, to_batch


@steps.register("short_text_v1")
class ShortText:
    name = "short_text_v1"

    def __init__(self, min_chars: int = 10):
        self.min_chars = min_chars

    def __call__(self, doc: Document) -> str | None:
        doc.scores["chars"] = float(len(doc.text))
        return "too_short" if len(doc.text) < self.min_chars else None


@steps.register("explodes_v1")
class Explodes:
    name = "explodes_v1"

    def __call__(self, doc: Document) -> str | None:
        if "boom" in doc.text:
            raise ValueError("cannot parse")
        return None


def test_registry_requires_versions_and_unique_names():
    assert {"short_text_v1", "explodes_v1"} <= set(steps.registered())
    with pytest.raises(ValueError, match="version"):
        steps.register("unversioned")
    with pytest.raises(ValueError, match="already registered"):
        steps.register("short_text_v1")(object)
    with pytest.raises(KeyError, match="unknown step"):
        steps.create("nope_v1")
    assert steps.create("short_text_v1", min_chars=3).min_chars == 3


def test_apply_records_scores_and_first_drop_reason_and_survives_errors():
    docs = [Document(id="a", text="long enough text"), Document(id="b", text="tiny"),
            Document(id="c", text="boom boom boom"), Document(id="d", text="x", drop_reason="earlier.reason")]
    out = list(steps.apply(docs, [steps.create("short_text_v1"), steps.create("explodes_v1")]))
    assert [d.drop_reason for d in out] == [None, "short_text_v1.too_short", "error.explodes_v1", "earlier.reason"]
    assert out[0].scores == {"chars": 16.0} and "ValueError: cannot parse" in out[2].error
    assert out[3].scores == {}  # already dropped documents are not processed again


def test_schema_round_trip_through_parquet_and_spark(tmp_path, spark):
    docs = [Document(id="1", text="héllo 日本", url="http://x/", scores={"a": 1.5}, http_status=200, source_offset=7),
            Document(id="2", drop_reason="warc.request")]
    batch = to_batch(docs)
    assert batch.schema == DOC_SCHEMA
    pq.write_table(pa.Table.from_batches([batch]), tmp_path / "d.parquet")
    back = from_batch(pq.read_table(tmp_path / "d.parquet"))
    assert back == docs
    rows = spark.read.parquet(str(tmp_path)).orderBy("id").collect()
    assert rows[0]["scores"] == {"a": 1.5} and rows[0]["text"] == "héllo 日本" and rows[1]["drop_reason"] == "warc.request"
