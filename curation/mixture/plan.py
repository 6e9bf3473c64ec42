"""Mixture planning: tokens and epochs per source for a total token budget (a pure function).

phi-4's Table 5 defines epochs as share x total budget / unique tokens of the source. Given each
source's target share, its unique tokens and its epoch cap, :func:`plan` says how many tokens each
source contributes and how many times it is repeated, refuses impossible plans *before any work*
and says what is achievable instead (the largest total every cap allows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from curation.errors import CurateError
from curation.mixture.source import Source

#: Shares must sum to 1 within this tolerance (YAML percentages such as 33.3 + 33.3 + 33.4).
SHARE_TOLERANCE = 1e-6


class PlanError(CurateError, ValueError):
    """An impossible or inconsistent mixture: raised before any data is read or written."""


@dataclass(frozen=True)
class SourceBudget:
    name: str
    #: Target share of the total tokens, in (0, 1].
    share: float
    #: Tokens in the source's selected documents, counted once.
    unique_tokens: int
    #: Most times a document of this source may be repeated (phi-4 repeats synthetic data ~14x).
    max_epochs: float = 1.0

    @classmethod
    def of(cls, source: Source, share: float, unique_tokens: int) -> SourceBudget:
        """The planner's view of a mixture :class:`~curation.mixture.source.Source` once its selection
        is counted: name and epoch cap come from the one source model, never copied by hand."""
        return cls(source.name, share, unique_tokens, source.max_epochs)


@dataclass(frozen=True)
class SourcePlan:
    name: str
    share: float
    unique_tokens: int
    planned_tokens: int
    epochs: float
    max_epochs: float


@dataclass(frozen=True)
class MixturePlan:
    total_tokens: int
    sources: tuple[SourcePlan, ...]
    #: The largest total budget every source's epoch cap allows at these shares.
    max_total_tokens: int
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"total_tokens": self.total_tokens, "max_total_tokens": self.max_total_tokens,
                "warnings": list(self.warnings),
                "sources": {s.name: {"share": s.share, "unique_tokens": s.unique_tokens,
                                     "planned_tokens": s.planned_tokens, "epochs": round(s.epochs, 6),
                                     "max_epochs": s.max_epochs} for s in self.sources}}


def max_total(sources: list[SourceBudget]) -> int:
    """The largest total for which no source exceeds its epoch cap: min(unique x cap / share)."""
    return int(min(math.floor(s.unique_tokens * s.max_epochs / s.share) for s in sources))


def plan(sources: list[SourceBudget], total_tokens: int, *, on_cap: str = "error") -> MixturePlan:
    """Tokens and epochs per source. ``on_cap``: ``error`` refuses a plan that would repeat a
    source past its cap; ``warn`` keeps the plan and records a warning per offending source.

    Planned tokens are rounded so they sum to ``total_tokens`` exactly (largest remainders).
    """
    if on_cap not in ("error", "warn"):
        raise ValueError(f"on_cap must be 'error' or 'warn', got {on_cap!r}")
    if not sources:
        raise PlanError("the mixture has no sources")
    if total_tokens <= 0:
        raise PlanError(f"total tokens must be positive, got {total_tokens}")
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PlanError(f"source names must be unique: {', '.join(dupes)}")
    for s in sources:
        if not 0.0 < s.share <= 1.0:
            raise PlanError(f"source {s.name!r}: share must be in (0, 1], got {s.share}")
        if s.max_epochs <= 0:
            raise PlanError(f"source {s.name!r}: max_epochs must be positive, got {s.max_epochs}")
        if s.unique_tokens <= 0:
            raise PlanError(f"source {s.name!r} has no tokens: its selection matched no rows (or only empty texts)")
    total_share = sum(s.share for s in sources)
    if abs(total_share - 1.0) > SHARE_TOLERANCE:
        raise PlanError(f"shares sum to {total_share * 100:.4g}%, not 100% "
                        f"({', '.join(f'{s.name} {s.share * 100:.4g}%' for s in sources)})")
    exact = [s.share * total_tokens for s in sources]
    planned = [math.floor(x) for x in exact]
    for i in sorted(range(len(sources)), key=lambda i: planned[i] - exact[i])[: total_tokens - sum(planned)]:
        planned[i] += 1  # largest remainders first: the sum is exactly the budget
    cap_total = max_total(sources)
    warnings: list[str] = []
    over = []
    for s, p in zip(sources, planned):
        epochs = p / s.unique_tokens
        if epochs > s.max_epochs + 1e-9:
            over.append(f"{s.name} would be repeated {epochs:.3g} times (cap {s.max_epochs:g}; "
                        f"{s.unique_tokens:,} unique tokens for {p:,} planned)")
    if over:
        message = ("epoch cap exceeded: " + "; ".join(over) +
                   f". At these shares at most {cap_total:,} total tokens are achievable; lower "
                   "--total-tokens, raise max_epochs, or select more data for these sources")
        if on_cap == "error":
            raise PlanError(message)
        warnings.append(message)
    return MixturePlan(
        total_tokens=total_tokens,
        sources=tuple(SourcePlan(s.name, s.share, s.unique_tokens, p, p / s.unique_tokens, s.max_epochs)
                      for s, p in zip(sources, planned)),
        max_total_tokens=cap_total,
        warnings=tuple(warnings),
    )
