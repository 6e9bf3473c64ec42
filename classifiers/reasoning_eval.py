"""Leave-one-source-out (LOSO) evaluation of an offline two-class recipe (issue 17: ``reasoning``).

A random train/valid split of the recipe's own rows says little: every source is on both sides, so
the model can score well by recognising the *source* (GSM8K's phrasing, arXiv's LaTeX) rather than
reasoning density. Here every AUC is measured on sources the model never saw.

Fold design (leave one *pair* of sources out): a fold holds out one positive source ``P`` and one
negative source ``N`` together, trains fastText on every other source of the recipe (both classes,
the recipe's own caps and class balance, :func:`classifiers.training_data.select_training_set`),
and reports the ROC-AUC of P's documents against N's documents. Neither side of that AUC was in
training, and no held-out text reaches training by another route: a text that also occurs in a
training source (dedup by hash) is dropped from the held-out side, and :func:`loso` checks the
written training file against the held-out hashes. With ``p`` positive and ``n`` negative sources
there are ``p * n`` folds; per held-out positive source the mean and min over its ``n`` folds are
reported, and the mean and min over all folds.

:func:`fineweb_spearman` trains the recipe on *all* its sources and reports the Spearman
correlation of P(positive) with the LLM educational-value score on
``labels/fineweb-edu-llm/val.jsonl`` (evaluation only: nothing from it is trained on or tuned by).

Model kinds (:class:`Variant`, all listed in :data:`VARIANTS` and compared by :func:`compare`):
fastText as above, or a logistic head on a frozen MiniLM (chosen hidden layers, mean-pooled over
the first windows), fitted per fold on embeddings cached on disk (:class:`EmbeddingCache`); a
variant may add sources that are always in training (web documentation vs commercial pages, the
FineWeb-Edu *train* labels) while the folds stay the recipe's own pairs. Every variant reads at
most :data:`TF_SOURCE_CAP` documents per source, for training and held out alike (the embedding
budget; fastText gets the same cap so the comparison is like for like). :data:`CHOSEN`, the best
LOSO mean, is built into ``classifiers/models/reasoning`` by :func:`build_model`::

    python -m classifiers.reasoning_eval compare [--data ../shared/data] [--json OUT]
    python -m classifiers.reasoning_eval build --output classifiers/models/reasoning
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.training_data import HQ, LQ, MIN_CHARS, RECIPES, Recipe, collect_raw, normalize, select_training_set

#: Held-out documents scored per source (hash order), so one big corpus does not dominate the time.
EVAL_CAP = 1000


def _recipe(recipe: str | Recipe) -> Recipe:
    r = recipe if isinstance(recipe, Recipe) else RECIPES.get(recipe)
    if r is None:
        raise ValueError(f"unknown recipe {recipe!r} (known: {', '.join(RECIPES)})")
    return r


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def held_out_docs(rows: list[tuple[str, str, str]], source: str, exclude: set[str], cap: int) -> list[str]:
    """``source``'s distinct texts (>= MIN_CHARS, hash not in ``exclude``), the first ``cap`` in the
    same hash order the training selection caps by (``md5(h || 'cap')``)."""
    seen: dict[str, str] = {}
    for src, _, text in rows:
        if src == source and len(text) >= MIN_CHARS:
            h = _md5(text)
            if h not in exclude:
                seen.setdefault(h, text)
    order = sorted(seen, key=lambda h: _md5(h + "cap"))
    return [seen[h] for h in order[:cap]]


def _train_hashes(train_file: Path) -> set[str]:
    out = set()
    with train_file.open(encoding="utf-8") as fh:
        for line in fh:
            out.add(_md5(line.rstrip("\n").partition(" ")[2]))
    return out


def train_and_score(train_rows: list[tuple[str, str, str]], caps: dict[str, int], work: Path,
                    texts_to_score: Iterable[str], positive: str, params: dict | None = None, *,
                    variant: Variant | None = None, cache: EmbeddingCache | None = None
                    ) -> tuple[np.ndarray, dict, Path]:
    """Select + write the training set of ``train_rows`` in ``work``, train on its train split
    (fastText, or for a transformer ``variant`` a logistic head on cached frozen-encoder
    embeddings), return (P(positive) of ``texts_to_score``, selection info, the training file)."""
    train, valid, info = select_training_set(train_rows, work / "data", caps)
    texts_to_score = list(texts_to_score)
    if variant is not None and variant.kind == "transformer":
        from classifiers import transformer_model as tm

        if cache is None:
            raise ValueError("a transformer variant needs an EmbeddingCache")
        texts, ys = tm.read_fasttext_file(train, positive)
        head = fit_logistic(transformer_features(cache, texts, variant, "(train)"), np.asarray(ys), variant.C)
        scores = apply_logistic(head, transformer_features(cache, texts_to_score, variant, "(scored)"))
        return scores, info, train
    from classifiers import fasttext_model as fm

    fm.train(train, valid, work / "model", params=params, data_info={**info, "positive_label": positive})
    model = fm.load(work / "model")
    return fm.score(model, texts_to_score), info, train


def _capped(r: Recipe, sources: Iterable[str], variant: Variant | None) -> dict[str, int]:
    caps = dict(r.caps)
    if variant is not None and variant.source_cap:
        for src in sources:
            caps[src] = min(caps.get(src, variant.source_cap), variant.source_cap)
    return caps


def loso(recipe: str | Recipe = "reasoning", shared_dir: str | Path = "../shared/data", *,
         rows: list[tuple[str, str, str]] | None = None, params: dict | None = None,
         work_dir: str | Path | None = None, eval_cap: int = EVAL_CAP,
         max_per_source: int | None = None, pairs: Iterable[tuple[str, str]] | None = None,
         keep_files: bool = False, variant: Variant | None = None, cache: EmbeddingCache | None = None,
         extra_rows: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """Leave-one-(positive, negative)-source-pair-out evaluation of ``recipe`` (see the module
    docstring). ``rows`` (``collect_raw`` output) skips reading the sources again; ``pairs``
    restricts the folds (default: every positive x negative source). Returns ``folds`` (one dict per
    fold: held-out sources, the training rows per source, held-out counts, ``roc_auc``),
    ``per_positive_source`` / ``per_negative_source`` (mean, min, folds), ``mean`` and ``min``.
    ``variant`` (default: fastText with the recipe's caps) picks the model and per-source cap;
    ``extra_rows`` (the variant's extra sources) join every fold's training, never the held-out side."""
    from sklearn.metrics import roc_auc_score

    r = _recipe(recipe)
    if rows is None:
        rows = collect_raw(shared_dir, positives=r.positives, negatives=r.negatives,
                           max_per_source=max_per_source, labels=(r.positive_label, r.negative_label))
    extra_rows = list(extra_rows or [])
    caps = _capped(r, {row[0] for row in rows + extra_rows}, variant)
    if variant is not None and variant.source_cap:
        eval_cap = min(eval_cap, variant.source_cap)
    pairs = list(pairs) if pairs is not None else [(p, n) for p in r.positives for n in r.negatives]
    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="loso-"))
    folds = []
    try:
        for pos, neg in pairs:
            if pos not in r.positives or neg not in r.negatives:
                raise ValueError(f"fold ({pos}, {neg}): not a positive/negative source pair of recipe {r.name!r}")
            held = {pos, neg}
            if held & {row[0] for row in extra_rows}:
                raise ValueError(f"fold ({pos}, {neg}): a held-out source is also an extra training source")
            train_rows = [row for row in rows if row[0] not in held] + extra_rows
            # a held-out text that also occurs in a training source is not held out: drop it
            train_h = {_md5(t) for s, _, t in train_rows if len(t) >= MIN_CHARS}
            docs_p = held_out_docs(rows, pos, train_h, eval_cap)
            docs_n = held_out_docs(rows, neg, train_h, eval_cap)
            fold_dir = tmp / f"{pos}__{neg}"
            scores, info, train_file = train_and_score(train_rows, caps, fold_dir, docs_p + docs_n,
                                                       r.positive_label, params, variant=variant, cache=cache)
            leaked = _train_hashes(train_file) & {_md5(t) for t in docs_p + docs_n}
            if leaked or held & set(info["by_source"]):
                raise AssertionError(f"fold ({pos}, {neg}) trained on held-out data ({len(leaked)} texts)")
            y = np.r_[np.ones(len(docs_p)), np.zeros(len(docs_n))]
            fold = {"held_out_positive": pos, "held_out_negative": neg,
                    "train_sources": info["by_source"], "train_rows": sum(info["counts"]["train"].values()),
                    "n_pos": len(docs_p), "n_neg": len(docs_n),
                    "roc_auc": round(float(roc_auc_score(y, scores)), 4),
                    "mean_p_pos": round(float(scores[:len(docs_p)].mean()), 4),
                    "mean_p_neg": round(float(scores[len(docs_p):].mean()), 4)}
            if keep_files:
                fold["train_file"] = str(train_file)
            folds.append(fold)
    finally:
        if not work_dir and not keep_files:
            shutil.rmtree(tmp, ignore_errors=True)

    def agg(key: str) -> dict:
        out: dict = {}
        for f in folds:
            out.setdefault(f[key], []).append(f["roc_auc"])
        return {k: {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4), "folds": len(v)}
                for k, v in out.items()}

    aucs = [f["roc_auc"] for f in folds]
    return {"recipe": r.name, "variant": variant.name if variant else "fasttext (recipe caps)",
            "design": "leave one (positive, negative) source pair out; AUC of the held-out "
            "positive source's documents vs the held-out negative source's", "folds": folds,
            "per_positive_source": agg("held_out_positive"), "per_negative_source": agg("held_out_negative"),
            "mean": round(float(np.mean(aucs)), 4), "min": round(float(np.min(aucs)), 4)}


def read_val(shared_dir: str | Path) -> tuple[list[str], np.ndarray]:
    path = Path(shared_dir) / "labels" / "fineweb-edu-llm" / "val.jsonl"
    texts, ys = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                ys.append(float(row["score"]))
    return texts, np.asarray(ys)


def fineweb_spearman(recipe: str | Recipe = "reasoning", shared_dir: str | Path = "../shared/data", *,
                     rows: list[tuple[str, str, str]] | None = None, params: dict | None = None,
                     work_dir: str | Path | None = None, variant: Variant | None = None,
                     cache: EmbeddingCache | None = None,
                     extra_rows: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """Train ``recipe`` on all its sources and correlate P(positive) with the FineWeb-Edu LLM
    educational score on val (evaluation only)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    r = _recipe(recipe)
    if rows is None:
        rows = collect_raw(shared_dir, positives=r.positives, negatives=r.negatives,
                           labels=(r.positive_label, r.negative_label))
    texts, y = read_val(shared_dir)
    # normalised exactly as the shipped models normalise before scoring (the cache is keyed by it)
    texts = [normalize(t) for t in texts]
    rows = list(rows) + list(extra_rows or [])
    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="reasoning-all-"))
    try:
        s, info, _ = train_and_score(rows, _capped(r, {row[0] for row in rows}, variant), tmp, texts,
                                     r.positive_label, params, variant=variant, cache=cache)
    finally:
        if not work_dir:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"n": len(y), "spearman": round(float(spearmanr(s, y)[0]), 4),
            "roc_auc_at_3": round(float(roc_auc_score(y >= 3, s)), 4),
            "train_rows": sum(info["counts"]["train"].values()), "train_sources": info["by_source"]}


