"""``curate train-classifier``: the classifier training command (``curate score`` is in :mod:`classifiers.score_command`).

Training sets come from an offline recipe (:data:`classifiers.training_data.RECIPES`, reading
``../shared/data`` or ``--data``) or from ``curate label`` output joined to its documents
(``--recipe labels``); the same fastText-format files feed either trainer (``--kind``).
``--recipe llm-labels`` keeps the LLM's grades (``{id?, text, score}`` rows, or ``curate label``
output with ``--docs``) and fits a regression head on the transformer (:mod:`classifiers.graded_labels`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from classifiers.training_data import (
    HQ,
    LABEL_TARGETS,
    RECIPES,
    build_default_training_set,
    build_labelled_training_set,
)
from curation.errors import report

#: Rows the transformer head is trained on at most (embedding is the slow part on CPU:
#: ~20 windows/s/core of 256 tokens); the training file is already in hash-shuffled order.
TRANSFORMER_MAX_ROWS = 3000
TRANSFORMER_PARAMS = {"max_tokens": int, "max_chunks": int, "batch_size": int, "C": float, "max_rows": int}
#: ``--set`` keys of the regression head (``--recipe llm-labels``); lists are comma-separated.
REGRESSION_PARAMS = {"max_tokens": int, "max_chunks": int, "batch_size": int, "max_rows": int,
                     "layers": lambda v: tuple(int(x) for x in v.split(",")),
                     "pools": lambda v: tuple(x.strip() for x in v.split(",")),
                     "text_stats": lambda v: {"1": True, "true": True, "0": False, "false": False}[v.lower()]}
#: ``--recipe distill``: pool texts the teacher labels at most (hash order). The default pool is
#: ~3,100 texts, all used: the shipped student learned from 3,084 (val Spearman 0.567 vs 0.545 from
#: the first 1,500; chosen before val was looked at: more teacher labels, not a val comparison).
#: Grading them all takes the teacher ~25-40 min on 2 cores; grades are cached per text.
DISTILL_POOL_CAP = 4000
DEFAULT_TEACHER = Path(__file__).resolve().parent / "models" / "quality-minilm"
#: ``--recipe distill``'s default --work-dir: teacher-grade cache, training file (git-ignored).
DISTILL_WORK_DIR = Path(__file__).resolve().parent.parent / "bench" / "_work" / "distill"
#: 1 in this many training rows (by hash of id or text) is held out when no ``--valid`` is given.
HOLDOUT_EVERY = 8


def default_shared_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", default="default", choices=[*RECIPES, "labels", "llm-labels", "distill"],
                   help="training data: " + "; ".join(f"{r.name} = {r.description}" for r in RECIPES.values())
                   + "; labels = `curate label` output as two classes (--labels, --docs, --target, --threshold)"
                   + "; llm-labels = graded {id?, text, score} rows, regression (--labels [--docs] [--target] "
                   "[--valid], --kind transformer)"
                   + "; distill = a fastText student of a transformer teacher's scores (regression grade or classifier P) on an unlabelled "
                   "pool (--teacher [--pool] [--pool-cap], --kind fasttext)")
    p.add_argument("--kind", default="fasttext", choices=["fasttext", "transformer"],
                   help="fastText (fast, default) or a frozen-encoder transformer (logistic head; ridge "
                        "regression head with --recipe llm-labels)")
    p.add_argument("--output", required=True, help="model directory to write (model files + meta.json)")
    p.add_argument("--data", default=None, help="shared data folder for offline recipes (default: ../shared/data)")
    p.add_argument("--work-dir", default=None, help="where train/valid text files go (default: OUTPUT/data; "
                   "--recipe distill: bench/_work/distill, which also caches the teacher's grades)")
    p.add_argument("--labels", default=None, help="--recipe labels/llm-labels: `curate label` output or "
                   "{id?, text, score} rows (.parquet/.jsonl)")
    p.add_argument("--docs", default=None, help="the labelled documents (id, text) when --labels has no text")
    p.add_argument("--valid", default=None, help="--recipe llm-labels: validation labels, same layout as --labels "
                   f"(default: 1 in {HOLDOUT_EVERY} of --labels, by hash)")
    p.add_argument("--target", default=None, help="the label column: labels recipe: one of "
                   f"{', '.join(LABEL_TARGETS)} (default educational_value); llm-labels: any numeric 0-5 column "
                   "(default score, or educational_value with --docs)")
    p.add_argument("--threshold", type=float, default=3.0, help="score >= this is the positive class (labels: "
                   "for training; llm-labels: for the ROC-AUC and F1 it reports)")
    p.add_argument("--encoder", default=None, help="--kind transformer: local HF model folder (default: bundled MiniLM)")
    p.add_argument("--device", default="auto", help="--kind transformer: cpu, cuda or auto")
    p.add_argument("--quantize", action="store_true", help="--kind fasttext: quantise the model (~2 MB instead "
                   "of ~70 MB; what the shipped models use)")
    p.add_argument("--teacher", default=None, help="--recipe distill: the teacher model directory (default: "
                   "classifiers/models/quality-minilm)")
    p.add_argument("--pool", default=None, help="--recipe distill: unlabelled {text} rows (.jsonl); default: the pool "
                   "built from --data (FineWeb-Edu train texts, WARC and HTML pages, CCNet head; val/DCLM excluded)")
    p.add_argument("--pool-cap", type=int, default=DISTILL_POOL_CAP, help="--recipe distill: texts labelled at most "
                   f"(hash order; the teacher grades ~2 texts/s per core; default {DISTILL_POOL_CAP})")
    p.add_argument("--set", dest="params", action="append", default=[], metavar="KEY=VALUE",
                   help="trainer parameter, repeatable: fastText (dim, epoch, lr, wordNgrams, ...) or "
                        f"transformer ({', '.join(TRANSFORMER_PARAMS)}; with llm-labels: "
                        f"{', '.join(REGRESSION_PARAMS)}, lists comma-separated)")


def _parse_params(items: list[str], kind: str, recipe: str = "default") -> dict[str, Any]:
    from classifiers.fasttext_model import DEFAULT_PARAMS

    out: dict[str, Any] = {}
    if kind == "fasttext":
        types: dict[str, Any] = {k: type(v) for k, v in DEFAULT_PARAMS.items()}
    else:
        types = REGRESSION_PARAMS if recipe == "llm-labels" else TRANSFORMER_PARAMS
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in types:
            raise ValueError(f"unknown {kind} parameter {key!r} (known: {', '.join(types)})")
        try:
            out[key] = types[key](value)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"--set {key}: cannot read {value!r} ({exc})") from exc
    return out


def _holdout(ids: list[str | None], texts: list[str]) -> list[bool]:
    """1 in :data:`HOLDOUT_EVERY` rows, by a hash of the id (or text): stable across runs and row order."""
    import hashlib

    return [int(hashlib.md5((i if i is not None else t).encode("utf-8", "replace")).hexdigest(), 16)
            % HOLDOUT_EVERY == 0 for i, t in zip(ids, texts)]


def _check_llm_label_args(args: argparse.Namespace) -> None:
    if getattr(args, "kind", "fasttext") != "transformer":
        raise ValueError("--recipe llm-labels trains a regression head: use --kind transformer "
                         "(a fastText tier comes from distilling it)")
    if not args.labels:
        raise ValueError("--recipe llm-labels needs --labels FILE")


def _train_llm_labels(args: argparse.Namespace, out: Path, params: dict) -> dict:
    """``--recipe llm-labels``: graded labels -> ridge head on the transformer (see graded_labels)."""
    from dataclasses import fields

    from classifiers import transformer_model as tm
    from classifiers.graded_labels import read_graded

    _check_llm_label_args(args)
    train = read_graded(args.labels, args.target, args.docs)
    info: dict[str, Any] = {"recipe": "llm-labels", **train.info()}
    if getattr(args, "valid", None):
        valid = read_graded(args.valid, train.target, args.docs)
        # a document in both files would flatter the valid figures: say how many, do not hide it
        seen = set(train.texts)
        info["valid"] = {**valid.info(), "texts_also_in_train": sum(t in seen for t in valid.texts)}
        tr_t, tr_y, va_t, va_y = train.texts, train.scores, valid.texts, valid.scores
    else:
        held = _holdout(train.ids, train.texts)
        tr_t = [t for t, h in zip(train.texts, held) if not h]
        tr_y = [y for y, h in zip(train.scores, held) if not h]
        va_t = [t for t, h in zip(train.texts, held) if h]
        va_y = [y for y, h in zip(train.scores, held) if h]
        info["valid"] = {"held_out": f"1 in {HOLDOUT_EVERY} of --labels by md5(id or text)", "n": len(va_t)}
    max_rows = int(params.pop("max_rows", TRANSFORMER_MAX_ROWS))
    info["train_rows_used"] = min(len(tr_t), max_rows)
    known = {f.name for f in fields(tm.RegressionConfig)}
    cfg = tm.RegressionConfig(**{k: v for k, v in params.items() if k in known}, threshold=args.threshold)
    return tm.train_regression(tr_t[:max_rows], tr_y[:max_rows], va_t, va_y, out, encoder_path=args.encoder,
                               cfg=cfg, device=args.device, data_info=info)


def _report_regression(out: Path, meta: dict) -> None:
    m = meta["valid_metrics"]

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    auc_key = next((k for k in m if k.startswith("roc_auc_at_")), "")
    print(f"wrote {out} (transformer regression, score = {meta['score']}); valid Spearman {f(m['spearman'])}, "
          f"ROC-AUC at >= {auc_key.removeprefix('roc_auc_at_')} {f(m.get(auc_key))}, F1 {f(m['f1'])} "
          f"(cut {f(meta['threshold']['score_cut'])} chosen on train), n={m['n']}")


def _check_distill_args(args: argparse.Namespace) -> Path:
    """The teacher directory, verified before anything is written (a wrong invocation leaves no folder)."""
    from classifiers import loading
    from classifiers.distill import teacher_head_sha256

    if getattr(args, "kind", "fasttext") != "fasttext":
        raise ValueError("--recipe distill trains a fastText student: use --kind fasttext")
    teacher = Path(args.teacher) if getattr(args, "teacher", None) else DEFAULT_TEACHER
    if not teacher.is_dir():
        raise FileNotFoundError(f"teacher model directory not found: {teacher}")
    if loading.check(teacher) != "transformer":
        raise ValueError(f"{teacher}: the teacher must be a transformer model (a regression head or a classifier)")
    teacher_head_sha256(teacher)  # a regression or logistic head with a recorded checksum
    if getattr(args, "pool", None) and not Path(args.pool).is_file():
        raise FileNotFoundError(f"pool file not found: {args.pool}")
    return teacher


def _train_distill(args: argparse.Namespace, teacher: Path, out: Path, work: Path, params: dict) -> dict:
    from classifiers import distill, unlabelled_pool

    shared = Path(args.data) if args.data else default_shared_dir()
    cap = getattr(args, "pool_cap", DISTILL_POOL_CAP)
    if args.pool:
        # a user's pool still loses the evaluation texts when the shared data is there to name them
        pool = unlabelled_pool.read_pool_file(args.pool, cap=cap,
                                              exclude_from=shared if shared.is_dir() else None)
    else:
        pool = unlabelled_pool.build_pool(shared, cap=cap)
    print(f"pool: {len(pool)} texts, sha256 {pool.info['sha256'][:16]}", file=sys.stderr, flush=True)
    return distill.distill(teacher, pool, out, work, params=params,
                           shared_dir=shared if shared.is_dir() else None)


def _report_distill(out: Path, meta: dict) -> None:
    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    cv = meta["cv"]["variants"][meta["variant"]["name"]]["cv"] or {}
    ev = meta.get("eval_metrics") or {}
    val, dclm = ev.get("fineweb_edu_val") or {}, ev.get("dclm_human_dev") or {}
    print(f"wrote {out} (fasttext distilled from {meta['teacher']['dir']}, variant {meta['variant']['name']}, "
          f"{meta['model_bytes']} bytes); CV Spearman with the teacher {f(cv.get('spearman'))}; val Spearman "
          f"{f(val.get('spearman'))}, ROC-AUC@3 {f(val.get('roc_auc_at_3'))}, DCLM dev ROC-AUC {f(dclm.get('roc_auc'))}")


def run_train(args: argparse.Namespace) -> int:
    from curation.output_dir import OutputRefused, claim

    try:
        out = Path(args.output)
        if args.recipe == "llm-labels":
            _check_llm_label_args(args)  # a wrong invocation leaves no folder behind
        teacher = _check_distill_args(args) if args.recipe == "distill" else None
        if teacher is not None:
            shared = args.data or str(default_shared_dir())
            claim(str(out), "model-fasttext", resume=True,
                  inputs=[str(p) for p in (teacher, getattr(args, "pool", None), shared) if p])
            # not OUTPUT/data: the pool's texts (third-party data) must not land in a model folder that
            # ships, and one cache for every output makes a rerun label nothing (keyed by teacher head)
            work = Path(args.work_dir) if getattr(args, "work_dir", None) else DISTILL_WORK_DIR
            params = _parse_params(getattr(args, "params", []) or [], "fasttext", args.recipe)
            meta = _train_distill(args, teacher, out, work, params)
            _report_distill(out, meta)
            return 0
        # Never a folder curate did not make, nor one holding another kind of model; files are
        # rewritten in place (nothing deleted), so an interrupted training loses nothing.
        claim(str(out), f"model-{getattr(args, 'kind', 'fasttext')}", resume=True,
              inputs=[p for p in (args.labels, args.docs, getattr(args, "valid", None), getattr(args, "data", None)) if p])
        work = Path(args.work_dir) if getattr(args, "work_dir", None) else out / "data"
        params = _parse_params(getattr(args, "params", []) or [], getattr(args, "kind", "fasttext"), args.recipe)
        if args.recipe == "llm-labels":
            meta = _train_llm_labels(args, out, params)
            _report_regression(out, meta)
            return 0
        if args.recipe == "labels":
            if not args.labels or not args.docs:
                raise ValueError("--recipe labels needs --labels FILE and --docs FILE")
            target = args.target or "educational_value"
            if target not in LABEL_TARGETS:
                raise ValueError(f"unknown target {target!r} (use one of {', '.join(LABEL_TARGETS)})")
            tr, va, info = build_labelled_training_set(args.labels, args.docs, work,
                                                       target=target, threshold=args.threshold)
        else:
            shared = Path(args.data) if args.data else default_shared_dir()
            tr, va, info = build_default_training_set(shared, work, recipe=args.recipe)
        if getattr(args, "kind", "fasttext") == "transformer":
            meta = _train_transformer(tr, va, out, info, params, args)
        else:
            from classifiers import fasttext_model

            meta = fasttext_model.train(tr, va, out, params=params, data_info=info,
                                        quantize=getattr(args, "quantize", False))
    except (FileNotFoundError, ValueError, OSError, OutputRefused) as exc:
        return report("train-classifier", exc)
    m = meta["valid_metrics"]
    auc = "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.3f}"
    print(f"wrote {out} ({meta['kind']}, score = {meta['score']}); valid accuracy {m['accuracy']:.3f}, "
          f"ROC-AUC {auc}, n={m['n']}")
    return 0


def _train_transformer(tr: Path, va: Path, out: Path, info: dict, params: dict, args) -> dict:
    from classifiers import transformer_model as tm

    positive = info.get("positive_label", HQ)
    max_rows = int(params.pop("max_rows", TRANSFORMER_MAX_ROWS))
    texts, ys = tm.read_fasttext_file(tr, positive)
    vt, vy = tm.read_fasttext_file(va, positive)
    info = {k: v for k, v in info.items() if k != "positive_label"}
    info["train_rows_used"] = min(len(texts), max_rows)
    return tm.train(texts[:max_rows], ys[:max_rows], vt, vy, out, encoder_path=args.encoder, device=args.device,
                    data_info=info, positive=positive, **params)
