"""Figure 1: the local emulator's overhead on a header release: time beyond what it was told to wait.

Propagation 0 s and ``pollSeconds`` 1, approved through the emailed link the moment the mail
arrives. Overhead = total (StartExecution -> stop) - Wait states (polls and probe backoff) - the
time the approval task waited for its answer (the human's part: the mail, the page and its form).
It is the local cloud's figure (moto's interpreter, our Lambda workers, loopback), not AWS's.

The goal holds twice: for the first release after the cloud starts (cold: on AWS, releases
hours apart meet cold functions too) and for the median of the warm releases after it.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel

from bench.history import analyse
from bench.local_cloud import BenchCloud, ReleaseRun
from bench.stats import median

GOAL_OVERHEAD_SECONDS = 5.0
POLL_SECONDS = 1
OUTSIDE_STATES = "(between states, start)"


class OverheadSample(BaseModel):
    release: str
    total_s: float
    waits_s: float
    approval_wait_s: float
    overhead_s: float
    transitions: int
    polls: int


class ReleaseOverheadResult(BaseModel):
    runs: list[OverheadSample]
    first_release: OverheadSample
    median_total_s: float
    median_overhead_s: float
    seconds_by_state: dict[str, float]  # median over the warm runs, largest first
    cold_seconds_by_state: dict[str, float]  # the first release, largest first
    prewarmed: bool  # one worker per function started with the cloud, as `cfcd local up` does
    goal_s: float = GOAL_OVERHEAD_SECONDS

    @property
    def cold_met(self) -> bool:
        return self.first_release.overhead_s <= self.goal_s

    @property
    def warm_met(self) -> bool:
        return self.median_overhead_s <= self.goal_s


def sample(run: ReleaseRun) -> OverheadSample:
    history = analyse(run.history)
    overhead = run.wall_seconds - history.wait_seconds - history.approval_wait_seconds
    return OverheadSample(
        release=run.name,
        total_s=round(run.wall_seconds, 3),
        waits_s=round(history.wait_seconds, 3),
        approval_wait_s=round(history.approval_wait_seconds, 3),
        overhead_s=round(overhead, 3),
        transitions=history.transitions,
        polls=history.polls,
    )


def seconds_by_state(runs: list[ReleaseRun]) -> dict[str, float]:
    """Median seconds per state over the runs (approval waits left out), largest first."""
    per_state: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for state, seconds in analyse(run.history).seconds_by_state().items():
            per_state[state].append(seconds)
    by_state = {state: round(median(values), 3) for state, values in per_state.items()}
    # Between states: the interpreter's own steps, and the start before the first state.
    by_state[OUTSIDE_STATES] = round(
        median([run.wall_seconds - sum(analyse(run.history).seconds_by_state().values()) for run in runs]), 3
    )
    return dict(sorted(by_state.items(), key=lambda item: -item[1]))


def measure(cloud: BenchCloud, runs: int = 5) -> tuple[ReleaseOverheadResult, list[ReleaseRun]]:
    first = cloud.run_release(propagation_seconds=0, poll_seconds=POLL_SECONDS)
    warm = [cloud.run_release(propagation_seconds=0, poll_seconds=POLL_SECONDS) for _ in range(runs)]
    samples = [sample(run) for run in warm]
    result = ReleaseOverheadResult(
        runs=samples,
        first_release=sample(first),
        median_total_s=round(median([s.total_s for s in samples]), 3),
        median_overhead_s=round(median([s.overhead_s for s in samples]), 3),
        seconds_by_state=seconds_by_state(warm),
        cold_seconds_by_state=seconds_by_state([first]),
        prewarmed=cloud.cloud.prewarm_workers,
    )
    return result, [first, *warm]
