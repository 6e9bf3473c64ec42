"""`curate ablate` at scale: proxies from a budget, repetition-matched proxies, the --verify scale-up
check (proposal vs three baselines, resumable) and its page on the dashboard. Tiny models, seconds each."""

from __future__ import annotations

import json
import math
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import yaml

from curate import cli
from curation.ablations import budget as budgetlib
from curation.ablations import runner, verify
from curation.ablations.proxy_model import ProxyConfig
from curation.config import ConfigError

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODEL = {"n_layer": 1, "d_model": 16, "n_head": 2, "seq_len": 16}
TRAIN = {"steps": 20, "batch_size": 4, "lr": 0.01, "checkpoint_every": 10, "eval_batches": 2}
VOCAB = 300


def _sources(tmp_path: Path) -> list[dict]:
    """Two sources the proxies can tell apart: prose-like words (small, capped at 4 epochs) and Python."""
    rng = np.random.default_rng(0)
    words = ["the", "river", "stone", "light", "over", "under", "quiet", "house", "green", "winter", "of", "and"]
    prose = tmp_path / "web_knowledge.txt"
    prose.write_text("\n\n".join(" ".join(rng.choice(words, 40)) + "." for _ in range(150)))
    code = tmp_path / "code.txt"
    code.write_text("\n\n".join((STDLIB / n).read_text() for n in ("textwrap.py", "shlex.py", "difflib.py")))
    return [{"name": "web_knowledge", "input": str(prose), "max_epochs": 4, "max_tokens": 6000},
            {"name": "code", "input": str(code), "max_epochs": 50, "max_tokens": 30_000}]


def _config(tmp_path: Path, **extra) -> Path:
    cfg = {"sources": _sources(tmp_path), "vocab_size": VOCAB, "proxies": 9, "held_out": 1, "workers": 2,
           "target": {"sources": ["code"]}, "model": MODEL, "train": TRAIN}
    cfg.update(extra)
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _proxy_flops() -> float:
    pcfg = ProxyConfig(vocab_size=VOCAB, **MODEL)
    return budgetlib.run_flops(pcfg.flops_per_token(), TRAIN["steps"], TRAIN["batch_size"], MODEL["seq_len"],
                               TRAIN["eval_batches"], 2)


# ------------------------------------------------------------------------------------ budget → K


def test_budget_buys_whole_proxies_and_the_smaller_budget_decides():
    one = 1e12  # FLOPs per proxy; at 1e9 FLOP/s per core that is 1000 core-seconds
    b = budgetlib.proxies_for(one, 1e9, held_out=4, core_hours=12 * 1000 / 3600 + 1e-9)
    assert b.proxies == 12 and b.limited_by == "core_hours"
    assert b.to_dict()["estimated_core_hours"] == pytest.approx(12 * 1000 / 3600)
    # A share of the target run: 6 N D = 6 * 1e6 * 1e7 = 6e13 FLOPs; 30% of it is 18 proxies.
    target = budgetlib.target_run_flops(1_000_000, 10_000_000)
    b = budgetlib.proxies_for(one, 1e9, held_out=4, share=0.3, target_flops=target)
    assert (b.proxies, b.limited_by) == (18, "share")
    b = budgetlib.proxies_for(one, 1e9, held_out=4, share=0.3, target_flops=target, core_hours=14 * 1000 / 3600 + 1e-9)
    assert (b.proxies, b.limited_by) == (14, "core_hours")
    with pytest.raises(ConfigError, match="too small for one proxy"):
        budgetlib.proxies_for(one, 1e9, held_out=4, core_hours=0.1)
    with pytest.raises(ConfigError, match="pays for 5 proxies; 4 held out \\+ 8 to fit need 12"):
        budgetlib.proxies_for(one, 1e9, held_out=4, core_hours=5 * 1000 / 3600 + 1e-9)


def test_measured_flops_per_core_is_plausible():
    fpc = budgetlib.measure_flops_per_core(ProxyConfig(vocab_size=VOCAB, **MODEL), batch_size=4, steps=2)
    assert 1e6 < fpc < 1e13


