"""``curate ablate``: train K proxy models on K mixtures, fit weights → metric, propose the best.

Steps, each resumable from ``DIR`` (a killed run picks up where it stopped):

1. **Data** (``DIR/data/``): every source's text is read (document-schema Parquet/JSONL with a SQL
   ``where`` through DuckDB, a ``curate mix`` output's sources, plain text/LaTeX/Markdown, or a code
   tree), tokenised with a small byte-level BPE trained on a sample of all sources (on CPU the
   vocabulary dominates a proxy's cost) and saved as ``.npy`` token streams. The tail of each stream
   is its held-out validation text.
2. **Plan** (``DIR/plan.json``): K mixtures drawn from a Dirichlet around the prior, each within
   every source's epoch cap (a source may not be repeated more than ``max_epochs`` times in a proxy).
   The last ``held_out`` proxies are kept out of the fit to measure how well it ranks mixtures. K is
   ``proxies``, or what a budget pays for (``DIR/budget.json``, :mod:`curation.ablations.budget`).
   With repetition matching each source's training stream is cut so a proxy repeats it as often as
   the target run will (:func:`stream_limits`).
3. **Proxies** (``DIR/proxies/NNN/``): one :func:`curation.ablations.trainer.train` each, several
   processes at once where cores allow; a finished proxy is not retrained.
4. **Fit and search**: ``runs.parquet`` (one row per proxy: weights, metric, per-source losses),
   ``regression.json`` (the fit, held-out rank correlation, predicted vs actual), and
   ``best_mixture.yaml``, a config ``curate mix`` accepts; the cost (``regression.json``'s ``cost``).
5. **Scale-up check** (``--verify``, :mod:`curation.ablations.verify`): the proposal and three
   baselines at a larger scale, ``DIR/verify.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import logging
import math
import multiprocessing as mp
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from curation import config as configlib
from curation import rundir
from curation.ablations import regmix
from curation.config import bounded
from curation.errors import report
from curation.mixture.source import Source
from curation.schema import PARQUET_WRITE_OPTIONS

logger = logging.getLogger(__name__)

TARGET = "_target"


@dataclass(frozen=True)
class AblationSource(Source):
    """A :class:`curation.mixture.source.Source` for proxy training (kind, token cap, prior, share cap)."""

    #: Document-schema Parquet/JSONL (file or folder), a text/Markdown/LaTeX file or folder, or a code tree.
    input: str = ""
    #: documents | text | code; auto: documents for Parquet/JSONL, code for a folder holding source
    #: files but no text files, text otherwise.
    kind: str = "auto"
    #: documents: a SQL condition over the rows (the one dialect of curation.mixture.source: run here
    #: in DuckDB, and by ``curate mix`` in Spark when the proposed mixture is used), e.g. ``drop_reason IS NULL``.
    where: str = ""
    #: Read at most this many tokens of the source (documents in input order).
    max_tokens: int = bounded(2_000_000, lo=1)
    #: No proxy may repeat this source's training tokens more than this many times.
    max_epochs: float = bounded(4.0, lo=0, hi=1e6, lo_open=True)
    #: Prior weight (the centre of the sampled mixtures); 0 everywhere means uniform.
    prior: float = bounded(0.0, lo=0, hi=1)
    #: The largest share the final mixture may give this source (for a ``mixture:`` source: its
    #: ``max_epochs`` × unique tokens ÷ the mixture's total, so ``curate mix`` accepts the proposal).
    share_cap: float = bounded(1.0, lo=0, hi=1, lo_open=True)
    #: Unique tokens this source holds in the target run (the full-scale run the ablation stands in
    #: for), in the target run's tokens; 0: a ``mixture:`` source's unique tokens, else the tokens read.
    #: Sets how often a repetition-matched proxy repeats the source (``repetition``).
    target_tokens: int = bounded(0, lo=0, hi=10**18)


@dataclass(frozen=True)
class TargetRunSection:
    """The full-scale run the proxies stand in for; 0 means unknown. ``tokens`` turns on repetition
    matching; ``6 · params · tokens`` is its compute, for ``budget_share`` and the cost report."""

    params: int = bounded(0, lo=0, hi=10**15)
    tokens: int = bounded(0, lo=0, hi=10**18)


@dataclass(frozen=True)
class VerifySection:
    """``curate ablate --verify``: the proposal and three baselines trained at a larger scale."""

    #: The scale-up model has at least this many times the proxy's parameters (d_model grows,
    #: then n_layer where d_model is fixed) ...
    param_scale: float = bounded(4.0, lo=4, hi=1e6)
    #: ... and trains this many times the proxy's steps (same batch, sequence length and seed).
    step_scale: float = bounded(4.0, lo=4, hi=1e6)
    #: Fix the scale-up model's shape (0: grown from the proxy's); it must still reach param_scale.
    n_layer: int = bounded(0, lo=0, hi=256)
    d_model: int = bounded(0, lo=0, hi=16_384)


@dataclass(frozen=True)
class TargetConfig:
    #: Mean validation loss over these sources (default: all sources) ...
    sources: tuple[str, ...] = ()
    #: ... or the loss on this evaluation text (txt/md, or JSONL/Parquet with ``field``), e.g. GSM8K solutions.
    text: str = ""
    field: str = "text"


# Upper bounds are far above a proxy's needs; they turn a typo (an extra zero or three) into an error
# naming the key instead of an allocation that fails with a MemoryError traceback mid-run.
@dataclass(frozen=True)
class ModelSection:
    n_layer: int = bounded(2, lo=1, hi=256)
    d_model: int = bounded(128, lo=1, hi=16_384)
    n_head: int = bounded(4, lo=1, hi=1024)
    seq_len: int = bounded(128, lo=1, hi=65_536)


@dataclass(frozen=True)
class TrainSection:
    steps: int = bounded(300, lo=1, hi=10**9)
    batch_size: int = bounded(16, lo=1, hi=65_536)
    lr: float = bounded(3e-3, lo=0, hi=10, lo_open=True)
    eval_batches: int = bounded(8, lo=1, hi=1_000_000)
    #: 0: only at the end.
    checkpoint_every: int = bounded(100, lo=0)
    #: auto (CUDA when available), cpu, cuda or cuda:N.
    device: str = "auto"


@dataclass(frozen=True)
class AblationConfig:
    #: A ``curate mix`` output directory: its sources (unique documents) become the ablation's.
    mixture: str | None = None
    sources: tuple[AblationSource, ...] = ()
    #: ``train``: a byte-level BPE of ``vocab_size`` trained on the sources; or a local tokenizer.json.
    #: (A byte-level BPE holds at least its 256 bytes and the end-of-text token.)
    tokenizer: str = "train"
    vocab_size: int = bounded(2048, lo=257, hi=2**20)
    proxies: int = bounded(16, lo=3, hi=10_000)
    #: Proxies kept out of the regression fit to measure its rank correlation.
    held_out: int = bounded(4, lo=0, hi=10_000)
    #: Dirichlet concentration around the prior (1 with a uniform prior: uniform over the simplex).
    concentration: float = bounded(1.0, lo=0, hi=1e6, lo_open=True)
    target: TargetConfig = field(default_factory=TargetConfig)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    #: Proxies trained at once (0: one per core on CPU, one on a GPU).
    workers: int = bounded(0, lo=0, hi=1024)
    #: numpy and torch both take seeds below 2^63.
    seed: int = bounded(0, lo=0, hi=2**63 - 1)
    target_run: TargetRunSection = field(default_factory=TargetRunSection)
    #: matched: each proxy repeats every source as often as the target run will (its stream is cut to
    #: target_tokens × proxy tokens ÷ target_run.tokens, and the epoch caps are the target run's);
    #: none: every proxy draws from all it read; auto: matched when target_run.tokens is set.
    repetition: str = "auto"
    #: Choose ``proxies`` from a budget instead (0: off; both set: the smaller decides): CPU core-hours
    #: (``--budget``) ...
    budget_core_hours: float = bounded(0.0, lo=0, hi=1e9)
    #: ... or a share of the target run's compute (6 · target_run.params · target_run.tokens).
    budget_share: float = bounded(0.0, lo=0, hi=1)
    #: FLOP/s one core sustains on a proxy (0: measured on a few steps before the plan is made).
    flops_per_core: float = bounded(0.0, lo=0, hi=1e18)
    verify: VerifySection = field(default_factory=VerifySection)


#: Devices torch names (``resolve_device``); anything else fails inside a proxy's worker process.
DEVICES = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def load_config(path: str | None, overrides: list[str] | None = None) -> AblationConfig:
    """The ablation config, every value checked (ranges per field, then the checks across fields and
    files below), so a bad one is a one-line :class:`~curation.config.ConfigError` before any work."""
    cfg = configlib.load(AblationConfig, path, overrides)
    if cfg.mixture:
        cfg = replace(cfg, sources=tuple(cfg.sources) + mixture_sources(cfg.mixture))
    names = [s.name for s in cfg.sources]
    if len(names) < 2:
        raise configlib.ConfigError("an ablation needs at least two sources (sources: or mixture:)")
    if len(set(names)) != len(names) or not all(names) or TARGET in names:
        raise configlib.ConfigError(f"source names must be unique and non-empty: {names}")
    if cfg.proxies - cfg.held_out < 3:
        raise configlib.ConfigError(f"proxies ({cfg.proxies}) must exceed held_out ({cfg.held_out}) by at least 3 to fit")
    if cfg.model.d_model % cfg.model.n_head:
        raise configlib.ConfigError(f"model.d_model ({cfg.model.d_model}) must be a multiple of model.n_head "
                                    f"({cfg.model.n_head})")
    if not DEVICES.fullmatch(cfg.train.device):
        raise configlib.ConfigError(f"train.device must be auto, cpu, cuda or cuda:N, got {cfg.train.device!r}")
    if cfg.target.text and not cfg.target.field:
        raise configlib.ConfigError("target.field must name the evaluation text's column")
    unknown = sorted(set(cfg.target.sources) - set(names))
    if unknown:
        raise configlib.ConfigError(f"target.sources names unknown sources {unknown} (have {names})")
    if cfg.target.text and cfg.target.sources:
        raise configlib.ConfigError("target: give sources or text, not both")
    for s in cfg.sources:
        if s.kind not in ("auto", "documents", "text", "code"):
            raise configlib.ConfigError(f"source {s.name!r}: kind must be auto, documents, text or code")
        if not s.input:  # Path("") is the working directory, which exists
            raise configlib.ConfigError(f"source {s.name!r}: input is required")
        if not Path(s.input).exists():
            raise configlib.ConfigError(f"source {s.name!r}: input not found: {s.input}")
    priors = np.array([s.prior for s in cfg.sources])
    if priors.any():
        try:
            regmix.check_weights(priors, names)  # a prior that is not a distribution is a typo, not a hint
        except ValueError as exc:
            raise configlib.ConfigError(f"sources' prior: {exc}") from None
    if cfg.tokenizer != "train" and not Path(cfg.tokenizer).is_file():
        raise configlib.ConfigError(f"tokenizer file not found: {cfg.tokenizer}")
    if cfg.target.text and not Path(cfg.target.text).exists():
        raise configlib.ConfigError(f"target.text not found: {cfg.target.text}")
    if cfg.repetition not in ("auto", "matched", "none"):
        raise configlib.ConfigError(f"repetition must be auto, matched or none, got {cfg.repetition!r}")
    if cfg.repetition == "matched" and not cfg.target_run.tokens:
        raise configlib.ConfigError("repetition: matched needs the target run's size (target_run.tokens)")
    if cfg.budget_share and not (cfg.target_run.params and cfg.target_run.tokens):
        raise configlib.ConfigError("budget_share needs the target run's size (target_run.params and target_run.tokens)")
    if cfg.verify.d_model and cfg.verify.d_model % cfg.model.n_head:
        raise configlib.ConfigError(f"verify.d_model ({cfg.verify.d_model}) must be a multiple of model.n_head "
                                    f"({cfg.model.n_head})")
    return cfg


def repetition_matched(cfg: AblationConfig) -> bool:
    return cfg.repetition == "matched" or (cfg.repetition == "auto" and cfg.target_run.tokens > 0)


def mixture_sources(mix_dir: str) -> tuple[AblationSource, ...]:
    """The sources of a ``curate mix`` output, each its unique documents (``copy = 0``), centred on
    the mixture's own shares and capped so the proposal stays within its epoch limits."""
    manifest = Path(mix_dir) / rundir.MANIFEST
    if not manifest.is_file():
        raise configlib.ConfigError(f"mixture: {manifest} not found (the output of `curate mix`)")
    try:
        m = json.loads(manifest.read_text(encoding="utf-8"))
        epochs = {s["name"]: float(s.get("max_epochs", 1.0))
                  for s in (configlib.safe_load(m["config"]) or {}).get("sources", [])}
        total = m["total_tokens"]
        if total <= 0:  # an empty mixture: every share cap would divide by zero
            raise configlib.ConfigError(f"mixture: {manifest} holds no tokens; nothing to ablate")
        return tuple(AblationSource(name=n, input=str(mix_dir), kind="documents", where=f"source = '{n}' AND copy = 0",
                                    max_epochs=epochs.get(n, 1.0), prior=float(r["share"]),
                                    share_cap=min(1.0, epochs.get(n, 1.0) * r["unique_tokens"] / total),
                                    target_tokens=int(r["unique_tokens"]))
                     for n, r in sorted(m["sources"].items()))
    except configlib.ConfigError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise configlib.ConfigError(f"mixture: {manifest} is not a `curate mix` manifest ({type(exc).__name__}: "
                                    f"{exc})") from None


