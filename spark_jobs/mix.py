"""Spark job: assemble a token-budgeted mixture from curated documents.

    curate mix --config MIX.yaml --output DIR
    spark-submit spark_jobs/mix.py --config MIX.yaml --output DIR

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
import functools
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

if __package__ in (None, ""):  # run as a script by spark-submit: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import pyarrow as pa

from curation import config as configlib
from curation import fsutil, output_dir, rundir, stages
from curation.mixture.plan import PlanError, SourceBudget, plan
from curation.mixture.sample import BINS, doc_key, find_cut
from curation.mixture.source import KEPT, Source
from curation.mixture.tokens import valid_text
from curation.schema import PARQUET_WRITE_OPTIONS
from spark_jobs.job import JobError, SparkJob, StageProgress, log, read_documents

#: phi-4 Table 5, organic part only (web 15 : code 20 : acquired 10). Multilingual web is ~8% of all
#: phi-4 data; here it is 8% of the organic mixture, and the rest of the web share is split evenly
#: between reasoning-heavy and knowledge-heavy pages (the paper gives no split).
PRESETS: dict[str, dict[str, float]] = {
    "phi4-organic": {
        "web_reasoning": (15 / 45 - 0.08) / 2,
        "web_knowledge": (15 / 45 - 0.08) / 2,
        "web_multilingual": 0.08,
        "code": 20 / 45,
        "acquired": 10 / 45,
    },
}


@dataclass(frozen=True)
class MixSource(Source):
    """A :class:`curation.mixture.source.Source` with its share of the mixture's tokens."""

    #: SQL condition selecting this source's documents (the one dialect of curation.mixture.source).
    where: str = KEPT
    #: Parquet/JSONL documents (id, text); default: the mixture's ``input``.
    input: str | None = None
    #: Share of total tokens in (0, 1]; 0 takes the preset's share for this name.
    share: float = 0.0


@dataclass(frozen=True)
class MixJobConfig:
    input: str | None = None
    #: A local Hugging Face tokenizers JSON file.
    tokenizer: str = ""
    total_tokens: int = 0
    seed: int = 0
    preset: str | None = None
    sources: tuple[MixSource, ...] = ()
    #: error: refuse a plan past an epoch cap; warn: write it and record the warning.
    on_cap: str = "error"
    #: Output Parquet files (0: one per 1M rows, at least 1).
    shards: int = 0
    #: Also write tokenised shards for training, in ``_tokens/``: ``tokens-NNNNN.bin`` (uint16 when the vocabulary
    #: fits, else uint32; each document's ids then the end-of-text id) and ``tokens-NNNNN.idx``
    #: (int64 start offsets of the documents, plus the end), one pair per Parquet shard.
    binary: bool = False
    #: The end-of-text token appended after each document in binary shards (if in the vocabulary).
    eos_token: str = "<|endoftext|>"
    #: Documents longer than this many tokens are sampled as consecutive chunks of at most this
    #: size (cut at token boundaries; ids ``<id>#<k>``), so a budget is met to within one chunk
    #: even when single documents (books, long papers) are large next to it. 0: whole documents.
    chunk_tokens: int = 2048


def resolve_sources(cfg: MixJobConfig) -> list[MixSource]:
    if cfg.preset is not None and cfg.preset not in PRESETS:
        raise configlib.ConfigError(f"unknown preset {cfg.preset!r} (known: {', '.join(PRESETS)})")
    shares = PRESETS.get(cfg.preset or "", {})
    out = []
    for s in cfg.sources:
        if not s.name:
            raise configlib.ConfigError("every source needs a name")
        share = s.share or shares.get(s.name, 0.0)
        if share <= 0:
            raise configlib.ConfigError(f"source {s.name!r} has no share (and preset {cfg.preset!r} gives none)")
        if not (s.input or cfg.input):
            raise configlib.ConfigError(f"source {s.name!r} has no input (set input: for it or for the mixture)")
        out.append(replace(s, share=share, input=s.input or cfg.input))
    if not out:
        names = ", ".join(shares) if shares else "name, share, where"
        raise configlib.ConfigError(f"no sources configured (preset {cfg.preset!r} expects sources named: {names})")
    return out


def chunk_document(doc_id: str, text: str, starts: list[int], size: int) -> list[tuple[str, str, int]]:
    """``(id, text, tokens)`` pieces of at most ``size`` tokens, cut where a token starts
    (``starts``: each token's first character offset)."""
    if size <= 0 or len(starts) <= size:
        return [(doc_id, text, len(starts))]
    out = []
    for k, start in enumerate(range(0, len(starts), size)):
        end = min(start + size, len(starts))
        a = 0 if start == 0 else starts[start]
        b = len(text) if end == len(starts) else starts[end]
        out.append((f"{doc_id}#{k}", text[a:b], end - start))
    return out


#: Characters of text encoded at once by count_batches (see there).
ENCODE_CHARS = 128_000


