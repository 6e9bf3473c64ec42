"""curation.query.run_sql: table discovery, the read-only statement check and DuckDB's file sandbox.

The run directory is built here with pyarrow (the real document schema plus the columns later
stages add), next to a secret file and a secret Parquet table that no query may ever read.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.query import run_sql
from curation.query.run_sql import QueryResult, ReadOnlyError
from curation.schema import DOC_SCHEMA, Document, to_batch

SECRET = "TOP-SECRET-7f3a9c"
N = 300
REASONS = [None, None, None, "gopher_quality_v1.too_few_words", "fasttext_lid_v1.low_score", "warc.request"]


def _docs(n: int, offset: int = 0) -> pa.Table:
    docs = [Document(id=f"d{offset + i:04d}", text=f"word {i} " * (i % 7 + 1), url=f"https://e.x/{offset + i}",
                     lang=["en", "de", "fr"][i % 3], drop_reason=REASONS[i % len(REASONS)],
                     scores={"gopher_quality_v1.words": float(i % 50), "fasttext_lid_v1.en": (i % 10) / 10})
            for i in range(n)]
    return pa.Table.from_batches([to_batch(docs, DOC_SCHEMA)])


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sqlrun")
    run = base / "run"
    docs = _docs(N)
    # A secret beside the run, as text and as a Parquet table a glob or '..' could reach.
    (base / "secret.txt").write_text(SECRET + "\n")
    _write(base / "secret.parquet", pa.table({"id": [SECRET], "text": [SECRET]}))
    _write(base / "run_evil" / "part-00000.parquet", pa.table({"id": [SECRET]}))  # a sibling sharing the prefix

    _write(run / "extract" / "part-demo-abc.parquet", docs)
    (run / "extract" / "_accounting.json").write_text(json.dumps({"records_read": N}))
    (run / "extract" / "_config.yaml").write_text("extractor: trafilatura\n")
    (run / "extract" / "_parts").mkdir()
    (run / "extract" / "_parts" / "part-demo-abc.json").write_text("{}")
    # Two shards with different columns: the view must union them by name.
    annotated = docs.append_column("quality", pa.array([i / N for i in range(N)], pa.float64()))
    _write(run / "annotate" / "part-00000-x.snappy.parquet", annotated.slice(0, 150))
    _write(run / "annotate" / "part-00001-x.snappy.parquet", docs.slice(150))
    (run / "annotate" / "._SUCCESS.crc").write_text("")
    (run / "annotate" / "_SUCCESS").write_text("")
    _write(run / "annotate" / "_dropped" / "part-00000.parquet", docs.slice(0, 10))
    kept = docs.filter(pa.compute.is_null(docs["drop_reason"]))
    _write(run / "dedup" / "part-00000.parquet", kept.append_column("dup_cluster", pa.array([f"d{i % 20:04d}" for i in range(len(kept))])))
    status = pa.array(["clean" if i % 10 else "contaminated" for i in range(len(kept))])
    _write(run / "decontaminate" / "part-00000.parquet", kept.append_column("decontam_status", status))
    _write(run / "mix" / "part-00000.parquet", kept.slice(0, 50).append_column("source", pa.array(["web"] * 50)))
    (run / "mix" / "mixture_manifest.json").write_text(json.dumps({"tokens": 1000}))
    runs_table = pa.table({"proxy": [0, 1, 2], "split": ["fit", "fit", "held_out"], "metric": [3.1, 2.9, 3.0]})
    _write(run / "ablate" / "runs.parquet", runs_table)
    _write(run / "ablations" / "Abl-1" / "runs.parquet", runs_table)
    (run / "ablations" / "Abl-1" / "regression.json").write_text("{}")
    _write(run / "seeds.parquet", pa.table({"id": ["s1", "s2"], "topic": ["math", "code"]}))
    # Never tables: hidden folders and Spark's half-written attempts.
    _write(run / ".cache" / "part-00000.parquet", pa.table({"id": ["hidden"]}))
    _write(run / "annotate" / "_temporary" / "0" / "part-00009.parquet", pa.table({"id": ["partial"]}))
    return run


@pytest.fixture()
def con(run):
    c = run_sql.connect(run)
    yield c
    c.close()


EXPECTED_TABLES = {"ablate_runs", "ablations_abl_1_runs", "annotate", "annotate_dropped", "decontaminate", "dedup",
                   "extract", "mix", "seeds"}


def test_discover_tables_names_every_parquet_table_and_nothing_else(run):
    tables = run_sql.discover_tables(run)
    assert set(tables) == EXPECTED_TABLES
    assert list(tables) == sorted(tables)  # deterministic order
    assert tables["annotate"] == f"{run.resolve().as_posix()}/annotate/part-*.parquet"
    assert tables["seeds"].endswith("/seeds.parquet")
    assert tables["ablations_abl_1_runs"].endswith("/ablations/Abl-1/runs.parquet")
    assert all(os.path.isabs(g) for g in tables.values())


def test_discover_tables_of_a_stage_folder_uses_its_name(run):
    assert run_sql.discover_tables(run / "annotate") == {
        "annotate": f"{(run / 'annotate').resolve().as_posix()}/part-*.parquet",
        "dropped": f"{(run / 'annotate').resolve().as_posix()}/_dropped/part-*.parquet"}


def test_discover_tables_missing_dir(tmp_path):
    with pytest.raises(FileNotFoundError):
        run_sql.discover_tables(tmp_path / "nope")


def test_queries_see_every_row_and_union_shards_by_name(con):
    counts = dict(run_sql.query(con, "SELECT table_name, estimated_size FROM duckdb_tables()").table.to_pylist() or [])
    assert counts == {}  # views only, no materialised tables
    assert run_sql.query(con, "SELECT count(*) AS n FROM extract").table.to_pylist() == [{"n": N}]
    res = run_sql.query(con, "SELECT count(*) AS n, count(quality) AS q FROM annotate")
    assert res.table.to_pylist() == [{"n": N, "q": 150}]
    funnel = run_sql.query(con, "SELECT coalesce(drop_reason, 'kept') AS outcome, count(*) AS n FROM annotate GROUP BY 1")
    assert sum(funnel.table.column("n").to_pylist()) == N
    assert dict(zip(*funnel.table.to_pydict().values()))["kept"] == N // 2
    shown = run_sql.query(con, "SHOW TABLES").table.column("name").to_pylist()
    assert set(shown) == EXPECTED_TABLES
    assert run_sql.query(con, "SELECT count(*) FROM dedup WHERE dup_cluster IS NOT NULL").table.column(0)[0].as_py() == N // 2
    assert run_sql.query(con, "SELECT decontam_status, count(*) FROM decontaminate GROUP BY ALL").table.num_rows == 2
    score = run_sql.query(con, "SELECT max(scores['gopher_quality_v1.words']) AS m FROM annotate").table
    assert score.to_pylist() == [{"m": 49.0}]


@pytest.mark.parametrize("sql", [
    "SHOW TABLES", "DESCRIBE annotate", "SUMMARIZE seeds", "FROM seeds", "VALUES (1)",
    "WITH k AS (SELECT * FROM annotate WHERE drop_reason IS NULL) SELECT lang, count(*) FROM k GROUP BY 1",
    "EXPLAIN SELECT * FROM annotate", "EXPLAIN ANALYZE SELECT count(*) FROM annotate",
    "SELECT * FROM query('SELECT 42')", "select 1;", "/* comment */ SELECT 1 -- trailing",
])
def test_read_only_statements_are_allowed(con, sql):
    assert isinstance(run_sql.query(con, sql), QueryResult)


def test_limit_truncates_and_streams(con):
    res = run_sql.query(con, "SELECT * FROM extract", limit=7)
    assert res.table.num_rows == 7 and res.truncated
    assert res.table.schema.names == DOC_SCHEMA.names
    full = run_sql.query(con, "SELECT * FROM extract", limit=N)
    assert full.table.num_rows == N and not full.truncated
    assert run_sql.query(con, "SELECT * FROM range(100000)", limit=None).table.num_rows == 100_000


WRITES = [
    "CREATE TABLE t AS SELECT 1",
    "CREATE OR REPLACE VIEW annotate AS SELECT 1",
    "CREATE MACRO m(x) AS x",
    "CREATE SECRET (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "INSERT INTO annotate VALUES (1)",
    "UPDATE annotate SET lang = 'xx'",
    "DELETE FROM annotate",
    "DROP VIEW annotate",
    "ALTER VIEW annotate RENAME TO b",
    "COPY (SELECT 1) TO '{run}/annotate/part-99999.parquet'",
    "COPY annotate TO '{run}/out.csv'",
    "COPY annotate FROM '{base}/secret.txt'",
    "EXPORT DATABASE '{run}/export'",
    "ATTACH '{run}/x.duckdb' AS x",
    "ATTACH ':memory:' AS x",
    "DETACH memory",
    "USE memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL httpfs FROM community",
    "UPDATE EXTENSIONS",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "SET VARIABLE v = 1",
    "PRAGMA enable_profiling = 'json'",
    "PRAGMA show_tables",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "PREPARE p AS SELECT 1",
    "PIVOT annotate ON lang USING count(*)",
    "SELECT 1; COPY (SELECT 1) TO '{run}/y.csv'",
    "SELECT 1; SELECT 2",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{run}/z.csv'",
    "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
    "-- sneaky\nEXPLAIN ANALYZE COPY (SELECT 1) TO '{run}/z.csv'",
    "WITH a AS (SELECT 1) INSERT INTO annotate SELECT * FROM a",
    "",
    "-- only a comment",
]


@pytest.mark.parametrize("sql", WRITES)
def test_writes_and_settings_are_refused_before_execution(con, run, sql):
    before = sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))
    with pytest.raises(ReadOnlyError, match="refused"):
        run_sql.query(con, sql.format(run=run, base=run.parent))
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == before
    # The views are untouched and the sandbox is still on.
    assert run_sql.query(con, "SELECT count(*) FROM annotate").table.column(0)[0].as_py() == N
    assert run_sql.query(con, "SELECT current_setting('enable_external_access') AS e").table.to_pylist() == [{"e": False}]


OUTSIDE_READS = [
    "SELECT * FROM read_csv('{base}/secret.txt', header = false)",
    "SELECT * FROM read_text('{base}/secret.txt')",
    "SELECT * FROM read_blob('{base}/secret.txt')",
    "SELECT * FROM read_json_objects('{base}/secret.txt')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT * FROM read_text('file://{base}/secret.txt')",
    "SELECT * FROM read_text('~/.bashrc')",
    "SELECT * FROM '{base}/secret.parquet'",
    "SELECT * FROM '{run}/../secret.parquet'",
    "SELECT * FROM read_parquet('{run}/../*.parquet')",
    "SELECT * FROM read_parquet('{run}/**/../../secret.parquet')",
    "SELECT * FROM read_parquet('{run}*/*.parquet')",  # would match the sibling run_evil/
    "SELECT * FROM read_parquet('{run}_evil/part-00000.parquet')",  # a prefix of the run is not the run
    "SELECT * FROM read_parquet(['{run}/seeds.parquet', '{base}/secret.parquet'])",
    "SELECT * FROM parquet_metadata('{base}/secret.parquet')",
    "SELECT * FROM parquet_schema('{base}/secret.parquet')",
    "SELECT * FROM glob('{base}/*')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM sniff_csv('{base}/secret.txt')",
    "SELECT * FROM read_text('../secret.txt')",
    "SELECT * FROM 'https://example.com/x.parquet'",
    "SELECT * FROM read_text('s3://bucket/key')",
    "SELECT * FROM query('SELECT * FROM read_text(''{base}/secret.txt'')')",
    "SUMMARIZE SELECT * FROM read_text('{base}/secret.txt')",
    "EXPLAIN ANALYZE SELECT * FROM read_text('{base}/secret.txt')",
]


@pytest.mark.parametrize("sql", OUTSIDE_READS)
def test_reads_outside_the_run_are_denied_by_duckdb(con, run, sql):
    base = run.parent.resolve()
    with pytest.raises(duckdb.Error) as info:
        res = run_sql.query(con, sql.format(run=run.resolve(), base=base))
        # Reaching here would already be wrong; make the failure say what leaked.
        pytest.fail(f"query ran: {res.table.to_pylist()[:3]}")
    text = str(info.value)
    assert SECRET not in text
    assert ("Permission Error" in text or "disabled by configuration" in text
            or "does not exist" in text or "No files found" in text), text


def test_glob_inside_the_run_lists_only_run_files(con, run):
    # glob() itself is allowed inside the run, and must not reveal siblings through a pattern.
    names = run_sql.query(con, f"SELECT file FROM glob('{run.resolve()}/**')").table.column(0).to_pylist()
    assert names and all(n.startswith(str(run.resolve()) + "/") for n in names)


def test_a_symlink_to_outside_the_run_is_never_read(run, tmp_path):
    evil = tmp_path / "evil"
    _write(evil / "extract" / "part-00000.parquet", _docs(5))
    _write(evil / "annotate" / "part-00001.parquet", _docs(5))
    (evil / "annotate" / "part-00000.parquet").symlink_to(run.parent / "secret.parquet")
    (evil / "linked").mkdir()
    (evil / "linked" / "part-00000.parquet").symlink_to(run.parent / "secret.parquet")
    (evil / "leak").symlink_to(run.parent, target_is_directory=True)  # a folder link is not followed
    (evil / "link.txt").symlink_to(run.parent / "secret.txt")
    # linked/ holds only a link to outside: not a table.
    assert set(run_sql.discover_tables(evil)) == {"annotate", "extract"}
    # The annotate/ glob still matches the link, and DuckDB refuses to read through it.
    with pytest.raises(duckdb.PermissionException, match="annotate.*cannot be read"):
        run_sql.connect(evil)
    c = run_sql.connect(evil, skip_unreadable=True)
    try:
        assert [r["name"] for r in run_sql.query(c, "SHOW TABLES").table.to_pylist()] == ["extract"]
        for sql in [f"SELECT * FROM '{evil}/annotate/part-00000.parquet'", f"SELECT * FROM read_text('{evil}/link.txt')",
                    f"SELECT * FROM read_text('{evil}/leak/secret.txt')", f"SELECT * FROM '{evil}/leak/secret.parquet'"]:
            with pytest.raises(duckdb.Error) as info:
                run_sql.query(c, sql)
            assert SECRET not in str(info.value)
    finally:
        c.close()


def test_symlinked_run_dir_is_resolved(run, tmp_path):
    link = tmp_path / "runlink"
    link.symlink_to(run, target_is_directory=True)
    c = run_sql.connect(link)
    try:
        assert run_sql.query(c, "SELECT count(*) FROM seeds").table.column(0)[0].as_py() == 2
    finally:
        c.close()


def test_the_configuration_is_locked(con):
    for stmt in ["SET enable_external_access = true", "SET allowed_directories = ['/']", "RESET allowed_directories",
                 "SET lock_configuration = false", "SET autoload_known_extensions = true", "SET temp_directory = '/tmp'"]:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(stmt)  # the raw connection, bypassing query()'s statement check
    settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
                                "'autoinstall_known_extensions', 'autoload_known_extensions', 'lock_configuration', "
                                "'allow_community_extensions', 'allow_persistent_secrets')").fetchall())
    assert settings == {"enable_external_access": "false", "autoinstall_known_extensions": "false",
                        "autoload_known_extensions": "false", "lock_configuration": "true",
                        "allow_community_extensions": "false", "allow_persistent_secrets": "false"}
    # A cursor (one per thread, e.g. in the dashboard) shares the sandbox.
    with pytest.raises(duckdb.PermissionException):
        con.cursor().execute("SELECT * FROM read_text('/etc/hostname')").fetchall()


def test_temp_directory_is_private_not_the_working_directory(con):
    allowed = con.execute("SELECT current_setting('allowed_directories')").fetchone()[0]
    assert len(allowed) == 2 and not any(a.rstrip("/").endswith(".tmp") for a in allowed)
    tmp = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert "curate-sql-" in tmp


# --- catalog -----------------------------------------------------------------------------------


def test_write_catalog_opens_in_a_fresh_read_only_connection(run, tmp_path, monkeypatch):
    path = run_sql.write_catalog(run, tmp_path / "cat" / "c.duckdb")
    assert path == tmp_path / "cat" / "c.duckdb" and path.exists()
    assert not [p for p in path.parent.iterdir() if p.name != "c.duckdb"]  # no temp files left
    monkeypatch.chdir("/")  # views use absolute paths, so they work from anywhere
    c = duckdb.connect(str(path), read_only=True)
    try:
        views = [r[0] for r in c.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
        assert set(views) == EXPECTED_TABLES
        assert c.execute("SELECT count(*) FROM annotate").fetchone()[0] == N
        assert c.execute("SELECT count(quality) FROM annotate").fetchone()[0] == 150
        # The lockdown used while writing is not stored in the file.
        assert c.execute("SELECT current_setting('enable_external_access')").fetchone()[0] is True
    finally:
        c.close()
    con = run_sql.connect(run)
    try:
        expected = {t: run_sql.query(con, f'SELECT count(*) FROM "{t}"').table.column(0)[0].as_py() for t in EXPECTED_TABLES}
    finally:
        con.close()
    assert run_sql.catalog_counts(path) == expected


def test_write_catalog_default_path_replaces_atomically(run):
    path = run_sql.write_catalog(run)
    assert path == run.resolve() / "catalog.duckdb"
    first = path.stat().st_ino
    assert run_sql.write_catalog(run) == path and path.stat().st_ino != first  # renamed over, not rewritten
    assert not list(run.glob(".catalog.duckdb.tmp-*"))
    assert set(run_sql.discover_tables(run)) == EXPECTED_TABLES  # a catalog file is not a table
    path.unlink()


# --- CLI ---------------------------------------------------------------------------------------


def _parse(add, argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add(p)
    return p.parse_args(argv)


def _cli(fn, add, argv):
    out, err = io.StringIO(), io.StringIO()
    rc = fn(_parse(add, argv), out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def test_cli_sql_formats(run):
    sql = "SELECT lang, count(*) AS n FROM annotate GROUP BY 1 ORDER BY 1"
    rc, out, err = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(run), sql, "--format", "json"])
    assert rc == 0 and err == ""
    assert json.loads(out) == [{"lang": "de", "n": 100}, {"lang": "en", "n": 100}, {"lang": "fr", "n": 100}]
    rc, out, _ = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(run), sql, "--format", "csv"])
    assert rc == 0 and out.splitlines() == ['"lang","n"', '"de",100', '"en",100', '"fr",100']
    rc, out, _ = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(run), sql])
    assert rc == 0 and out.splitlines()[0].split() == ["|", "lang", "|", "n", "|"] and "| fr   | 100 |" in out
    rc, out, _ = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(run)])  # default: SHOW TABLES
    assert rc == 0 and all(t in out for t in EXPECTED_TABLES)


def test_cli_sql_nested_columns_and_limit(run):
    rc, out, err = _cli(run_sql.run_sql, run_sql.add_sql_arguments,
                        [str(run), "SELECT id, scores FROM extract ORDER BY id", "--format", "csv", "--limit", "2"])
    assert rc == 0 and len(out.splitlines()) == 3 and "gopher_quality_v1.words" in out
    assert "first 2 rows" in err
    rc, out, err = _cli(run_sql.run_sql, run_sql.add_sql_arguments,
                        [str(run), "SELECT id, scores FROM extract", "--format", "json", "--limit", "0"])
    assert rc == 0 and len(json.loads(out)) == N and err == ""


@pytest.mark.parametrize("sql,message", [
    ("COPY annotate TO 'x.csv'", "refused: COPY"),
    ("SELECT * FROM read_text('{base}/secret.txt')", "Permission Error"),
    ("SELECT nope FROM annotate", "nope"),
])
def test_cli_sql_errors_go_to_stderr_with_exit_2(run, sql, message):
    rc, out, err = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(run), sql.format(base=run.parent)])
    assert rc == 2 and out == "" and message in err and SECRET not in err


def test_cli_sql_missing_run(tmp_path):
    rc, out, err = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(tmp_path / "nope"), "SELECT 1"])
    assert rc == 2 and "does not exist" in err


def test_cli_catalog_prints_views_with_row_counts(run, tmp_path):
    target = tmp_path / "c.duckdb"
    rc, out, err = _cli(run_sql.run_catalog, run_sql.add_catalog_arguments, [str(run), "--output", str(target)])
    assert rc == 0 and err == "" and target.exists()
    rows = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[2:-1]}
    assert rows == {**run_sql.catalog_counts(target), "extract": N, "annotate": N, "seeds": 2}
    assert set(rows) == EXPECTED_TABLES


@pytest.mark.slow
def test_real_demo_run(tmp_path):
    """On a real ``curate demo`` output: the funnel from SQL matches the stage's accounting."""
    from curate.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out)]) == 0
    assert {"extract", "annotate"} <= set(run_sql.discover_tables(out))
    con = run_sql.connect(out)
    try:
        rows = run_sql.query(con, "SELECT coalesce(drop_reason, 'kept') AS outcome, count(*) AS n FROM annotate GROUP BY 1").table
        accounting = json.loads((out / "annotate" / "_accounting.json").read_text())
        assert dict(zip(rows.column("outcome").to_pylist(), rows.column("n").to_pylist())) == accounting["by_outcome"]
    finally:
        con.close()
    counts = run_sql.catalog_counts(run_sql.write_catalog(out))
    assert counts["annotate"] == accounting["records_read"]


