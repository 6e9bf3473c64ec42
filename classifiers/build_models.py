"""``make models``: rebuild every shipped model in :data:`classifiers.loading.SHIPPED_DIR` from ../shared/data.

Each model is built by the same ``curate train-classifier`` command a user would run (so the
commands below are also the documentation of how each one was made); the combined ``quality``
score is then recalibrated on its components. Order matters: the fastText tier is distilled from
the MiniLM tier, and ``quality`` pins its components' meta.json.

    python -m classifiers.build_models [--data ../shared/data] [--output classifiers/models] [--only a,b]

Reproducibility: fastText trains with one thread and a fixed seed, the ridge heads are closed-form,
and every training file is selected in hash order, so a rebuild matches the committed meta.json's
metrics within float tolerance (``tests/test_shipped_models.py`` checks the cheap ones on every CI
run and all of them with ``CURATE_EXPENSIVE_TESTS=1``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from classifiers.loading import SHIPPED_DIR

#: Documents the combined score is standardised on (their texts only; labels are not read).
CALIBRATION = "labels/fineweb-edu-llm/val.jsonl"
#: The combined ``quality`` score's components (sibling folders) and weights: equal, the choice
#: with nothing to tune (see classifiers.combined_model for why these two).
QUALITY_COMPONENTS = (("quality-minilm", 1.0), ("quality-reference", 1.0))


def _cli(*argv: str) -> None:
    """Run ``curate <argv>`` (only ``train-classifier`` here) in process, as a user would type it;
    parsed by the CLI's own argument definitions, without importing the CLI (the composition root)."""
    import argparse

    from classifiers import commands

    print("+ curate " + " ".join(argv), flush=True)
    if argv[0] != "train-classifier":
        raise ValueError(f"build_models drives only train-classifier, not {argv[0]!r}")
    parser = argparse.ArgumentParser(prog="curate train-classifier")
    commands.add_train_arguments(parser)
    rc = commands.run_train(parser.parse_args(list(argv[1:])))
    if rc != 0:
        raise SystemExit(f"curate {argv[0]} failed (exit {rc})")


def build_quality_minilm(data: Path, out: Path) -> None:
    lab = data / "labels" / "fineweb-edu-llm"
    _cli("train-classifier", "--recipe", "llm-labels", "--kind", "transformer", "--device", "cpu",
         "--labels", str(lab / "train.jsonl"), "--valid", str(lab / "val.jsonl"), "--output", str(out))


def build_quality_reference(data: Path, out: Path) -> None:
    # DCLM's recipe: reference text vs random web pages, quantised so the shipped file is ~2 MB
    import tempfile

    # the training files hold third-party text: never inside a model folder that ships
    with tempfile.TemporaryDirectory(prefix="curate-reference-") as work:
        _cli("train-classifier", "--recipe", "default", "--data", str(data), "--output", str(out),
             "--work-dir", work, "--set", "thread=1", "--quantize")


def build_quality_fasttext(data: Path, out: Path) -> None:
    _cli("train-classifier", "--recipe", "distill", "--kind", "fasttext", "--data", str(data),
         "--teacher", str(out.parent / "quality-minilm"), "--output", str(out))


def build_reasoning(data: Path, out: Path) -> None:
    # the variant chosen by leave-one-source-out evaluation (classifiers/reasoning_eval.py): the
    # reasoning recipe plus web documentation/listing pages and FineWeb-Edu train labels, a logistic
    # head on all MiniLM layers; its extra sources live in reasoning_eval, so it builds there
    from classifiers import reasoning_eval

    print(f"+ python -m classifiers.reasoning_eval build --data {data} --output {out}", flush=True)
    if reasoning_eval.main(["build", "--data", str(data), "--output", str(out)]) != 0:
        raise SystemExit("reasoning build failed")


def build_reasoning_fasttext(data: Path, out: Path) -> None:
    # the fast tier of the reasoning score: a fastText student of the reasoning classifier's P
    # (soft labels over grades 0 and 1, score = expected grade = P(reasoning)). The first 1,984 pool
    # texts (hash order): the teacher (~2-3 docs/s on the loaded 2-core build machine) had graded
    # that many when time ran out; not a choice made on val.
    _cli("train-classifier", "--recipe", "distill", "--kind", "fasttext", "--data", str(data),
         "--teacher", str(out.parent / "reasoning"), "--output", str(out), "--pool-cap", "1984")


def build_quality(data: Path, out: Path) -> None:
    from classifiers import combined_model
    from classifiers.graded_labels import iter_rows
    from curation.output_dir import claim

    cal = data / CALIBRATION
    claim(str(out), "model-combined", resume=True, inputs=[str(cal)])
    texts = [row.get("text") for _, row in iter_rows(cal)]
    print(f"+ calibrate {out} on {len(texts)} documents of {cal}", flush=True)
    combined_model.calibrate(out, [out.parent / name for name, _ in QUALITY_COMPONENTS], texts,
                             weights=[w for _, w in QUALITY_COMPONENTS], device="cpu",
                             calibration_info={"file": CALIBRATION, "labels_read": False})


BUILDERS: dict[str, Callable[[Path, Path], None]] = {
    "quality-minilm": build_quality_minilm,
    "quality-reference": build_quality_reference,
    "quality-fasttext": build_quality_fasttext,
    "reasoning": build_reasoning,
    "reasoning-fasttext": build_reasoning_fasttext,
    "quality": build_quality,
}


def main(argv: list[str] | None = None) -> int:
    from classifiers.commands import default_shared_dir

    p = argparse.ArgumentParser(prog="python -m classifiers.build_models", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    p.add_argument("--output", default=str(SHIPPED_DIR), help="models folder (default: the package's)")
    p.add_argument("--only", default=None, help=f"comma-separated subset of {', '.join(BUILDERS)}")
    args = p.parse_args(argv)
    data = Path(args.data) if args.data else default_shared_dir()
    if not (data / "labels").is_dir():
        print(f"build_models: error: shared data not found at {data} (pass --data)", file=sys.stderr)
        return 2
    names = list(BUILDERS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        print(f"build_models: error: unknown model(s) {', '.join(unknown)} (known: {', '.join(BUILDERS)})",
              file=sys.stderr)
        return 2
    out = Path(args.output)
    for name in names:
        t0 = time.perf_counter()
        BUILDERS[name](data, out / name)
        print(f"built {out / name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
