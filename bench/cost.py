"""Figure 3: state transitions, Lambda invocations and dollars per happy release, against polls.

Step Functions Standard bills each state transition; AWS counts one per state entered (Task,
Choice, Wait, Pass... including retries), which is what the history's ``*StateEntered`` events
are. A poll is one Wait state entered (wait, check, choice: three transitions). Fit over every
happy release measured: transitions = a + b·polls, and the same for the workflow's Lambda
invocations; the invocations outside the history are added (:data:`INVOCATIONS_OUTSIDE_HISTORY`).

Dollars at us-east-1 list prices, free tiers ignored, for one typical release on AWS
(:data:`TYPICAL_AWS_POLLS`). Its Lambda compute assumes :data:`BILLED_SECONDS_PER_INVOCATION`:
the duration measured on the local cloud (warm workers, AWS answered by moto on loopback) is a
lower bound of AWS's, where every AWS call crosses the network and a cold function pays its init,
so the measured figure is reported beside it, never used as the price.
"""

from __future__ import annotations

from pydantic import BaseModel

from bench.functions import LambdaFunction
from bench.history import analyse
from bench.local_cloud import BenchCloud, ReleaseRun
from bench.stats import linear_fit, median

PRICE_PER_TRANSITION = 0.025 / 1000
PRICE_PER_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
GOAL_BASE_TRANSITIONS = 20
GOAL_TRANSITIONS_PER_POLL = 3
# A production release: pollSeconds 30, ~5 min for each of the two CloudFront deployments (10
# polls each), the probe backing off twice while the policy propagates and ~1 min for the
# invalidation (2 polls).
TYPICAL_AWS_POLLS = 24
# Lambda invocations a release causes that its execution history does not show.
INVOCATIONS_OUTSIDE_HISTORY = {
    "NotifyStatus (EventBridge rule, every ending)": 1,
    "Approval (the emailed link: GET the page, POST the decision)": 2,
}
# Assumed for the price (the local measurement is only a lower bound): cold starts included.
BILLED_SECONDS_PER_INVOCATION = 1.0
EXTRA_PROPAGATIONS = (2.0, 4.0)
POLL_SECONDS = 1


class CostPoint(BaseModel):
    propagation_s: float
    poll_seconds: int
    polls: int
    transitions: int
    lambda_invocations: int
    lambda_seconds: float
    retries: int


class Dollars(BaseModel):
    """One release's bill: transitions and invocations from the fits, at list prices."""

    polls: int
    transitions: float
    invocations: float
    step_functions_usd: float
    lambda_requests_usd: float
    lambda_compute_usd: float  # at BILLED_SECONDS_PER_INVOCATION
    lambda_compute_at_local_duration_usd: float  # the lower bound, for comparison
    total_usd: float


class CostResult(BaseModel):
    points: list[CostPoint]
    base_transitions: float
    transitions_per_poll: float
    base_invocations: float
    invocations_per_poll: float
    median_lambda_ms: float
    memory_mb: int
    architecture: str
    billed_seconds_per_invocation: float = BILLED_SECONDS_PER_INVOCATION
    typical: Dollars  # a typical release on AWS: the README's one figure
    no_polls: Dollars  # every check passing on its first try
    goal: str = f"<= {GOAL_BASE_TRANSITIONS} + {GOAL_TRANSITIONS_PER_POLL}/poll"

    @property
    def met(self) -> bool:
        return (
            self.base_transitions <= GOAL_BASE_TRANSITIONS + 0.5
            and self.transitions_per_poll <= GOAL_TRANSITIONS_PER_POLL + 0.05
            and all(
                p.transitions <= GOAL_BASE_TRANSITIONS + GOAL_TRANSITIONS_PER_POLL * p.polls
                for p in self.points
            )
        )


def point(run: ReleaseRun) -> CostPoint:
    history = analyse(run.history)
    return CostPoint(
        propagation_s=run.propagation_seconds,
        poll_seconds=run.poll_seconds,
        polls=history.polls,
        transitions=history.transitions,
        lambda_invocations=history.lambda_invocations,
        lambda_seconds=round(sum(history.lambda_seconds), 3),
        retries=history.retries,
    )


def extra_runs(cloud: BenchCloud) -> list[ReleaseRun]:
    """Releases with more polls than the zero-propagation ones, for the fit."""
    return [cloud.run_release(propagation, POLL_SECONDS) for propagation in EXTRA_PROPAGATIONS]


def measure(runs: list[ReleaseRun], functions: list[LambdaFunction]) -> CostResult:
    points = [point(run) for run in runs]
    polls = [float(p.polls) for p in points]
    base, per_poll = linear_fit(polls, [float(p.transitions) for p in points])
    base_invocations, invocations_per_poll = linear_fit(polls, [float(p.lambda_invocations) for p in points])
    memory_mb = max(function.memory_mb for function in functions)
    architecture = functions[0].architecture
    per_invocation_s = median([p.lambda_seconds / p.lambda_invocations for p in points])
    gb = memory_mb / 1024
    price_per_gb_second = PRICE_PER_GB_SECOND[architecture]

    def bill(poll_count: int) -> Dollars:
        transitions = base + per_poll * poll_count
        invocations = (
            base_invocations + invocations_per_poll * poll_count + sum(INVOCATIONS_OUTSIDE_HISTORY.values())
        )
        step_functions = transitions * PRICE_PER_TRANSITION
        requests = invocations * PRICE_PER_LAMBDA_REQUEST
        compute = invocations * BILLED_SECONDS_PER_INVOCATION * gb * price_per_gb_second
        return Dollars(
            polls=poll_count,
            transitions=round(transitions, 1),
            invocations=round(invocations, 1),
            step_functions_usd=round(step_functions, 7),
            lambda_requests_usd=round(requests, 7),
            lambda_compute_usd=round(compute, 7),
            lambda_compute_at_local_duration_usd=round(
                invocations * per_invocation_s * gb * price_per_gb_second, 7
            ),
            total_usd=round(step_functions + requests + compute, 7),
        )

    return CostResult(
        points=points,
        base_transitions=round(base, 2),
        transitions_per_poll=round(per_poll, 2),
        base_invocations=round(base_invocations, 2),
        invocations_per_poll=round(invocations_per_poll, 2),
        median_lambda_ms=round(per_invocation_s * 1000, 1),
        memory_mb=memory_mb,
        architecture=architecture,
        typical=bill(TYPICAL_AWS_POLLS),
        no_polls=bill(0),
    )
