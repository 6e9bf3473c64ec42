"""Every verb takes its input one way (issue 22): positional INPUT… or --input INPUT… (or both), a
description and its own example in --help, ``curate --version``, and a missing input refused before
any Spark session starts."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import cli
from curation import verb_inputs
from curation.query import run_sql
from spark_jobs import job as spark_job

#: Verbs whose input is a list (positional INPUT… and --input INPUT…) → what else they need to parse.
LIST_VERBS = {
    "extract": ["--output", "o"],
    "annotate": ["--output", "o"],
    "dedup": ["--output", "o"],
    "decontaminate": ["--output", "o", "--benchmarks", "b.yaml"],
    "score": ["--output", "o.parquet", "--model", "quality"],
}
#: Verbs that read one thing (a run directory, a stage folder…): the namespace attribute it lands in.
ONE_VERBS = {"sql": "run_dir", "catalog": "run_dir", "funnel": "run_dir"}
STAGE_VERBS = ("extract", "annotate", "dedup", "decontaminate", "mix")


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return cli.build_parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("verb", sorted(LIST_VERBS))
def test_list_verbs_take_positional_and_input_alike(parser, verb):
    rest = LIST_VERBS[verb]
    assert parser.parse_args([verb, "a", "b", *rest]).input == ["a", "b"]
    assert parser.parse_args([verb, "--input", "a", "b", *rest]).input == ["a", "b"]
    assert parser.parse_args([verb, *rest, "-i", "a"]).input == ["a"]
    # both, and --input repeated: they add up in command-line order
    assert parser.parse_args([verb, "--input", "a", "-i", "b", *rest, "c", "d"]).input == ["a", "b", "c", "d"]
    # none: argparse cannot require one of two; the verb says so before it starts (below)
    with pytest.raises(verb_inputs.InputError, match="no input given"):
        verb_inputs.given(parser.parse_args([verb, *rest]))


@pytest.mark.parametrize("verb", sorted(ONE_VERBS))
def test_one_input_verbs_take_positional_or_input(parser, verb):
    dest = ONE_VERBS[verb]
    assert getattr(parser.parse_args([verb, "runs/r1"]), dest) == ["runs/r1"]
    assert getattr(parser.parse_args([verb, "--input", "runs/r1"]), dest) == ["runs/r1"]


def test_sql_takes_its_statement_after_either_form(parser):
    args = parser.parse_args(["sql", "--input", "runs/r1", "SELECT 1"])
    assert args.run_dir == ["runs/r1", "SELECT 1"] and args.sql is None  # run_sql takes the second as the SQL
    args = parser.parse_args(["sql", "runs/r1", "SELECT 1"])
    assert args.run_dir == ["runs/r1"] and args.sql == "SELECT 1"


def test_mix_positional_is_its_mixture_and_input_sets_the_documents(parser):
    args = parser.parse_args(["mix", "mix.yaml", "--input", "runs/r1/dedup", "--output", "o"])
    assert args.mixture == "mix.yaml" and args.input == ["runs/r1/dedup"] and args.config is None
    args = parser.parse_args(["mix", "--config", "mix.yaml", "--output", "o"])
    assert args.mixture is None and args.input is None


def test_version_is_the_installed_distributions(parser, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"curate {importlib.metadata.version('curate')}"


def test_every_verb_has_a_description_and_its_own_example(parser):
    verbs = _subparsers(parser)
    assert set(STAGE_VERBS) | {"score", "sql", "catalog", "funnel", "run"} <= set(verbs)
    for name, verb_parser in verbs.items():
        assert verb_parser.description and len(verb_parser.description) > 15, name
        text = verb_parser.format_help()
        assert text.count("usage:") == 1 and verb_parser.description.split()[0] in text
    for name in STAGE_VERBS:
        text = " ".join(verbs[name].format_help().split())
        job = verbs[name].get_default("_run").args[0]
        assert f"--set {job.set_example}" in text and f"example: {job.example}" in text and job.example.startswith(f"curate {name} ")
        if name != "extract":
            assert "extract.time_limit_s" not in text, name  # another stage's example
        key = job.set_example.split("=")[0]
        assert key.split(".")[0] in {f.name for f in __import__("dataclasses").fields(job.config_cls)}, name


@pytest.fixture
def no_spark(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a Spark session was started")

    monkeypatch.setattr(spark_job, "session", refuse)
    monkeypatch.setattr(spark_job, "get_session", refuse)


@pytest.fixture
def mixture(tmp_path, shared_data):
    path = tmp_path / "mix.yaml"
    path.write_text(f"input: {tmp_path / 'missing-docs'}\n"
                    f"tokenizer: {shared_data / 'tokenizers/gpt-neo-test-tokenizer.json'}\n"
                    "total_tokens: 1000\nsources:\n  - {name: all, share: 1.0, where: 'true'}\n")
    return path


@pytest.mark.parametrize("verb", [*STAGE_VERBS, "mix-input"])
def test_missing_input_fails_in_under_2s_before_spark(verb, tmp_path, capsys, no_spark, request):
    missing = str(tmp_path / "nowhere" / "docs")
    bench = tmp_path / "b.yaml"
    (tmp_path / "g.jsonl").write_text('{"text": "what is two plus two"}\n')
    bench.write_text("benchmarks:\n  - {name: g, path: g.jsonl}\n")
    argv = {
        "extract": ["extract", missing, "--output", str(tmp_path / "o")],
        "annotate": ["annotate", "--input", missing, "--output", str(tmp_path / "o")],
        "dedup": ["dedup", missing, "--output", str(tmp_path / "o")],
        "decontaminate": ["decontaminate", missing, "--benchmarks", str(bench), "--output", str(tmp_path / "o")],
    }
    if verb.startswith("mix"):
        mix_yaml = request.getfixturevalue("mixture")
        argv["mix"] = ["mix", str(mix_yaml), "--output", str(tmp_path / "o")]  # the mixture's own input is missing
        argv["mix-input"] = ["mix", str(mix_yaml), "--input", missing, "--output", str(tmp_path / "o")]
        missing = missing if verb == "mix-input" else str(tmp_path / "missing-docs")
    started = time.perf_counter()
    rc = cli.main(argv[verb])
    elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    name = verb.split("-")[0]
    assert rc == 2 and err.strip() == f"curate {name}: error: input {missing!r} does not exist", err
    assert elapsed < 2.0, elapsed
    assert not (tmp_path / "o").exists()


def test_no_input_at_all_is_a_one_line_error(tmp_path, capsys, no_spark):
    assert cli.main(["annotate", "--output", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "curate annotate: error: no input given: name it as INPUT or --input INPUT"


def test_check_exist_reads_local_manifests_and_skips_uris(tmp_path):
    (tmp_path / "a.parquet").write_bytes(b"x")
    manifest = tmp_path / "list.txt"
    manifest.write_text("a.parquet\n# a comment\n*.parquet\ns3a://bucket/never/checked.warc.gz\n")
    verb_inputs.check_exist([str(manifest), f"@{manifest}", "hdfs://nn/x", str(tmp_path / "*.parquet")])
    manifest.write_text("a.parquet\nb.parquet\n")
    with pytest.raises(verb_inputs.InputError, match="b.parquet' does not exist"):
        verb_inputs.check_exist([str(manifest)])
    with pytest.raises(verb_inputs.InputError, match="matches no file"):
        verb_inputs.check_exist([str(tmp_path / "*.jsonl")])


def _stage_folder(root) -> None:
    """What a Spark stage writes: shards, sidecars, a _parts folder of JSON and a hidden CRC."""
    root.mkdir()
    rows = [{"id": "1", "text": "A careful derivation of the result, step by step."}, {"id": "2", "text": ""}]
    pq.write_table(pa.Table.from_pylist(rows), root / "part-00000-a.snappy.parquet")
    pq.write_table(pa.Table.from_pylist(rows[:1]), root / "part-00001-a.snappy.parquet")
    (root / "_parts").mkdir()
    (root / "_parts" / "part-x.json").write_text(json.dumps({"not": "documents"}))
    (root / "_accounting.json").write_text("{}")


def test_score_reads_a_stage_folder_and_several_inputs(tmp_path, capsys):
    stage = tmp_path / "annotate"
    _stage_folder(stage)
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "9", "text": "lol"}) + "\n")
    out = tmp_path / "scored.parquet"
    assert cli.main(["score", str(stage), "--input", str(extra), "--model", "quality-fasttext", "--output", str(out)]) == 0
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == ["1", "2", "1", "9"]  # _parts' JSON is not an input
    assert [f.rsplit("/", 1)[-1] for f in table.column("file").to_pylist()] == [
        "part-00000-a.snappy.parquet", "part-00000-a.snappy.parquet", "part-00001-a.snappy.parquet", "extra.jsonl"]
    assert "from 3 file(s)" in capsys.readouterr().out


def test_sql_reads_a_parquet_file_a_glob_and_names_views_sensibly(tmp_path, capsys):
    stage = tmp_path / "run" / "annotate"
    stage.parent.mkdir()
    _stage_folder(stage)
    scored = tmp_path / "run" / "scored"
    scored.mkdir()
    pq.write_table(pa.table({"id": ["1"], "score": [0.5]}), scored / "scored.parquet")
    # a run directory: a file named like its folder is that folder's table, not scored_scored
    assert run_sql.discover_tables(tmp_path / "run").keys() == {"annotate", "scored"}

    def sql(*argv):
        rc = cli.main(["sql", *argv, "--format", "json"])
        captured = capsys.readouterr()
        return rc, captured.out, captured.err

    rc, out, err = sql(str(scored / "scored.parquet"), "SELECT count(*) AS n, max(score) AS s FROM scored")
    assert rc == 0 and json.loads(out) == [{"n": 1, "s": 0.5}], err
    rc, out, _ = sql("--input", str(stage / "part-00000-a.snappy.parquet"), "SELECT count(*) AS n FROM annotate")
    assert rc == 0 and json.loads(out) == [{"n": 2}]  # a shard is named after its folder
    rc, out, _ = sql(str(stage / "*.parquet"), "SELECT count(*) AS n FROM annotate")
    assert rc == 0 and json.loads(out) == [{"n": 3}]
    rc, out, _ = sql("--input", str(stage))
    assert rc == 0 and json.loads(out) == [{"name": "annotate"}]
    rc, out, err = sql(str(stage / "_accounting.json"))
    assert rc == 2 and "is not a Parquet file" in err
    rc, out, err = sql(str(stage / "*.csv"))
    assert rc == 2 and "matches no Parquet file" in err
    # the sandbox is the file's folder: a sibling outside it stays unreadable
    rc, out, err = sql(str(scored / "scored.parquet"), f"SELECT * FROM read_parquet('{stage}/part-00000-a.snappy.parquet')")
    assert rc == 2 and out == ""


def test_catalog_and_funnel_take_input_too(tmp_path, capsys):
    stage = tmp_path / "annotate"
    _stage_folder(stage)
    target = tmp_path / "c.duckdb"
    assert cli.main(["catalog", "--input", str(stage / "*.parquet"), "--output", str(target)]) == 0
    assert run_sql.catalog_counts(target) == {"annotate": 3}
    capsys.readouterr()
    assert cli.main(["funnel", "--input", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("curate funnel: error:")
    assert cli.main(["funnel", str(tmp_path / "a"), "--input", str(tmp_path / "b")]) == 2
    assert "one input expected, got 2" in capsys.readouterr().err