# ----------------------------------------------------------------------------- transformer kind
#
# The same folds, scored by a logistic-regression head on a frozen MiniLM. Embedding is the slow
# part on CPU (~10 windows of 256 tokens per second on one thread), so every distinct text is
# embedded once, every hidden layer at once, and cached on disk; a fold then only fits a linear
# head. To fit the budget the transformer kind reads at most ``TF_SOURCE_CAP`` documents per
# source (the first in the selection's own hash order, so held-out and training caps pick the
# same documents) and the first ``TF_MAX_CHUNKS`` windows of each.

#: Documents per source for the transformer variants (training cap and held-out cap alike).
TF_SOURCE_CAP = 400
#: Windows of ``TF_MAX_TOKENS`` tokens embedded per document (the shipped model uses the same).
TF_MAX_CHUNKS = 2
TF_MAX_TOKENS = 256
#: MiniLM-L6 hidden states: 0 = token embeddings, 6 = the last layer.
ALL_LAYERS = (0, 1, 2, 3, 4, 5, 6)
DEFAULT_CACHE = Path(__file__).resolve().parent.parent / "bench" / "_work" / "reasoning_emb"


@dataclass(frozen=True)
class Variant:
    """One configuration compared by LOSO: the model kind, its features and any sources that are
    always in training (never held out: the folds stay the recipe's own ``p x n`` pairs, so every
    variant is judged on the same held-out pairs)."""

    name: str
    kind: str = "fasttext"  # or "transformer"
    #: transformer: which hidden states (indices into ALL_LAYERS) are mean-pooled and concatenated.
    layers: tuple[int, ...] = (6,)
    #: transformer: append classifiers.text_stats of the (normalised) text.
    text_stats: bool = False
    #: ``(source, label)`` pairs read by :func:`extra_source_rows`, added to every fold's training.
    extra: tuple[tuple[str, str], ...] = ()
    #: Per-source cap (training and held-out): the embedding budget (fastText gets the same cap so
    #: the comparison is like for like).
    source_cap: int | None = TF_SOURCE_CAP
    C: float = 1.0
    params: dict | None = None


