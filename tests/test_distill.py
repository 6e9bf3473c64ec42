"""The distilled fastText tier (issue 17): the unlabelled pool, expected-grade scoring, the shipped
model, the CLI's errors. Real data from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifiers import distill, loading, unlabelled_pool
from classifiers import fasttext_model as fm
from curation.model_files import check_fasttext

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "classifiers" / "models" / "quality-fasttext"
TEACHER = ROOT / "classifiers" / "models" / "quality-minilm"
REASONING = ROOT / "classifiers" / "models" / "reasoning"
REASONING_FT = ROOT / "classifiers" / "models" / "reasoning-fasttext"
MATHS = ("Solve 2x + 6 = 14. Subtract 6 from both sides: 2x = 8. Divide both sides by 2: x = 4. Check: "
         "2 * 4 + 6 = 8 + 6 = 14, so the solution is correct. In general, to solve ax + b = c we subtract b "
         "and divide by a, giving x = (c - b) / a, which works whenever a is not zero. Therefore the answer is 4.")
NAVBAR = "Home | Products | Shop | About us | Contact | Login | Sign up | Cart (0) | FAQ | Privacy | Terms of use"


@pytest.fixture(scope="module")
def pool(shared_data):
    return unlabelled_pool.build_pool(shared_data)


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()]


@pytest.mark.slow  # builds the pool twice: ~35 s alone, longer on a loaded machine
def test_pool_excludes_evaluation_texts_and_is_deterministic(shared_data, pool):
    banned = {unlabelled_pool.text_hash(t) for rel in unlabelled_pool.EXCLUDED for t in _texts(shared_data / rel)}
    assert len(banned) > 1000
    assert not banned & set(pool.hashes)
    assert not banned & {unlabelled_pool.text_hash(t) for t in pool.texts}
    assert pool.hashes == sorted(pool.hashes) and len(set(pool.hashes)) == len(pool)
    assert all(len(t.strip()) >= 200 for t in pool.texts)
    assert {"fineweb_train", "web", "wcxb_dev", "ccnet_head"} <= set(pool.sources)
    again = unlabelled_pool.build_pool(shared_data, cap=50)
    assert again.hashes == pool.hashes[:50]
    assert again.info["sha256"] == unlabelled_pool.pool_sha256(pool.hashes[:50])


def test_pool_file_drops_evaluation_texts(shared_data, tmp_path):
    val = _texts(shared_data / "labels" / "fineweb-edu-llm" / "val.jsonl")[:3]
    train = _texts(shared_data / "labels" / "fineweb-edu-llm" / "train.jsonl")[:3]
    f = tmp_path / "pool.jsonl"
    # an evaluation text in different case/spacing is still the same text
    rows = [*train, val[0].upper().replace(" ", "  "), val[1], train[0], "too short"]
    f.write_text("".join(json.dumps({"text": t}) + "\n" for t in rows), encoding="utf-8")
    p = unlabelled_pool.read_pool_file(f, exclude_from=shared_data)
    assert sorted(p.texts) == sorted(train)
    assert p.info["excluded"] == 2 and p.info["short"] == 1


def test_soft_labels_average_to_the_teacher_grade():
    toks = distill.label_tokens("soft", np.array([1.26, 0.0, 4.99, 5.0]), cut=1.8)
    grades = [[float(t.removeprefix("__label__")) for t in line.split()] for line in toks]
    assert [round(float(np.mean(g)), 1) for g in grades] == [1.3, 0.0, 5.0, 5.0]
    assert distill.label_tokens("cut", np.array([1.79, 1.8]), cut=1.8) == [distill.LO, distill.HI]
    assert distill.label_tokens("grade", np.array([1.49, 1.51, 7.0]), cut=1.8) == ["__label__1", "__label__2", "__label__5"]


def test_classifier_teacher_soft_labels_average_to_p():
    """A classifier teacher's P is a grade on a 0-1 scale: each line splits its label tokens between
    grades 0 and 1 in proportion P, so the line's mean grade is P (to 1/SOFT_TOKENS)."""
    p = np.array([0.0, 0.04, 0.26, 0.5, 0.73, 0.96, 1.0, 1.3, -0.2])
    toks = distill.label_tokens("soft", p, cut=0.5, top=distill.grade_top("classifier"))
    grades = [[float(t.removeprefix("__label__")) for t in line.split()] for line in toks]
    assert all(set(g) <= {0.0, 1.0} and len(g) == distill.SOFT_TOKENS for g in grades)
    np.testing.assert_allclose([np.mean(g) for g in grades], np.clip(p, 0, 1), atol=0.5 / distill.SOFT_TOKENS)
    assert distill.teacher_kind(REASONING) == "classifier" and distill.teacher_kind(TEACHER) == "regression"
    assert distill.teacher_cut(REASONING) == distill.CLASSIFIER_CUT
    keys = distill.model_meta_keys("soft", ["__label__0", "__label__1"], "classifier")
    assert keys["score_mode"] == "expected_grade" and keys["grades"] == {"__label__0": 0.0, "__label__1": 1.0}
    # the head checksum serves both kinds of teacher (the cache key)
    assert len(distill.teacher_head_sha256(REASONING)) == 64 and len(distill.teacher_head_sha256(TEACHER)) == 64


