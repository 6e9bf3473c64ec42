"""The mixture planner: tokens and epochs per source, refusing impossible plans before any work."""

from __future__ import annotations

import pytest

from curation.mixture.plan import PlanError, SourceBudget, max_total, plan

PHI4_ORGANIC = [  # phi-4 Table 5 (unique tokens in billions): web 15, code 20, acquired 10 of the whole
    SourceBudget("web", 15 / 45, 1_300, 2.0),
    SourceBudget("code", 20 / 45, 820, 3.0),
    SourceBudget("acquired", 10 / 45, 580, 2.0),
]


def test_phi4_table5_epochs_are_reproduced():
    # with the full 10T budget, the organic 45% is 4.5T: epochs = share x total / unique (Table 5)
    p = plan(PHI4_ORGANIC, 4_500)
    got = {s.name: round(s.epochs, 1) for s in p.sources}
    assert got == {"web": 1.2, "code": 2.4, "acquired": 1.7}
    assert sum(s.planned_tokens for s in p.sources) == 4_500
    assert not p.warnings


def test_rounding_sums_exactly_and_shares_hold():
    sources = [SourceBudget("a", 1 / 3, 10**9), SourceBudget("b", 1 / 3, 10**9), SourceBudget("c", 1 / 3, 10**9)]
    for total in (1, 2, 10, 1_000_003):
        p = plan(sources, total)
        assert sum(s.planned_tokens for s in p.sources) == total
        assert max(s.planned_tokens for s in p.sources) - min(s.planned_tokens for s in p.sources) <= 1


def test_epoch_cap_is_refused_with_what_is_achievable():
    with pytest.raises(PlanError, match=r"code would be repeated 5.42 times .* at most 5,220 total tokens are achievable"):
        plan(PHI4_ORGANIC, 10_000)
    # caps allow web 1,300 x 2 / (15/45) = 7,800, code 820 x 3 / (20/45) = 5,535, acquired 580 x 2 / (10/45) = 5,220
    assert max_total(PHI4_ORGANIC) == 5_220
    p = plan(PHI4_ORGANIC, 10_000, on_cap="warn")
    assert p.warnings and "cap" in p.warnings[0]
    assert plan(PHI4_ORGANIC, 5_220).total_tokens == 5_220  # exactly at the cap is allowed


@pytest.mark.parametrize("sources,total,match", [
    ([SourceBudget("a", 0.5, 10), SourceBudget("b", 0.4, 10)], 10, r"shares sum to 90%, not 100%"),
    ([SourceBudget("a", 0.5, 10), SourceBudget("b", 0.5, 0)], 10, r"source 'b' has no tokens: its selection matched no rows"),
    ([SourceBudget("a", 1.0, 10, max_epochs=0)], 10, "max_epochs must be positive"),
    ([SourceBudget("a", 0.5, 10), SourceBudget("a", 0.5, 10)], 10, "must be unique: a"),
    ([], 10, "no sources"),
    ([SourceBudget("a", 1.0, 10)], 0, "must be positive"),
])
def test_bad_plans_are_clear_errors(sources, total, match):
    with pytest.raises(PlanError, match=match):
        plan(sources, total)


def test_budget_takes_name_and_epoch_cap_from_the_one_source_model():
    from curation.mixture.source import Source

    b = SourceBudget.of(Source(name="code", where="lang = 'en'", max_epochs=3.0), 0.25, 820)
    assert b == SourceBudget("code", 0.25, 820, 3.0)