# ---------------------------------------------------------------------------------------- data


def _kind(s: AblationSource) -> str:
    if s.kind != "auto":
        return s.kind
    p = Path(s.input)
    doc_ext = (".parquet", ".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
    if p.is_file():
        return "documents" if p.name.endswith(doc_ext) else "text"
    files = [f.name for f in p.rglob("*") if f.is_file()][:10_000]
    if any(f.endswith(doc_ext) for f in files):
        return "documents"
    from curation.ingest.sources import LANGUAGES

    text_ext = (".txt", ".md", ".tex")
    if any(f.endswith(tuple(e for e in LANGUAGES if e not in text_ext)) for f in files) and not any(f.endswith(text_ext) for f in files):
        return "code"
    return "text"


def source_texts(s: AblationSource, column: str = "text") -> Iterator[str]:
    """The source's kept texts, in input order (for documents: ``column``, e.g. a benchmark's
    ``answer`` field when the source is an evaluation file)."""
    kind = _kind(s)
    if kind == "documents":
        import duckdb

        p = Path(s.input)
        pattern = str(p / "**" / "*.parquet") if p.is_dir() else str(p)
        parquet = p.name.endswith(".parquet") or (p.is_dir() and any(p.rglob("*.parquet")))
        if p.is_dir() and not parquet:
            pattern = str(p / "**" / "*.json*")
        reader = f"read_parquet('{pattern}')" if parquet else f"read_json_auto('{pattern}', format='newline_delimited')"
        con = duckdb.connect()
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
        where = s.where or ("drop_reason IS NULL" if "drop_reason" in cols else "TRUE")
        col = '"' + column.replace('"', '""') + '"'
        cur = con.execute(f"SELECT CAST({col} AS VARCHAR) FROM {reader} WHERE ({where}) AND {col} IS NOT NULL")
        while rows := cur.fetchmany(1024):
            yield from (r[0] for r in rows)
        return
    from curation.ingest.sources import code_documents, text_documents

    docs = code_documents(s.input) if kind == "code" else text_documents(s.input, source=s.name)
    yield from (d.text for d in docs if d.kept)


def _identity(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_data(cfg: AblationConfig, out: Path) -> dict:
    """Token streams per source (and the target text) in ``out/data``; reused when unchanged."""
    from curation.ablations.token_streams import tokenize_texts, train_bpe_tokenizer

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    # A target over sources needs no data of its own: changing it reuses the streams (and the proxies).
    # target_tokens says how much of a source the target run has, not what is read: not part of the data.
    srcs = [{k: v for k, v in configlib.to_dict(s).items() if k != "target_tokens"} for s in cfg.sources]
    ident = _identity({"sources": srcs, "tokenizer": cfg.tokenizer, "vocab": cfg.vocab_size,
                       "target": [cfg.target.text, cfg.target.field] if cfg.target.text else None})
    manifest_path = data / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("identity") == ident:
            return manifest
        logger.info("data config changed: preparing the token streams again")
    tok_path = data / "tokenizer.json"
    if cfg.tokenizer == "train":
        # A sample of every source, the same amount from each, so no source owns the vocabulary.
        sample: list[str] = []
        for s in cfg.sources:
            chars = 0
            for t in source_texts(s):
                sample.append(t[:20_000])
                chars += min(len(t), 20_000)
                if chars >= 1_000_000:
                    break
        train_bpe_tokenizer(sample, cfg.vocab_size, tok_path)
    else:
        tok_path.write_bytes(Path(cfg.tokenizer).read_bytes())
    counts = {}
    streams = [(s.name, source_texts(s), s.max_tokens) for s in cfg.sources]
    if cfg.target.text:
        target = AblationSource(name=TARGET, input=cfg.target.text)
        streams.append((TARGET, source_texts(target, cfg.target.field), 10_000_000))
    for name, texts, limit in streams:
        ids = _tokenize_upto(tok_path, texts, limit, tokenize_texts)
        if len(ids) == 0:
            raise ValueError(f"source {name!r} has no text (check its input and where)")
        np.save(data / f"{name}.npy", ids, allow_pickle=False)
        counts[name] = int(len(ids))
        logger.info("source %s: %s tokens", name, f"{len(ids):,}")
    manifest = {"identity": ident, "tokens": counts, "vocab_size": _vocab(tok_path)}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _tokenize_upto(tok_path: Path, texts: Iterator[str], limit: int, tokenize) -> np.ndarray:
    parts, n, batch = [], 0, []
    for t in texts:
        batch.append(t)
        if len(batch) == 256:
            parts.append(tokenize(tok_path, batch))
            n += len(parts[-1])
            batch = []
            if n >= limit:
                break
    if batch and n < limit:
        parts.append(tokenize(tok_path, batch))
    ids = np.concatenate(parts) if parts else np.zeros(0, np.uint16)
    return ids[:limit]


def _vocab(tok_path: Path) -> int:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tok_path)).get_vocab_size()


