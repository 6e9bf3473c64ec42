"""curation/estimate.py: the cost model behind ``curate estimate`` (no JVM)."""

from __future__ import annotations

import json

import pytest

from curation import estimate as est


def _stage(name, seconds, records, kept=None, tokens=None, out=None, dropped=None):
    kept = records if kept is None else kept
    return est.StageRun(name, seconds, records, kept, kept, 100 * kept if tokens is None else tokens,
                        10 * records if out is None else out, dropped)


def _run(n_bytes, records, extract_s, dedup_s, dedup_kept):
    return est.SampleRun(n_bytes, (_stage("extract", extract_s, records),
                                   _stage("dedup", dedup_s, records, kept=dedup_kept, dropped=records - dedup_kept)))


def _measured(**kw):
    # extract: 10 s fixed + 1 s per 1,000 bytes, +4 s on cold workers; dedup: 30 s fixed, 0.1 s per 1,000 bytes
    base = dict(total_input_bytes=1_000_000, cores=2, startup_seconds=12.0,
                cold=_run(40_000, 400, 54.0, 34.0, 370),
                probe=_run(10_000, 100, 20.0, 31.0, 95),
                sample=_run(40_000, 400, 50.0, 34.0, 370))
    return est.Measurements(**{**base, **kw})


def test_fit_time_separates_fixed_and_per_byte_cost():
    m = est.fit_time(cold=54.0, probe=20.0, sample=50.0, probe_bytes=10_000, sample_bytes=40_000)
    assert m.seconds_per_byte == pytest.approx(0.001)
    assert m.fixed_seconds == pytest.approx(10.0 + 4.0)  # the warm intercept + what the cold sample added
    assert m.seconds(1_000_000) == pytest.approx(1014.0)


def test_fit_time_clamps_noise_and_handles_one_point():
    noisy = est.fit_time(cold=28.0, probe=31.0, sample=29.0, probe_bytes=10, sample_bytes=40)
    assert noisy.seconds_per_byte == 0.0 and noisy.fixed_seconds == pytest.approx(29.0)
    one = est.fit_time(cold=5.0, probe=5.0, sample=5.0, probe_bytes=40, sample_bytes=40)
    assert one.seconds_per_byte == pytest.approx(5.0 / 40)


def test_estimate_extrapolates_by_bytes_with_fixed_costs_once():
    e = est.estimate(_measured())
    assert e.scale == pytest.approx(25.0)
    ex, dd = e.stage("extract"), e.stage("dedup")
    assert ex.whole.wall_seconds == pytest.approx(14.0 + 1000.0)
    assert dd.whole.wall_seconds == pytest.approx(30.0 + 0.0001 * 1_000_000)
    assert e.whole.wall_seconds == pytest.approx(12.0 + 1014.0 + 130.0)
    assert e.whole.core_hours == pytest.approx(e.whole.wall_seconds * 2 / 3600, abs=1e-3)
    # sizes and counts: linear in bytes, from the sample's ratios
    assert ex.whole.kept_records == 400 * 25 and ex.whole.kept_tokens == 400 * 100 * 25
    assert ex.whole.output_bytes == 4000 * 25
    assert e.whole.output_bytes == ex.whole.output_bytes + dd.whole.output_bytes
    assert e.whole.kept_records == dd.whole.kept_records == 370 * 25  # the last stage's
    # per TB: the same ratios at 1e12 bytes (fixed costs included, negligible there)
    assert ex.per_tb.kept_records == round(400 * est.TB / 40_000)
    assert ex.per_tb.wall_seconds == pytest.approx(14.0 + 0.001 * est.TB)


def test_dedup_rate_is_flagged_as_a_lower_bound():
    e = est.estimate(_measured())
    flags = " ".join(e.stage("dedup").flags)
    assert "7.5% of the sample" in flags and "5.0% of the probe" in flags and "lower bound" in flags
    assert not e.stage("extract").flags
    assert any("lower bound" in n for n in e.notes)


def test_a_stage_whose_time_did_not_grow_is_flagged():
    flat = _run(40_000, 400, 50.0, 30.0, 370)  # dedup: 30 s for the sample, 31 s for the probe
    e = est.estimate(_measured(cold=flat, sample=flat))
    assert e.stage("dedup").whole.wall_seconds == pytest.approx(30.0)
    assert any("lower bounds" in f and "did not grow" in f for f in e.stage("dedup").flags)
    assert not any("did not grow" in f for f in e.stage("extract").flags)


def test_budgeted_stage_is_capped():
    sample = est.SampleRun(40_000, (_stage("extract", 50.0, 400), _stage("mix", 5.0, 200, tokens=3_000, out=1_000)))
    probe = est.SampleRun(10_000, (_stage("extract", 20.0, 100), _stage("mix", 4.0, 50, tokens=750, out=250)))
    e = est.estimate(_measured(cold=sample, probe=probe, sample=sample, budgets={"mix": 10_000}))
    mix = e.stage("mix")
    assert mix.whole.kept_tokens == 10_000  # not 3,000 x 25
    assert mix.whole.kept_records == round(200 * 10_000 / 3_000)
    assert any("budget" in f for f in mix.flags)
    small = est.estimate(_measured(cold=sample, probe=probe, sample=sample, budgets={"mix": 10**9}))
    assert small.stage("mix").whole.kept_tokens == 3_000 * 25


def test_render_and_json():
    e = est.estimate(_measured())
    text = est.render(e)
    for word in ("whole input:", "per TB of compressed input:", "extract", "dedup", "total", "flags:"):
        assert word in text
    data = json.loads(e.to_json())
    assert [s["name"] for s in data["stages"]] == ["extract", "dedup"]
    assert data["whole"]["wall_seconds"] == e.whole.wall_seconds


def test_empty_sample_is_an_error():
    with pytest.raises(ValueError):
        est.estimate(_measured(sample=est.SampleRun(0, ())))
