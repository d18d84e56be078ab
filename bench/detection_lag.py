"""Figure 2: how soon the workflow notices that CloudFront has finished deploying.

Propagation 20 s, ``pollSeconds`` 5. The emulator records when each change is deployed
everywhere (change time + the delay); the moment the primary, its policy and the staging
distribution are all Deployed is the latest of those. The workflow has noticed when it leaves the
WaitForDeployed loop (ProbeStaging entered). Lag = noticed - deployed. After the approval request
the propagation delay drops to 0 s so the promotion does not add another 40 s per run.
"""

from __future__ import annotations

from pydantic import BaseModel

from bench.history import analyse
from bench.local_cloud import BenchCloud, ReleaseRun

PROPAGATION_SECONDS = 20.0
POLL_SECONDS = 5
LEFT_LOOP_STATE = "ProbeStaging"


class LagSample(BaseModel):
    release: str
    lag_s: float
    polls: int
    deployed_after_start_s: float


class DetectionLagResult(BaseModel):
    propagation_s: float
    poll_seconds: int
    runs: list[LagSample]
    max_lag_s: float

    @property
    def met(self) -> bool:
        return all(0 <= run.lag_s <= self.poll_seconds for run in self.runs)


def sample(run: ReleaseRun) -> LagSample:
    history = analyse(run.history)
    if run.deployed_at is None:
        raise RuntimeError("no deployment time recorded")
    left_loop = history.first_entry[LEFT_LOOP_STATE].timestamp()
    started = run.description["startDate"].timestamp()
    return LagSample(
        release=run.name,
        lag_s=round(left_loop - run.deployed_at, 3),
        polls=len(history.entries("WaitForDeployed")),
        deployed_after_start_s=round(run.deployed_at - started, 3),
    )


def measure(cloud: BenchCloud, runs: int = 3) -> tuple[DetectionLagResult, list[ReleaseRun]]:
    finished = [
        cloud.run_release(PROPAGATION_SECONDS, POLL_SECONDS, instant_after_approval=True) for _ in range(runs)
    ]
    samples = [sample(run) for run in finished]
    return (
        DetectionLagResult(
            propagation_s=PROPAGATION_SECONDS,
            poll_seconds=POLL_SECONDS,
            runs=samples,
            max_lag_s=max(s.lag_s for s in samples),
        ),
        finished,
    )