# --- limits ------------------------------------------------------------------------------------
# A query typed by a person can be a cross join as easily as a count: each is stopped with one line.

LONG = "SELECT count(*) FROM range(1000000) a, range(1000000) b"  # 10^12 rows: hours, no memory


def test_memory_sizes_parse_like_duckdb():
    assert run_sql.parse_size("2GB") == 2 * 10**9 and run_sql.parse_size("512MiB") == 512 * 2**20
    assert run_sql.parse_size(" 1.5 gb ") == 1_500_000_000 and run_sql.parse_size("100") == 100
    for bad in ["", "lots", "2 parsecs", "-1GB", "0MB", "1e9"]:
        with pytest.raises(ValueError, match="not a memory size"):
            run_sql.parse_size(bad)
    with pytest.raises(ValueError):
        run_sql.Limits(memory_limit="two gigs")
    with pytest.raises(SystemExit) as info:
        _parse(run_sql.add_sql_arguments, ["run", "--memory-limit", "two gigs"])
    assert info.value.code == 2
    args = _parse(run_sql.add_sql_arguments, ["run"])
    assert (args.timeout_s, args.memory_limit) == (run_sql.DEFAULT_TIMEOUT_S, run_sql.DEFAULT_MEMORY_LIMIT)


def test_memory_limit_is_set_and_locked(run):
    c = run_sql.connect(run, limits=run_sql.Limits(memory_limit="64MiB"))
    try:
        got = dict(c.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                             "('memory_limit', 'max_temp_directory_size')").fetchall())
        assert got == {"memory_limit": "64.0 MiB", "max_temp_directory_size": "3.7 GiB"}
        for stmt in ["SET memory_limit = '100GB'", "SET max_temp_directory_size = '1TB'"]:
            with pytest.raises(duckdb.Error, match="locked"):
                c.execute(stmt)
    finally:
        c.close()