def _wcxb(data: Path, page_types: tuple[str, ...]) -> Iterator[str]:
    import gzip

    from classifiers.training_data import chunk

    path = data / "html" / "wcxb-dev" / "ground-truth.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("page_type") in page_types and row.get("main_content"):
                yield from chunk(row["main_content"])


def _fineweb_train(data: Path, lo: float, hi: float) -> Iterator[str]:
    # train.jsonl only: val is the evaluation set of this module and is never trained on
    with (data / "labels" / "fineweb-edu-llm" / "train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if lo <= float(row["score"]) <= hi:
                    yield row["text"]


#: Extra training sources for recipe variants. wcxb (a web-extraction benchmark's human-checked
#: main content, not a decontamination set): technical documentation *is* web text that explains,
#: so the model cannot learn "web page = negative"; product/listing/service/collection pages are
#: web text that does not. FineWeb-Edu LLM labels: *train* split only.
EXTRA_SOURCES: dict[str, Callable[[Path], Iterator[str]]] = {
    "wcxb_documentation": lambda d: _wcxb(d, ("documentation",)),
    "wcxb_commercial": lambda d: _wcxb(d, ("product", "listing", "service", "collection")),
    "fineweb_train_edu3": lambda d: _fineweb_train(d, 3, 5),
    "fineweb_train_edu01": lambda d: _fineweb_train(d, 0, 1),
}


def extra_source_rows(shared_dir: str | Path, extra: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    out = []
    for name, label in extra:
        out.extend((name, label, normalize(t)) for t in EXTRA_SOURCES[name](Path(shared_dir)))
    return out


class EmbeddingCache:
    """Per distinct text (md5 of the normalised text), the mean over its first ``max_chunks``
    windows of each hidden layer's L2-normalised window embedding, float32 ``(layers * dim)``.

    Stored as numbered shards ``{hashes, emb}`` under ``root/<key>/``, where ``key`` hashes the
    encoder's weight digests and the windowing settings: a changed encoder or setting never reads
    stale vectors, and an interrupted run resumes from its last shard."""

    def __init__(self, root: str | Path = DEFAULT_CACHE, encoder: Any = None, max_tokens: int = TF_MAX_TOKENS,
                 max_chunks: int = TF_MAX_CHUNKS, layers: tuple[int, ...] = ALL_LAYERS, batch_docs: int = 256,
                 threads: int | None = 1):
        import torch

        from classifiers import transformer_model as tm
        from curation.model_files import describe, encoder_weight_files

        self.enc = encoder if encoder is not None else tm.load_encoder(None, "cpu")
        if threads:  # load_encoder sets its own default; the bench shares 2 cores with other jobs
            torch.set_num_threads(threads)
        self.max_tokens, self.max_chunks, self.layers, self.batch_docs = max_tokens, max_chunks, layers, batch_docs
        weights = {n: describe(self.enc.path / n).get("sha256") for n in encoder_weight_files(self.enc.path)}
        key = _md5(json.dumps([self.enc.name, weights, max_tokens, max_chunks, list(layers), "mean", "normalized"],
                              sort_keys=True))[:16]
        self.dir = Path(root) / key
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "settings.json").write_text(json.dumps(
            {"encoder": self.enc.name, "weights_sha256": weights, "max_tokens": max_tokens,
             "max_chunks": max_chunks, "layers": list(layers), "pool": "mean"}, indent=1) + "\n")
        self.vecs: dict[str, np.ndarray] = {}
        for shard in sorted(self.dir.glob("shard-*.npz")):
            with np.load(shard, allow_pickle=False) as z:
                for h, v in zip(z["hashes"].tolist(), z["emb"]):
                    self.vecs[h] = v

    def get(self, texts: list[str], label: str = "") -> np.ndarray:
        """Embeddings of ``texts`` (already normalised), embedding only those not cached yet."""
        from classifiers import transformer_model as tm

        hashes = [_md5(t) for t in texts]
        todo: dict[str, str] = {}
        for h, t in zip(hashes, texts):
            if h not in self.vecs:
                todo.setdefault(h, t)
        if todo:
            items = list(todo.items())
            t0 = time.perf_counter()
            for i in range(0, len(items), self.batch_docs):
                part = items[i:i + self.batch_docs]
                w = tm.window_embeddings([t for _, t in part], self.enc, batch_size=32, max_tokens=self.max_tokens,
                                         max_chunks=self.max_chunks, layers=self.layers)
                emb = tm.pool_windows(w, ("mean",))
                n = len(list(self.dir.glob("shard-*.npz")))
                np.savez(self.dir / f"shard-{n:05d}.npz", hashes=np.asarray([h for h, _ in part]), emb=emb)
                for (h, _), v in zip(part, emb):
                    self.vecs[h] = v
                done = min(i + self.batch_docs, len(items))
                print(f"  embedded {done}/{len(items)} new texts {label} ({len(w.owner)} windows in this batch, "
                      f"{time.perf_counter() - t0:.0f}s)", file=sys.stderr, flush=True)
        if not texts:
            return np.zeros((0, len(self.layers) * self.enc.dim), dtype=np.float32)
        return np.stack([self.vecs[h] for h in hashes])


def transformer_features(cache: EmbeddingCache, texts: list[str], variant: Variant, label: str = "") -> np.ndarray:
    """The head's input for ``variant``: chosen layers' mean embeddings (+ text statistics)."""
    from classifiers import text_stats

    E = cache.get(texts, label)
    dim = cache.enc.dim
    blocks = [E[:, cache.layers.index(L) * dim:(cache.layers.index(L) + 1) * dim] for L in variant.layers]
    X = np.hstack(blocks).astype(np.float64)
    if variant.text_stats:
        X = np.hstack([X, text_stats.matrix(texts)])
    return X


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float = 1.0) -> dict:
    """Standardise and fit sklearn's LogisticRegression, as transformer_model.train does."""
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-8] = 1.0
    clf = LogisticRegression(C=C, max_iter=3000).fit((X - mean) / scale, y)
    return {"coef": clf.coef_[0].astype(np.float64), "intercept": float(clf.intercept_[0]), "mean": mean,
            "scale": scale}


