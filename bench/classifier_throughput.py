"""Classifier scoring throughput: the annotate path against raw fastText ``predict``, side by side.

Same texts, same model, one core each, alternated over ``--rounds`` rounds (medians reported):

* ``raw_predict``: ``model.predict(texts, k=2)`` on texts whose newlines were already replaced
  (fastText refuses newlines; nothing else is done) — the practical ceiling.
* ``annotate_path``: what one Spark task of the annotate job does per Arrow batch: Arrow rows →
  Documents → ``fasttext_classifier_v1`` (normalise + one ``predict`` per batch) → Arrow rows with
  the score column (``curation.filters.annotate_task.annotate_batches``).
* ``annotate_job``: the whole Spark job (local[1], Parquet in and out) with and without the
  classifier step, so the job-level cost of scoring is visible too.
* ``transformer``: docs/s of the frozen-MiniLM classifier on CPU (256 tokens x up to 4 windows),
  on a sample; on a GPU machine pass ``--device cuda``.

Texts: the 218 DCLM dev documents (real Common Crawl, ~330 words) repeated to ``--docs``.

    python bench/classifier_throughput.py [--docs 20000] [--rounds 5] [--model DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import emit  # noqa: E402


def _texts(data: Path, n: int) -> list[str]:
    dev = data / "labels" / "dclm-human-quality-dev.jsonl"
    base = [json.loads(line)["text"] for line in dev.open(encoding="utf-8") if line.strip()]
    return [base[i % len(base)] for i in range(n)]


def _default_model(data: Path) -> Path:
    from classifiers import fasttext_model
    from classifiers.training_data import build_default_training_set

    model_dir = REPO / "bench" / "_work" / "classifier_default"
    meta = model_dir / "meta.json"
    if not meta.is_file() or json.loads(meta.read_text()).get("params") != {**fasttext_model.DEFAULT_PARAMS}:
        tr, va, info = build_default_training_set(data, model_dir / "data")
        fasttext_model.train(tr, va, model_dir, data_info=info)
    return model_dir


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_job(parquet_dir: Path, out: Path, steps: str) -> float:
    from _common import bench_env, venv_python

    cmd = [venv_python(), "-m", "spark_jobs.annotate", str(parquet_dir), "--output", str(out),
           "--master", "local[1]", "--set", steps]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=bench_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--model", default=None, help="fastText model dir (default: train the default recipe)")
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch-rows", type=int, default=1000, help="Arrow batch size (the job's batch_rows)")
    ap.add_argument("--transformer-docs", type=int, default=200, help="0 skips the transformer measurement")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-job", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import pyarrow as pa

    from classifiers import fasttext_model, loading
    from curation.filters.annotate_task import StepSpec, annotate_batches
    from curation.schema import Document, to_batch

    data = Path(args.data)
    texts = _texts(data, args.docs)
    model_dir = Path(args.model) if args.model else _default_model(data)
    model = loading.load(model_dir)
    ft = model.ft
    flat = [t.replace("\n", " ") for t in texts]
    docs = [Document(id=str(i), text=t) for i, t in enumerate(texts)]
    batches = [to_batch(docs[i:i + args.batch_rows]) for i in range(0, len(docs), args.batch_rows)]
    specs = (StepSpec("fasttext_classifier_v1", {"model_dir": str(model_dir)}),)
    list(annotate_batches(iter(batches[:1]), specs, ("quality",)))  # load the model once, as a worker does

    def annotate():
        for out in annotate_batches(iter(batches), specs, ("quality",)):
            assert out.num_rows

    raw_s, ann_s = [], []
    for _ in range(args.rounds):  # alternate so machine noise hits both alike
        raw_s.append(_time(lambda: ft.predict(flat, k=2)))
        ann_s.append(_time(annotate))
    norm = [fasttext_model._clean(t) for t in texts]
    pred_norm_s = statistics.median(_time(lambda: ft.predict(norm, k=2)) for _ in range(args.rounds))
    n = len(texts)
    raw, ann = n / statistics.median(raw_s), n / statistics.median(ann_s)
    words = sum(len(t.split()) for t in texts) / n
    result = {
        "docs": n, "mean_words": round(words, 1), "rounds": args.rounds, "model": str(model_dir),
        "raw_predict_docs_per_s": round(raw, 1),
        "annotate_path_docs_per_s": round(ann, 1),
        "ratio_annotate_vs_raw": round(ann / raw, 3),
        "predict_on_normalised_text_docs_per_s": round(n / pred_norm_s, 1),
        "raw_predict_round_seconds": [round(x, 3) for x in raw_s],
        "annotate_round_seconds": [round(x, 3) for x in ann_s],
    }

    if not args.skip_job:
        import pyarrow.parquet as pq

        work = REPO / "bench" / "_work" / "classifier_throughput"
        src = work / "docs"
        src.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_batches(batches), src / "part-0.parquet")
        with_clf = f"steps=[{{name: fasttext_classifier_v1, params: {{model_dir: '{model_dir}'}}}}]"
        noop = "steps=[]"
        job = {"with_classifier_s": [], "without_steps_s": []}
        for r in range(max(1, args.rounds // 2)):
            job["without_steps_s"].append(round(run_job(src, work / f"out_noop{r}", noop), 2))
            job["with_classifier_s"].append(round(run_job(src, work / f"out_clf{r}", with_clf), 2))
        w, wo = statistics.median(job["with_classifier_s"]), statistics.median(job["without_steps_s"])
        job["docs_per_s_with_classifier"] = round(n / w, 1)
        job["scoring_seconds_in_job"] = round(w - wo, 2)
        job["scoring_docs_per_s_in_job"] = round(n / (w - wo), 1) if w > wo else None
        result["annotate_job_local1"] = job

    if args.transformer_docs:
        from classifiers import transformer_model as tm
        from classifiers.training_data import build_default_training_set

        tdir = REPO / "bench" / "_work" / "transformer_default"
        if not (tdir / "meta.json").is_file():
            tr, va, info = build_default_training_set(data, tdir / "data")
            t_texts, t_ys = tm.read_fasttext_file(tr)
            v_texts, v_ys = tm.read_fasttext_file(va)
            tm.train(t_texts[:1500], t_ys[:1500], v_texts[:300], v_ys[:300], tdir, device=args.device, data_info=info)
        tmodel = tm.load(tdir, device=args.device)
        sample = texts[:args.transformer_docs]
        tm.score(tmodel, sample[:8])
        secs = statistics.median(_time(lambda: tm.score(tmodel, sample)) for _ in range(3))
        import torch

        result["transformer"] = {"device": args.device, "docs": len(sample), "threads": torch.get_num_threads(),
                                 "max_tokens": tmodel.meta["max_tokens"], "max_chunks": tmodel.meta["max_chunks"],
                                 "docs_per_s": round(len(sample) / secs, 2)}

    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
