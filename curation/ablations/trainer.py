"""The resumable proxy-LM training loop behind mixture ablations.

One call trains one (model config, train config, sources, weights) run into ``out_dir``:

* ``metrics.jsonl``: one JSON line per logged step (loss, lr, tokens, throughput) and, at eval
  points, the held-out loss of every source (``val_loss``) and their unweighted mean;
* ``checkpoint.pt`` (+ ``checkpoint.prev.pt``): model, optimizer, step and the run's identity,
  tensors and plain containers only, so loading never unpickles arbitrary objects;
* ``result.json``: the final per-source val losses and throughput. A later call for the same run
  returns it without training, so a sweep of ablations can be re-run after any interruption.

Optimisation: AdamW (betas 0.9/0.95) with linear warm-up and cosine decay to
``lr * min_lr_ratio``, gradient clipping, bf16 autocast on CUDA and float32 on CPU. Weight decay
applies, as in nanoGPT, to every matrix (Linear weights and the tied token/position embeddings)
and not to biases or LayerNorm gains.

Resuming checks that ``out_dir`` holds the same run: the model config, the train config except
the operational fields below, the source names, the weights and a hash of every source's tokens.
Nothing locks ``out_dir``: one process per run directory (the ablation runner gives each proxy
its own).

Determinism: the model is initialised on CPU from ``seed``, batches depend only on
``(seed, step)`` and the model has no dropout, so on CPU an interrupted and resumed run ends
bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from curation import fsutil
from curation.ablations.proxy_model import ProxyConfig, ProxyLM
from curation.ablations.token_streams import MixtureSampler, SourceTokens, check_weights
from curation.devices import resolve_device
from curation.errors import CurateError

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
PREV_CHECKPOINT = "checkpoint.prev.pt"
METRICS = "metrics.jsonl"
RESULT = "result.json"
CHECKPOINT_FORMAT = 1
BETAS = (0.9, 0.95)

#: TrainConfig fields that say how or where a run executes, not what it computes: they may change
#: between an interrupted attempt and its resumption.
OPERATIONAL_FIELDS = frozenset({"device", "threads", "checkpoint_every", "log_every"})


class CheckpointError(RuntimeError):
    """No usable checkpoint although one was written: training will not silently restart."""


class RunMismatchError(CurateError, ValueError):
    """``out_dir`` holds a different run (other configs, sources, weights or data)."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int = 16
    lr: float = 3e-3
    warmup_steps: int | None = None  # None: 5% of steps (at least 1)
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # 0 disables clipping
    eval_every: int = 0  # 0: evaluate only at the end
    eval_batches: int = 8
    checkpoint_every: int = 100  # 0: only at the end (and at stop_at_step)
    log_every: int = 1
    seed: int = 0
    device: str = "auto"  # "auto": cuda when available, else cpu
    threads: int = 0  # 0: leave torch's default; else torch.set_num_threads (process-wide)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.eval_batches < 1 or self.log_every < 1:
            raise ValueError(f"steps, batch_size, eval_batches and log_every must be >= 1: {self}")
        # written so that NaN fails too (it passes any `x <= 0` test)
        if not (0 < self.lr < math.inf) or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"need a finite lr > 0 and 0 <= min_lr_ratio <= 1: {self}")
        if not (0 <= self.weight_decay < math.inf) or not (0 <= self.grad_clip < math.inf):
            raise ValueError(f"need finite weight_decay >= 0 and grad_clip >= 0: {self}")
        if min(self.eval_every, self.checkpoint_every, self.threads, self.warmup_steps or 0) < 0:
            raise ValueError(f"negative interval in {self}")

    @property
    def warmup(self) -> int:
        if self.warmup_steps is not None:
            return min(self.warmup_steps, self.steps)
        return max(1, round(0.05 * self.steps))

    def lr_at(self, step: int) -> float:
        """Learning rate for 0-based optimizer step ``step``: linear warm-up, then cosine."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        floor = self.lr * self.min_lr_ratio
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        return floor + 0.5 * (self.lr - floor) * (1.0 + math.cos(math.pi * min(1.0, progress)))


# ------------------------------------------------------------------------------ helpers


def _autocast(device: torch.device):
    # bf16 on CUDA (no loss scaling needed); plain float32 on CPU, where bf16 is slower and
    # would make CPU runs differ from the float32 reference numbers.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _make_optimizer(model: ProxyLM, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=BETAS, fused=device.type == "cuda")


def _fingerprint(a: np.ndarray) -> str:
    """Length + blake2b of the values: resuming on changed data is an error, not a silent mix."""
    h = hashlib.blake2b(digest_size=12)
    chunk = 1 << 22  # as int64 in chunks: the same ids hash alike in uint16 or uint32, in bounded memory
    for i in range(0, len(a), chunk):
        h.update(np.asarray(a[i:i + chunk], dtype=np.int64).tobytes())
    return f"{len(a)}:{h.hexdigest()}"


def _run_identity(model_cfg: ProxyConfig, train_cfg: TrainConfig, sources: Sequence[SourceTokens],
                  weights: np.ndarray) -> dict[str, Any]:
    """Everything that decides what a run computes, as plain JSON-able values."""
    train = {k: v for k, v in dataclasses.asdict(train_cfg).items() if k not in OPERATIONAL_FIELDS}
    return {
        "model_config": dataclasses.asdict(model_cfg),
        "train_config": train,
        "sources": [s.name for s in sources],
        "weights": [float(w) for w in weights],
        "data": {s.name: {"train": _fingerprint(s.train), "val": _fingerprint(s.val)} for s in sources},
    }


def _differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for k in sorted(set(saved) | set(current), key=str):
            if k not in saved or k not in current:
                out.append(f"{prefix}{k}: {saved.get(k, '<missing>')!r} -> {current.get(k, '<missing>')!r}")
            else:
                out.extend(_differences(saved[k], current[k], f"{prefix}{k}."))
        return out
    if isinstance(saved, (list, tuple)) and isinstance(current, (list, tuple)):
        saved, current = list(saved), list(current)
    return [] if saved == current else [f"{prefix.rstrip('.')}: {saved!r} -> {current!r}"]


def _check_same_run(saved: dict, current: dict, what: Path) -> None:
    diffs = _differences(saved, current)
    if diffs:
        raise RunMismatchError(f"{what} belongs to a different run (saved -> requested): " + "; ".join(diffs)
                               + ". Use another out_dir, or resume=False to overwrite it.")


# ------------------------------------------------------------------------------ checkpoints


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(out_dir: Path, state: dict) -> None:
    """Atomically replace ``checkpoint.pt``, keeping the previous one as ``checkpoint.prev.pt``.

    Written to a temp file in the same directory and fsynced before the renames, so a crash
    leaves either the old or the new file complete (and at worst only ``.prev`` present, which
    loading accepts).
    """
    with fsutil.atomic_path(out_dir / CHECKPOINT) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if (out_dir / CHECKPOINT).exists():
            os.replace(out_dir / CHECKPOINT, out_dir / PREV_CHECKPOINT)
    _fsync_dir(out_dir)


def _try_load(path: Path, device: torch.device) -> tuple[dict | None, str]:
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, EOFError, UnpicklingError... on damage
        # first line only: torch's messages run to paragraphs (and suggest weights_only=False)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return None, f"{type(e).__name__}: {first[:200]}"
    required = {"format", "step", "model", "optimizer", "identity"}
    if not isinstance(state, dict) or not required <= set(state):
        return None, f"not a proxy-trainer checkpoint (missing {sorted(required - set(state or {}))})"
    return state, ""


def load_checkpoint(out_dir: Path, device: torch.device) -> dict | None:
    """The newest good checkpoint in ``out_dir``; None when none was ever written.

    A damaged ``checkpoint.pt`` falls back to ``checkpoint.prev.pt`` with a warning; when
    neither is usable this raises ``CheckpointError`` rather than restarting from scratch.
    """
    cur, prev = out_dir / CHECKPOINT, out_dir / PREV_CHECKPOINT
    if not cur.exists() and not prev.exists():
        return None
    errors = []
    for path in (cur, prev):
        if not path.exists():
            errors.append(f"{path.name}: missing")
            continue
        state, err = _try_load(path, device)
        if state is not None:
            if errors:
                logger.warning("resuming from %s (step %d): %s", path.name, state["step"], "; ".join(errors))
            return state
        logger.warning("checkpoint %s is unusable: %s", path, err)
        errors.append(f"{path.name}: {err}")
    raise CheckpointError(f"no usable checkpoint in {out_dir} ({'; '.join(errors)}); refusing to restart "
                          f"from scratch over it: delete the files or pass resume=False")


# ------------------------------------------------------------------------------ metrics


def _truncate_metrics(path: Path, keep_through_step: int) -> None:
    """Drop log lines past the resumed step (and any torn last line) so no step appears twice."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by the kill
        if rec.get("step", 0) <= keep_through_step:
            kept.append(line + "\n")
    fsutil.write_atomic(str(path), "".join(kept).encode("utf-8"))