def test_budget_too_small_for_one_proxy_is_a_one_line_error(tmp_path, capsys):
    cfg = _config(tmp_path, flops_per_core=1e9)
    out = tmp_path / "out"
    assert cli.main(["ablate", "--config", str(cfg), "--output", str(out), "--budget", "1e-9"]) == 2
    err = capsys.readouterr().err.strip()
    assert "too small for one proxy" in err and len(err.splitlines()) == 1
    assert not (out / "data").exists() and not (out / "proxies").exists()  # refused before any work
    # budget_share without the target run's size is refused when the config loads
    with pytest.raises(ConfigError, match="budget_share needs the target run's size"):
        runner.load_config(str(_config(tmp_path, budget_share=0.1)))
    with pytest.raises(ConfigError, match="repetition: matched needs"):
        runner.load_config(str(_config(tmp_path, repetition="matched")))


# ------------------------------------------------------------------------------- repetition


def test_repetition_matched_streams_repeat_each_source_as_the_target_run_does(tmp_path):
    d_target = 100_000
    cfg = runner.load_config(str(_config(tmp_path, target_run={"params": 10_000_000, "tokens": d_target})))
    assert runner.repetition_matched(cfg)
    out = tmp_path / "out"
    manifest = runner.prepare_data(cfg, out)
    names = [s.name for s in cfg.sources]
    srcs = runner.load_sources(out, names, cfg.model.seq_len)
    available = {s.name: len(s.train) for s in srcs}
    p = runner.run_tokens(cfg)
    limits = runner.stream_limits(cfg, manifest["tokens"], available, p)
    plan = runner.make_plan(cfg, out, available, limits)
    assert plan["repetition"] == "matched" and plan["train_tokens"] == limits
    for name in names:
        # the stream is the source's unique tokens scaled by proxy tokens / target-run tokens ...
        assert limits[name] == math.ceil(manifest["tokens"][name] * p / d_target) < available[name]
    # ... so at its epoch cap the scarce source is repeated 4 times by a proxy, as in the target run
    # (where the cap is 4 epochs of its unique tokens: share <= 4 * U / D).
    cap = plan["caps"][0]
    assert cap == pytest.approx(4 * limits["web_knowledge"] / p)
    assert cap < 4 * available["web_knowledge"] / p / 5  # unmatched, a proxy could take far more of it
    assert p * cap / limits["web_knowledge"] == pytest.approx(4.0)
    assert 4 * manifest["tokens"]["web_knowledge"] / d_target == pytest.approx(cap, rel=0.01)
    # The proxies train on the cut streams (the validation tails stay whole).
    cut = runner.load_sources(out, names, cfg.model.seq_len, limits)
    assert [len(s.train) for s in cut] == [limits[n] for n in names]
    assert [len(s.val) for s in cut] == [len(s.val) for s in srcs]
    # A proxy at the cap, run for its steps, sees each token of the cut stream ~4 times: count how
    # often every position is drawn (the stream's ids are its positions; the rest of the mixture is
    # the other source), averaged over seeds.
    from curation.ablations.token_streams import MixtureSampler, SourceTokens

    n = limits["web_knowledge"]
    ids = SourceTokens("a", np.arange(n), np.arange(n))
    other = SourceTokens("b", np.full(limits["code"], n), np.full(limits["code"], n))
    seen = np.zeros(n + 1)
    for seed in range(20):
        sampler = MixtureSampler([ids, other], [cap, 1 - cap], seed=seed)
        for step in range(cfg.train.steps):
            x, y = sampler.batch(cfg.train.batch_size, cfg.model.seq_len, step=step)
            seen += np.bincount(np.concatenate([x[:, 0].numpy(), y.reshape(-1).numpy()]), minlength=n + 1)
    assert seen[:n].sum() / n / 20 == pytest.approx(4.0, rel=0.15)
    # Off: every proxy draws from all it read, and the plan is the same as before matching existed.
    plain = runner.load_config(str(_config(tmp_path, target_run={"tokens": d_target}, repetition="none")))
    assert runner.stream_limits(plain, manifest["tokens"], available, p) is None


