"""The story's progressive acts: weight steps judged by CloudWatch, no human in the loop.

v4, whose ``/app.js`` answers 500 while its page passes the probe, is stopped at its first step →
v3 is promoted through every step with ``approval.mode: auto`` → ``cfcd rollback`` brings v2 back.
Synthetic browsers load the page and its script all along, so the edge's metrics have data.
"""

from __future__ import annotations

import json
import math
from typing import Any

from cfcd.client.execution_view import entered_states, execution_history, latest_progress, readable_cause
from cfcd.demo.approval import find_approval_mail
from cfcd.demo.context import FAST_TIMING, STICKINESS, DemoContext, Release, origin_path
from cfcd.demo.viewer import UNPINNED, Browsers, shares, tally
from cfcd.local.faults import FaultsClient
from cfcd.local.seed import SCRIPT
from cfcd_common.progressive import Progress

# Three steps of a few seconds each: the edge publishes its metrics every second locally. On AWS
# CloudFront's metrics arrive about a minute late; bake for minutes there (README).
STEPS = [
    {"weight": 0.05, "bakeSeconds": 3},
    {"weight": 0.10, "bakeSeconds": 3},
    {"weight": 0.15, "bakeSeconds": 3},
]
ANALYSIS = {"intervalSeconds": 1, "maxErrorRate": 0.05, "minRequests": 3}
AUTOMATIC = {"mode": "auto", "timeoutSeconds": 120}
# Staging gets 5 % of the viewers at first: enough probe samples that it is seen soon.
PROBE_SAMPLES = 100
# A step needs analysis.minRequests staging requests within it; a step is analysed at most 30
# times in it (the history budget), so it also bounds intervalSeconds from below (30 s / 30).
PROBE_TIMEOUT_SECONDS = 30
EXECUTION_DEADLINE_SECONDS = 120.0
NEW_VIEWERS = 50
# The broken release's share of the visits may exceed its first step's weight by this many
# standard deviations (a false alarm once in ~30 000 runs); a second step would double it.
SHARE_TOLERANCE_SIGMAS = 4.0


def progressive_release(ctx: DemoContext, release: str, **extra: Any) -> dict[str, Any]:
    """A copy-mode release of one of the seed's releases, in three weight steps."""
    document = ctx.copy_release(
        release,
        {"type": "SingleWeight", "steps": STEPS, "stickiness": STICKINESS},
        analysis=dict(ANALYSIS),
        **extra,
    )
    document["probe"]["samples"] = PROBE_SAMPLES
    document["timing"]["probeTimeoutSeconds"] = PROBE_TIMEOUT_SECONDS
    return document


def _steps_taken(ctx: DemoContext, release: Release) -> tuple[list[str], Progress | None]:
    events = execution_history(ctx.sfn, release.arn)
    definition = json.loads(
        ctx.sfn.describe_state_machine(stateMachineArn=ctx.target.require_state_machine())["definition"]
    )
    return entered_states(events), latest_progress(definition, events)


def _policy_traffic(ctx: DemoContext) -> tuple[bool, float | None]:
    """Whether the primary's policy is enabled, and its weight (None for a header policy)."""
    policy = ctx.attached_policy(ctx.primary_config()[1])
    weight = policy.get("TrafficConfig", {}).get("SingleWeightConfig", {}).get("Weight")
    return bool(policy["Enabled"]), None if weight is None else float(weight)


def _every_viewer_gets(
    ctx: DemoContext, release: str, claim: str, unchanged: dict[str, Any] | None = None
) -> None:
    """Check that the primary serves ``release`` to NEW_VIEWERS new viewers (and, given the config
    from before, that its config is that one)."""
    _, config = ctx.primary_config()
    sample = shares(ctx.viewers.sample(NEW_VIEWERS))
    label = f"v{release.split('.', 1)[0]}"
    ctx.report.check(
        origin_path(config) == f"/{release}"
        and sample == {label: NEW_VIEWERS}
        and (unchanged is None or config == unchanged),
        claim,
        f"OriginPath {origin_path(config)}; {NEW_VIEWERS} requests: " + tally(sample),
    )


def _step_lines(progress: Progress | None) -> str:
    if progress is None:
        return "no step recorded"
    lines = []
    for step in progress.steps:
        latest = step.analyses[-1] if step.analyses else None
        seen = (
            f"staging {latest.stagingRequests} requests, {latest.stagingErrorRate:.0%} errors; "
            f"primary {latest.primaryRequests} requests, {latest.primaryErrorRate:.0%} errors"
            if latest
            else "no analysis"
        )
        verdict = "passed" if step.passedAt is not None else "not passed"
        lines.append(f"step {step.number} (weight {step.weight:g}): {verdict}; {seen}")
    return "\n".join(lines)


