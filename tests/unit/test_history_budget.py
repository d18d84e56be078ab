"""Every release fits Step Functions' 25,000-event history, whatever timing the contract allows.

The arithmetic is tests/history_budget.py's, on the rendered ASL, with the contract's bounds and
cfcd_common.polling's schedule: the same constants the workflow runs with. The README's "History
budget" section states its results; tests/faults/test_quotas.py holds its per-state event counts
to a real execution on the local cloud.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import pytest

from tests.history_budget import (
    HISTORY_LIMIT,
    UnpacedLoop,
    contract_timing,
    loops,
    max_checks,
    worst_case_events,
)
from tests.unit.conftest import load_asl

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[2] / "README.md"
DAY = 86_400


def test_a_release_with_the_most_demanding_timing_fits_the_history_quota() -> None:
    # Given the ASL, pollSeconds at its minimum and every timeout at its maximum
    definition, timing = load_asl(), contract_timing()
    assert timing == {
        "$.timing.pollSeconds": 1,
        "$.timing.deployTimeoutSeconds": DAY,
        "$.timing.probeTimeoutSeconds": DAY,
    }
    # When every loop on the longest path polls to its deadline and every Task retries all it may
    worst = worst_case_events(definition, timing)
    # Then the execution stays inside the quota
    assert worst <= HISTORY_LIMIT


def test_the_readme_states_the_budget_the_arithmetic_gives() -> None:
    definition, timing = load_asl(), contract_timing()
    text = " ".join(README.read_text().split())
    loop = loops(definition, timing)[0]
    for figure in (
        f"at most {loop.checks} checks",
        f"{loop.events:,} events",
        f"{worst_case_events(definition, timing):,} events",
    ):
        assert figure in text, f"README's History budget should say {figure!r}"


def test_no_allowed_timing_checks_more_often_than_the_shortest_poll_over_the_longest_timeout() -> None:
    most = max_checks(1, DAY)
    polls = [1, 2, 3, 5, 10, 30, 60, 300, 900, 3600]
    timeouts = [1, 2, 45, 600, 1800, 3599, 3600, 3601, 14_400, 43_200, 86_399, DAY]
    for poll, timeout in itertools.product(polls, timeouts):
        assert max_checks(poll, timeout) <= most, (poll, timeout)
    # And the count only grows with the timeout: the longest one is the worst
    counts = [max_checks(1, timeout) for timeout in range(1, DAY + 1, 97)]
    assert counts == sorted(counts)


def test_a_loop_waiting_a_fixed_time_is_refused() -> None:
    # Given the ASL with WaitForDeployed back to a fixed pollSeconds
    definition = copy.deepcopy(load_asl())
    definition["States"]["WaitForDeployed"]["SecondsPath"] = "$.timing.pollSeconds"
    # Then the budget refuses it: 86,400 polls of 1 s would pass the quota many times over
    with pytest.raises(UnpacedLoop, match="WaitForDeployed"):
        worst_case_events(definition, contract_timing())