def test_a_query_past_its_time_limit_is_interrupted(con):
    started = time.monotonic()
    with pytest.raises(run_sql.LimitError, match=r"^query stopped after 1 s \(--timeout-s\)$"):
        run_sql.query(con, LONG, limits=run_sql.Limits(timeout_s=1))
    assert time.monotonic() - started < 5
    # The connection is usable afterwards, and a query that ends in time is not disturbed.
    assert run_sql.query(con, "SELECT 42 AS x", limits=run_sql.Limits(timeout_s=1)).table.to_pylist() == [{"x": 42}]


@pytest.mark.parametrize("sql,limit", [
    ("SELECT list(a.range + b.range) FROM range(20000) a, range(20000) b", run_sql.DEFAULT_LIMIT),  # 3.2 GB in one aggregate
    ("SELECT a.range AS a, b.range AS b FROM range(3000) a, range(3000) b", None),  # a 144 MB result, all rows
])
def test_a_query_past_its_memory_limit_is_stopped(run, sql, limit):
    limits = run_sql.Limits(memory_limit="64MB")
    c = run_sql.connect(run, limits=limits)
    try:
        with pytest.raises(run_sql.LimitError, match=r"^query needed more than 64MB \(--memory-limit\)$"):
            run_sql.query(c, sql, limit=limit, limits=limits)
        assert run_sql.query(c, "SELECT count(*) AS n FROM annotate", limits=limits).table.to_pylist() == [{"n": N}]
    finally:
        c.close()


