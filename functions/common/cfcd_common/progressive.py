"""A progressive release: the policy's weight in steps, each step baked and analysed.

The state machine carries one `Progress` in `$.progress` (ValidateInput makes it, SetStepWeight and
AnalyseStep rewrite it): which step runs, whether it passed, and every analysis so far (the
approval mail charts them, `cfcd status` shows the latest). Each step goes:

1. SetStepWeight: the policy sends the step's weight of viewers to staging.
2. CheckStepDeployed: the policy deploys with the primary, so the step waits for the primary's
   Deployed (docs/design.md §3.6); the bake starts then.
3. AnalyseStep, every `analysis.intervalSeconds` (never a stretched interval: a bad step must be
   caught as soon as a fixed lag allows, and the contract bounds how many analyses a step makes
   instead, see `models.MAX_ANALYSES_PER_STEP`). Each analysis reads staging's and the primary's
   requests and 5xx error rate since the bake began, and the named alarms. It fails the release
   (AnalysisFailed) when staging's rate is above `analysis.maxErrorRate` or an alarm is in ALARM
   (or no longer exists); once the bake is over and staging served `minRequests`, the step passes;
   a step that has not served `minRequests` `timing.probeTimeoutSeconds` into its bake fails.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cfcd_common.cloudwatch import AlarmStates, TrafficSample
from cfcd_common.errors import AnalysisFailed
from cfcd_common.models import Analysis, Traffic, WeightStep, WeightTraffic


class _ProgressModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalysisPoint(_ProgressModel):
    """One analysis: what staging and the primary served since the bake began."""

    at: int  # seconds into the bake
    stagingRequests: int
    stagingErrorRate: float  # fractions, as analysis.maxErrorRate
    primaryRequests: int
    primaryErrorRate: float


class StepReport(_ProgressModel):
    number: int  # 1-based
    weight: float
    bakeSeconds: int
    startedAt: int  # when its weight was set
    bakeStartedAt: int | None = None  # when the weight was seen deployed
    passedAt: int | None = None
    analyses: list[AnalysisPoint] = []

    @property
    def latest(self) -> AnalysisPoint | None:
        return self.analyses[-1] if self.analyses else None

    def bake_left(self, now: int) -> int | None:
        """Seconds of bake to go, once the bake began."""
        if self.bakeStartedAt is None:
            return None
        return max(0, self.bakeStartedAt + self.bakeSeconds - now)


class Progress(_ProgressModel):
    stepCount: int
    current: int = 0  # index of the step under way; stepCount once every step passed
    done: bool  # every step passed (at once for a release without steps)
    stepPassed: bool = False  # AnalyseStep: the current step just passed
    deadline: int = 0  # SetStepWeight: CheckStepDeployed's deadline
    nextWaitSeconds: int = 0  # AnalyseStep: until the next analysis
    steps: list[StepReport] = []

    @property
    def running(self) -> StepReport | None:
        """The step under way (its weight set, not yet passed)."""
        return self.steps[-1] if self.steps and self.steps[-1].passedAt is None else None


def initial_progress(traffic: Traffic | None) -> Progress:
    steps = traffic.steps if isinstance(traffic, WeightTraffic) else None
    count = len(steps or [])
    return Progress(stepCount=count, done=count == 0)


def bake_began(progress: Progress, deployed_at: int) -> int:
    """When the running step's bake began: as recorded, or (its first analysis) when it was seen deployed."""
    step = progress.running
    return step.bakeStartedAt if step is not None and step.bakeStartedAt is not None else deployed_at


def start_step(
    progress: Progress, steps: list[WeightStep], now: int, deploy_timeout_seconds: int
) -> Progress:
    """The progress once the current step's weight is set (SetStepWeight)."""
    if progress.done or progress.current >= len(steps):
        raise AnalysisFailed(f"no step {progress.current + 1}: the release has {len(steps)} steps")
    step = steps[progress.current]
    report = StepReport(
        number=progress.current + 1, weight=step.weight, bakeSeconds=step.bakeSeconds, startedAt=now
    )
    return progress.model_copy(
        update={
            "stepPassed": False,
            "deadline": now + deploy_timeout_seconds,
            "nextWaitSeconds": 0,
            "steps": [*progress.steps, report],
        }
    )


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"