def apply_logistic(head: dict, X: np.ndarray) -> np.ndarray:
    z = np.clip(((X - head["mean"]) / head["scale"]) @ head["coef"] + head["intercept"], -500, 500)
    return 1.0 / (1.0 + np.exp(-z))


_WEB_EXTRA = (("wcxb_documentation", HQ), ("wcxb_commercial", LQ))
#: Every variant compared (bench/classifier_quality.py --sections reasoning prints them side by
#: side). Chosen by LOSO mean only; the FineWeb-Edu val Spearman is reported, never used to choose.
VARIANTS: tuple[Variant, ...] = (
    Variant("fasttext"),
    Variant("minilm-last", "transformer", layers=(6,)),
    Variant("minilm-layers", "transformer", layers=ALL_LAYERS),
    Variant("minilm-layers+stats", "transformer", layers=ALL_LAYERS, text_stats=True),
    Variant("minilm-layers+web", "transformer", layers=ALL_LAYERS, extra=_WEB_EXTRA),
    Variant("minilm-layers+web+fineweb", "transformer", layers=ALL_LAYERS,
            extra=_WEB_EXTRA + (("fineweb_train_edu3", HQ), ("fineweb_train_edu01", LQ))),
)

#: The variant the shipped model (classifiers/models/reasoning) is built from: the best LOSO mean.
CHOSEN = "minilm-layers+web+fineweb"