# ---------------------------------------------------------------------------------------- plan


def load_sources(out: Path, names: list[str], seq_len: int, limits: dict[str, int] | None = None):
    """Each source's train/val split; with ``limits`` (repetition matching) the training head is cut
    to that many tokens, the validation tail kept whole (every run is judged on the same text)."""
    from curation.ablations.token_streams import split_tokens

    srcs = [split_tokens(n, np.load(out / "data" / f"{n}.npy", mmap_mode="r", allow_pickle=False), seq_len=seq_len)
            for n in names]
    for s in srcs:
        if limits and s.name in limits:
            s.train = s.train[: limits[s.name]]
    target = out / "data" / f"{TARGET}.npy"
    if target.is_file():
        ids = np.load(target, mmap_mode="r", allow_pickle=False)
        if len(ids) < seq_len + 1:
            raise ValueError(f"the target text has {len(ids)} tokens, fewer than one window of {seq_len + 1}")
        from curation.ablations.token_streams import SourceTokens

        srcs.append(SourceTokens(TARGET, train=ids, val=ids))  # weight 0: never trained on, only evaluated
    return srcs


def run_tokens(cfg: AblationConfig, steps: int | None = None) -> int:
    """Tokens a run of ``steps`` (default: a proxy's) reads: every window is seq_len + 1 tokens."""
    return (steps or cfg.train.steps) * cfg.train.batch_size * (cfg.model.seq_len + 1)


