"""``curate ablate --verify``: does the proposed mixture still win at a larger scale?

A regression fitted on tiny proxies can rank mixtures well and still propose one that only tiny
models like; and most mixing methods do not reliably beat simple baselines (Aioli). So the proposal
is trained beside three baselines at a larger scale (at least ``verify.param_scale`` × the proxy's
parameters and ``verify.step_scale`` × its steps, same batch, sequence length, seed, data and
repetition rule), and the target metric of each is reported in ``DIR/verify.json``:

* ``uniform``: every source the same share (stratified sampling, Aioli's strong baseline);
* ``token_proportional``: shares in proportion to each source's unique tokens in the target run
  (``target_tokens``, else the tokens read), the "natural" distribution;
* ``phi4_preset``: the ``phi4-organic`` preset of :mod:`curation.mixture.mix_config`, when every
  ablation source is one of its names (renormalised over them); otherwise skipped with the reason.

The proposal wins when its metric (a loss: lower is better) is below every trained baseline's; the
report says so, or names the baselines that beat it. Each run lives in ``DIR/verify/<label>-<id>/``
(the id hashes the weights, model, steps and streams), so a finished one is never retrained and a
changed proposal gets a new folder instead of colliding with the old one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation import config as configlib
from curation import fsutil
from curation.ablations import runner
from curation.ablations.regmix import check_weights
from curation.mixture.mix_config import PRESETS

PRESET = "phi4-organic"
VERIFY_JSON = "verify.json"


@dataclass(frozen=True)
class Candidate:
    """A mixture to train at scale: the proposal or a baseline (``weights`` None when skipped)."""

    label: str
    weights: dict[str, float] | None
    #: Why it is not trained ("" when it is).
    skipped: str = ""


def baselines(names: list[str], unique_tokens: dict[str, int]) -> list[Candidate]:
    """The three baselines over ``names`` (see the module docstring)."""
    n = len(names)
    total = sum(unique_tokens[x] for x in names)
    out = [Candidate("uniform", {x: 1 / n for x in names}),
           Candidate("token_proportional", {x: unique_tokens[x] / total for x in names})]
    preset = PRESETS[PRESET]
    missing = [x for x in names if x not in preset]
    if missing:
        out.append(Candidate("phi4_preset", None, skipped=f"the {PRESET} preset has no share for {missing} (it names "
                                                          f"{sorted(preset)}; sources map onto it by name)"))
    else:
        # Preset sources the ablation lacks are dropped and the rest renormalised: the same proportions
        # between the sources both have.
        kept = sum(preset[x] for x in names)
        out.append(Candidate("phi4_preset", {x: preset[x] / kept for x in names}))
    return out


def proposal_weights(best: dict[str, float], names: list[str]) -> np.ndarray:
    """The proposal's weights in ``names`` order. ``best_weights`` is rounded to 1e-6 per source, so
    with k sources its sum may be off by up to k/2 * 1e-6, more than check_weights allows, and the
    sampler's ``rng.choice`` needs a sum within ~1e-8 of 1: renormalised first, then checked."""
    raw = np.asarray([best[n] for n in names], dtype=np.float64)
    total = raw.sum()
    return check_weights(raw / total if np.isfinite(total) and total > 0 else raw, names)


def scale_up_model(cfg: runner.AblationConfig, vocab: int) -> dict:
    """The scale-up model section: the proxy's, grown until it has ``param_scale`` × its parameters
    (d_model in steps of n_head, or n_layer where ``verify.d_model`` fixes the width)."""
    from curation.ablations.proxy_model import ProxyConfig

    base = configlib.to_dict(cfg.model)
    want = cfg.verify.param_scale * ProxyConfig(vocab_size=vocab, **base).n_params()
    shape = {**base, "n_layer": cfg.verify.n_layer or base["n_layer"], "d_model": cfg.verify.d_model or base["d_model"]}

    def params() -> int:
        return ProxyConfig(vocab_size=vocab, **shape).n_params()

    while params() < want:
        if not cfg.verify.d_model and shape["d_model"] + cfg.model.n_head <= 16_384:
            shape["d_model"] += cfg.model.n_head
        elif not cfg.verify.n_layer and shape["n_layer"] < 256:
            shape["n_layer"] += 1
        else:
            raise configlib.ConfigError(
                f"verify: a model of n_layer {shape['n_layer']}, d_model {shape['d_model']} has {params():,} parameters, "
                f"under verify.param_scale ({cfg.verify.param_scale:g}) x the proxy's: leave n_layer or d_model at 0")
    return shape


def _run_id(weights: dict[str, float], model: dict, steps: int, limits: dict[str, int] | None, seed: int,
            data: str) -> str:
    """What a scale-up run computes, hashed: not the target over sources (a baseline's losses serve
    every such target), but the data, which holds a target text the runs are evaluated on."""
    return runner._identity({"w": {k: round(v, 9) for k, v in weights.items()}, "model": model, "steps": steps,
                             "limits": limits, "seed": seed, "data": data})[:10]