@pytest.mark.slow
def test_expected_grade_model_trained_on_pool(shared_data, pool, tmp_path):
    """A real quantised student: the shipped teacher grades 30 short pool texts, more pool rows get
    teacher-like grades (a text's length, which the teacher rewards), and the model directory
    scores the expected grade through ``loading``."""
    short = [t for t in pool.texts if len(t) < 1500][:30]
    teacher = distill.teacher_scores(TEACHER, short, tmp_path / "cache", progress=lambda m: None)
    assert np.isfinite(teacher).all() and (0 <= teacher).all() and (teacher <= 5).all()
    rest = [t for t in pool.texts if t not in short][:400]
    graded = np.clip(np.log10([len(t) for t in rest]) - 1.5, 0, 5)  # teacher-like: 0-5, numeric
    texts, scores = short + rest, np.concatenate([teacher, graded])
    train = distill.write_training_file(tmp_path / "train.txt", texts, distill.label_tokens("soft", scores, 1.8))
    out = tmp_path / "model"
    out.mkdir()
    fm.train_model_file(train, out / fm.MODEL_FILE, {**fm.DEFAULT_PARAMS, "thread": 1, "epoch": 10},
                        distill.QUANTIZE)
    check_fasttext(out / fm.MODEL_FILE)
    ft = fm._ft().load_model(str(out / fm.MODEL_FILE))
    assert ft.is_quantized()
    classes = list(ft.labels)
    meta = {"version": fm.META_VERSION, "kind": "fasttext", "classes": classes,
            **distill.model_meta_keys("soft", classes), "files": distill_record(out), "model_bytes": 0}
    (out / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert loading.check(out) == "fasttext"
    model = loading.load(out)
    got = loading.score(model, texts[:50] + ["", None])
    probs = fm.probabilities(model, texts[:50])
    grades = np.array([float(c.removeprefix("__label__")) for c in classes])
    np.testing.assert_allclose(got[:50], probs @ grades)
    assert np.isnan(got[50:]).all()
    assert (0 <= got[:50]).all() and (got[:50] <= 5).all()


def distill_record(out: Path) -> dict:
    from classifiers.artifacts import record_files

    return record_files(out, (fm.MODEL_FILE,))


def test_older_models_score_as_before(tmp_path):
    """No score_mode in meta: P(positive), and empty text gets the prior (not NaN)."""
    train = tmp_path / "t.txt"
    lines = [f"__label__hq the proof of theorem {i} follows from the lemma ." for i in range(40)]
    lines += [f"__label__lq buy cheap shoes now click here {i} !" for i in range(40)]
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = fm.train(train, train, tmp_path / "m", params={"thread": 1, "epoch": 20})
    assert "score_mode" not in meta
    model = loading.load(tmp_path / "m")
    s = loading.score(model, ["the proof of the lemma", "", None])
    assert np.isfinite(s).all() and (0 <= s).all() and (s <= 1).all()


def test_expected_grade_meta_needs_grades(tmp_path):
    class FakeFt:  # only labels are read by the constructor
        labels = ["__label__1", "__label__2"]

    with pytest.raises(ValueError, match="grades"):
        fm.QualityModel(FakeFt(), {"score_mode": "expected_grade", "grades": {"__label__1": 1}}, tmp_path)
    with pytest.raises(ValueError, match="score_mode"):
        fm.QualityModel(FakeFt(), {"score_mode": "median"}, tmp_path)


# ------------------------------------------------------------------------------ the shipped model


def test_shipped_model_loads_and_is_small():
    assert loading.check(SHIPPED) == "fasttext"
    meta = json.loads((SHIPPED / "meta.json").read_text())
    assert meta["recipe"] == "distill" and meta["score_mode"] in ("expected_grade", "p_positive")
    assert meta["pool"]["sha256"] and meta["pool"]["size"] > 500 and meta["cv"]["variants"]
    assert meta["teacher"]["head_sha256"] == distill.teacher_head_sha256(TEACHER)
    assert meta["files"]["model.bin"]["sha256"]
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) < 5 * 2**20
    model = loading.load(SHIPPED)
    assert model.ft.is_quantized()
    s = loading.score(model, ["", None, "   ", "x" * 10_000_000, "The mitochondrion is the powerhouse of the cell."])
    assert np.isnan(s[:3]).all()
    assert np.isfinite(s[3:]).all()


