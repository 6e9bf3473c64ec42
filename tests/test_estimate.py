"""``curate estimate`` (curate/estimate.py): sampling, user errors, and one run on the demo input."""

from __future__ import annotations

import json

import pytest
from warcio.archiveiterator import ArchiveIterator

from curate import estimate
from curate.cli import main
from curate.demo import DEMO_PIPELINE, DEMO_WARC

#: The demo pipeline without decontamination and the mixture: a probe of a few records leaves a
#: mixture source empty (an error, as in curate run), and the three stages left show the model.
SHORT = ["--set", "decontaminate.enabled=false", "--set", "mix.enabled=false"]


def _records(path) -> list[str]:
    with open(path, "rb") as f:
        return [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(f)]


def test_many_files_are_sampled_by_file_deterministically(tmp_path):
    files = [str(tmp_path / f"f{i:03d}.warc.gz") for i in range(100)]
    a = estimate.sample_inputs(files, 0.1, 0, tmp_path / "s")
    assert a.mode == "files" and len(a.sample) == 10 and len(a.probe) == 2
    assert set(a.probe) <= set(a.sample)
    assert estimate.sample_inputs(files, 0.1, 0, tmp_path / "s") == a  # seeded: the same sample again
    assert estimate.sample_inputs(files, 0.1, 1, tmp_path / "s").sample != a.sample
    wide = estimate.sample_inputs(files, 0.1, 0, tmp_path / "s", cores=4)  # as parallel as the sample
    assert len(wide.probe) == 4 and set(wide.probe) <= set(a.sample)
    assert len(estimate.sample_inputs(files, 0.1, 0, tmp_path / "s", cores=64).probe) == 9  # fewer than the sample


def test_a_sample_by_files_runs_whole_waves_on_the_cores(tmp_path):
    # 7 files on 2 cores take 4 waves, the last half idle, and the probe-to-sample slope comes out
    # a third too steep (bench/estimate.py against the 4x scale run: +40% on annotate). Sample and
    # probe are rounded to multiples of the cores.
    files = [str(tmp_path / f"f{i:03d}.warc.gz") for i in range(144)]
    two = estimate.sample_inputs(files, 0.05, 0, tmp_path / "s", cores=2)  # 7.2 files asked
    assert len(two.sample) == 8 and len(two.probe) == 2
    four = estimate.sample_inputs(files, 0.1, 0, tmp_path / "s", cores=4)  # 14.4 asked
    assert len(four.sample) == 16 and len(four.probe) == 4
    six = estimate.sample_inputs(files, 0.25, 0, tmp_path / "s", cores=3)  # 36 asked: already whole
    assert len(six.sample) == 36 and len(six.probe) == 9


def test_few_files_are_sampled_by_record(tmp_path):
    s = estimate.sample_inputs([str(DEMO_WARC)], 0.5, 0, tmp_path)
    assert s.mode == "records"
    every = _records(DEMO_WARC)
    sample = [r for f in s.sample for r in _records(f)]
    probe = [r for f in s.probe for r in _records(f)]
    assert 0 < len(probe) < len(sample) < len(every)  # valid WARCs, records copied whole
    assert set(probe) <= set(sample) <= set(every)
    again = estimate.sample_inputs([str(DEMO_WARC)], 0.5, 0, tmp_path / "again")
    assert [r for f in again.sample for r in _records(f)] == sample


@pytest.mark.parametrize("args, message", [
    (["--sample", "0"], "--sample 0: the fraction must be > 0 and <= 1"),
    (["--sample", "1.5"], "--sample 1.5: the fraction must be > 0 and <= 1"),
    (["--sample", "-0.1"], "the fraction must be > 0 and <= 1"),
])
def test_bad_fraction_is_one_line(capsys, args, message):
    assert main(["estimate", str(DEMO_PIPELINE), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curate estimate: error: ") and message in err[0]


def test_missing_pipeline_and_own_run_dir_are_one_line(capsys, tmp_path):
    assert main(["estimate", str(tmp_path / "nope.yaml"), "--sample", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curate estimate: error: ") and "nope.yaml" in err[0]
    run_dir = tmp_path / "run"
    assert main(["estimate", str(DEMO_PIPELINE), "--sample", "0.1", "--input", str(DEMO_WARC),
                 "--set", f"output={json.dumps(str(run_dir))}", "--output", str(run_dir / "est")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "overlaps the pipeline's run directory" in err[0]
    assert not run_dir.exists()


def test_estimate_on_the_demo_is_self_consistent(spark, tmp_path, capsys):
    out_json, work = tmp_path / "estimate.json", tmp_path / "work"
    run_dir = tmp_path / "never"
    code = main(["estimate", str(DEMO_PIPELINE), "--input", str(DEMO_WARC), "--sample", "0.5", "--output", str(work),
                 "--json", str(out_json), "--set", f"output={json.dumps(str(run_dir))}", *SHORT])
    assert code == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "whole input:" in text and "per TB of compressed input:" in text and "flags:" in text
    e = json.loads(out_json.read_text())
    assert [s["name"] for s in e["stages"]] == ["extract", "annotate", "dedup"]
    assert e["sampling"] == "records" and 0 < e["probe_bytes"] < e["sample_bytes"] < e["input_bytes"]
    scale = e["input_bytes"] / e["sample_bytes"]
    assert e["scale"] == pytest.approx(scale, abs=1e-3) and 1.2 < scale < 5  # about 1 / 0.5
    per_tb = 10**12 / e["sample_bytes"]
    for s in e["stages"]:
        sample, whole, tb = s["sample"], s["whole"], s["per_tb"]
        assert sample["records_in"] > 0 and sample["output_bytes"] > 0
        # predicted totals are the sample's, scaled by input bytes
        assert whole["kept_records"] == round(sample["kept"] * scale)
        assert whole["kept_tokens"] == round(sample["kept_tokens"] * scale)
        assert whole["output_bytes"] == round(sample["output_bytes"] * scale)
        assert tb["kept_tokens"] == round(sample["kept_tokens"] * per_tb)
        # time: fixed + per byte, so the whole input costs at least the fixed part, per TB more
        assert whole["wall_seconds"] >= s["fixed_seconds"] - 0.1 and tb["wall_seconds"] >= whole["wall_seconds"]
        assert whole["core_hours"] == pytest.approx(whole["wall_seconds"] * e["cores"] / 3600, abs=1e-3)
    assert e["whole"]["wall_seconds"] == pytest.approx(e["startup_seconds"] + sum(s["whole"]["wall_seconds"]
                                                                                   for s in e["stages"]), abs=0.5)
    assert e["whole"]["kept_records"] == e["stages"][-1]["whole"]["kept_records"]
    assert any("lower bound" in f for f in e["stages"][-1]["flags"])  # dedup
    assert (work / "runs" / "sample" / "dedup").is_dir() and not run_dir.exists()


def test_input_takes_several_files_at_once():
    """As for ``curate run``: ``--input a b`` is two inputs, not an input and a stray argument."""
    import argparse

    parser = argparse.ArgumentParser()
    estimate.add_arguments(parser)
    args = parser.parse_args(["p.yaml", "--sample", "0.1", "--input", "a.warc.gz", "b.warc.gz", "-i", "c.warc.gz"])
    assert args.pipeline == "p.yaml" and args.input == ["a.warc.gz", "b.warc.gz", "c.warc.gz"]