def _slices(texts: list[str], max_chars: int) -> Iterator[tuple[int, int]]:
    """``[lo, hi)`` ranges of consecutive texts of at most ``max_chars`` characters (one text may exceed it)."""
    lo, size = 0, 0
    for i, t in enumerate(texts):
        if i > lo and size + len(t) > max_chars:
            yield lo, i
            lo, size = i, 0
        size += len(t)
    if lo < len(texts):
        yield lo, len(texts)


def count_batches(batches: Iterator[pa.RecordBatch], tokenizer: str, seed: int, chunk_tokens: int = 0) -> Iterator[pa.RecordBatch]:
    """id, text → id, text, n_tokens, u (seeded key), bin (histogram bin of u); documents over
    ``chunk_tokens`` tokens become several rows."""
    from curation.mixture.tokens import load_tokenizer

    tok = load_tokenizer(tokenizer)
    for batch in batches:
        ids, texts, counts = [], [], []
        texts_in = [valid_text(t or "") for t in batch.column("text").to_pylist()]
        ids_in = batch.column("id").to_pylist()
        # Encoded in slices of ~ENCODE_CHARS: a tokenizer's per-token objects (ids, offsets, token
        # strings) take ~100x the text's size, so a whole 2 MiB Arrow batch at once made a worker's
        # peak memory depend on how token-dense its worst batch was.
        for lo, hi in _slices(texts_in, ENCODE_CHARS):
            part = texts_in[lo:hi]
            if chunk_tokens > 0:
                encodings = tok.encode_with_starts(part)
            else:  # counts only: no offsets to compute
                encodings = [(e, range(len(e))) for e in tok.encode_batch(part)]
            for doc_id, text, (_, starts) in zip(ids_in[lo:hi], part, encodings):
                for cid, ctext, n in chunk_document(str(doc_id), text, list(starts), chunk_tokens):
                    ids.append(cid)
                    texts.append(ctext)
                    counts.append(n)
            del encodings
        n = np.asarray(counts, dtype=np.int64)
        u = np.fromiter((doc_key(seed, i) for i in ids), dtype=np.float64, count=len(ids))
        b = np.minimum((u * BINS).astype(np.int64), BINS - 1)
        yield pa.RecordBatch.from_arrays(
            [pa.array(ids, pa.string()), pa.array(texts, pa.string()), pa.array(n), pa.array(u), pa.array(b)],
            names=["id", "text", "n_tokens", "u", "bin"])


class MixJob(SparkJob):
    name = "mix"
    description = stages.get(name).help
    config_cls = MixJobConfig

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--output", "-o", required=True, help="output directory for shards and the manifest")
        parser.add_argument("--total-tokens", type=int, default=None, help="override total_tokens")

    def overrides_from_args(self, args: argparse.Namespace) -> list[str]:
        return [f"total_tokens={args.total_tokens}"] if args.total_tokens else []

    def load_config(self, args: argparse.Namespace) -> MixJobConfig:
        cfg = super().load_config(args)
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
        token_shards = None
        if cfg.binary:
            write = functools.partial(write_token_shards, tokenizer=str(cfg.tokenizer), out=out, eos_token=cfg.eos_token)
            with StageProgress(spark, "mix: tokenised shards", shards):
                token_shards = sorted((r.asDict() for r in ordered.select("text").mapInArrow(
                    write, "file string, docs long, tokens long, dtype string").collect()), key=lambda r: r["file"])
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
            **({"token_shards": token_shards} if token_shards is not None else {}),
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


def write_token_shards(batches: Iterator[pa.RecordBatch], tokenizer: str, out: str, eos_token: str) -> Iterator[pa.RecordBatch]:
    """One ``tokens-<partition>.bin`` + ``.idx`` pair per Spark partition of the ordered mixture."""
    from pyspark import TaskContext

    from curation.mixture.tokens import load_tokenizer

    tok = load_tokenizer(tokenizer)
    eos = tok.token_id(eos_token)
    dtype = np.uint16 if tok.vocab_size <= 65_536 else np.uint32
    name = f"tokens-{TaskContext.get().partitionId():05d}"
    offsets, n = [0], 0
    # Streamed batch by batch: a partition's tokens never sit in memory at once (memory stays flat
    # as the mixture grows); only the offsets (8 bytes per document) are kept for the index.
    with fsutil.atomic_output(fsutil.join(out, rundir.TOKENS_DIR, name + ".bin")) as sink:
        for batch in batches:
            for ids in tok.encode_batch(batch.column("text").to_pylist()):
                arr = np.asarray(ids + ([eos] if eos is not None else []), dtype=dtype)
                sink.write(arr.tobytes())
                n += len(arr)
                offsets.append(n)
    fsutil.write_atomic(fsutil.join(out, rundir.TOKENS_DIR, name + ".idx"), np.asarray(offsets, dtype=np.int64).tobytes())
    yield pa.RecordBatch.from_pylist([{"file": name, "docs": len(offsets) - 1, "tokens": n, "dtype": np.dtype(dtype).name}])


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