@torch.no_grad()
def evaluate(model: ProxyLM, sources: Sequence[SourceTokens], n_batches: int, batch_size: int,
             device: torch.device) -> dict[str, float]:
    """Mean held-out cross-entropy per source over fixed validation windows."""
    was_training = model.training
    model.eval()
    out = {}
    seq_len = model.cfg.seq_len
    for src in sources:
        total, count = 0.0, 0
        for x, y in MixtureSampler.val_batches(src, n_batches, batch_size, seq_len):
            with _autocast(device):
                _, loss = model(x.to(device), y.to(device))
            total += float(loss) * y.numel()
            count += y.numel()
        out[src.name] = total / count
    model.train(was_training)
    return out


# ------------------------------------------------------------------------------ training


def _check_sources(sources: Sequence[SourceTokens], seq_len: int) -> None:
    names = [s.name for s in sources]
    if not sources or len(set(names)) != len(names):
        raise ValueError(f"need at least one source, with unique names; got {names}")
    for s in sources:
        for part in ("train", "val"):
            if len(getattr(s, part)) < seq_len + 1:
                raise ValueError(f"source {s.name!r} has {len(getattr(s, part))} {part} tokens, fewer than "
                                 f"one sequence of seq_len + 1 = {seq_len + 1}")


def _load_previous(out: Path, resume: bool, identity: dict, device: torch.device) -> tuple[dict | None, dict | None]:
    """(finished result, checkpoint state) already in ``out`` for this run; clears it when not resuming."""
    if not resume:
        for name in (RESULT, METRICS, CHECKPOINT, PREV_CHECKPOINT):
            (out / name).unlink(missing_ok=True)
        return None, None
    if (out / RESULT).exists():
        done = json.loads((out / RESULT).read_text(encoding="utf-8"))
        _check_same_run(done.get("identity", {}), identity, out / RESULT)
        return done, None
    state = load_checkpoint(out, device)
    if state is not None:
        _check_same_run(state["identity"], identity, out / CHECKPOINT)
    return None, state