def stream_limits(cfg: AblationConfig, read: dict[str, int], available: dict[str, int], tokens: int
                  ) -> dict[str, int] | None:
    """Repetition matching (None when off): the training tokens of each source a run of ``tokens``
    may draw from, so that it repeats the source as often as the target run will.

    The target run gives a source the share w of its D tokens and holds U unique tokens of it, so it
    repeats it D·w/U times; a proxy of P tokens at the same share repeats a stream of L tokens P·w/L
    times. Equal for every w when L = U·P/D: the cut does not depend on the mixture, so all proxies
    share one set of streams (and the epoch caps, w ≤ max_epochs·U/D, are the target run's).
    ``read``: tokens read per source (U when ``target_tokens`` is not set); ``available``: its
    training head, the most a stream can hold.
    """
    if not repetition_matched(cfg):
        return None
    window = cfg.model.seq_len + 1
    limits = {}
    for s in cfg.sources:
        unique = s.target_tokens or read[s.name]
        want = math.ceil(unique * tokens / cfg.target_run.tokens)
        limits[s.name] = min(available[s.name], max(window, want))
        if want > available[s.name]:
            logger.warning("source %s: a run of %s tokens needs %s unique tokens to repeat it as the target run "
                           "does, and has %s: it repeats it up to %.3gx more often", s.name, f"{tokens:,}",
                           f"{want:,}", f"{available[s.name]:,}", want / available[s.name])
        elif want < window:
            logger.warning("source %s: the matched stream (%d tokens) is shorter than one window; kept at %d, so "
                           "it is repeated less often than in the target run", s.name, want, window)
    return limits