def _describe(step: StepReport, of: int) -> str:
    return f"step {step.number} of {of} (weight {step.weight})"


def _rates(point: AnalysisPoint, staging_id: str, primary_id: str) -> str:
    return (
        f"5xxErrorRate staging {staging_id} {_percent(point.stagingErrorRate)} of {point.stagingRequests} "
        f"requests, primary {primary_id} {_percent(point.primaryErrorRate)} of {point.primaryRequests} "
        f"requests, over the {point.at} s since the step was deployed"
    )


def analyse(
    progress: Progress,
    analysis: Analysis,
    probe_timeout_seconds: int,
    deployed_at: int,
    now: int,
    samples: tuple[TrafficSample, TrafficSample],
    alarms: AlarmStates,
    distribution_ids: tuple[str, str],
) -> Progress:
    """Judge the running step from its (staging, primary) samples and the alarms; the new progress
    or AnalysisFailed naming the step, the metric or alarm, and both distributions' values."""
    step = progress.running
    if step is None:
        raise AnalysisFailed(f"no step is under way (step {progress.current + 1} of {progress.stepCount})")
    staging, primary = samples
    staging_id, primary_id = distribution_ids
    began = bake_began(progress, deployed_at)
    point = AnalysisPoint(
        at=max(0, now - began),
        stagingRequests=staging.requests,
        stagingErrorRate=staging.errorRate,
        primaryRequests=primary.requests,
        primaryErrorRate=primary.errorRate,
    )
    where, rates = _describe(step, progress.stepCount), _rates(point, staging_id, primary_id)
    if alarms.in_alarm:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in alarms.in_alarm.items())
        raise AnalysisFailed(f"{where}: alarm in ALARM ({reasons}); {rates}")
    if alarms.missing:
        raise AnalysisFailed(
            f"{where}: analysis.alarmNames {', '.join(alarms.missing)} no longer exist (the analysis "
            f"cannot see them); {rates}"
        )
    if staging.errorRate > analysis.maxErrorRate:
        raise AnalysisFailed(
            f"{where}: 5xxErrorRate of staging {_percent(staging.errorRate)} is above analysis.maxErrorRate "
            f"{analysis.maxErrorRate} ({_percent(analysis.maxErrorRate)}); {rates}"
        )
    enough = staging.requests >= analysis.minRequests
    if point.at >= step.bakeSeconds and enough:
        passed = step.model_copy(
            update={"bakeStartedAt": began, "passedAt": now, "analyses": [*step.analyses, point]}
        )
        current = progress.current + 1
        return progress.model_copy(
            update={
                "current": current,
                "done": current >= progress.stepCount,
                "stepPassed": True,
                "nextWaitSeconds": 0,
                "steps": [*progress.steps[:-1], passed],
            }
        )
    if point.at >= probe_timeout_seconds and not enough:
        raise AnalysisFailed(
            f"{where}: staging served {staging.requests} requests, fewer than analysis.minRequests "
            f"{analysis.minRequests}, within timing.probeTimeoutSeconds ({probe_timeout_seconds} s; "
            f"CloudFront may send every viewer to the primary under load); {rates}"
        )
    # The next analysis: intervalSeconds on, or sooner when the bake ends or minRequests' deadline comes.
    ahead = [step.bakeSeconds - point.at] if point.at < step.bakeSeconds else []
    ahead += [probe_timeout_seconds - point.at] if not enough else []
    baking = step.model_copy(update={"bakeStartedAt": began, "analyses": [*step.analyses, point]})
    return progress.model_copy(
        update={
            "stepPassed": False,
            "nextWaitSeconds": max(1, min([analysis.intervalSeconds, *ahead])),
            "steps": [*progress.steps[:-1], baking],
        }
    )
