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

from cfcd_common.models import MAX_ANALYSES_PER_STEP, MAX_STEPS
from tests.history_budget import (
    HISTORY_LIMIT,
    UnpacedLoop,
    contract_timing,
    loops,
    max_checks,
    step_cycles,
    step_events,
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
        "$.traffic.steps": MAX_STEPS,
    }
    # When every loop on the longest path polls to its deadline and every Task retries all it may
    worst = worst_case_events(definition, timing)
    # Then the execution stays inside the quota
    assert worst <= HISTORY_LIMIT


def test_the_readme_states_the_budget_the_arithmetic_gives() -> None:
    definition, timing = load_asl(), contract_timing()
    text = " ".join(README.read_text().split())
    loop = loops(definition, timing)[0]
    [steps] = step_cycles(definition, timing)
    bake = next(loop for loop in steps.loops if loop.check == "AnalyseStep")
    for figure in (
        f"at most {loop.checks} checks",
        f"{loop.events:,} events",
        f"{worst_case_events(definition, timing):,} events",
        f"{bake.checks} analyses",
        f"{bake.events:,} events",
        f"{steps.repeats} steps of {step_events(definition, steps):,} events",
    ):
        assert figure in text, f"README's History budget should say {figure!r}"


def test_a_progressive_release_repeats_its_deployed_wait_and_bake_loop_once_per_step() -> None:
    # Given the ASL and the contract's most demanding timing
    definition, timing = load_asl(), contract_timing()
    # Then the steps form one cycle, entered once, run at most MAX_STEPS times
    [steps] = step_cycles(definition, timing)
    assert (steps.entry, steps.repeats) == ("SetStepWeight", MAX_STEPS)
    # And inside it only two paced loops: the step's Deployed wait and its bake, which analyses
    # at a fixed interval as often as the contract allows a step, not on the stretching schedule
    by_check = {loop.check: loop for loop in steps.loops}
    assert set(by_check) == {"CheckStepDeployed", "AnalyseStep"}
    assert by_check["AnalyseStep"].checks == MAX_ANALYSES_PER_STEP
    assert by_check["CheckStepDeployed"].checks == max_checks(1, DAY)
    # And all steps at their worst still fit with the rest of the release
    without_steps = copy.deepcopy(definition)
    for name in steps.states:
        del without_steps["States"][name]
    for rule in without_steps["States"]["StagingReady?"]["Choices"]:
        if rule["Next"] == steps.entry:
            rule["Next"] = "RequestApproval"
    added = worst_case_events(definition, timing) - worst_case_events(without_steps, timing)
    assert added >= MAX_STEPS * step_events(definition, steps)


def test_a_cycle_of_loops_that_names_no_step_list_is_refused() -> None:
    # Given the ASL whose SetStepWeight no longer says which list it goes through
    definition = copy.deepcopy(load_asl())
    del definition["States"]["SetStepWeight"]["Parameters"]["Payload"]["steps.$"]
    # Then the budget cannot bound the cycle and refuses it
    with pytest.raises(UnpacedLoop, match="steps"):
        worst_case_events(definition, contract_timing())


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
