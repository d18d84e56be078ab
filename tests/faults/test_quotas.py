"""Step Functions' quotas on the local cloud, with the real state machine and handlers.

- A release that never deploys ends DeployTimeout, not on the history limit, after both its
  Deployed wait and its rollback's wait ran to their deadline. The local cloud cannot wait
  86,400 s, so those loops' timeout is scaled down and the history limit with it: the limit is
  what tests/history_budget.py allows this release's timing, by the arithmetic that shows the
  contract's extremes fit 25,000 events (tests/unit/test_history_budget.py). A loop that checked
  more often than cfcd_common.polling says (a fixed 1 s poll would write over 400 events here),
  or states that wrote more events than the model counts, would reach the limit and end
  States.Runtime instead. The events each state visit writes are measured against the model too.
- A release that does reach the history limit fails as AWS fails it (States.Runtime, no Catch),
  and the CleanupRelease rule undoes what it left.
- The largest state a promoted release carries, on a distribution with 25 origins and 25 cache
  behaviours, stays far below the 256 KiB payload quota; a three-step progressive release too,
  whose state carries every analysis of every step.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from cfcd.local.seed import SeededSite
from cfcd.local.stepfunctions_quotas import history_limit_cause
from tests.conftest import LocalCloudHandle
from tests.faults.support import (
    POLL_SECONDS,
    Release,
    Verdict,
    check_invariant,
    copy_input,
    snapshot,
)
from tests.history_budget import contract_timing, loops, max_checks, state_events, worst_case_events
from tests.polling import wait_for
from tests.progressive_support import browsing, make_progressive, release_folder
from tests.sites import new_site

pytestmark = pytest.mark.faults

ASL: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "statemachine" / "deployment.asl.json").read_text()
)
# The stuck loops' deadline, scaled down from the contract's 86,400 s.
STUCK_TIMEOUT_SECONDS = 12
# States a release stuck in CheckDeployed never reaches: the budget is its path's, not the longest.
OFF_THE_STUCK_PATH = frozenset({"ProbeStaging", "DeployStagingStack"})
NEVER_SECONDS = 3600.0  # a propagation delay no test outlives
# Event 24 enters CheckDeployed (ExecutionStarted, four Tasks, a Choice): 60 falls in its loop.
LIMIT_INSIDE_THE_LOOP = 60
PAYLOAD_CEILING_BYTES = 64 * 1024
CLEANUP_DEADLINE_SECONDS = 60.0
ENDINGS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})


def history(release: Release) -> list[dict[str, Any]]:
    pages = release.sfn.get_paginator("get_execution_history").paginate(executionArn=release.arn)
    return [event for page in pages for event in page["events"]]


def entered(events: list[dict[str, Any]], name: str) -> list[int]:
    """The ids of the events that entered state ``name``."""
    return [
        int(event["id"])
        for event in events
        if str(event["type"]).endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == name
    ]


def visits(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Each state the execution entered, with the events it wrote until the next one (or the end)."""
    found: list[tuple[str, int]] = []
    for event in events:
        if str(event["type"]).endswith("StateEntered"):
            found.append((event["stateEnteredEventDetails"]["name"], 1))
        elif found and event["type"] not in ENDINGS:
            found[-1] = (found[-1][0], found[-1][1] + 1)
    return found


def run_stuck(cloud: LocalCloudHandle, document: dict[str, Any], timeout: float) -> tuple[Release, Any]:
    """Run a release whose distributions never finish deploying (nor does its rollback) to its end."""
    cloud.faults.set_propagation_seconds(NEVER_SECONDS)
    release = Release(cloud, document, label="quota")

    def ended() -> dict[str, Any] | None:
        description = release.describe()
        return None if description["status"] == "RUNNING" else description

    return release, wait_for(ended, timeout, f"end of {release.name}", POLL_SECONDS)


def most_demanding_input(site: SeededSite, deploy_timeout_seconds: int) -> dict[str, Any]:
    """A header release with the contract's shortest poll and longest timeouts but the deploy one."""
    return copy_input(
        site,
        approval={"timeoutSeconds": 604_800},
        timing={
            "pollSeconds": 1,
            "deployTimeoutSeconds": deploy_timeout_seconds,
            "probeTimeoutSeconds": 86_400,
        },
    )


def test_a_release_that_never_deploys_ends_deploy_timeout_within_the_history_its_timing_allows(
    cloud: LocalCloudHandle,
) -> None:
    # Given a release with the most demanding timing, its deploy waits scaled down to 12 s
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    timing = {**contract_timing(), "$.timing.deployTimeoutSeconds": STUCK_TIMEOUT_SECONDS}
    # And the history limit the model gives that release's path (no faults, so no retries)
    budget = worst_case_events(ASL, timing, with_retries=False, avoid=OFF_THE_STUCK_PATH)
    cloud.faults.set_history_limit(budget)

    # When CloudFront never finishes deploying, neither the policy nor the rollback
    document = most_demanding_input(site, STUCK_TIMEOUT_SECONDS)
    release, description = run_stuck(cloud, document, timeout=2 * STUCK_TIMEOUT_SECONDS + 60)

    # Then it ends DeployTimeout (the rollback not confirmed in time): policy disabled, lock
    # free, primary as before
    verdict = check_invariant(cloud, site, before, description)
    assert (verdict.status, verdict.error) == ("FAILED", "DeployTimeout"), verdict.explain()
    assert not verdict.violations, verdict.explain()
    # And every state visit wrote no more events than the model counts; each poll exactly as many
    events = history(release)
    states = ASL["States"]
    assert [
        (name, count) for name, count in visits(events) if count > state_events(states[name], False)
    ] == []
    for loop in loops(ASL, timing, with_retries=False):
        checks = entered(events, loop.check)
        assert len(checks) <= max_checks(1, STUCK_TIMEOUT_SECONDS), loop.check
        spacings = {later - earlier for earlier, later in itertools.pairwise(checks)}
        assert spacings <= {loop.per_check + loop.per_wait}, loop.check
    # And both stuck loops polled until their deadline
    assert len(entered(events, "CheckDeployed")) >= 2 and len(entered(events, "CheckRollback")) >= 2
    assert len(events) <= budget


