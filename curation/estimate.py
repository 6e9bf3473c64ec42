"""The cost model behind ``curate estimate``: extrapolate a pipeline run from sample runs.

Pure Python (no Spark): ``curate/estimate.py`` runs the samples and measures them; this module
turns those measurements into a prediction for the whole input and per TB of compressed WARC input.

Time. A stage's wall time is a fixed cost plus a cost per input byte. Three sample runs through the
same code as ``curate run`` measure it, in one Spark session whose start-up is timed on its own:

* ``cold``: the sample, run first, on cold Python workers;
* ``probe``: a probe (about a quarter of the sample, but at least as many files as the session has
  cores, so that it runs as parallel as the sample does), warm;
* ``sample``: the sample again, warm.

The warm runs give the line: ``per_byte = (sample - probe) / (sample bytes - probe bytes)`` and
``fixed = probe - per_byte * probe bytes`` (both clamped at 0: a noisy machine can make the slope or
the intercept negative). What the cold sample took beyond the warm one (loading models into every
fresh worker, the first Python imports, JIT) is paid once by a real run too, so it joins the fixed
cost. (A cold probe would warm only the workers its few tasks reach, and the sample would then pay
the rest as if it were per-byte work; a probe on fewer cores than the sample would make the slope
too flat.)
A stage is then predicted as ``fixed + per_byte * bytes`` and the run as session start-up plus the
stages. Core-hours are wall time times the cores the Spark master gave the session.

Sizes and counts (output bytes, kept records, kept tokens) scale linearly with input bytes, from the
sample run's ratios, with two exceptions that are flagged rather than hidden:

* dedup (and every stage after it): the share of duplicates grows with the corpus (a larger crawl
  holds more copies of each page), so the sample's removal rate is a lower bound and the predicted
  kept records and tokens are upper bounds. The probe's and the sample's removal rates are both
  reported, so a rate that grows from probe to sample shows the trend.
* a stage with a token budget (mix: ``total_tokens``) writes at most its budget: its kept tokens are
  ``min(budget, sample tokens * scale)`` and its records and bytes scale with that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

TB = 10**12
#: Stages whose kept counts are upper bounds: duplicates grow with the corpus.
NONLINEAR_STAGES = ("dedup",)


@dataclass(frozen=True)
class StageRun:
    """One stage of one sample run, as measured."""

    name: str
    seconds: float
    records_in: int
    records_out: int
    kept: int  # rows without a drop reason
    kept_tokens: int
    output_bytes: int
    dropped: int | None = None  # as the stage's accounting says (None: it drops nothing itself)


@dataclass(frozen=True)
class SampleRun:
    """One run of the pipeline on a sample: its compressed input bytes and its stages in order."""

    input_bytes: int
    stages: tuple[StageRun, ...]

    def stage(self, name: str) -> StageRun:
        return next(s for s in self.stages if s.name == name)


@dataclass(frozen=True)
class Measurements:
    """Everything ``curate estimate`` measured, with what the model needs to know about the input."""

    total_input_bytes: int  # the whole input, compressed, as on disk
    cores: int  # what the Spark master gave the session (defaultParallelism)
    startup_seconds: float  # JVM + session start, once per run
    cold: SampleRun  # the sample on cold workers
    probe: SampleRun  # warm
    sample: SampleRun  # warm
    #: Stage -> token budget (mix's total_tokens): that stage writes at most this many tokens.
    budgets: Mapping[str, int] = field(default_factory=dict)
    sampling: str = "files"  # files | records: what was sampled (see curate/estimate.py)


@dataclass(frozen=True)
class TimeModel:
    fixed_seconds: float
    seconds_per_byte: float

    def seconds(self, n_bytes: float) -> float:
        return self.fixed_seconds + self.seconds_per_byte * n_bytes


def fit_time(cold: float, probe: float, sample: float, probe_bytes: int, sample_bytes: int) -> TimeModel:
    """Fixed + per-byte cost of a stage from its cold sample, warm probe and warm sample times."""
    if sample_bytes > probe_bytes:
        per_byte = max(0.0, (sample - probe) / (sample_bytes - probe_bytes))
    else:  # one point only: call all of it proportional (an overestimate for a larger input)
        per_byte = sample / sample_bytes if sample_bytes else 0.0
    fixed = max(0.0, min(probe, sample) - per_byte * min(probe_bytes, sample_bytes))
    return TimeModel(fixed + max(0.0, cold - sample), per_byte)


@dataclass(frozen=True)
class Figures:
    """Predicted figures of one stage (or the whole run) for some amount of input."""

    wall_seconds: float
    core_hours: float
    output_bytes: int
    kept_records: int
    kept_tokens: int


@dataclass(frozen=True)
class StageEstimate:
    name: str
    fixed_seconds: float
    seconds_per_gb: float
    whole: Figures  # for the whole input
    per_tb: Figures  # per TB of compressed input
    sample: StageRun
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Estimate:
    input_bytes: int
    sample_bytes: int
    probe_bytes: int
    scale: float  # input bytes / sample bytes
    cores: int
    startup_seconds: float
    sampling: str
    stages: tuple[StageEstimate, ...]
    whole: Figures
    per_tb: Figures
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def stage(self, name: str) -> StageEstimate:
        return next(s for s in self.stages if s.name == name)


def _figures(seconds: float, cores: int, out_bytes: float, kept: float, tokens: float) -> Figures:
    return Figures(round(seconds, 1), round(seconds * cores / 3600, 4), round(out_bytes), round(kept), round(tokens))


def _stage_figures(st: StageRun, model: TimeModel, n_bytes: float, ratio: float, cores: int,
                   budget: int | None) -> Figures:
    """``ratio``: how many times the sample's input ``n_bytes`` is."""
    tokens = st.kept_tokens * ratio
    size = ratio
    if budget is not None and tokens > budget:  # capped by its budget: records and bytes follow the tokens
        size = ratio * budget / tokens if tokens else ratio
        tokens = budget
    return _figures(model.seconds(n_bytes), cores, st.output_bytes * size, st.kept * size, tokens)