def make_plan(cfg: AblationConfig, out: Path, train_tokens: dict[str, int], limits: dict[str, int] | None = None) -> dict:
    """K mixtures within the epoch caps (saved, so a resumed run trains the same ones). With
    ``limits`` (repetition matching) a source's stream is that long and the caps follow from it."""
    names = [s.name for s in cfg.sources]
    demand = run_tokens(cfg)
    streams = limits or train_tokens
    # 0.999: a margin so that rounding the proposed shares never passes a cap in `curate mix`.
    caps = np.array([min(s.share_cap * 0.999, s.max_epochs * streams[s.name] / demand) for s in cfg.sources])
    prior = np.array([s.prior for s in cfg.sources]) if any(s.prior for s in cfg.sources) else np.full(len(names), 1 / len(names))
    simplex = regmix.Simplex(prior=prior, caps=caps, concentration=cfg.concentration, names=tuple(names))
    spec = {"names": names, "caps": caps.round(9).tolist(), "prior": prior.tolist(), "k": cfg.proxies,
            "conc": cfg.concentration, "seed": cfg.seed}
    if limits is not None:  # only then: plans made before repetition matching keep their identity
        spec["limits"] = limits
    ident = _identity(spec)
    path = out / "plan.json"
    if path.is_file():
        plan = json.loads(path.read_text())
        if plan.get("identity") == ident:
            return plan
        raise configlib.ConfigError(f"{out} holds an ablation with a different plan (sources, caps, proxies or seed "
                                    "changed): use a new output directory")
    weights = simplex.sample(cfg.proxies, np.random.default_rng(cfg.seed))
    plan = {"identity": ident, "names": names, "prior": prior.tolist(), "caps": caps.tolist(),
            "weights": weights.tolist(), "held_out": list(range(cfg.proxies - cfg.held_out, cfg.proxies)),
            "repetition": "matched" if limits is not None else "none", "train_tokens": limits}
    path.write_text(json.dumps(plan, indent=2) + "\n")
    return plan


# ---------------------------------------------------------------------------------------- proxies


def _train_one(out: str, run_dir: str, names: list[str], weights: list[float], model: dict, train: dict, threads: int,
               seed: int, limits: dict[str, int] | None = None) -> dict:
    """One run (a proxy, or a scale-up run of ``--verify``) into ``run_dir``, in a worker process
    (spawned: torch does not survive fork with threads)."""
    from curation.ablations.proxy_model import ProxyConfig
    from curation.ablations.trainer import TrainConfig
    from curation.ablations.trainer import train as train_proxy

    outp = Path(out)
    srcs = load_sources(outp, names, model["seq_len"], limits)
    w = list(weights) + ([0.0] if len(srcs) > len(names) else [])
    vocab = json.loads((outp / "data" / "manifest.json").read_text())["vocab_size"]
    tcfg = TrainConfig(steps=train["steps"], batch_size=train["batch_size"], lr=train["lr"],
                       eval_batches=train["eval_batches"], checkpoint_every=train["checkpoint_every"],
                       device=train["device"], threads=threads, log_every=10,
                       # Every proxy shares one seed (same initial weights, same random stream): the
                       # differences between proxies are then the mixtures', not the luck of the draw
                       # (common random numbers), which is what the regression has to see.
                       seed=seed)
    return train_proxy(ProxyConfig(vocab_size=vocab, **model), tcfg, srcs, w, run_dir)