def test_a_release_that_reaches_the_history_limit_fails_like_on_aws_and_the_cleanup_rule_undoes_it(
    cloud: LocalCloudHandle,
) -> None:
    # Given executions limited to 60 history events, and a release that would wait a whole day
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    cloud.faults.set_history_limit(LIMIT_INSIDE_THE_LOOP)

    # When it polls a policy that never finishes deploying
    release, description = run_stuck(cloud, most_demanding_input(site, 86_400), timeout=90)

    # Then the 60th event fails it States.Runtime, as on AWS, and no Catch ran: no rollback
    cause = history_limit_cause(LIMIT_INSIDE_THE_LOOP)
    assert (description["status"], description.get("error"), description.get("cause")) == (
        "FAILED",
        "States.Runtime",
        cause,
    )
    events = history(release)
    assert [event["id"] for event in events] == list(range(1, LIMIT_INSIDE_THE_LOOP + 1))
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}
    assert entered(events, "CheckDeployed") and not entered(events, "DisableContinuousDeployment")

    # And CleanupRelease, on the FAILED status change, disables the policy and frees the lock
    def cleaned_up() -> Verdict | None:
        verdict = check_invariant(cloud, site, before, description)
        # States.Runtime is AWS's name for this ending, not one cfcd gives: the rest must hold.
        left = [v for v in verdict.violations if v != "failed with an unnamed error 'States.Runtime'"]
        return None if left else verdict

    wait_for(
        cleaned_up,
        CLEANUP_DEADLINE_SECONDS,
        "CleanupRelease to disable the policy and free the lock",
        POLL_SECONDS,
    )


def widen(cloud: LocalCloudHandle, site: SeededSite, count: int = 25) -> None:
    """Give the site's primary ``count`` origins and ``count`` cache behaviours (the default quotas)."""
    cloudfront = cloud.client("cloudfront")
    found = cloudfront.get_distribution_config(Id=site.primary_distribution_id)
    config = found["DistributionConfig"]
    origin = config["Origins"]["Items"][0]
    origins = [origin] + [{**copy.deepcopy(origin), "Id": f"section-{n}"} for n in range(1, count)]
    behaviours = [
        {
            **copy.deepcopy(config["DefaultCacheBehavior"]),
            "PathPattern": f"/section-{n}/*",
            "TargetOriginId": origins[n % count]["Id"],
        }
        for n in range(1, count + 1)
    ]
    config["Origins"] = {"Quantity": count, "Items": origins}
    config["CacheBehaviors"] = {"Quantity": count, "Items": behaviours}
    cloudfront.update_distribution(
        Id=site.primary_distribution_id, IfMatch=found["ETag"], DistributionConfig=config
    )


def payloads(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(UTF-8 size, event) of every state input and output, task parameters and result."""
    found = []
    for event in events:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output", "parameters"):
                    if isinstance(details.get(field), str):
                        found.append((len(details[field].encode()), f"{event['id']} {event['type']} {field}"))
    return found


def test_a_promoted_release_of_a_25_origin_25_behaviour_distribution_carries_under_64_kib(
    cloud: LocalCloudHandle,
) -> None:
    # Given a primary with 25 origins and 25 cache behaviours
    site = new_site(cloud)
    widen(cloud, site)

    # When a release of it is approved and promoted
    release = Release(cloud, copy_input(site))
    release.approve()
    assert release.finished()["status"] == "SUCCEEDED"

    # Then no state input or output, task parameters or result, comes near the payload quota
    size, where = max(payloads(history(release)))
    assert size < PAYLOAD_CEILING_BYTES, f"{size} bytes at event {where}"


def test_a_promoted_three_step_release_of_a_25_origin_25_behaviour_distribution_carries_under_64_kib(
    cloud: LocalCloudHandle,
) -> None:
    # Given a primary with 25 origins and 25 cache behaviours, viewers browsing it
    site = new_site(cloud)
    widen(cloud, site)
    document = make_progressive(copy_input(site), release_folder(cloud, site, "2.0.0"))

    # When a three-step release of it passes its steps, is approved and promoted
    with browsing(cloud, site):
        release = Release(cloud, document)
        release.approve()
        assert release.finished()["status"] == "SUCCEEDED"

    # Then no state input or output, task parameters or result, comes near the payload quota
    events = history(release)
    assert len(entered(events, "SetStepWeight")) == 3
    size, where = max(payloads(events))
    assert size < PAYLOAD_CEILING_BYTES, f"{size} bytes at event {where}"
