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

A progressive release (issue 14) adds a step loop per step: one 3-step release of the demo's steps
(cfcd.demo.progressive) runs on the local cloud with ``approval.mode: auto`` (no human, so the
count is about the steps; ``manual`` adds RequestApproval: 1 transition). Its history gives the
fixed part, F = transitions - 3·waits (a wait: the Wait, its check Task, its Choice), which does
not depend on how long anything took; the AWS estimate is F + 3·waits for the contract's example
(:data:`STEPS_EXAMPLE`) at :data:`STEPS_EXAMPLE_POLL_SECONDS` s polls, its waits counted as
:func:`example_waits` says.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from pydantic import BaseModel

from bench.functions import REPO_ROOT, LambdaFunction
from bench.history import analyse
from bench.local_cloud import EVENTS, BenchCloud, ReleaseRun
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
NOTIFY_STATUS_INVOCATIONS = 1
APPROVAL_LINK_INVOCATIONS = 2
INVOCATIONS_OUTSIDE_HISTORY = {
    "NotifyStatus (EventBridge rule, every ending)": NOTIFY_STATUS_INVOCATIONS,
    "Approval (the emailed link: GET the page, POST the decision)": APPROVAL_LINK_INVOCATIONS,
}
# Assumed for the price (the local measurement is only a lower bound): cold starts included.
BILLED_SECONDS_PER_INVOCATION = 1.0
EXTRA_PROPAGATIONS = (2.0, 4.0)
POLL_SECONDS = 1
# A poll loop's iteration as Step Functions bills it: the Wait, its check Task, its Choice.
TRANSITIONS_PER_WAIT = 3
# approval.mode manual instead of auto: RequestApproval is entered once, and calls its Lambda
# (the emailed link's calls, APPROVAL_LINK_INVOCATIONS, come outside the history).
MANUAL_APPROVAL_TRANSITIONS = 1
MANUAL_APPROVAL_INVOCATIONS = 1 + APPROVAL_LINK_INVOCATIONS
# The progressive release priced for AWS: the contract's example (steps bake 300/300/600 s,
# analysed every 60 s) at production polls.
STEPS_EXAMPLE = EVENTS / "input_copy_steps.json"
STEPS_EXAMPLE_POLL_SECONDS = 30
# Each step's new weight deploys with the primary: ~5 min on AWS, 10 polls at 30 s (as each
# CloudFront deployment of TYPICAL_AWS_POLLS).
POLLS_PER_STEP_DEPLOY = 10


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


class StepWaits(BaseModel):
    """One step of the AWS example: the waits it adds to the release's."""

    weight: float
    bake_seconds: int
    interval_seconds: int  # analysis.intervalSeconds
    analysis_waits: int  # ceil(bakeSeconds / intervalSeconds): analysed at 0, every interval, at the end
    deploy_polls: int  # POLLS_PER_STEP_DEPLOY
    waits: int


class ProgressiveCost(BaseModel):
    """A 3-step progressive release: measured on the local cloud, then priced for the AWS example."""

    steps: int
    transitions: int  # measured locally: one per state entered
    waits: int  # Wait states entered
    waits_by_state: dict[str, int]
    lambda_invocations: int
    retries: int
    wall_s: float
    fixed_transitions: int  # F = transitions - 3·waits
    fixed_invocations: int  # Lambda invocations - waits (each wait's check is one)
    example: str  # tests/events/... priced
    example_poll_seconds: int
    example_steps: list[StepWaits]
    example_waits: int  # TYPICAL_AWS_POLLS + each step's waits
    aws: Dollars  # F + 3·example_waits transitions, approval.mode auto
    manual_approval_transitions: int = MANUAL_APPROVAL_TRANSITIONS
    manual_approval_invocations: int = MANUAL_APPROVAL_INVOCATIONS


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
    progressive: ProgressiveCost  # a 3-step release (issue 14): no goal
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


def progressive_run(cloud: BenchCloud) -> ReleaseRun:
    """One 3-step progressive release, propagation 0 s, 1 s polls (its waits are counted apart)."""
    return cloud.run_progressive_release(0.0, POLL_SECONDS)