def _workers(cfg: AblationConfig, runs: int | None = None) -> tuple[int, int]:
    """(runs trained at once, torch threads each; 0: a GPU's default)."""
    import torch

    runs = runs or cfg.proxies
    if cfg.train.device == "cuda" or (cfg.train.device == "auto" and torch.cuda.is_available()):
        return cfg.workers or 1, 0
    cores = os.cpu_count() or 1
    n = cfg.workers or cores
    return max(1, min(n, runs)), max(1, cores // max(1, min(n, runs)))


def train_runs(cfg: AblationConfig, out: Path, runs: list[tuple[Path, list[float]]], model: dict, train: dict,
               limits: dict[str, int] | None, what: str = "proxy") -> tuple[dict[int, dict], int]:
    """Train ``runs`` (run folder, weights) several at a time; a finished one returns its saved result.
    Returns the results by index and the cores each run used (for the cost report)."""
    names = [s.name for s in cfg.sources]
    workers, threads = _workers(cfg, len(runs))
    results: dict[int, dict] = {}
    logger.info("training %d %s runs (%d at a time)", len(runs), what, workers)
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futs = {pool.submit(_train_one, str(out), str(d), names, w, model, train, threads, cfg.seed, limits): k
                for k, (d, w) in enumerate(runs)}
        for fut in cf.as_completed(futs):
            k = futs[fut]
            results[k] = fut.result()  # a failed run stops the ablation with its error; finished ones stay done
            logger.info("%s %d/%d done (%d finished): metric %.4f", what, k + 1, len(runs), len(results),
                        _metric(results[k], cfg, names))
    return results, max(1, threads)


def apply_budget(cfg: AblationConfig, out: Path) -> tuple[AblationConfig, dict | None]:
    """``proxies`` from ``budget_core_hours``/``budget_share`` (unchanged without a budget).

    The result is saved in ``DIR/budget.json`` and reused while the budget's inputs are unchanged: a
    measured FLOP/s differs from one run to the next, and a resumed ablation must plan the same K.
    """
    from curation.ablations import budget as budgetlib
    from curation.ablations.proxy_model import ProxyConfig

    if not (cfg.budget_core_hours or cfg.budget_share):
        return cfg, None
    vocab = cfg.vocab_size if cfg.tokenizer == "train" else _vocab(Path(cfg.tokenizer))
    pcfg = ProxyConfig(vocab_size=vocab, **configlib.to_dict(cfg.model))
    ident = _identity({"core_hours": cfg.budget_core_hours, "share": cfg.budget_share, "fpc": cfg.flops_per_core,
                       "target_run": configlib.to_dict(cfg.target_run), "model": configlib.to_dict(pcfg),
                       # checkpoint_every changes nothing a proxy computes: a resume may change it
                       "train": {k: v for k, v in configlib.to_dict(cfg.train).items() if k != "checkpoint_every"},
                       "held_out": cfg.held_out, "n": len(cfg.sources),
                       "target_text": bool(cfg.target.text)})
    path = out / "budget.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("identity") == ident:
            return replace(cfg, proxies=int(saved["proxies"])), saved
    proxy_flops = budgetlib.run_flops(pcfg.flops_per_token(), cfg.train.steps, cfg.train.batch_size, cfg.model.seq_len,
                                      cfg.train.eval_batches, len(cfg.sources) + bool(cfg.target.text))
    fpc = cfg.flops_per_core or budgetlib.measure_flops_per_core(pcfg, cfg.train.batch_size, cfg.train.device)
    b = budgetlib.proxies_for(proxy_flops, fpc, cfg.held_out, core_hours=cfg.budget_core_hours,
                              share=cfg.budget_share, measured=not cfg.flops_per_core,
                              target_flops=budgetlib.target_run_flops(cfg.target_run.params, cfg.target_run.tokens))
    saved = {"identity": ident, **b.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=2) + "\n")
    logger.info("budget: %d proxies at %.3g core-hours each (%s)", b.proxies, b.proxy_core_hours, b.limited_by)
    return replace(cfg, proxies=b.proxies), saved


def cost_report(cfg: AblationConfig, results: dict[int, dict], cores: int, budget: dict | None, vocab: int) -> dict:
    """What the ablation cost: proxies, FLOPs, estimated and actual core-hours, share of the target run."""
    from curation.ablations import budget as budgetlib

    flops = _proxy_flops(cfg, vocab=vocab) * len(results)
    # wall time × the cores each proxy held: what the machine gave, waits and evaluations included
    actual_h = sum(float(r.get("wall_s") or 0.0) for r in results.values()) * cores / 3600
    cost = {"proxies": len(results), "flops": flops, "cores_per_proxy": cores, "actual_core_hours": round(actual_h, 6)}
    fpc = budget["flops_per_core"] if budget else cfg.flops_per_core
    if fpc:
        cost.update(flops_per_core=fpc, estimated_core_hours=flops / fpc / 3600)
    if budget:
        cost.update({k: budget[k] for k in ("budget_core_hours", "budget_share", "limited_by", "measured",
                                            "proxy_core_hours")})
    target = budgetlib.target_run_flops(cfg.target_run.params, cfg.target_run.tokens)
    if target:
        cost.update(target_run_flops=target, share_of_target_run=flops / target)
    return cost