def _write_json_atomic(path: Path, obj: dict) -> None:
    fsutil.write_atomic(str(path), json.dumps(obj, indent=2).encode("utf-8"))


def train(model_cfg: ProxyConfig, train_cfg: TrainConfig, sources: Sequence[SourceTokens],
          weights: Sequence[float], out_dir: str | os.PathLike, resume: bool = True,
          log: Callable[[dict], None] | None = None, stop_at_step: int | None = None) -> dict:
    """Train one mixture run into ``out_dir`` and return its result dict (see module docstring).

    ``resume=True`` continues from the checkpoint in ``out_dir`` (after checking it is the same
    run) or returns an existing matching ``result.json``; ``resume=False`` starts over.
    ``log`` receives every metrics record. ``stop_at_step`` checkpoints at that step and returns
    ``{"status": "stopped", "step": k}``, as if the process had been killed right after: it is
    how tests and schedulers simulate an interruption without changing the run's config.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    w = check_weights(weights, [s.name for s in sources])
    _check_sources(sources, model_cfg.seq_len)
    if model_cfg.vocab_size <= max(int(max(s.train.max(initial=0), s.val.max(initial=0))) for s in sources):
        raise ValueError(f"token ids reach beyond vocab_size={model_cfg.vocab_size}")
    identity = _run_identity(model_cfg, train_cfg, sources, w)
    device = resolve_device(train_cfg.device)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    done, state = _load_previous(out, resume, identity, device)
    if done is not None:
        logger.info("%s already holds this run's result; not retraining", out)
        return done

    torch.manual_seed(train_cfg.seed)
    model = ProxyLM(model_cfg)  # initialised on CPU: the same weights whatever the device
    model.to(device)
    opt = _make_optimizer(model, train_cfg, device)
    step, wall_before, train_s = 0, 0.0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, wall_before, train_s = int(state["step"]), float(state["wall_s"]), float(state["train_s"])
        logger.info("resuming %s at step %d of %d", out, step, train_cfg.steps)
    _truncate_metrics(out / METRICS, step)

    sampler = MixtureSampler(sources, w, seed=train_cfg.seed)
    tokens_per_step = train_cfg.batch_size * model_cfg.seq_len
    t_start = time.perf_counter()
    model.train()
    val: dict[str, float] = {}
    with open(out / METRICS, "a", encoding="utf-8") as metrics:
        last_log_s, last_log_step = train_s, step
        while step < train_cfg.steps:
            t0 = time.perf_counter()  # train_s counts optimizer steps only, not eval or checkpoints
            x, y = sampler.batch(train_cfg.batch_size, model_cfg.seq_len, step=step)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            lr = train_cfg.lr_at(step)
            for group in opt.param_groups:
                group["lr"] = lr
            with _autocast(device):
                _, loss = model(x, y)
            loss.backward()
            if train_cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1

            is_eval = step == train_cfg.steps or (train_cfg.eval_every and step % train_cfg.eval_every == 0)
            if not (is_eval or step % train_cfg.log_every == 0):
                train_s += time.perf_counter() - t0
            else:
                loss_value = loss.detach().item()  # the only host sync of a training step
                train_s += time.perf_counter() - t0
                interval = train_s - last_log_s
                rec = {"step": step, "loss": loss_value, "lr": lr, "tokens": step * tokens_per_step,
                       "tokens_per_s": (step - last_log_step) * tokens_per_step / interval if interval > 0 else None,
                       "elapsed_s": wall_before + time.perf_counter() - t_start}
                last_log_s, last_log_step = train_s, step
                if is_eval:
                    val = evaluate(model, sources, train_cfg.eval_batches, train_cfg.batch_size, device)
                    rec.update(val_loss=val, val_loss_mean=float(np.mean(list(val.values()))))
                metrics.write(json.dumps(rec) + "\n")
                metrics.flush()
                if log is not None:
                    log(rec)
            # the metrics line for a step is written before its checkpoint, so truncating the log
            # to the checkpoint's step on resume never loses a line that training will not redo
            if step == train_cfg.steps or step == stop_at_step or (
                    train_cfg.checkpoint_every and step % train_cfg.checkpoint_every == 0):
                metrics.flush()
                os.fsync(metrics.fileno())
                save_checkpoint(out, {
                    "format": CHECKPOINT_FORMAT, "step": step, "identity": identity,
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "wall_s": wall_before + time.perf_counter() - t_start, "train_s": train_s,
                })
            if step == stop_at_step and step < train_cfg.steps:
                return {"status": "stopped", "step": step}

    if not val:  # resumed from the final checkpoint (killed before result.json): re-evaluate
        val = evaluate(model, sources, train_cfg.eval_batches, train_cfg.batch_size, device)
    tokens = train_cfg.steps * tokens_per_step
    result = {
        "status": "complete",
        "val_loss": val,
        "val_loss_mean": float(np.mean(list(val.values()))),  # unweighted: every source counts once
        "steps": train_cfg.steps,
        "tokens": tokens,
        "wall_s": wall_before + time.perf_counter() - t_start,
        "train_s": train_s,
        "tokens_per_s": tokens / train_s if train_s > 0 else None,
        "n_params": model_cfg.n_params(),
        "device": str(device),
        "identity": identity,
    }
    _write_json_atomic(out / RESULT, result)
    return result


def reference_train_loop(model_cfg: ProxyConfig, steps: int, batch_size: int, lr: float,
                         sources: Sequence[SourceTokens], weights: Sequence[float], seed: int = 0, *,
                         device: str = "auto", on_step: Callable[[int], None] | None = None) -> dict:
    """The overhead baseline for ``bench/trainer.py``: the same model, AdamW and sampler, no
    schedule, clipping, logging, evaluation or checkpoints. ``on_step(k)`` is called after
    optimizer step ``k`` (1-based) so a benchmark can time a window of steps."""
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model = ProxyLM(model_cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=BETAS, weight_decay=0.1, fused=dev.type == "cuda")
    sampler = MixtureSampler(sources, weights, seed=seed)
    model.train()
    t0 = time.perf_counter()
    loss = None
    for step in range(steps):
        x, y = sampler.batch(batch_size, model_cfg.seq_len, step=step)
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        with _autocast(dev):
            _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if on_step is not None:
            on_step(step + 1)
    final = loss.detach().item() if loss is not None else float("nan")
    wall = time.perf_counter() - t0
    return {"final_loss": final, "steps": steps, "tokens": steps * batch_size * model_cfg.seq_len, "wall_s": wall}