def compare(shared_dir: str | Path = "../shared/data", recipe: str | Recipe = "reasoning",
            variants: Iterable[Variant] = VARIANTS, cache_dir: str | Path = DEFAULT_CACHE,
            pairs: Iterable[tuple[str, str]] | None = None) -> dict[str, Any]:
    """LOSO + FineWeb-Edu val Spearman of every variant on one read of the sources and one
    embedding cache."""
    r = _recipe(recipe)
    rows = collect_raw(shared_dir, positives=r.positives, negatives=r.negatives,
                       labels=(r.positive_label, r.negative_label))
    variants = list(variants)
    cache = EmbeddingCache(cache_dir) if any(v.kind == "transformer" for v in variants) else None
    out: dict[str, Any] = {}
    for v in variants:
        t0 = time.perf_counter()
        extra = extra_source_rows(shared_dir, v.extra)
        print(f"variant {v.name}: LOSO ...", file=sys.stderr, flush=True)
        res = loso(r, shared_dir, rows=rows, variant=v, cache=cache, extra_rows=extra, pairs=pairs)
        fw = fineweb_spearman(r, shared_dir, rows=rows, variant=v, cache=cache, extra_rows=extra)
        out[v.name] = {**res, "fineweb_val": fw, "seconds": round(time.perf_counter() - t0, 1),
                       "config": {k: (list(x) if isinstance(x, tuple) else x) for k, x in v.__dict__.items()}}
        print(f"variant {v.name}: LOSO mean {res['mean']:.4f} min {res['min']:.4f}; val Spearman "
              f"{fw['spearman']:+.4f} ({out[v.name]['seconds']:.0f}s)", file=sys.stderr, flush=True)
    return out


