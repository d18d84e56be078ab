"""Progressive releases on the local cloud: weight steps judged by the edge's CloudWatch metrics,
while synthetic viewers load a page and its script (tests/progressive_support.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from cfcd.local.seed import SCRIPT, SeededSite
from cfcd_common.approvals import ApprovalRequest, Outcome, find_pending
from cfcd_common.progressive import Progress
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import (
    Release,
    attached_policy,
    copy_input,
    lock_holder,
    origin_path,
    primary_config,
    served,
)
from tests.polling import wait_for
from tests.progressive_support import browsing, make_progressive, put_alarm, release_folder

pytestmark = pytest.mark.e2e


def progressive_input(site: SeededSite, folder: str, release: str, **analysis: Any) -> dict[str, Any]:
    return make_progressive(copy_input(site, release, {}), folder, **analysis)


def progress_of(release: Release) -> Progress:
    """The progress the execution carries now: the latest state output holding one."""
    pages = release.cloud.client("stepfunctions").get_paginator("get_execution_history")
    outputs = [
        event["stateExitedEventDetails"]["output"]
        for page in pages.paginate(executionArn=release.arn)
        for event in page["events"]
        if '"progress"' in event.get("stateExitedEventDetails", {}).get("output", "")
    ]
    assert outputs, "no state output carries the progress"
    return Progress.model_validate(json.loads(outputs[-1])["progress"])


def weight_updates(cloud: LocalCloudHandle) -> int:
    return sum(call.operation == "UpdateContinuousDeploymentPolicy" for call in cloud.faults.calls())


def test_a_release_whose_script_fails_is_stopped_at_its_first_step(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given v4 whose page passes the probe but whose script answers 500
    folder = release_folder(cloud, site, "4.0.0")
    cloud.faults.inject_origin_status(f"/{folder}/{SCRIPT}", 500)
    _, before = primary_config(cloud, site)
    cloud.faults.reset_calls()

    # When it is released in three steps while viewers load the page and the script
    with browsing(cloud, site) as viewers:
        release = Release.start(cloud, progressive_input(site, folder, "4.0.0"))
        description = release.finished()
    assert viewers.visits > 0

    # Then its first step's analysis stops it: staging's 5xx rate, with the primary's beside it
    assert (description["status"], description.get("error")) == ("FAILED", "AnalysisFailed"), description
    cause = str(description.get("cause"))
    assert "step 1 of 3 (weight 0.05)" in cause and "5xxErrorRate of staging" in cause
    assert "primary" in cause and "Rollback: complete" in cause
    # And the weight never went above the first step's: the policy was created at 0.05, and its
    # only update since was the rollback, which left the weight alone
    policy = attached_policy(cloud, site)
    assert policy["Enabled"] is False
    assert policy["TrafficConfig"]["SingleWeightConfig"]["Weight"] == pytest.approx(0.05)
    assert weight_updates(cloud) == 1
    assert release.entered_states().count("SetStepWeight") == 1
    # And the primary is as it was, the lock free, viewers on v1
    _, after = primary_config(cloud, site)
    assert origin_path(after) == origin_path(before) == "/1.0.0"
    assert lock_holder(cloud, site) is None
    assert served(cloud, site).release == "v1"


def test_a_named_alarm_in_alarm_stops_a_release(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given an alarm of the application, OK for now, named by a healthy progressive release
    alarm = f"checkout-latency-{uuid.uuid4().hex[:8]}"
    cloudwatch = cloud.client("cloudwatch")
    put_alarm(cloudwatch, alarm, "OK", "healthy")
    folder = release_folder(cloud, site, "3.0.0")
    with browsing(cloud, site):
        release = Release.start(cloud, progressive_input(site, folder, "3.0.0", alarmNames=[alarm]))
        # When the alarm goes off while a step bakes
        wait_for(lambda: True if "AnalyseStep" in release.entered_states() else None, 90, "a step's bake")
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="p99 above 1 s")
        description = release.finished()

    # Then the release stops with AnalysisFailed naming the alarm, and rolls back
    assert (description["status"], description.get("error")) == ("FAILED", "AnalysisFailed"), description
    assert f"{alarm}: p99 above 1 s" in str(description.get("cause"))
    assert attached_policy(cloud, site)["Enabled"] is False
    assert lock_holder(cloud, site) is None


def test_a_good_release_passes_every_step_and_is_promoted_once_approved(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given a healthy v3 released in three steps while viewers browse
    folder = release_folder(cloud, site, "3.0.0")
    with browsing(cloud, site):
        release = Release.start(cloud, progressive_input(site, folder, "3.0.0"))
        # When every step has passed, the approver is asked (the mail charts every step)
        pending: ApprovalRequest = release.pending_approval()
        progress = progress_of(release)
        assert (progress.done, progress.current, progress.stepCount) == (True, 3, 3)
        assert [step.weight for step in progress.steps] == [0.05, 0.10, 0.15]
        for step in progress.steps:
            assert step.passedAt is not None and step.latest is not None
            assert step.latest.at >= step.bakeSeconds and step.latest.stagingRequests >= 3
            assert step.latest.stagingErrorRate == 0.0
        stored = find_pending(cloud.resource("dynamodb").Table(cloud.info.table_name), release.arn)
        assert stored is not None and len(stored.summary.steps) == 3
        assert pending.summary.traffic is not None and pending.summary.traffic.weight == pytest.approx(0.15)
        # And approves it, as `cfcd approve` does
        assert release.decide("approve").outcome is Outcome.DECIDED
        description = release.finished()

    # Then it is promoted after passing every step at its weight
    assert description["status"] == "SUCCEEDED", description
    _, config = primary_config(cloud, site)
    assert origin_path(config) == f"/{folder}"
    assert release.entered_states().count("SetStepWeight") == 3
    assert attached_policy(cloud, site)["Enabled"] is False
    assert lock_holder(cloud, site) is None
    # And every viewer now gets v3
    assert served(cloud, site).release == "v3"