def example_waits() -> list[StepWaits]:
    """Each step of :data:`STEPS_EXAMPLE`: its bake's analysis waits and its weight's deployment."""
    document = json.loads(STEPS_EXAMPLE.read_text())
    interval = int(document["analysis"]["intervalSeconds"])
    steps = []
    for step in document["traffic"]["steps"]:
        bake = int(step["bakeSeconds"])
        analysis_waits = -(-bake // interval)
        steps.append(
            StepWaits(
                weight=float(step["weight"]),
                bake_seconds=bake,
                interval_seconds=interval,
                analysis_waits=analysis_waits,
                deploy_polls=POLLS_PER_STEP_DEPLOY,
                waits=analysis_waits + POLLS_PER_STEP_DEPLOY,
            )
        )
    return steps


@dataclass(frozen=True)
class Prices:
    """List prices for one deployment of the template's functions."""

    gb: float  # the largest function's memory
    price_per_gb_second: float
    local_seconds_per_invocation: float  # measured; only the lower bound's compute

    def bill(self, polls: int, transitions: float, invocations: float) -> Dollars:
        step_functions = transitions * PRICE_PER_TRANSITION
        requests = invocations * PRICE_PER_LAMBDA_REQUEST
        compute = invocations * BILLED_SECONDS_PER_INVOCATION * self.gb * self.price_per_gb_second
        return Dollars(
            polls=polls,
            transitions=round(transitions, 1),
            invocations=round(invocations, 1),
            step_functions_usd=round(step_functions, 7),
            lambda_requests_usd=round(requests, 7),
            lambda_compute_usd=round(compute, 7),
            lambda_compute_at_local_duration_usd=round(
                invocations * self.local_seconds_per_invocation * self.gb * self.price_per_gb_second, 7
            ),
            total_usd=round(step_functions + requests + compute, 7),
        )


def progressive(run: ReleaseRun, prices: Prices) -> ProgressiveCost:
    history = analyse(run.history)
    waits = history.polls
    fixed = history.transitions - TRANSITIONS_PER_WAIT * waits
    fixed_invocations = history.lambda_invocations - waits
    steps = example_waits()
    aws_waits = TYPICAL_AWS_POLLS + sum(step.waits for step in steps)
    return ProgressiveCost(
        steps=len(history.entries("SetStepWeight")),
        transitions=history.transitions,
        waits=waits,
        waits_by_state=dict(Counter(visit.name for visit in history.visits if visit.kind == "Wait")),
        lambda_invocations=history.lambda_invocations,
        retries=history.retries,
        wall_s=round(run.wall_seconds, 1),
        fixed_transitions=fixed,
        fixed_invocations=fixed_invocations,
        example=str(STEPS_EXAMPLE.relative_to(REPO_ROOT)),
        example_poll_seconds=STEPS_EXAMPLE_POLL_SECONDS,
        example_steps=steps,
        example_waits=aws_waits,
        # approval.mode auto: no emailed link, NotifyStatus is the one call outside the history.
        aws=prices.bill(
            aws_waits,
            fixed + TRANSITIONS_PER_WAIT * aws_waits,
            fixed_invocations + aws_waits + NOTIFY_STATUS_INVOCATIONS,
        ),
    )


def measure(runs: list[ReleaseRun], functions: list[LambdaFunction], steps_run: ReleaseRun) -> CostResult:
    points = [point(run) for run in runs]
    polls = [float(p.polls) for p in points]
    base, per_poll = linear_fit(polls, [float(p.transitions) for p in points])
    base_invocations, invocations_per_poll = linear_fit(polls, [float(p.lambda_invocations) for p in points])
    memory_mb = max(function.memory_mb for function in functions)
    architecture = functions[0].architecture
    per_invocation_s = median([p.lambda_seconds / p.lambda_invocations for p in points])
    prices = Prices(memory_mb / 1024, PRICE_PER_GB_SECOND[architecture], per_invocation_s)

    def bill(poll_count: int) -> Dollars:
        return prices.bill(
            poll_count,
            base + per_poll * poll_count,
            base_invocations + invocations_per_poll * poll_count + sum(INVOCATIONS_OUTSIDE_HISTORY.values()),
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
        progressive=progressive(steps_run, prices),
    )
