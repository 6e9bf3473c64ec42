"""Spark job: assemble a token-budgeted mixture from curated documents.

    curate mix MIX.yaml --output DIR [--input DOCS]     # MIX.yaml: positional or --config
    spark-submit spark_jobs/mix.py --config MIX.yaml --output DIR

The positional is the mixture (MIX.yaml), not data: the data are named in it. ``--input DOCS`` (as
for every verb) sets the mixture's ``input``, which sources without their own ``input`` read.

MIX.yaml lists sources, each a SQL ``where`` over a Parquet/JSONL input (the job's ``input`` by
default) with a share of ``total_tokens`` and an epoch cap; ``preset: phi4-organic`` supplies
phi-4's shares by source name. Steps: count tokens per document with the configured local
tokenizer (one Arrow batch at a time) → plan tokens and epochs per source
(:mod:`curation.mixture.plan`; impossible plans stop here) → sample each source to its budget with
seeded hashes (:mod:`curation.mixture.sample`: full epochs, then a hash-order prefix found from a
token histogram) → write Parquet shards sorted by (source, key, copy) so the same seed and input give
the same bytes, and ``mixture_manifest.json`` with planned vs achieved tokens and epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import os
import sys
import time
from collections.abc import Iterator

if __package__ in (None, ""):  # run as a script by spark-submit: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import pyarrow as pa

from curation import config as configlib
from curation import fsutil, output_dir, rundir, stages, verb_inputs
from curation.errors import JobError
from curation.mixture import token_shards
from curation.mixture.mix_config import MixJobConfig, resolve_sources
from curation.mixture.plan import PlanError, SourceBudget, plan
from curation.mixture.sample import BINS, find_cut
from curation.mixture.token_counts import count_batches
from curation.schema import PARQUET_WRITE_OPTIONS
from spark_jobs.job import SparkJob, StageProgress, log, read_documents


class MixJob(SparkJob):
    name = "mix"
    description = stages.get(name).help
    config_cls = MixJobConfig
    set_example = "total_tokens=1000000"
    example = "curate mix mix.yaml --input runs/r1/decontaminate --output runs/r1/mix"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("mixture", nargs="?", metavar="MIX.yaml", help="the mixture: sources, shares, tokenizer (same as --config)")
        verb_inputs.add_input_arguments(parser, "documents (Parquet/JSONL folder, file or glob) that sources without "
                                        "their own input read: sets the mixture's input", metavar="DOCS", one=True, positional=False)
        parser.add_argument("--output", "-o", required=True, help="output directory for shards and the manifest")
        parser.add_argument("--total-tokens", type=int, default=None, help="override total_tokens")

    def overrides_from_args(self, args: argparse.Namespace) -> list[str]:
        return [f"total_tokens={args.total_tokens}"] if args.total_tokens else []

    def load_config(self, args: argparse.Namespace) -> MixJobConfig:
        mixture = getattr(args, "mixture", None)
        if mixture and args.config and mixture != args.config:
            raise configlib.ConfigError(f"two mixtures: {mixture} and --config {args.config}; give one")
        args.config = args.config or mixture
        cfg = super().load_config(args)
        if getattr(args, "input", None):
            cfg = dataclasses.replace(cfg, input=verb_inputs.given(args, one=True)[0])
        from curation.mixture.tokens import TokenizerError, load_tokenizer

        if cfg.total_tokens <= 0:
            raise configlib.ConfigError("total_tokens must be set (> 0): in MIX.yaml or --total-tokens")
        if cfg.on_cap not in ("error", "warn"):
            raise configlib.ConfigError(f"on_cap must be error or warn, got {cfg.on_cap!r}")
        sources = resolve_sources(cfg)
        total = sum(s.share for s in sources)
        if abs(total - 1.0) > 1e-6:
            raise configlib.ConfigError(f"shares sum to {total * 100:.4g}%, not 100% "
                                        f"({', '.join(f'{s.name} {s.share * 100:.4g}%' for s in sources)})")
        try:
            load_tokenizer(cfg.tokenizer)
        except TokenizerError as exc:
            raise configlib.ConfigError(str(exc)) from exc
        return cfg

    def inputs(self, args: argparse.Namespace, cfg: MixJobConfig) -> list[str]:
        """Every source's documents (checked before Spark starts, like every verb's input)."""
        return sorted({s.input for s in resolve_sources(cfg)})

    def run(self, spark, args: argparse.Namespace, cfg: MixJobConfig) -> int:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        from pyspark.sql.utils import AnalysisException

        started = time.perf_counter()
        out = args.output
        sources = resolve_sources(cfg)
        output_dir.claim(out, self.name, inputs=sorted({s.input for s in sources}))
        schema = "id string, text string, n_tokens long, u double, bin long"
        task = functools.partial(count_batches, tokenizer=str(cfg.tokenizer), seed=cfg.seed, chunk_tokens=cfg.chunk_tokens)
        counted, budgets = {}, []
        with StageProgress(spark, "mix: count tokens", len(sources)):
            for s in sources:
                docs = read_documents(spark, s.input)
                try:
                    chosen = docs.filter(s.where).select(F.col("id").cast("string").alias("id"), F.col("text").cast("string").alias("text"))
                except AnalysisException as exc:
                    raise JobError(f"source {s.name!r}: bad where {s.where!r}: {str(exc).splitlines()[0]}") from exc
                df = chosen.mapInArrow(task, schema).persist(StorageLevel.DISK_ONLY)
                row = df.agg(F.count("*").alias("docs"), F.sum("n_tokens").alias("tokens")).collect()[0]
                counted[s.name] = (df, int(row["docs"]), int(row["tokens"] or 0))
                log.info("source %s: %d rows (documents, or chunks of long ones), %d tokens", s.name, row["docs"], row["tokens"] or 0)
                budgets.append(SourceBudget.of(s, s.share, int(row["tokens"] or 0)))
        try:
            mix_plan = plan(budgets, cfg.total_tokens, on_cap=cfg.on_cap)
        except PlanError as exc:
            raise JobError(str(exc)) from exc
        parts, report = [], {}
        for s, sp in zip(sources, mix_plan.sources):
            df, n_docs, unique = counted[s.name]
            hist = np.zeros(BINS, dtype=np.int64)
            for r in df.groupBy("bin").agg(F.sum("n_tokens").alias("t")).collect():
                hist[r["bin"]] = r["t"]
            cut = find_cut(hist, None, unique, sp.planned_tokens)
            if cut.remainder_tokens:
                b = min(int(cut.threshold * BINS), BINS - 1)
                rows = df.filter(F.col("bin") == b).select("u", "n_tokens").collect()  # one bin: ~1/10,000 of the source
                cut = find_cut(hist, (np.array([r["u"] for r in rows]), np.array([r["n_tokens"] for r in rows])), unique, sp.planned_tokens)
            reps = F.lit(cut.full_epochs) + (F.col("u") < F.lit(cut.threshold)).cast("int")
            picked = (df.withColumn("_reps", reps).filter("_reps > 0")
                      .withColumn("copy", F.explode(F.sequence(F.lit(0), F.col("_reps") - 1)))
                      .select(F.lit(s.name).alias("source"), "id", "text", "n_tokens", "u", "copy"))
            parts.append(picked)
            report[s.name] = {"share": s.share, "where": s.where, "input": s.input, "rows": n_docs,
                              "unique_tokens": unique, "planned_tokens": sp.planned_tokens,
                              "max_epochs": s.max_epochs, "full_epochs": cut.full_epochs, "threshold": cut.threshold}
        mixture = parts[0]
        for p in parts[1:]:
            mixture = mixture.unionByName(p)
        total_rows = sum(r["rows"] * (r["full_epochs"] + 1) for r in report.values())
        shards = cfg.shards or max(1, total_rows // 1_000_000)
        # A total order (source, key, id, copy) and a range partitioning: the same seed and input give
        # the same rows in the same files, whatever the input partitioning.
        ordered = (mixture.repartitionByRange(shards, "source", "u", "id", "copy")
                   .sortWithinPartitions("source", "u", "id", "copy").persist(StorageLevel.DISK_ONLY))
        # Shards are written by pyarrow, not Spark's Parquet writer: parquet-mr lists each column's
        # encodings in hash-set order, so its footers differ between runs of identical data.
        with StageProgress(spark, "mix: write shards", shards):
            written = ordered.select("source", "id", "text", "n_tokens", "u", "copy").mapInArrow(
                functools.partial(write_shards, out=out), "source string, rows long, tokens long").collect()
        token_shards_info = None
        if cfg.binary:
            write = functools.partial(write_token_shards, tokenizer=str(cfg.tokenizer), out=out, eos_token=cfg.eos_token,
                                      token_format=cfg.token_format)
            with StageProgress(spark, "mix: tokenised shards", shards):
                shard_list = sorted((r.asDict() for r in ordered.select("text").mapInArrow(
                    write, "file string, docs long, tokens long, dtype string").collect()), key=lambda r: r["file"])
            token_shards_info = {"format": cfg.token_format, "dtype": shard_list[0]["dtype"], "shards": shard_list}
            if cfg.token_format == "nanogpt":
                # nanoGPT maps one flat file: the partitions' parts, joined in mixture order on the driver.
                tokens_dir = fsutil.join(out, rundir.TOKENS_DIR)
                token_shards.concatenate([fsutil.join(tokens_dir, r["file"] + ".bin") for r in shard_list],
                                         fsutil.join(tokens_dir, token_shards.NANOGPT_FILE))
                token_shards_info["file"] = token_shards.NANOGPT_FILE
        ordered.unpersist()
        achieved: dict[str, tuple[int, int]] = {}
        for r in written:
            t, n = achieved.get(r["source"], (0, 0))
            achieved[r["source"]] = (t + r["tokens"], n + r["rows"])
        for name, r in report.items():
            t, n = achieved.get(name, (0, 0))
            r.update(achieved_tokens=t, output_rows=n, epochs=round(t / r["unique_tokens"], 6),
                     error_pct=round(100 * (t - r["planned_tokens"]) / max(1, r["planned_tokens"]), 4))
            del r["threshold"]
        for df, _, _ in counted.values():
            df.unpersist()
        manifest = {
            "total_tokens": cfg.total_tokens, "achieved_total_tokens": sum(r["achieved_tokens"] for r in report.values()),
            "max_total_tokens": mix_plan.max_total_tokens, "warnings": list(mix_plan.warnings),
            "seed": cfg.seed, "tokenizer": cfg.tokenizer, "preset": cfg.preset, "sources": report,
            "inputs": {p: _fingerprint(p) for p in sorted({s.input for s in sources})},
            **({"token_shards": token_shards_info} if token_shards_info is not None else {}),
            "config": configlib.dump(cfg), "seconds": round(time.perf_counter() - started, 2),
        }
        rundir.write_json(out, rundir.MANIFEST, manifest)
        rundir.write_config(out, configlib.dump(cfg))
        print(f"\nmix finished in {manifest['seconds']}s: {manifest['achieved_total_tokens']:,} of "
              f"{cfg.total_tokens:,} tokens\n" + "\n".join(
                  f"  {n}: planned {r['planned_tokens']:,} achieved {r['achieved_tokens']:,} epochs {r['epochs']:.3f}"
                  for n, r in report.items()) + f"\n  output: {out}", flush=True)
        return 0


def write_shards(batches: Iterator[pa.RecordBatch], out: str) -> Iterator[pa.RecordBatch]:
    """One ``part-<partition>.parquet`` per Spark partition (pyarrow: deterministic bytes); yields
    rows and tokens per source for the manifest."""
    import pyarrow.parquet as pq
    from pyspark import TaskContext

    name = f"part-{TaskContext.get().partitionId():05d}.parquet"
    fs, base = fsutil.resolve(out)
    stats: dict[str, list[int]] = {}
    writer = None
    with fs.open_output_stream(f"{base}/{name}") as sink:
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(sink, batch.schema, **PARQUET_WRITE_OPTIONS)
            writer.write_batch(batch)
            for src, n in zip(batch.column("source").to_pylist(), batch.column("n_tokens").to_pylist()):
                st = stats.setdefault(src, [0, 0])
                st[0] += 1
                st[1] += n or 0
        if writer is not None:
            writer.close()
    if writer is None:  # an empty partition leaves no file
        fs.delete_file(f"{base}/{name}")
    yield pa.RecordBatch.from_pylist([{"source": k, "rows": v[0], "tokens": v[1]} for k, v in sorted(stats.items())],
                                     schema=pa.schema([("source", pa.string()), ("rows", pa.int64()), ("tokens", pa.int64())]))


def write_token_shards(batches: Iterator[pa.RecordBatch], tokenizer: str, out: str, eos_token: str,
                       token_format: str = "megatron") -> Iterator[pa.RecordBatch]:
    """One Spark partition of the ordered mixture as ``tokens-<partition>.bin`` (+ its Megatron
    ``.idx``); the layout is :mod:`curation.mixture.token_shards`'."""
    from pyspark import TaskContext

    from curation.mixture.tokens import load_tokenizer

    tok = load_tokenizer(tokenizer)
    eos = tok.token_id(eos_token)
    dtype = token_shards.token_dtype(token_format, tok.vocab_size)
    name = token_shards.shard_name(TaskContext.get().partitionId())
    # Streamed batch by batch: a partition's tokens never sit in memory at once (memory stays flat
    # as the mixture grows); only the document lengths (4 bytes each) are kept for the index.
    with fsutil.atomic_output(fsutil.join(out, rundir.TOKENS_DIR, name + ".bin")) as sink:
        writer = token_shards.ShardWriter(sink, dtype)
        for batch in batches:
            for ids in tok.encode_batch(batch.column("text").to_pylist()):
                writer.add(ids + ([eos] if eos is not None else []))
    if token_format == "megatron":
        fsutil.write_atomic(fsutil.join(out, rundir.TOKENS_DIR, name + ".idx"), writer.megatron_index())
    yield pa.RecordBatch.from_pylist([{"file": name, "docs": writer.docs, "tokens": writer.tokens, "dtype": dtype.name}])


def _fingerprint(path: str) -> str:
    """sha256 over (relative name, size) of the input's files: cheap, and changes when data changes."""
    h = hashlib.sha256()
    if fsutil.is_uri(path):
        h.update(path.encode())
        return "uri:" + h.hexdigest()
    local = fsutil.local_path(path)
    files = [local] if os.path.isfile(local) else sorted(
        os.path.join(d, f) for d, _, fs in os.walk(local) for f in fs if not f.startswith((".", "_")))
    for f in files:
        h.update(f"{os.path.relpath(f, local)}\t{os.path.getsize(f)}\n".encode())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    return MixJob().main(argv)


if __name__ == "__main__":
    sys.exit(main())