def estimate(m: Measurements) -> Estimate:
    """The prediction for the whole input and per TB (see the module docstring)."""
    if m.sample.input_bytes <= 0:
        raise ValueError("the sample holds no input bytes")
    scale = m.total_input_bytes / m.sample.input_bytes
    per_tb_ratio = TB / m.sample.input_bytes
    stages: list[StageEstimate] = []
    nonlinear_from: str | None = None
    notes: list[str] = []
    for i, st in enumerate(m.sample.stages):
        model = fit_time(m.cold.stage(st.name).seconds, m.probe.stage(st.name).seconds, st.seconds,
                         m.probe.input_bytes, m.sample.input_bytes)
        budget = m.budgets.get(st.name)
        flags: list[str] = []
        if st.name in NONLINEAR_STAGES and nonlinear_from is None:
            nonlinear_from = st.name
            rate = _removed(m.sample, i)
            probe_rate = _removed(m.probe, i)
            flags.append(f"duplicates removed: {rate:.1%} of the sample ({probe_rate:.1%} of the probe); "
                         "a larger input holds more duplicates, so this is a lower bound and kept records/tokens "
                         "are upper bounds")
            notes.append(f"{st.name}: the sample's duplicate rate ({rate:.1%}) is a lower bound for the whole input; "
                         f"kept records and tokens from {st.name} on are upper bounds")
        elif nonlinear_from is not None:
            flags.append(f"after {nonlinear_from}: kept records/tokens are upper bounds")
        if budget is not None:
            flags.append(f"token budget {budget:,}: writes at most that many tokens")
        if model.seconds_per_byte == 0 and m.sample.input_bytes > m.probe.input_bytes:
            flags.append("its time did not grow from probe to sample (fixed costs and noise hide the per-byte cost): "
                         "predicted times are lower bounds; a larger --sample resolves them")
        stages.append(StageEstimate(
            st.name, round(model.fixed_seconds, 1), round(model.seconds_per_byte * 1e9, 2),
            _stage_figures(st, model, m.total_input_bytes, scale, m.cores, budget),
            _stage_figures(st, model, TB, per_tb_ratio, m.cores, budget),
            st, tuple(flags)))
    return Estimate(m.total_input_bytes, m.sample.input_bytes, m.probe.input_bytes, round(scale, 3), m.cores,
                    round(m.startup_seconds, 1), m.sampling, tuple(stages),
                    _total(stages, m.startup_seconds, m.cores, lambda s: s.whole),
                    _total(stages, m.startup_seconds, m.cores, lambda s: s.per_tb), tuple(notes))


def _removed(run: SampleRun, i: int) -> float:
    """The share of the kept records entering stage ``i`` that it removed (rows dropped upstream and
    passed through do not count)."""
    st = run.stages[i]
    before = run.stages[i - 1].kept if i else st.records_in
    return (before - st.kept) / before if before else 0.0


def _total(stages: Sequence[StageEstimate], startup: float, cores: int, pick) -> Figures:
    """Start-up + every stage's time; every stage's output stays in the run directory; kept = the last stage's."""
    if not stages:
        return _figures(startup, cores, 0, 0, 0)
    last = pick(stages[-1])
    return _figures(startup + sum(pick(s).wall_seconds for s in stages), cores,
                    sum(pick(s).output_bytes for s in stages), last.kept_records, last.kept_tokens)


# ------------------------------------------------------------------------------------- rendering
def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_seconds(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:,.1f} h"


def _row(name: str, f: Figures) -> str:
    return (f"  {name:<14} {human_seconds(f.wall_seconds):>10} {f.core_hours:>11,.3g} {human_bytes(f.output_bytes):>10} "
            f"{f.kept_records:>14,} {f.kept_tokens:>18,}")


def render(e: Estimate) -> str:
    head = (f"  {'stage':<14} {'wall':>10} {'core-hours':>11} {'output':>10} {'kept records':>14} {'kept tokens':>18}")
    lines = [f"estimate: input {human_bytes(e.input_bytes)} compressed; sample {human_bytes(e.sample_bytes)} "
             f"(x{e.scale:,.1f}, sampled by {e.sampling}), probe {human_bytes(e.probe_bytes)}; {e.cores} cores; "
             f"session start-up {e.startup_seconds:.0f} s",
             "", "whole input:", head]
    lines += [_row(s.name, s.whole) for s in e.stages]
    lines += [_row("total", e.whole), "", "per TB of compressed input:", head]
    lines += [_row(s.name, s.per_tb) for s in e.stages]
    lines += [_row("total", e.per_tb), "", "time model (fixed + per GB of input):"]
    lines += [f"  {s.name:<14} {s.fixed_seconds:>7.1f} s + {s.seconds_per_gb:,.1f} s/GB" for s in e.stages]
    flagged = [(s.name, f) for s in e.stages for f in s.flags]
    if flagged:
        lines += ["", "flags:"] + [f"  {n}: {f}" for n, f in flagged]
    return "\n".join(lines)