def build_model(output: str | Path, shared_dir: str | Path = "../shared/data", variant: Variant | str | None = None,
                recipe: str | Recipe = "reasoning", cache_dir: str | Path = DEFAULT_CACHE,
                evaluation: dict | None = None) -> dict:
    """Train the shipped reasoning model: ``variant``'s training set on *all* the recipe's sources
    (same caps as in LOSO), a logistic head on the frozen encoder written by
    :func:`classifiers.transformer_model.train` (features from the embedding cache, which holds
    exactly what ``score`` computes: normalised text, the same windows and layers), into a folder
    claimed like ``curate train-classifier`` does (``_curate_output.json``). ``evaluation`` (this
    variant's LOSO and val figures) goes into meta.json."""
    from classifiers import transformer_model as tm
    from curation.output_dir import claim

    v = variant if isinstance(variant, Variant) else {x.name: x for x in VARIANTS}[variant or CHOSEN]
    if v.kind != "transformer":
        raise ValueError(f"variant {v.name!r}: only a transformer variant is built here (fastText: the CLI)")
    r = _recipe(recipe)
    out = Path(output)
    claim(str(out), "model-transformer", resume=True, inputs=[str(shared_dir)])
    rows = collect_raw(shared_dir, positives=r.positives, negatives=r.negatives,
                       labels=(r.positive_label, r.negative_label)) + extra_source_rows(shared_dir, v.extra)
    caps = _capped(r, {row[0] for row in rows}, v)
    cache = EmbeddingCache(cache_dir)
    # the last hidden state is -1 for embed() (a last-layer-only head then reads like the older ones)
    layers = [-1 if L == ALL_LAYERS[-1] else L for L in v.layers]
    if v.text_stats:
        raise ValueError("text statistics are not part of transformer_model.train's logistic head")
    with tempfile.TemporaryDirectory(prefix="reasoning-build-") as tmp:
        train, valid, info = select_training_set(rows, Path(tmp), caps)
        texts, ys = tm.read_fasttext_file(train, r.positive_label)
        vt, vy = tm.read_fasttext_file(valid, r.positive_label)
        feats = (transformer_features(cache, texts, v, "(train)"), transformer_features(cache, vt, v, "(valid)"))
        info = {"recipe": r.name, "recipe_description": r.description, "positives": list(r.positives),
                "negatives": list(r.negatives), "extra_sources": [list(x) for x in v.extra], "variant": v.name,
                **info}
        return tm.train(texts, ys, vt, vy, out, encoder_path=None, max_tokens=TF_MAX_TOKENS,
                        max_chunks=TF_MAX_CHUNKS, device="cpu", C=v.C, data_info=info, positive=r.positive_label,
                        layers=layers, features=feats,
                        # blank text: no score (NaN), like the other shipped models
                        extra_meta={"empty_text": "nan", "evaluation": evaluation or {}})