def test_shipped_model_agrees_with_llm_scores(shared_data):
    from scipy.stats import spearmanr

    rows = [json.loads(line) for line in (shared_data / "labels" / "fineweb-edu-llm" / "val.jsonl").open()][:200]
    s = loading.score(loading.load(SHIPPED), [r["text"] for r in rows])
    rho = spearmanr(s, [r["score"] for r in rows]).statistic
    assert rho > 0.3, f"Spearman {rho:.3f} with the LLM score on the first 200 val docs"


# ------------------------------------------------------------------------------ the reasoning student


def test_shipped_reasoning_fasttext_loads_and_ranks():
    assert loading.check(REASONING_FT) == "fasttext"
    meta = json.loads((REASONING_FT / "meta.json").read_text())
    assert meta["recipe"] == "distill" and meta["score_mode"] == "expected_grade"
    assert meta["teacher"]["kind"] == "classifier"
    assert meta["teacher"]["head_sha256"] == distill.teacher_head_sha256(REASONING)
    assert sorted(meta["grades"].values()) == [0.0, 1.0]
    assert (REASONING_FT / "_curate_output.json").is_file()
    assert sum(f.stat().st_size for f in REASONING_FT.iterdir()) < 5 * 2**20
    model = loading.load(REASONING_FT)
    assert model.ft.is_quantized()
    s = loading.score(model, [MATHS, NAVBAR, "", None])
    assert np.isfinite(s[:2]).all() and (0 <= s[:2]).all() and (s[:2] <= 1).all()
    assert s[0] > s[1], f"maths {s[0]:.3f} vs navigation bar {s[1]:.3f}"
    assert np.isnan(s[2:]).all()


@pytest.mark.slow  # ~5 s: distils a teacher into fastText
def test_reasoning_fasttext_agrees_with_its_teacher(shared_data):
    """30 FineWeb-Edu val texts (never in the pool): the student's P follows the teacher's."""
    from scipy.stats import spearmanr

    texts = _texts(shared_data / "labels" / "fineweb-edu-llm" / "val.jsonl")[:30]
    student = loading.score(loading.load(REASONING_FT), texts)
    teacher = loading.score(loading.load(REASONING, device="cpu"), texts)
    rho = spearmanr(student, teacher).statistic
    assert rho > 0.2, f"Spearman {rho:.3f} between student and teacher on 30 val texts"


# ------------------------------------------------------------------------------ CLI


def test_cli_missing_teacher_is_one_line_exit_2(tmp_path):
    out = tmp_path / "student"
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "train-classifier", "--recipe", "distill",
                           "--kind", "fasttext", "--teacher", str(tmp_path / "nope"), "--output", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "teacher model directory not found" in lines[0]
    assert not out.exists()


def test_cli_distill_needs_fasttext_kind(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "train-classifier", "--recipe", "distill",
                           "--kind", "transformer", "--output", str(tmp_path / "s")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "--kind fasttext" in proc.stderr