def test_the_watchdog_stops_a_query_when_the_process_grows(con, monkeypatch):
    # What DuckDB does not track (a huge repeat() string) shows only in the process size.
    sizes = iter([10**9])  # the size when the query starts; every later look: far above the cap
    monkeypatch.setattr(run_sql, "_rss", lambda: next(sizes, 10**12))
    with pytest.raises(run_sql.LimitError, match="needed more than 2GB"):
        run_sql.query(con, LONG, limits=run_sql.Limits(timeout_s=None))


@pytest.mark.slow
@pytest.mark.parametrize("sql,flags,message", [
    (LONG, ["--timeout-s", "1"], "curate sql: error: query stopped after 1 s (--timeout-s)"),
    ("SELECT list(a.range + b.range) FROM range(20000) a, range(20000) b", ["--memory-limit", "64MB"],
     "curate sql: error: query needed more than 64MB (--memory-limit)"),
    ("SELECT a.range, b.range FROM range(3000) a, range(3000) b", ["--memory-limit", "64MB", "--limit", "0"],
     "curate sql: error: query needed more than 64MB (--memory-limit)"),
    # DuckDB does not count this 2 GB string against memory_limit: the process's data cap stops it.
    ("SELECT length(repeat('x', 2000000000))", ["--memory-limit", "64MB"], "curate sql: error: query needed more than 64MB (--memory-limit)"),
])
def test_cli_sql_limits_bound_a_real_process(run, sql, flags, message):
    psutil = pytest.importorskip("psutil")
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "sql", str(run), sql, *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, started = 0, time.monotonic()
    ps = psutil.Process(proc.pid)
    while proc.poll() is None and time.monotonic() - started < 60:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == "" and err.splitlines() == [message], err
    # Unbounded, each of these needs gigabytes (or hours); with the limits the process stays small.
    assert peak < 800 * 2**20, f"peak RSS {peak / 2**20:.0f} MiB"