def main(argv: list[str] | None = None) -> int:
    """``python -m classifiers.reasoning_eval compare [--data D] [--json OUT]`` runs every variant;
    ``... build --output classifiers/models/reasoning [--variant NAME]`` runs the chosen variant's
    LOSO + val evaluation (cached embeddings) and builds the shipped model with those figures in
    meta.json."""
    import argparse

    import torch

    torch.set_num_threads(1)  # shares the machine's 2 cores with other jobs
    ap = argparse.ArgumentParser(prog="python -m classifiers.reasoning_eval")
    ap.add_argument("command", choices=["compare", "build"])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--json", default=None)
    ap.add_argument("--output", default="classifiers/models/reasoning")
    ap.add_argument("--variant", default=None)
    args = ap.parse_args(argv)
    if args.command == "compare":
        res = compare(args.data)
    else:
        name = args.variant or CHOSEN
        v = {x.name: x for x in VARIANTS}[name]
        ev = compare(args.data, variants=[v])[name]
        keep = ("recipe", "variant", "design", "per_positive_source", "per_negative_source", "mean", "min")
        evaluation = {"loso": {**{k: ev[k] for k in keep},
                               "folds": [{k: f[k] for k in ("held_out_positive", "held_out_negative", "n_pos",
                                                            "n_neg", "roc_auc")} for f in ev["folds"]]},
                      "fineweb_edu_val": {k: ev["fineweb_val"][k] for k in ("n", "spearman", "roc_auc_at_3")},
                      "variants_compared": [x.name for x in VARIANTS],
                      "chosen_by": "LOSO mean ROC-AUC (val never used to choose)",
                      "command": "python -m classifiers.reasoning_eval build --output " + args.output}
        meta = build_model(args.output, args.data, v, evaluation=evaluation)
        res = {"output": args.output, "valid_metrics": meta["valid_metrics"], **evaluation}
    text = json.dumps(res, indent=1)
    print(text if not args.json else f"wrote {args.json}")
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
