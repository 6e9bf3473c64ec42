"""``curate ablate``: train K proxy models on K mixtures, fit weights → metric, propose the best.

Steps, each resumable from ``DIR`` (a killed run picks up where it stopped):

1. **Data** (``DIR/data/``): every source's text is read (document-schema Parquet/JSONL with a SQL
   ``where`` through DuckDB, a ``curate mix`` output's sources, plain text/LaTeX/Markdown, or a code
   tree), tokenised with a small byte-level BPE trained on a sample of all sources (on CPU the
   vocabulary dominates a proxy's cost) and saved as ``.npy`` token streams. The tail of each stream
   is its held-out validation text.
2. **Plan** (``DIR/plan.json``): K mixtures drawn from a Dirichlet around the prior, each within
   every source's epoch cap (a source may not be repeated more than ``max_epochs`` times in a proxy).
   The last ``held_out`` proxies are kept out of the fit to measure how well it ranks mixtures.
3. **Proxies** (``DIR/proxies/NNN/``): one :func:`curation.ablations.trainer.train` each, several
   processes at once where cores allow; a finished proxy is not retrained.
4. **Fit and search**: ``runs.parquet`` (one row per proxy: weights, metric, per-source losses),
   ``regression.json`` (the fit, held-out rank correlation, predicted vs actual), and
   ``best_mixture.yaml``, a config ``curate mix`` accepts.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import logging
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
    return cfg


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
                                    share_cap=min(1.0, epochs.get(n, 1.0) * r["unique_tokens"] / total))
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
    ident = _identity({"sources": configlib.to_dict(cfg.sources), "tokenizer": cfg.tokenizer, "vocab": cfg.vocab_size,
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


def load_sources(out: Path, names: list[str], seq_len: int):
    from curation.ablations.token_streams import split_tokens

    srcs = [split_tokens(n, np.load(out / "data" / f"{n}.npy", mmap_mode="r", allow_pickle=False), seq_len=seq_len)
            for n in names]
    target = out / "data" / f"{TARGET}.npy"
    if target.is_file():
        ids = np.load(target, mmap_mode="r", allow_pickle=False)
        if len(ids) < seq_len + 1:
            raise ValueError(f"the target text has {len(ids)} tokens, fewer than one window of {seq_len + 1}")
        from curation.ablations.token_streams import SourceTokens

        srcs.append(SourceTokens(TARGET, train=ids, val=ids))  # weight 0: never trained on, only evaluated
    return srcs


def make_plan(cfg: AblationConfig, out: Path, train_tokens: dict[str, int]) -> dict:
    """K mixtures within the epoch caps (saved, so a resumed run trains the same ones)."""
    names = [s.name for s in cfg.sources]
    demand = cfg.train.steps * cfg.train.batch_size * (cfg.model.seq_len + 1)
    # 0.999: a margin so that rounding the proposed shares never passes a cap in `curate mix`.
    caps = np.array([min(s.share_cap * 0.999, s.max_epochs * train_tokens[s.name] / demand) for s in cfg.sources])
    prior = np.array([s.prior for s in cfg.sources]) if any(s.prior for s in cfg.sources) else np.full(len(names), 1 / len(names))
    simplex = regmix.Simplex(prior=prior, caps=caps, concentration=cfg.concentration, names=tuple(names))
    ident = _identity({"names": names, "caps": caps.round(9).tolist(), "prior": prior.tolist(), "k": cfg.proxies,
                       "conc": cfg.concentration, "seed": cfg.seed})
    path = out / "plan.json"
    if path.is_file():
        plan = json.loads(path.read_text())
        if plan.get("identity") == ident:
            return plan
        raise configlib.ConfigError(f"{out} holds an ablation with a different plan (sources, caps, proxies or seed "
                                    "changed): use a new output directory")
    weights = simplex.sample(cfg.proxies, np.random.default_rng(cfg.seed))
    plan = {"identity": ident, "names": names, "prior": prior.tolist(), "caps": caps.tolist(),
            "weights": weights.tolist(), "held_out": list(range(cfg.proxies - cfg.held_out, cfg.proxies))}
    path.write_text(json.dumps(plan, indent=2) + "\n")
    return plan


# ---------------------------------------------------------------------------------------- proxies


def _train_one(out: str, k: int, names: list[str], weights: list[float], model: dict, train: dict, threads: int,
               seed: int) -> dict:
    """One proxy, in a worker process (spawned: torch does not survive fork with threads)."""
    from curation.ablations.proxy_model import ProxyConfig
    from curation.ablations.trainer import TrainConfig
    from curation.ablations.trainer import train as train_proxy

    outp = Path(out)
    srcs = load_sources(outp, names, model["seq_len"])
    w = list(weights) + ([0.0] if len(srcs) > len(names) else [])
    vocab = json.loads((outp / "data" / "manifest.json").read_text())["vocab_size"]
    tcfg = TrainConfig(steps=train["steps"], batch_size=train["batch_size"], lr=train["lr"],
                       eval_batches=train["eval_batches"], checkpoint_every=train["checkpoint_every"],
                       device=train["device"], threads=threads, log_every=10,
                       # Every proxy shares one seed (same initial weights, same random stream): the
                       # differences between proxies are then the mixtures', not the luck of the draw
                       # (common random numbers), which is what the regression has to see.
                       seed=seed)
    return train_proxy(ProxyConfig(vocab_size=vocab, **model), tcfg, srcs, w, outp / "proxies" / f"{k:03d}")


def _workers(cfg: AblationConfig) -> tuple[int, int]:
    import torch

    if cfg.train.device == "cuda" or (cfg.train.device == "auto" and torch.cuda.is_available()):
        return cfg.workers or 1, 0
    cores = os.cpu_count() or 1
    n = cfg.workers or cores
    return max(1, min(n, cfg.proxies)), max(1, cores // max(1, min(n, cfg.proxies)))


def run_ablation(cfg: AblationConfig, out: Path) -> dict:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.yaml").write_text(configlib.dump(cfg))
    names = [s.name for s in cfg.sources]
    manifest = prepare_data(cfg, out)
    srcs = load_sources(out, names, cfg.model.seq_len)  # also: too few tokens for a split is an error here
    plan = make_plan(cfg, out, {s.name: len(s.train) for s in srcs[: len(names)]})
    workers, threads = _workers(cfg)
    model, train = configlib.to_dict(cfg.model), configlib.to_dict(cfg.train)
    results: dict[int, dict] = {}
    logger.info("training %d proxies (%d at a time)", cfg.proxies, workers)
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futs = {pool.submit(_train_one, str(out), k, names, w, model, train, threads, cfg.seed): k for k, w in enumerate(plan["weights"])}
        for fut in cf.as_completed(futs):
            k = futs[fut]
            results[k] = fut.result()  # a failed proxy stops the ablation with its error; finished ones stay done
            logger.info("proxy %d/%d done (%d finished): metric %.4f", k + 1, cfg.proxies, len(results),
                        _metric(results[k], cfg, names))
    return summarise(cfg, out, plan, results, manifest, time.perf_counter() - started)


def _metric(result: dict, cfg: AblationConfig, names: list[str]) -> float:
    val = result["val_loss"]
    if cfg.target.text:
        return float(val[TARGET])
    return float(np.mean([val[n] for n in (cfg.target.sources or names)]))


def summarise(cfg: AblationConfig, out: Path, plan: dict, results: dict[int, dict], manifest: dict, seconds: float) -> dict:
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
        "tokens": manifest["tokens"], "seconds": round(seconds, 1),
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


def run(args: argparse.Namespace) -> int:
    from curation.output_dir import OutputRefused, claim

    try:
        cfg = load_config(args.config, args.set)
        # Resumable, so never cleared; but never a folder curate did not make, nor one inside a source.
        claim(args.output, "ablate", resume=True,
              inputs=[p for p in (*(s.input for s in cfg.sources), cfg.mixture, cfg.target.text) if p])
        summary = run_ablation(cfg, Path(args.output))
    except (configlib.ConfigError, ValueError, FileNotFoundError, OutputRefused) as exc:
        return report("ablate", exc)
    best = ", ".join(f"{n} {w:.3f}" for n, w in summary["best_weights"].items())
    print(f"ablation of {summary['proxies']} proxies in {summary['seconds']}s: held-out rank correlation "
          f"{summary['held_out_spearman']:.3f}; proposed mixture: {best} -> {Path(args.output) / 'best_mixture.yaml'}")
    return 0
