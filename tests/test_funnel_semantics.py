"""The funnel's bases and units (issue 22): records read vs documents, tokens from a real tokenizer
(or labelled words), aligned columns, and the same numbers from ``curate funnel``, the funnel
module and the dashboard's query."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curation import rundir
from curation.query import funnel

JA = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で泣いていた事だけは記憶している。"
EN = "The quick brown fox jumps over the lazy dog, and then it runs back home again before dark."

#: (drop_reason, lang, text) of every record extract read: 6 WARC requests/metadata, a 404, a PDF, a
#: truncated record, then 5 documents extraction ran on (one dropped empty, one by a quality step).
RECORDS = ([("warc.request", None, None)] * 4 + [("warc.metadata", None, None)] * 2
           + [("http.status_4xx", None, None), ("trafilatura_v1.not_html", None, None),
              ("error.truncated", None, None), ("trafilatura_v1.empty", None, ""),
              ("gopher_quality_v1.too_few_words", "en", "Too short."),
              (None, "en", EN), (None, "ja", JA), (None, "ja", JA + JA)])


def _stage(folder: Path, rows, cfg: dict, accounting: dict | None = None) -> None:
    folder.mkdir(parents=True)
    table = pa.table({"id": [f"d{i}" for i in range(len(rows))], "drop_reason": [r[0] for r in rows],
                      "lang": [r[1] for r in rows], "text": [r[2] for r in rows]})
    pq.write_table(table, folder / "part-00000.parquet")
    if accounting is not None:
        rundir.write_accounting(folder, accounting)
    rundir.write_config(folder, yaml.safe_dump(cfg))


def _accounting(rows) -> dict:
    return rundir.RecordAccounting.of_outcomes({r: sum(1 for x in rows if (x[0] or "kept") == r)
                                                for r in {x[0] or "kept" for x in rows}}).to_dict()


def make_run(root: Path, keep_dropped: bool = True, tokenizer: str | None = "bundled") -> Path:
    """A run directory: extract (its accounting counts every record), annotate, and a mix config."""
    run = root / "run"
    extract_rows = [(r[0] if r[0] is None or not r[0].startswith("gopher") else None, None, r[2]) for r in RECORDS]
    _stage(run / "extract", extract_rows if keep_dropped else [r for r in extract_rows if r[0] is None],
           {"keep_dropped": keep_dropped}, _accounting(extract_rows))
    _stage(run / "annotate", RECORDS if keep_dropped else [r for r in RECORDS if r[0] is None or r[0].startswith("gopher")],
           {"steps": [{"name": "gopher_quality_v1"}], "keep_dropped": True})
    if tokenizer:
        (run / "mix").mkdir()
        rundir.write_config(run / "mix", yaml.safe_dump({"tokenizer": tokenizer, "total_tokens": 10}))
    return run


def cli_table(run: Path, capsys, *extra: str) -> tuple[str, list[list[str]]]:
    """``curate funnel``'s output and its table's cells."""
    from curate import cli

    assert cli.main(["funnel", str(run), *extra]) == 0
    out = capsys.readouterr().out
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| ")]
    return out, cells


def test_records_and_documents_are_separate_labelled_bases(tmp_path, capsys):
    run = make_run(tmp_path)
    rows, meta = funnel.compute(run)
    assert (meta["records"], meta["documents"]) == (len(RECORDS), 5) == (14, 5)
    assert meta["bases_from"] == "extract's _accounting.json"
    by = {r.outcome: r for r in rows}
    assert not by["warc.request"].document and not by["error.truncated"].document
    assert by["trafilatura_v1.empty"].document and by["kept"].document
    out, cells = cli_table(run, capsys)
    assert "records read: 14" in out and "documents:    5" in out and "3 documents = 60.0% of documents" in out
    header = cells[0]
    assert header[:5] == ["stage", "outcome", "records", "% of records", "% of documents"]
    table = {c[1]: c for c in cells[1:]}
    assert table["kept"][2:5] == ["3", "21.4%", "60.0%"]  # 3 of 14 records, 3 of 5 documents
    assert table["warc.request"][2:5] == ["4", "28.6%", ""]  # a request is no document


def test_without_keep_dropped_the_bases_still_come_from_extract(tmp_path, capsys):
    run = make_run(tmp_path, keep_dropped=False)
    rows, meta = funnel.compute(run)
    assert (meta["records"], meta["documents"]) == (14, 5)
    assert sum(r.docs for r in rows) == 4  # only the annotate rows are in the data
    out, cells = cli_table(run, capsys)
    assert "--keep-dropped" in out
    assert {c[1]: c[4] for c in cells[1:]}["kept"] == "60.0%"


def test_tokens_come_from_a_real_tokenizer_or_are_called_words(tmp_path, capsys):
    from curation.mixture.tokens import load_tokenizer

    run = make_run(tmp_path)
    rows, meta = funnel.compute(run)
    assert (meta["token_unit"], meta["tokenizer"]) == ("tokens", "bundled")
    assert meta["tokenizer_why"] == "the run's mixture tokenizer"
    bundled = load_tokenizer("bundled")
    kept = next(r for r in rows if r.outcome == "kept")
    assert kept.tokens == int(bundled.count([EN, JA, JA + JA]).sum())
    # Japanese has no spaces: one whitespace "word" per sentence run, dozens of tokens.
    assert len(JA.split()) == 1 and bundled.count([JA])[0] > 20
    # --tokens words: counted and labelled as words.
    out, cells = cli_table(run, capsys, "--tokens", "words")
    assert cells[0][5:] == ["words", "% of words"] and "Japanese, Chinese and Thai" in out
    assert {c[1]: c[5] for c in cells[1:]}["kept"] == str(len(EN.split()) + 1 + 1)
    # Another tokenizer file, named by the run's mixture.
    other = Path(__file__).resolve().parents[2] / "shared" / "data" / "tokenizers" / "gpt-neo-test-tokenizer.json"
    if other.exists():
        run2 = make_run(tmp_path / "b", tokenizer=str(other))
        rows2, meta2 = funnel.compute(run2)
        assert meta2["tokenizer"] == str(other)
        assert next(r for r in rows2 if r.outcome == "kept").tokens == int(load_tokenizer(other).count([EN, JA, JA + JA]).sum())
    # No mixture: the shipped default.
    run3 = make_run(tmp_path / "c", tokenizer=None)
    assert funnel.compute(run3)[1]["tokenizer"] == funnel.DEFAULT_TOKENIZER
    # A tokenizer that cannot be loaded: one line, exit 2.
    from curate import cli

    assert cli.main(["funnel", str(run), "--tokens", str(tmp_path / "nope.json")]) == 2
    assert "tokenizer file not found" in capsys.readouterr().err


def test_by_lang_columns_line_up(tmp_path, capsys):
    run = make_run(tmp_path)
    out, cells = cli_table(run, capsys, "--by", "lang")
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert len({len(line) for line in lines}) == 1  # every row as wide as the header
    bars = {tuple(m.start() for m in re.finditer(r"\|", line)) for line in lines}
    assert len(bars) == 1  # the column separators at the same places
    assert cells[0][2] == "lang"
    assert {(c[1], c[2]) for c in cells[1:] if c[1] == "kept"} == {("kept", "en"), ("kept", "ja")}


def test_cli_module_and_dashboard_give_identical_numbers(tmp_path, capsys):
    from dashboards import queries

    run = make_run(tmp_path)
    rows, meta = funnel.compute(run)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW annotate AS SELECT * FROM '{run}/annotate/*.parquet'")
    raw = queries.funnel(con, "annotate", run)
    # The dashboard's cached path: tokens counted once into a table, then the same query.
    counter = queries.token_counter(run)
    raw_cached = queries.funnel(con, queries.token_table(con, "annotate", counter), run, counter)
    assert raw.equals(raw_cached)
    bases = queries.funnel_bases(raw, queries.extract_accounting(run))
    assert (bases.records, bases.documents, bases.tokens) == (meta["records"], meta["documents"], meta["tokens"])
    view = queries.funnel_view(raw, None, bases, counter.unit)
    _, cells = cli_table(run, capsys)
    printed = [c for c in cells[1:] if c[0] != "total"]
    assert [r.outcome for r in rows] == list(view["outcome"]) == [c[1] for c in printed]
    for r, v, c in zip(rows, view.itertuples(index=False), printed):
        assert r.docs == v.records == int(c[2].replace(",", ""))
        assert r.tokens == v.tokens == int(c[5].replace(",", ""))
        assert f"{v[3]:.1f}%" == c[3]  # % of records
        assert (c[4] == "") if not r.document else (f"{v[4]:.1f}%" == c[4])  # % of documents


def test_record_errors_name_every_error_the_reader_gives():
    """Every ``error.<kind>`` the WARC reader and extract give a record that is no page is in
    RECORD_ERRORS (else the funnel would count a broken record as a document)."""
    root = Path(__file__).resolve().parents[1] / "curation" / "ingest"
    source = (root / "warc.py").read_text() + (root / "extract_task.py").read_text()
    kinds = set(re.findall(r"""error(?:, raw\.error_detail)?\s*=\s*["']([a-z_]+)["']""", source))
    kinds |= set(re.findall(r"""ERROR_PREFIX \+ ["']([a-z_]+)["']""", source))
    assert {"read", "not_warc", "truncated", "open"} <= kinds
    assert kinds <= set(funnel.RECORD_ERRORS) | {"extract"}


@pytest.mark.parametrize("outcome,record", [("warc.request", True), ("http.status_3xx", True),
                                            ("resiliparse_v1.not_html", True), ("trafilatura_v1.too_large", True),
                                            ("error.read", True), ("error.extract", False),
                                            ("trafilatura_v1.empty", False), ("dedup.exact", False), ("kept", False)])
def test_record_outcomes(outcome, record):
    assert funnel.is_record_outcome(outcome) is record
