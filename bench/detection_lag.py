"""Figure 2: how soon the workflow notices that CloudFront has finished deploying.

``pollSeconds`` 5, and each run draws CloudFront's propagation delay at random from a range one
poll interval wide, so the moment the change is deployed falls at a random phase of the polling
(a fixed delay that is a multiple of the poll would only measure the loop's drift). The range is
cut into one slice per run and each run draws within its own slice, in random order: the phases
are random yet cover the interval evenly, so a few runs give a steady mean. The emulator
records when each change is deployed everywhere (change time + the delay); the moment the
primary, its policy and the staging distribution are all Deployed is the latest of those. The
workflow has noticed when it leaves the WaitForDeployed loop (ProbeStaging entered).
Lag = noticed - deployed.

At a random phase the lag averages half a poll plus the check that notices (CheckDeployed and
its Choice), and stays under a whole poll plus that check. The goal: the mean within two
standard errors of ``pollSeconds/2 + check`` (a uniform phase over ``pollSeconds`` has a
standard deviation of ``pollSeconds/√12``), and the p95 at most ``pollSeconds + check``.
After the approval request the propagation delay drops to 0 s, so the promotion does not add
another wait per run.
"""

from __future__ import annotations

import math
import random
import statistics

from pydantic import BaseModel

from bench.history import analyse
from bench.local_cloud import BenchCloud, ReleaseRun
from bench.stats import median

POLL_SECONDS = 5
PROPAGATION_RANGE = (10.0, 10.0 + POLL_SECONDS)  # one poll wide: every phase equally likely
LEFT_LOOP_STATE = "StartProbing"
CHECK_STATES = ("CheckDeployed", "BothDeployed?")
STANDARD_ERRORS = 2.0


class LagSample(BaseModel):
    release: str
    propagation_s: float
    lag_s: float
    polls: int
    deployed_after_start_s: float
    check_s: float  # the loop's last CheckDeployed and its Choice: the check that noticed


class DetectionLagResult(BaseModel):
    poll_seconds: int
    propagation_range_s: tuple[float, float]
    runs: list[LagSample]
    mean_lag_s: float
    p95_lag_s: float
    check_s: float  # median over the runs

    @property
    def expected_mean_s(self) -> float:
        return self.poll_seconds / 2 + self.check_s

    @property
    def mean_tolerance_s(self) -> float:
        return STANDARD_ERRORS * self.poll_seconds / math.sqrt(12) / math.sqrt(len(self.runs))

    @property
    def p95_bound_s(self) -> float:
        return self.poll_seconds + self.check_s

    @property
    def met(self) -> bool:
        return (
            self.mean_lag_s <= self.expected_mean_s + self.mean_tolerance_s
            and self.p95_lag_s <= self.p95_bound_s
            and all(run.lag_s >= 0 for run in self.runs)
        )


def sample(run: ReleaseRun) -> LagSample:
    history = analyse(run.history)
    if run.deployed_at is None:
        raise RuntimeError("no deployment time recorded")
    left_loop = history.first_entry[LEFT_LOOP_STATE].timestamp()
    started = run.description["startDate"].timestamp()
    check = sum(history.entries(state)[-1].seconds for state in CHECK_STATES)
    return LagSample(
        release=run.name,
        propagation_s=round(run.propagation_seconds, 3),
        lag_s=round(left_loop - run.deployed_at, 3),
        polls=len(history.entries("WaitForDeployed")),
        deployed_after_start_s=round(run.deployed_at - started, 3),
        check_s=round(check, 3),
    )


def p95(values: list[float]) -> float:
    """The 95th percentile, interpolated between the samples (the maximum for fewer than 20)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def propagation_delays(runs: int, draw: random.Random) -> list[float]:
    """One delay per run, at random within its own slice of :data:`PROPAGATION_RANGE`, shuffled."""
    low, high = PROPAGATION_RANGE
    width = (high - low) / runs
    delays = [low + (slice_ + draw.random()) * width for slice_ in range(runs)]
    draw.shuffle(delays)
    return delays


def measure(cloud: BenchCloud, runs: int = 6) -> tuple[DetectionLagResult, list[ReleaseRun]]:
    finished = [
        cloud.run_release(delay, POLL_SECONDS, instant_after_approval=True)
        for delay in propagation_delays(runs, random.Random())
    ]
    samples = [sample(run) for run in finished]
    lags = [s.lag_s for s in samples]
    return (
        DetectionLagResult(
            poll_seconds=POLL_SECONDS,
            propagation_range_s=PROPAGATION_RANGE,
            runs=samples,
            mean_lag_s=round(statistics.fmean(lags), 3),
            p95_lag_s=round(p95(lags), 3),
            check_s=round(median([s.check_s for s in samples]), 3),
        ),
        finished,
    )
