"""How many proxies a compute budget buys, and what an ablation cost (pure arithmetic + one timing).

A proxy's cost is its training FLOPs (``ProxyConfig.flops_per_token`` × the tokens it trains on, plus
its evaluations' forward passes), turned into core-seconds by a FLOP/s-per-core rate that is either
configured or measured here on a few steps of the proxy itself (one thread: a "core"). A budget is
given in core-hours, or as a share of the target run's compute (``6 · N · D`` FLOPs for N parameters
and D tokens, the usual estimate), or both, in which case the smaller one decides.

Everything but :func:`measure_flops_per_core` is plain arithmetic, so budget → K is unit-tested
without training.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

from curation.config import ConfigError

#: The fewest proxies a budget may leave for the fit (beside the held-out ones): fewer points than
#: this and the regression's leave-one-out choice of form is mostly noise.
MIN_FIT = 8


def run_flops(flops_per_token: float, steps: int, batch_size: int, seq_len: int, eval_batches: int,
              eval_sources: int) -> float:
    """Training FLOPs of one run (forward + backward) plus its final evaluation (forward only: 1/3)."""
    train = flops_per_token * steps * batch_size * seq_len
    evals = flops_per_token / 3 * eval_batches * batch_size * seq_len * eval_sources
    return float(train + evals)


def target_run_flops(params: int, tokens: int) -> float:
    """``6 · N · D``: the target run's training compute; 0 when its size is unknown."""
    return 6.0 * params * tokens if params and tokens else 0.0


@dataclass(frozen=True)
class Budget:
    """A budget resolved into a number of proxies (saved as ``DIR/budget.json``)."""

    proxies: int
    proxy_flops: float
    flops_per_core: float
    #: True when ``flops_per_core`` was timed on this machine, False when configured.
    measured: bool
    budget_core_hours: float
    budget_share: float
    target_flops: float
    #: ``core_hours`` or ``share``: which of the two budgets set K.
    limited_by: str

    @property
    def proxy_core_hours(self) -> float:
        return self.proxy_flops / self.flops_per_core / 3600

    def to_dict(self) -> dict:
        return {**asdict(self), "proxy_core_hours": self.proxy_core_hours,
                "estimated_core_hours": self.proxies * self.proxy_core_hours}


def proxies_for(proxy_flops: float, flops_per_core: float, held_out: int, *, core_hours: float = 0.0,
                share: float = 0.0, target_flops: float = 0.0, measured: bool = False,
                max_proxies: int = 10_000) -> Budget:
    """K = the whole proxies the budget pays for, at most ``max_proxies``.

    Raises :class:`~curation.config.ConfigError` (one line) when the budget pays for no proxy at all,
    or for too few to hold ``held_out`` out and still fit on :data:`MIN_FIT`.
    """
    if proxy_flops <= 0 or flops_per_core <= 0:
        raise ValueError(f"need a positive proxy cost and FLOP/s per core, got {proxy_flops}, {flops_per_core}")
    limits = {}
    if core_hours:
        limits["core_hours"] = core_hours * 3600 * flops_per_core
    if share:
        if not target_flops:
            raise ConfigError("budget_share needs the target run's size (target_run.params and target_run.tokens)")
        limits["share"] = share * target_flops
    if not limits:
        raise ValueError("no budget given")
    limited_by = min(limits, key=limits.get)
    budget_flops = limits[limited_by]
    k = min(max_proxies, math.floor(budget_flops / proxy_flops))
    proxy_h = proxy_flops / flops_per_core / 3600
    said = (f"{core_hours:g} core-hours" if limited_by == "core_hours"
            else f"{share:g} of the target run's {target_flops:.3g} FLOPs")
    rate = f"{flops_per_core / 1e9:.3g} GFLOP/s per core{' (measured)' if measured else ''}"
    if k < 1:
        raise ConfigError(f"a budget of {said} is too small for one proxy (one costs {proxy_h:.3g} core-hours, "
                          f"{proxy_flops:.3g} FLOPs at {rate}): raise the budget or shrink model/train")
    if k < held_out + MIN_FIT:
        need = (held_out + MIN_FIT) * proxy_h
        raise ConfigError(f"a budget of {said} pays for {k} proxies; {held_out} held out + {MIN_FIT} to fit need "
                          f"{held_out + MIN_FIT} ({need:.3g} core-hours at {rate}): raise the budget, lower held_out "
                          "or shrink model/train")
    return Budget(proxies=k, proxy_flops=proxy_flops, flops_per_core=flops_per_core, measured=measured,
                  budget_core_hours=core_hours, budget_share=share, target_flops=target_flops, limited_by=limited_by)


def measure_flops_per_core(model_cfg, batch_size: int, device: str = "cpu", steps: int = 3) -> float:
    """FLOP/s of this machine on the proxy itself: a few optimizer steps on one thread (one core),
    after a warm-up step; on a GPU, of the device (then "core-hours" are device-hours)."""
    import torch

    from curation.ablations.proxy_model import ProxyLM
    from curation.devices import resolve_device

    dev = resolve_device(device)
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        model = ProxyLM(model_cfg).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x = torch.randint(0, model_cfg.vocab_size, (batch_size, model_cfg.seq_len + 1), generator=g).to(dev)
        elapsed = 0.0
        for i in range(steps + 1):
            t0 = time.perf_counter()
            _, loss = model(x[:, :-1], x[:, 1:])
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if i:  # the first step pays for allocation and kernel selection
                elapsed += time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return model_cfg.flops_per_token() * batch_size * model_cfg.seq_len * steps / max(elapsed, 1e-9)