def _proxy_params(cfg: AblationConfig, vocab: int) -> int:
    from curation.ablations.proxy_model import ProxyConfig

    return ProxyConfig(vocab_size=vocab, **configlib.to_dict(cfg.model)).n_params()


def _proxy_flops(cfg: AblationConfig, model: dict | None = None, steps: int | None = None,
                 vocab: int | None = None) -> float:
    """FLOPs of one run of ``model`` (default: the proxy) for ``steps``; ``vocab`` default: the config's."""
    from curation.ablations import budget as budgetlib
    from curation.ablations.proxy_model import ProxyConfig

    vocab = vocab or (cfg.vocab_size if cfg.tokenizer == "train" else _vocab(Path(cfg.tokenizer)))
    pcfg = ProxyConfig(vocab_size=vocab, **(model or configlib.to_dict(cfg.model)))
    return budgetlib.run_flops(pcfg.flops_per_token(), steps or cfg.train.steps, cfg.train.batch_size,
                               pcfg.seq_len, cfg.train.eval_batches, len(cfg.sources) + bool(cfg.target.text))


def run_ablation(cfg: AblationConfig, out: Path, verify: bool = False) -> dict:
    """The whole ablation (resumable); ``verify``: then the scale-up check (:mod:`.verify`)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cfg, budget = apply_budget(cfg, out)  # before any data work: a budget too small is a one-line error
    (out / "ablation.yaml").write_text(configlib.dump(cfg))
    names = [s.name for s in cfg.sources]
    manifest = prepare_data(cfg, out)
    srcs = load_sources(out, names, cfg.model.seq_len)  # also: too few tokens for a split is an error here
    available = {s.name: len(s.train) for s in srcs[: len(names)]}
    limits = stream_limits(cfg, manifest["tokens"], available, run_tokens(cfg))
    plan = make_plan(cfg, out, available, limits)
    model, train = configlib.to_dict(cfg.model), configlib.to_dict(cfg.train)
    runs = [(out / "proxies" / f"{k:03d}", w) for k, w in enumerate(plan["weights"])]
    results, cores = train_runs(cfg, out, runs, model, train, limits)
    cost = cost_report(cfg, results, cores, budget, manifest["vocab_size"])
    report = summarise(cfg, out, plan, results, manifest, time.perf_counter() - started,
                       extra={"cost": cost, "repetition": plan.get("repetition", "none")})
    if verify:
        from curation.ablations import verify as verifylib

        report["verify"] = verifylib.run_verify(cfg, out, report, cost)
    return report


def _metric(result: dict, cfg: AblationConfig, names: list[str]) -> float:
    val = result["val_loss"]
    if cfg.target.text:
        return float(val[TARGET])
    return float(np.mean([val[n] for n in (cfg.target.sources or names)]))


def summarise(cfg: AblationConfig, out: Path, plan: dict, results: dict[int, dict], manifest: dict, seconds: float,
              extra: dict | None = None) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = plan["names"]
    W = np.array(plan["weights"])
    y = np.array([_metric(results[k], cfg, names) for k in range(len(W))])
    held = np.array([k in set(plan["held_out"]) for k in range(len(W))])
    rows = []
    for k in range(len(W)):
        r = results[k]
        row = {"proxy": k, "split": "held_out" if held[k] else "fit", "metric": float(y[k])}
        row.update({f"w_{n}": float(W[k, i]) for i, n in enumerate(names)})
        row.update({f"val_loss_{n}": float(v) for n, v in r["val_loss"].items()})
        row.update({key: r.get(key) for key in ("steps", "tokens", "wall_s", "tokens_per_s", "n_params", "device")})
        rows.append(row)
    fitted = regmix.fit(W[~held], y[~held])
    pred_held = fitted.predict(W[held]) if held.any() else np.zeros(0)
    rho = regmix.spearman(pred_held, y[held]) if held.sum() >= 3 else float("nan")
    final = regmix.fit(W, y)  # the proposal uses every proxy
    simplex = regmix.Simplex(prior=np.array(plan["prior"]), caps=np.array(plan["caps"]),
                             concentration=cfg.concentration, names=tuple(names))
    best, best_pred = regmix.propose(final, simplex, np.random.default_rng(cfg.seed + 1))
    for row, p in zip(rows, final.predict(W)):
        row["predicted"] = float(p)
    pq.write_table(pa.Table.from_pylist(rows), out / "runs.parquet", **PARQUET_WRITE_OPTIONS)
    report = {
        "target": configlib.to_dict(cfg.target) if (cfg.target.text or cfg.target.sources) else {"sources": names},
        "proxies": len(W), "held_out": int(held.sum()),
        "held_out_spearman": rho, "held_out_predicted": pred_held.tolist(), "held_out_actual": y[held].tolist(),
        # Every proxy predicted by a fit without it: a steadier figure than a handful held out.
        "cross_validated_spearman": regmix.spearman(final.loo_predictions, y),
        "fit": fitted.to_dict(), "final_fit": final.to_dict(),
        "best_weights": dict(zip(names, best.round(6).tolist())), "best_predicted_metric": best_pred,
        "best_proxy": {"proxy": int(y.argmin()), "metric": float(y.min()), "weights": dict(zip(names, W[y.argmin()].round(6).tolist()))},
        "tokens": manifest["tokens"], "seconds": round(seconds, 1), **(extra or {}),
    }
    (out / "regression.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "best_mixture.yaml").write_text(best_mixture_yaml(cfg, dict(zip(names, best)), report))
    return report


def best_mixture_yaml(cfg: AblationConfig, weights: dict[str, float], report: dict) -> str:
    """A ``curate mix`` config with the proposed shares (rounded to 1e-6, summing to exactly 1)."""
    import yaml

    names = list(weights)
    shares = np.round(np.array([weights[n] for n in names]), 6)
    shares[int(shares.argmax())] += round(1.0 - shares.sum(), 6)
    if cfg.mixture:
        manifest = json.loads((Path(cfg.mixture) / rundir.MANIFEST).read_text())
        mix = yaml.safe_load(manifest["config"])
        mix.pop("preset", None)
        by = {s["name"]: s for s in mix.get("sources", [])}
        mix["sources"] = [{**by.get(n, {"name": n}), "share": float(sh)} for n, sh in zip(names, shares)]
    else:
        srcs = []
        for s, sh in zip(cfg.sources, shares):
            entry = {"name": s.name, "share": float(sh), "input": s.input, "max_epochs": s.max_epochs}
            if _kind(s) == "documents" and s.where:
                entry["where"] = s.where
            srcs.append(entry)
        mix = {"tokenizer": "", "total_tokens": 0, "sources": srcs}
    rho = report["held_out_spearman"]
    head = (f"# Proposed by `curate ablate` (RegMix: {report['final_fit']['model']}, "
            f"{report['proxies']} proxies).\n# Predicted metric {report['best_predicted_metric']:.4f}; best proxy trained "
            f"{report['best_proxy']['metric']:.4f}; held-out rank correlation {rho:.3f} over {report['held_out']} proxies.\n")
    if not cfg.mixture:
        head += ("# Set tokenizer and total_tokens; sources that are not document-schema Parquet/JSONL need "
                 "`curate ingest` first.\n")
    return head + yaml.safe_dump(mix, sort_keys=False)


# ---------------------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help="ablation YAML (sources or mixture:, model, train, target)")
    p.add_argument("--output", "-o", required=True, help="output directory (resumable: rerun to continue)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--budget", type=float, default=None, metavar="CORE_HOURS",
                   help="choose the number of proxies from this many CPU core-hours (sets budget_core_hours)")
    p.add_argument("--verify", action="store_true",
                   help="then train the proposal and three baselines at >= 4x the proxy's size and steps (verify.json)")


def run(args: argparse.Namespace) -> int:
    from curation.ablations.trainer import CheckpointError  # torch: imported only when ablate runs
    from curation.output_dir import OutputRefused, claim

    try:
        overrides = list(args.set) + ([f"budget_core_hours={args.budget}"] if args.budget is not None else [])
        cfg = load_config(args.config, overrides)
        # Resumable, so never cleared; but never a folder curate did not make, nor one inside a source.
        claim(args.output, "ablate", resume=True,
              inputs=[p for p in (*(s.input for s in cfg.sources), cfg.mixture, cfg.target.text) if p])
        summary = run_ablation(cfg, Path(args.output), verify=getattr(args, "verify", False))
    except (configlib.ConfigError, ValueError, FileNotFoundError, OutputRefused, CheckpointError) as exc:
        return report("ablate", exc)
    best = ", ".join(f"{n} {w:.3f}" for n, w in summary["best_weights"].items())
    print(f"ablation of {summary['proxies']} proxies in {summary['seconds']}s: held-out rank correlation "
          f"{summary['held_out_spearman']:.3f}; proposed mixture: {best} -> {Path(args.output) / 'best_mixture.yaml'}")
    print(cost_line(summary.get("cost", {})))
    if "verify" in summary:
        print(summary["verify"]["verdict"] + f" -> {Path(args.output) / 'verify.json'}")
    return 0


def cost_line(cost: dict) -> str:
    """The cost report in one line: proxies, core-hours (estimated where known, and actual), share."""
    parts = [f"cost: {cost.get('proxies', 0)} proxies"]
    if "budget_core_hours" in cost:
        b = (f"{cost['budget_core_hours']:g} core-hours" if cost["limited_by"] == "core_hours"
             else f"{cost['budget_share']:g} of the target run")
        parts.append(f"chosen from a budget of {b}")
    if "estimated_core_hours" in cost:
        parts.append(f"estimated {cost['estimated_core_hours']:.3g} core-hours")
    parts.append(f"actual {cost.get('actual_core_hours', 0):.3g} core-hours")
    if "share_of_target_run" in cost:
        parts.append(f"{cost['share_of_target_run']:.3%} of the target run's compute")
    return ", ".join(parts)
