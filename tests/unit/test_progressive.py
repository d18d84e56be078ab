"""How a progressive step is judged (cfcd_common.progressive), and how often it is looked at."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from cfcd_common.cloudwatch import AlarmStates, TrafficSample
from cfcd_common.errors import AnalysisFailed
from cfcd_common.models import (
    MAX_ANALYSES_PER_STEP,
    MAX_INTERVALS_PER_STEP,
    Analysis,
    WeightStep,
    WeightTraffic,
)
from cfcd_common.progressive import Progress, analyse, initial_progress, start_step

pytestmark = pytest.mark.unit

T0 = 1_800_000_000
IDS = ("ESTAGING", "EPRIMARY")
STEPS = [WeightStep(weight=0.01, bakeSeconds=60), WeightStep(weight=0.05, bakeSeconds=60)]
NO_ALARMS = AlarmStates(in_alarm={}, missing=[])
HEALTHY_PRIMARY = TrafficSample(requests=10_000, errorRate=0.002)


def analysis(**changes: object) -> Analysis:
    return Analysis.model_validate(
        {"intervalSeconds": 10, "maxErrorRate": 0.01, "minRequests": 100, **changes}
    )


def started(steps: list[WeightStep] = STEPS) -> Progress:
    progress = initial_progress(WeightTraffic(type="SingleWeight", steps=steps))
    return start_step(progress, steps, now=T0, deploy_timeout_seconds=600)


def look(
    progress: Progress,
    at: int,
    staging: TrafficSample,
    alarms: AlarmStates = NO_ALARMS,
    settings: Analysis | None = None,
    probe_timeout: int = 300,
) -> Progress:
    return analyse(
        progress,
        settings or analysis(),
        probe_timeout,
        T0 + 5,
        T0 + 5 + at,
        (staging, HEALTHY_PRIMARY),
        alarms,
        IDS,
    )


def test_a_release_without_steps_starts_done_and_one_with_steps_starts_at_its_first() -> None:
    assert initial_progress(WeightTraffic(type="SingleWeight", weight=0.1)).done
    progress = started()
    assert (progress.done, progress.current, progress.stepCount, progress.deadline) == (False, 0, 2, T0 + 600)
    [step] = progress.steps
    assert (step.number, step.weight, step.bakeSeconds, step.startedAt, step.bakeStartedAt) == (
        1,
        0.01,
        60,
        T0,
        None,
    )


def test_a_step_bakes_every_interval_then_passes_with_enough_requests() -> None:
    # Given a step deployed 5 s after its weight was set
    progress = started()
    # When it is analysed at its start, with staging healthy
    baking = look(progress, 0, TrafficSample(requests=0, errorRate=0.0))
    # Then it bakes on, analysed again in intervalSeconds, the bake counted from the deployment
    assert (baking.stepPassed, baking.nextWaitSeconds) == (False, 10)
    assert baking.steps[0].bakeStartedAt == T0 + 5 and baking.steps[0].analyses[0].at == 0
    # And, 55 s in, it waits only until the bake ends
    assert look(baking, 55, TrafficSample(requests=90, errorRate=0.0)).nextWaitSeconds == 5
    # And when the bake is over with minRequests served, the step passes and the next one is due
    passed = look(baking, 60, TrafficSample(requests=150, errorRate=0.004))
    assert (passed.stepPassed, passed.current, passed.done) == (True, 1, False)
    assert passed.steps[0].passedAt == T0 + 65
    assert [point.at for point in passed.steps[0].analyses] == [0, 60]
    assert passed.steps[0].latest is not None and passed.steps[0].latest.primaryRequests == 10_000


def test_the_last_step_passing_ends_the_steps() -> None:
    progress = look(started(STEPS[:1]), 60, TrafficSample(requests=100, errorRate=0.0))
    assert (progress.done, progress.current) == (True, 1)


def test_staging_above_the_error_rate_fails_at_once_naming_both_rates() -> None:
    with pytest.raises(AnalysisFailed) as failed:
        look(started(), 10, TrafficSample(requests=40, errorRate=0.25))
    message = str(failed.value)
    assert message.startswith("step 1 of 2 (weight 0.01): 5xxErrorRate of staging 25.00 % is above")
    assert "analysis.maxErrorRate 0.01 (1.00 %)" in message
    assert "staging ESTAGING 25.00 % of 40 requests, primary EPRIMARY 0.20 % of 10000 requests" in message


def test_a_named_alarm_in_alarm_fails_the_step_and_says_why() -> None:
    alarms = AlarmStates(in_alarm={"checkout-latency": "Threshold Crossed"}, missing=[])
    with pytest.raises(AnalysisFailed, match=r"alarm in ALARM \(checkout-latency: Threshold Crossed\)"):
        look(started(), 10, TrafficSample(requests=40, errorRate=0.0), alarms)


def test_an_alarm_deleted_mid_release_fails_the_step() -> None:
    alarms = AlarmStates(in_alarm={}, missing=["checkout-latency"])
    with pytest.raises(AnalysisFailed, match="checkout-latency no longer exist"):
        look(started(), 10, TrafficSample(requests=40, errorRate=0.0), alarms)


def test_a_step_without_min_requests_waits_until_the_probe_timeout_then_fails() -> None:
    # Given a step whose bake is over, staging short of minRequests (all traffic on the primary?)
    progress = started()
    waiting = look(progress, 60, TrafficSample(requests=20, errorRate=0.0))
    # Then it waits for more, every interval
    assert (waiting.stepPassed, waiting.nextWaitSeconds) == (False, 10)
    assert look(waiting, 295, TrafficSample(requests=30, errorRate=0.0)).nextWaitSeconds == 5
    # And fails at timing.probeTimeoutSeconds into the bake
    with pytest.raises(
        AnalysisFailed, match="staging served 30 requests, fewer than analysis.minRequests 100"
    ):
        look(waiting, 300, TrafficSample(requests=30, errorRate=0.0))


def test_a_step_that_collected_its_requests_still_bakes_to_the_end() -> None:
    waiting = look(started(), 30, TrafficSample(requests=500, errorRate=0.0), probe_timeout=20)
    assert (waiting.stepPassed, waiting.nextWaitSeconds) == (False, 10)


def count_analyses(bake: int, probe_timeout: int, interval: int, requests: int) -> int:
    """Analyses of one step when every check and wait ends at once, until it passes or fails."""
    settings = analysis(intervalSeconds=interval, minRequests=100)
    progress = started([WeightStep(weight=0.1, bakeSeconds=bake)])
    at, count = 0, 0
    while True:
        count += 1
        try:
            progress = look(
                progress,
                at,
                TrafficSample(requests=requests, errorRate=0.0),
                settings=settings,
                probe_timeout=probe_timeout,
            )
        except AnalysisFailed:
            return count
        if progress.stepPassed:
            return count
        at += progress.nextWaitSeconds


def allowed(interval: int) -> bool:
    try:
        analysis(intervalSeconds=interval)
    except ValidationError:
        return False
    return True


def test_no_timing_the_contract_allows_analyses_a_step_more_than_the_history_budget_counts() -> None:
    bakes = [1, 7, 59, 60, 61, 600, 3599, 86_400]
    timeouts = [1, 30, 61, 900, 86_400]
    for bake, probe_timeout in itertools.product(bakes, timeouts):
        window = max(bake, probe_timeout)
        # The shortest interval the contract allows for this step, and a few longer ones
        shortest = -(-window // MAX_INTERVALS_PER_STEP)
        for interval in {i for i in (shortest, shortest + 1, 2 * shortest + 3, window) if allowed(i)}:
            for requests in (0, 100):  # never enough, or enough from the start
                count = count_analyses(bake, probe_timeout, interval, requests)
                assert count <= MAX_ANALYSES_PER_STEP, (bake, probe_timeout, interval, requests, count)
    # And the worst case is reached: the bound is not loose
    assert count_analyses(86_400, 86_400, 2880, 0) >= MAX_ANALYSES_PER_STEP - 2