# --- links inside the run ------------------------------------------------------------------------


@pytest.fixture()
def linked(run, tmp_path) -> Path:
    """A run whose notes/ folder holds a file, a link to it and a link to a secret outside the run."""
    r = tmp_path / "linked"
    _write(r / "seeds.parquet", pa.table({"id": ["s1"]}))
    (r / "notes").mkdir()
    (r / "notes" / "a.txt").write_text("inside\n")
    (r / "notes" / "b_in.txt").symlink_to(r / "notes" / "a.txt")
    (r / "notes" / "c_out.txt").symlink_to(run.parent / "secret.txt")
    (r / "leak").symlink_to(run.parent, target_is_directory=True)
    return r.resolve()


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_blob('{r}/notes/*')",  # was an uncaught OSError from the Arrow stream
    "SELECT * FROM read_text('{r}/notes/*')",
    "SELECT * FROM read_csv('{r}/notes/*.txt', header = false)",
    "SELECT * FROM read_json_objects('{r}/notes/*')",
    "SELECT * FROM read_blob('{r}/notes/c_out.txt')",
    "SELECT * FROM read_text('{r}/leak/secret.txt')",
    "SELECT * FROM glob('{r}/leak/*')",
])
def test_cli_sql_a_link_out_of_the_run_is_one_line_exit_2(linked, sql):
    rc, out, err = _cli(run_sql.run_sql, run_sql.add_sql_arguments, [str(linked), sql.format(r=linked), "--limit", "0"])
    assert rc == 2 and out == "" and SECRET not in err
    assert err.startswith("curate sql: error: ") and err.count("\n") == 1 and "Traceback" not in err, err


def test_links_that_stay_inside_the_run_are_read(linked):
    c = run_sql.connect(linked)
    try:
        rows = run_sql.query(c, f"SELECT content FROM read_text('{linked}/notes/b_in.txt')").table.to_pylist()
        assert rows == [{"content": "inside\n"}]
        # glob lists the names inside the run (a link's name is part of the run), never through a folder link.
        names = run_sql.query(c, f"SELECT file FROM glob('{linked}/notes/*') ORDER BY 1").table.column(0).to_pylist()
        assert [Path(n).name for n in names] == ["a.txt", "b_in.txt", "c_out.txt"]
    finally:
        c.close()