# ------------------------------------------------------------------------------------ verify


def test_baselines_map_the_phi4_preset_by_name_or_say_why_not():
    got = {c.label: c for c in verify.baselines(["code", "web_knowledge"], {"code": 300, "web_knowledge": 100})}
    assert got["uniform"].weights == {"code": 0.5, "web_knowledge": 0.5}
    assert got["token_proportional"].weights == {"code": 0.75, "web_knowledge": 0.25}
    from curation.mixture.mix_config import PRESETS

    pre = PRESETS["phi4-organic"]
    assert got["phi4_preset"].weights["code"] == pytest.approx(pre["code"] / (pre["code"] + pre["web_knowledge"]))
    skipped = {c.label: c for c in verify.baselines(["wiki", "code"], {"wiki": 1, "code": 1})}["phi4_preset"]
    assert skipped.weights is None and "no share for ['wiki']" in skipped.skipped


def test_a_rounded_proposal_is_renormalised_so_the_sampler_accepts_it():
    # best_weights is rounded to 1e-6: this one sums to 1 - 5e-7, which check_weights accepts and
    # numpy's rng.choice (what the sampler draws with) rejects
    best = {"a": 0.2, "b": 0.2, "c": 0.2, "d": 0.2, "e": 0.1999995}
    with pytest.raises(ValueError, match="do not sum to 1"):
        np.random.default_rng(0).choice(5, p=list(best.values()))
    w = verify.proposal_weights(best, list(best))
    assert abs(w.sum() - 1) < 1e-12
    np.random.default_rng(0).choice(5, size=16, p=w)
    # A bench run's proposal (five weights rounded to 1e-6, sum off by more than check_weights' 1e-6)
    # failed --verify; here as its error message printed it (4 significant digits, sum 1 - 4e-5).
    real = {"wikipedia": 0.8338, "books": 0.06165, "arxiv": 0.05185, "forums": 0.03807, "code": 0.01459}
    w = verify.proposal_weights(real, list(real))
    assert abs(w.sum() - 1) < 1e-12 and w.argmax() == 0
    with pytest.raises(ValueError, match="non-negative"):
        verify.proposal_weights({"a": 1.2, "b": -0.2}, ["a", "b"])


def test_a_winning_verdict_is_plain_json():
    rows = [{"mixture": "proposal", "metric": 1.0}, {"mixture": "uniform", "metric": 2.0},
            {"mixture": "phi4_preset", "metric": None, "skipped": "no share"}]
    line, wins, beaten_by = verify._verdict(rows)
    assert wins is True and beaten_by == [] and "beats every baseline" in line
    json.dumps({"proposal_wins": wins})  # a numpy bool here made verify.json unwritable when the proposal won
    assert verify._verdict([rows[0], {"mixture": "uniform", "metric": 0.5}])[1] is False