def broken_script_is_stopped_at_the_first_step(ctx: DemoContext) -> Release:
    weights = ", ".join(f"{step['weight']:.0%}" for step in STEPS)
    ctx.report.step(
        f"Progressive release of v4 in {len(STEPS)} steps ({weights}), its {SCRIPT} answering 500"
    )
    faults = FaultsClient(ctx.info.faults_endpoint)
    broken = f"/4.0.0/{SCRIPT}"
    faults.inject_origin_status(broken, 500)
    ctx.report.info(
        f"the origin answers 500 for {broken} (a local origin fault); /4.0.0/index.html still "
        "passes the probe. Synthetic browsers load / and its script all along."
    )
    _, before = ctx.primary_config()
    try:
        with Browsers(ctx.viewers) as browsers:
            release = ctx.start(progressive_release(ctx, "4.0.0", approval=dict(AUTOMATIC)))
            description = release.follower.until_finished(EXECUTION_DEADLINE_SECONDS)
    finally:
        faults.clear_origin_faults()
    cause = readable_cause(description.get("cause")) or ""
    ctx.report.check(
        description["status"] == "FAILED"
        and description.get("error") == "AnalysisFailed"
        and "step 1 of" in cause,
        "the first step's analysis stopped it: FAILED with AnalysisFailed",
        f"{release.name}: {description['status']}, error {description.get('error')}\ncause: {cause}",
    )
    states, _ = _steps_taken(ctx, release)
    enabled, weight = _policy_traffic(ctx)
    first = float(STEPS[0]["weight"])
    ctx.report.check(
        states.count("SetStepWeight") == 1
        and weight is not None
        and math.isclose(weight, first)
        and not enabled,
        f"the weight never went past the first step's {first:.0%}; the policy is disabled",
        f"SetStepWeight entered {states.count('SetStepWeight')} time(s); policy weight {weight}, "
        f"Enabled {enabled}",
    )
    visits, on_v4 = browsers.visits, browsers.pages["v4"]
    bound = first + SHARE_TOLERANCE_SIGMAS * math.sqrt(first * (1 - first) / max(visits, 1))
    ctx.report.check(
        visits > 0 and on_v4 / visits <= bound and set(browsers.script_errors) <= {"v4", UNPINNED},
        "only the first step's share of viewers ever got v4; no viewer pinned to v2 saw its script fail",
        f"{visits} visits: {tally(browsers.pages)} ({on_v4 / max(visits, 1):.1%} on v4, at most "
        f"{bound:.1%} expected); {SCRIPT} failed for {sum(browsers.script_errors.values())} of them "
        f"({tally(browsers.script_errors, ' pages')})",
    )
    _every_viewer_gets(
        ctx, "2.0.0", "the primary is untouched and every new viewer gets v2", unchanged=before
    )
    return release


def good_release_is_promoted_through_every_step(ctx: DemoContext) -> Release:
    ctx.report.step(
        f"Progressive release of v3 in {len(STEPS)} steps, promoted with no human (approval.mode auto)"
    )
    with Browsers(ctx.viewers) as browsers:
        release = ctx.start(progressive_release(ctx, "3.0.0", approval=dict(AUTOMATIC)))
        description = release.follower.until_finished(EXECUTION_DEADLINE_SECONDS)
    states, progress = _steps_taken(ctx, release)
    ctx.report.check(
        description["status"] == "SUCCEEDED"
        and progress is not None
        and progress.done
        and all(step.passedAt is not None for step in progress.steps),
        "every step passed its bake and analysis; the execution SUCCEEDED",
        f"{release.name}: {description['status']}\n{_step_lines(progress)}\n"
        f"{browsers.visits} visits meanwhile: " + tally(browsers.pages),
    )
    mail = find_approval_mail(ctx.state_dir, release.name)
    ctx.report.check(
        "RequestApproval" not in states and mail is None,
        "promoted automatically: no approval asked, no approval mail sent",
        f"states entered: {' → '.join(dict.fromkeys(states))}\n"
        f"approval mail for {release.name}: {'none' if mail is None else mail.summary.path.name}",
    )
    _every_viewer_gets(ctx, "3.0.0", "the primary serves v3 to every viewer")
    return release


def rollback_brings_v2_back(ctx: DemoContext) -> Release:
    ctx.report.step(f"cfcd rollback {ctx.site.primary_distribution_id}: the release before v3 comes back")
    # What `cfcd rollback DISTRIBUTION` starts: a restore-mode release of the release history's
    # previous promotion, approved automatically (its default).
    document: dict[str, Any] = {
        "primaryDistributionId": ctx.site.primary_distribution_id,
        "staging": {"mode": "restore"},
        "approval": dict(AUTOMATIC),
        "timing": dict(FAST_TIMING),
    }
    release = ctx.start(document)
    description = release.follower.until_finished(EXECUTION_DEADLINE_SECONDS)
    ctx.report.check(
        description["status"] == "SUCCEEDED",
        "the rollback SUCCEEDED, through the whole workflow (staging, probe, promote, verify)",
        f"{release.name}: {description['status']}",
    )
    _every_viewer_gets(ctx, "2.0.0", "v2 is back for every viewer")
    return release