def run_verify(cfg: runner.AblationConfig, out: Path, report: dict, cost: dict | None = None) -> dict:
    """Train the proposal and the baselines at scale (resumable) and write ``DIR/verify.json``."""
    names = [s.name for s in cfg.sources]
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    read = manifest["tokens"]
    unique = {s.name: s.target_tokens or read[s.name] for s in cfg.sources}
    proposal = proposal_weights(report["best_weights"], names)
    candidates = [Candidate("proposal", dict(zip(names, proposal.tolist()))), *baselines(names, unique)]

    model = scale_up_model(cfg, manifest["vocab_size"])
    steps = math.ceil(cfg.verify.step_scale * cfg.train.steps)
    train = {**configlib.to_dict(cfg.train), "steps": steps}
    srcs = runner.load_sources(out, names, cfg.model.seq_len)
    available = {s.name: len(s.train) for s in srcs[: len(names)]}
    tokens = runner.run_tokens(cfg, steps)
    limits = runner.stream_limits(cfg, read, available, tokens)  # the target run's repetition, at this scale
    streams = limits or available

    todo = [c for c in candidates if c.weights is not None]
    ids = [_run_id(c.weights, model, steps, limits, cfg.seed, manifest["identity"]) for c in todo]
    dirs = [out / "verify" / f"{c.label}-{i}" for c, i in zip(todo, ids)]
    results, cores = runner.train_runs(cfg, out, [(d, [c.weights[n] for n in names]) for d, c in zip(dirs, todo)],
                                       model, train, limits, what="verify")
    rows = []
    for c in candidates:
        row: dict = {"mixture": c.label, "weights": c.weights, "skipped": c.skipped or None}
        if c.weights is not None:
            i = todo.index(c)
            r = results[i]
            row.update(metric=runner._metric(r, cfg, names), val_loss=r["val_loss"], run=str(dirs[i].relative_to(out)),
                       wall_s=r.get("wall_s"),
                       # how often the run repeated each source: what the target run would, when matched
                       epochs={n: round(tokens * c.weights[n] / streams[n], 4) for n in names})
            # a baseline may repeat a scarce source past its cap: it is still trained (it is the
            # baseline), but the table says so
            over = [s.name for s in cfg.sources if row["epochs"][s.name] > s.max_epochs * (1 + 1e-6)]
            row["over_epoch_cap"] = over or None
        rows.append(row)
    verdict, wins, beaten_by = _verdict(rows)
    proxy_params = runner._proxy_params(cfg, manifest["vocab_size"])
    from curation.ablations.proxy_model import ProxyConfig

    n_params = ProxyConfig(vocab_size=manifest["vocab_size"], **model).n_params()
    run_flops = runner._proxy_flops(cfg, model, steps, manifest["vocab_size"])
    result = {
        "target": report.get("target"), "model": model, "n_params": n_params, "proxy_params": proxy_params,
        "param_ratio": n_params / proxy_params, "steps": steps, "proxy_steps": cfg.train.steps,
        "step_ratio": steps / cfg.train.steps, "seed": cfg.seed, "repetition": "matched" if limits else "none",
        "runs": rows, "proposal_wins": wins, "beaten_by": beaten_by, "verdict": verdict,
        "run_flops": run_flops, "actual_core_hours": round(
            sum(float(r.get("wall_s") or 0.0) for r in results.values()) * cores / 3600, 6),
    }
    if cost and cost.get("flops"):
        # the yardstick: what the whole ablation cost against one scale-up run
        result["ablation_share_of_one_run"] = cost["flops"] / run_flops
    fsutil.write_atomic(str(out / VERIFY_JSON), (json.dumps(result, indent=2) + "\n").encode())
    return result


def _verdict(rows: list[dict]) -> tuple[str, bool, list[str]]:
    """(one line, whether the proposal beat every trained baseline, the baselines that did not lose)."""
    prop = next(r for r in rows if r["mixture"] == "proposal")["metric"]
    trained = [r for r in rows if r["mixture"] != "proposal" and r.get("metric") is not None]
    beaten_by = [r["mixture"] for r in trained if not r["metric"] > prop]  # NaN counts as not beaten
    skipped = [f"{r['mixture']} skipped" for r in rows if r.get("skipped")]
    table = ", ".join(f"{r['mixture']} {r['metric']:.4f}" for r in trained)
    wins = bool(trained) and not beaten_by and bool(np.isfinite(prop))  # a numpy bool is not JSON
    if wins:
        head = f"scale-up check: the proposal ({prop:.4f}) beats every baseline ({table})"
    else:
        head = (f"scale-up check: the proposal ({prop:.4f}) did NOT win"
                + (f": {', '.join(beaten_by)} did as well or better" if beaten_by else "") + f" ({table})")
    return head + ("; " + "; ".join(skipped) if skipped else ""), wins, beaten_by