@pytest.mark.slow  # ~40 s on 2 busy cores: 9 tiny proxies and 4 scale-up runs, then a resume
def test_budgeted_matched_ablation_with_verify_resumes_without_retraining(tmp_path, capsys):
    fpc = _proxy_flops() * 1e3 / 3600  # one proxy = 1/1000 core-hour
    cfg = _config(tmp_path, flops_per_core=fpc, target_run={"params": 5_000_000, "tokens": 100_000})
    out = tmp_path / "out"
    args = ["ablate", "--config", str(cfg), "--output", str(out), "--budget", str(9.5e-3), "--verify"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "cost: 9 proxies, chosen from a budget of 0.0095 core-hours" in printed and "scale-up check" in printed
    report = json.loads((out / "regression.json").read_text())
    assert report["proxies"] == 9 and report["repetition"] == "matched"
    cost = report["cost"]
    assert cost["estimated_core_hours"] == pytest.approx(9e-3) and cost["actual_core_hours"] > 0
    assert cost["share_of_target_run"] == pytest.approx(9 * _proxy_flops() / (6 * 5_000_000 * 100_000))
    plan = json.loads((out / "plan.json").read_text())
    res = json.loads((out / "proxies/000/result.json").read_text())
    assert res["identity"]["data"]["web_knowledge"]["train"].startswith(f"{plan['train_tokens']['web_knowledge']}:")

    v = json.loads((out / "verify.json").read_text())
    assert v["param_ratio"] >= 4 and v["step_ratio"] >= 4 and v["seed"] == 0 and v["repetition"] == "matched"
    rows = {r["mixture"]: r for r in v["runs"]}
    assert set(rows) == {"proposal", "uniform", "token_proportional", "phi4_preset"}
    assert all(np.isfinite(r["metric"]) for r in rows.values())  # the preset applies: both names are in it
    metrics = {k: r["metric"] for k, r in rows.items()}
    assert v["proposal_wins"] == all(metrics["proposal"] < m for k, m in metrics.items() if k != "proposal")
    assert ("did NOT win" in v["verdict"]) != v["proposal_wins"]
    # the matched scale-up run repeats the scarce source as the target run does at the same share
    w = rows["uniform"]["weights"]["web_knowledge"]
    expected = w * 100_000 / json.loads((out / "data/manifest.json").read_text())["tokens"]["web_knowledge"]
    assert rows["uniform"]["epochs"]["web_knowledge"] == pytest.approx(expected, rel=0.02)

    # Resumed: nothing is retrained (result files untouched), the same table comes back.
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*/result.json")}
    assert len(stamps) == 9 + 4
    assert cli.main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/result.json")} == stamps
    again = json.loads((out / "verify.json").read_text())
    assert [r["metric"] for r in again["runs"]] == [r["metric"] for r in v["runs"]]
    assert json.loads((out / "budget.json").read_text())["proxies"] == 9


def test_scale_up_model_has_at_least_the_asked_parameters(tmp_path):
    cfg = runner.load_config(str(_config(tmp_path)))
    base = ProxyConfig(vocab_size=VOCAB, **MODEL).n_params()
    shape = verify.scale_up_model(cfg, VOCAB)
    assert ProxyConfig(vocab_size=VOCAB, **shape).n_params() >= 4 * base and shape["d_model"] % MODEL["n_head"] == 0
    deep = runner.load_config(str(_config(tmp_path, verify={"d_model": 16})))
    shape = verify.scale_up_model(deep, VOCAB)
    assert shape["d_model"] == 16 and ProxyConfig(vocab_size=VOCAB, **shape).n_params() >= 4 * base
    fixed = runner.load_config(str(_config(tmp_path, verify={"d_model": 16, "n_layer": 1})))
    with pytest.raises(ConfigError, match="under verify.param_scale"):
        verify.scale_up_model(fixed, VOCAB)
    with pytest.raises(ConfigError, match="param_scale"):
        runner.load_config(str(_config(tmp_path, verify={"param_scale": 2})))


# ------------------------------------------------------------------------------------ dashboard


VERIFY = {"target": {"sources": ["web_reasoning"]}, "model": {"n_layer": 1, "d_model": 40, "n_head": 2, "seq_len": 16},
          "n_params": 100_000, "proxy_params": 25_000, "param_ratio": 4.0, "steps": 160, "proxy_steps": 40,
          "step_ratio": 4.0, "seed": 0, "repetition": "matched", "proposal_wins": False, "beaten_by": ["uniform"],
          "verdict": "scale-up check: the proposal (3.2100) did NOT win: uniform did as well or better (uniform 3.1900, "
                     "token_proportional 3.3000); phi4_preset skipped",
          "run_flops": 1e12, "ablation_share_of_one_run": 1.5,
          "runs": [{"mixture": "proposal", "weights": {"a": 0.7, "b": 0.3}, "metric": 3.21, "skipped": None},
                   {"mixture": "uniform", "weights": {"a": 0.5, "b": 0.5}, "metric": 3.19, "skipped": None},
                   {"mixture": "token_proportional", "weights": {"a": 0.2, "b": 0.8}, "metric": 3.30, "skipped": None},
                   {"mixture": "phi4_preset", "weights": None, "metric": None,
                    "skipped": "the phi4-organic preset has no share for ['a', 'b']"}]}


def test_ablations_page_shows_the_fit_the_baselines_and_the_verify_result(tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from dashboards import ablation_outputs, data, jobs, sample_run

    run = tmp_path / "run"
    done = sample_run._write_ablation(run, np.random.default_rng(0), run / "mix")
    (done / "verify.json").write_text(json.dumps(VERIFY))
    report = json.loads((done / "regression.json").read_text())
    report.update(cross_validated_spearman=0.93, repetition="matched",
                  cost={"proxies": 6, "flops": 1.5e12, "cores_per_proxy": 1, "actual_core_hours": 0.01})
    (done / "regression.json").write_text(json.dumps(report))
    fresh = run / "ablations" / "fresh"  # finished, never verified: the page offers the check
    fresh.mkdir()
    for name in ("regression.json", "plan.json", "ablation.yaml", "best_mixture.yaml"):
        (fresh / name).write_text((done / name).read_text())
    launched = []
    monkeypatch.setattr(jobs, "launch", lambda out, text=None, cwd=None, verify=False: launched.append((out, text, verify)))
    monkeypatch.setenv(data.RUN_DIR_ENV, str(run))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/ablations.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="abl_pick").set_value("ablations/demo").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Held-out rank correlation"] == f"{report['held_out_spearman']:.3f}"
    assert labels["Cross-validated rank correlation"] == "0.930"
    assert labels["Parameters vs proxy"] == "4.0x" and labels["Steps vs proxy"] == "4.0x"
    assert [w.value for w in at.warning] == [VERIFY["verdict"]] and not at.success
    table = next(d.value for d in at.dataframe if list(d.value.columns) == ["mixture", "target metric", "weights", "note"])
    assert table.mixture.tolist() == ["proposal", "uniform", "token_proportional", "phi4_preset"]
    assert table["target metric"].tolist()[:3] == [3.21, 3.19, 3.30] and "no share" in table.note.iloc[3]
    held = ablation_outputs.held_out_table(report)
    assert any(d.value.equals(held) for d in at.dataframe)  # predicted vs actual of the held-out proxies
    assert any("Repetition: matched; cost: 6 proxies" in c.value for c in at.caption)

    at.selectbox(key="abl_pick").set_value("ablations/fresh").run()
    assert not at.exception and not [w for w in at.warning if "scale-up" in w.value]
    at.button(key="abl_verify").click().run()
    assert len(launched) == 1 and launched[0][0] == fresh and launched[0][2] is True
    assert yaml.safe_load(launched[0][1])["proxies"] == 6  # the config curate ablate wrote, to resume with --verify


def test_verify_job_command_has_the_flag():
    from dashboards import jobs

    assert jobs.ablate_command(Path("c.yaml"), Path("o"), verify=True)[-1] == "--verify"
    assert "--verify" not in jobs.ablate_command(Path("c.yaml"), Path("o"))


def test_unreadable_checkpoints_stop_the_ablation_with_one_line(tmp_path, capsys):
    cfg = _config(tmp_path, proxies=4, held_out=1, workers=1, train={**TRAIN, "steps": 4})
    from curation.output_dir import claim

    claim(str(tmp_path / "out"), "ablate", resume=True)  # a folder curate ablate made, killed mid-proxy
    bad = tmp_path / "out" / "proxies" / "000"
    bad.mkdir(parents=True)
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (bad / name).write_bytes(b"not a checkpoint")
    assert cli.main(["ablate", "--config", str(cfg), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no usable checkpoint" in err and len(err.splitlines()) == 1
