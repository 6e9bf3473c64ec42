"""Reading ``curate ablate`` output folders for the Ablations page (plain Python, no Streamlit).

An output folder holds ``plan.json`` (the K mixtures), ``proxies/NNN/metrics.jsonl`` (one JSON line
per logged step, ``val_loss`` at eval points), and once finished ``runs.parquet``,
``regression.json`` and ``best_mixture.yaml`` (see :mod:`curation.ablations.runner`). All readers
tolerate a folder that a running job is writing: a half-written last line is skipped. Every file is
read through :class:`curation.query.confine.Confinement` of its ablation folder, and only folders that
resolve inside the run are listed, so a symlink in a crafted run is refused like a missing file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import yaml

from curation import rundir
from curation.query import confine
from dashboards import jobs

#: Files whose presence marks a folder as an ablation output (or one being started).
MARKERS = ("plan.json", "ablation.yaml", jobs.JOB_FILE, jobs.CONFIG_FILE, "regression.json")
DEMO_CONFIG = jobs.ROOT / "demo" / "ablate-demo.yaml"


def list_ablations(run_dir: Path) -> list[Path]:
    """``RUN_DIR/ablate``, ``RUN_DIR/ablations/*`` and any direct sub-folder that looks like one."""
    found: list[Path] = []
    own = confine.Confinement.under(run_dir)
    candidates = [run_dir / "ablate", *sorted((run_dir / "ablations").glob("*"))] + sorted(run_dir.glob("*"))
    for d in candidates:
        if d.is_dir() and own.allows(d) and d not in found and any((d / m).exists() for m in MARKERS):
            found.append(d)
    return found


def _text(path: Path, out: Path) -> str | None:
    """A file of the ablation folder ``out``; None when missing, unreadable or resolving outside it."""
    try:
        return confine.Confinement.under(out).read_text(path)
    except (OSError, confine.OutsideRunError):
        return None


def read_metrics(path: Path, out: Path | None = None) -> list[dict]:
    """The JSON lines of ``path`` (inside ``out``, default: its own folder)."""
    rows = []
    text = _text(path, out or path.parent)
    if text is None:
        return rows
    lines = text.splitlines()
    for line in lines:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # the line being written right now
    return rows


def loss_curves(out: Path) -> pd.DataFrame:
    """Training loss per step, one column per proxy (``proxy 000`` …), for ``st.line_chart``."""
    series = {}
    for d in sorted((out / "proxies").glob("[0-9][0-9][0-9]")):
        rows = [r for r in read_metrics(d / "metrics.jsonl", out) if "loss" in r and "step" in r]
        if rows:
            series[f"proxy {d.name}"] = pd.Series({int(r["step"]): float(r["loss"]) for r in rows})
    if not series:
        return pd.DataFrame()
    df = pd.DataFrame(series).sort_index()
    df.index.name = "step"
    return df


def val_losses(out: Path) -> pd.DataFrame:
    """The last eval's mean validation loss per proxy (what the regression is fitted on)."""
    rows = []
    for d in sorted((out / "proxies").glob("[0-9][0-9][0-9]")):
        evals = [r for r in read_metrics(d / "metrics.jsonl", out) if "val_loss" in r]
        if evals:
            last = evals[-1]
            rows.append({"proxy": int(d.name), "step": last["step"], "val_loss_mean": last.get("val_loss_mean"),
                         **{f"val_{k}": v for k, v in last["val_loss"].items()}})
    return pd.DataFrame(rows)


def progress(out: Path) -> tuple[int, int, int]:
    """(proxies finished, proxies planned, steps logged so far over all proxies)."""
    plan = _json(out / "plan.json", out) or {}
    planned = len(plan.get("weights", []))
    finished = sum(1 for d in (out / "proxies").glob("[0-9][0-9][0-9]") if (d / "result.json").is_file())
    steps = 0
    for d in (out / "proxies").glob("[0-9][0-9][0-9]"):
        rows = read_metrics(d / "metrics.jsonl", out)
        steps += int(rows[-1].get("step", 0)) if rows else 0
    return finished, planned, steps


def regression(out: Path) -> dict | None:
    return _json(out / "regression.json", out)


def held_out_table(report: dict) -> pd.DataFrame:
    pred, actual = report.get("held_out_predicted", []), report.get("held_out_actual", [])
    return pd.DataFrame({"predicted": pred, "actual": actual})


def best_mixture(out: Path) -> str | None:
    return _text(out / "best_mixture.yaml", out)


def verify_report(out: Path) -> dict | None:
    """``verify.json``: the scale-up check (``curate ablate --verify``), None before one ran."""
    return _json(out / "verify.json", out)


def verify_table(report: dict) -> pd.DataFrame:
    """One row per mixture: the proposal first, then the baselines (skipped ones with their reason)."""
    rows = []
    for r in report.get("runs", []):
        if not isinstance(r, dict):
            continue
        weights = r.get("weights") or {}
        rows.append({"mixture": r.get("mixture"), "target metric": r.get("metric"),
                     "weights": ", ".join(f"{k} {v:.3f}" for k, v in weights.items()) if isinstance(weights, dict) else "",
                     "note": r.get("skipped") or (f"past the epoch cap of {', '.join(r['over_epoch_cap'])}"
                                                  if r.get("over_epoch_cap") else "")})
    return pd.DataFrame(rows, columns=["mixture", "target metric", "weights", "note"])


def verify_progress(out: Path) -> pd.DataFrame:
    """While a scale-up check trains: each run's last logged step and loss."""
    rows = []
    for d in sorted((out / "verify").glob("*")):
        logged = [r for r in read_metrics(d / "metrics.jsonl", out) if "step" in r]
        if logged:
            rows.append({"run": d.name, "step": logged[-1]["step"], "loss": logged[-1].get("loss"),
                         "finished": (d / "result.json").is_file()})
    return pd.DataFrame(rows)


def verify_config(out: Path) -> str | None:
    """The config text to launch ``--verify`` with: the job's own, else the one ``curate ablate`` wrote
    (``ablation.yaml``, whose sources already include a ``mixture:``'s: those are dropped again, as
    loading the config adds them back)."""
    text = _text(out / jobs.CONFIG_FILE, out)
    if text is not None:
        return text
    text = _text(out / "ablation.yaml", out)
    if text is None:
        return None
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None
    if isinstance(cfg, dict) and cfg.get("mixture"):
        cfg["sources"] = [s for s in cfg.get("sources") or [] if s.get("input") != cfg["mixture"]]
    return yaml.safe_dump(cfg, sort_keys=False)


def _json(path: Path, out: Path) -> dict | None:
    try:
        value = json.loads(_text(path, out) or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def default_config(run_dir: Path) -> str:
    """The demo ablation config, its ``mixture:`` pointed at this run's mix folder when it has one.

    Text edits (not a YAML round trip) keep the demo's comments, which explain every knob.
    """
    try:
        text = DEMO_CONFIG.read_text()
    except OSError:
        text = ("vocab_size: 512\nproxies: 8\nheld_out: 3\nmodel: {n_layer: 1, d_model: 32, n_head: 2, seq_len: 32}\n"
                "train: {steps: 40, batch_size: 8, lr: 0.01, checkpoint_every: 20, eval_batches: 4}\n")
    mix = run_dir / "mix"
    manifest = _json(mix / rundir.MANIFEST, run_dir)
    if manifest is None:
        return text
    line = f"mixture: {mix.resolve()}"
    text = re.sub(r"(?m)^mixture:.*$", line, text) if re.search(r"(?m)^mixture:", text) else f"{line}\n{text}"
    # The demo's target names the demo mixture's sources; keep it only if this mixture has them.
    try:
        cfg = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return text
    wanted = set((cfg.get("target") or {}).get("sources") or [])
    if wanted - set(manifest.get("sources", {})):
        text = re.sub(r"(?m)^target:.*$", "target: {}  # mean validation loss over all sources "
                      f"(this mixture has no {', '.join(sorted(wanted))} source)", text)
    return text


def check_config(text: str, out: Path) -> str | None:
    """Validate an ablation config the way ``curate ablate`` will (None when fine, else the error)."""
    from curation import config as configlib
    from curation.ablations.runner import load_config

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{jobs.CONFIG_FILE}.check"
    tmp.write_text(text)
    try:
        load_config(str(tmp))
    except (configlib.ConfigError, ValueError, FileNotFoundError) as exc:
        return str(exc)
    finally:
        tmp.unlink(missing_ok=True)
    return None
