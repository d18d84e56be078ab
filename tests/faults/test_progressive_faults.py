"""Fault matrix of a progressive release's own states: SetStepWeight, CheckStepDeployed, AnalyseStep.

CloudWatch throttling and 5xx are transient: retried (by boto3, then by the state machine past
boto3's attempts), the release still passes its steps and is promoted. A step weight written but
its answer lost is found written by the retry. The invariant of tests/faults/support.py holds.
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import LocalCloudHandle
from tests.fault_summary import SUMMARY, CaseResult
from tests.faults.matrix import TRANSIENT
from tests.faults.support import (
    Release,
    check_invariant,
    copy_input,
    snapshot,
)
from tests.progressive_support import browsing, make_progressive, put_alarm, release_folder
from tests.sites import new_site

pytestmark = pytest.mark.faults

# Every AWS operation only a progressive release calls, and CheckStepDeployed's.
STEP_OPERATIONS = [
    ("cloudfront", "GetContinuousDeploymentPolicyConfig"),
    ("cloudfront", "UpdateContinuousDeploymentPolicy"),
    ("cloudfront", "GetDistribution"),
    ("cloudwatch", "GetMetricData"),
    ("cloudwatch", "DescribeAlarms"),
]
# More 503s in a row than boto3 tries (4 attempts: cfcd_common.aws.CLIENT_CONFIG): the task fails
# TransientAwsError and the state machine retries it.
PAST_BOTO3_RETRIES = 5


def test_cloudwatch_errors_and_throttled_step_calls_are_retried_and_the_release_still_promotes(
    cloud: LocalCloudHandle,
) -> None:
    # Given a healthy three-step release watching an alarm that stays OK, viewers browsing
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    alarm = f"healthy-{uuid.uuid4().hex[:8]}"
    put_alarm(cloud.client("cloudwatch"), alarm, "OK", "fine")
    document = make_progressive(copy_input(site), release_folder(cloud, site, "2.0.0"), alarmNames=[alarm])
    # And every call of the steps throttled once and answered 503 once, GetMetricData 503 past
    # boto3's own retries, and the second step's weight written with its answer lost
    injected = 0
    for service, operation in STEP_OPERATIONS:
        for error, status in TRANSIENT:
            cloud.faults.inject(service, operation, error, status)
            injected += 1
    cloud.faults.inject("cloudwatch", "GetMetricData", "ServiceUnavailable", 503, PAST_BOTO3_RETRIES)
    cloud.faults.inject(
        "cloudfront", "UpdateContinuousDeploymentPolicy", "ServiceUnavailable", 503, when="after"
    )
    injected += PAST_BOTO3_RETRIES + 1

    # When it is released and approved
    with browsing(cloud, site):
        release = Release(cloud, document, label="progressive")
        release.approve()
        description = release.finished()

    # Then it passed every step and was promoted, the invariant holds, every fault was met
    verdict = check_invariant(cloud, site, before, description)
    consumed = injected - sum(fault.count for fault in cloud.faults.pending())
    SUMMARY.cases.append(
        CaseResult(
            "steps: CloudWatch/step calls throttled+503",
            verdict.status if verdict.status != "FAILED" else f"FAILED {verdict.error}",
            not verdict.violations,
            injected,
            consumed,
            orphans=len(verdict.orphans),
        )
    )
    assert verdict.status == "SUCCEEDED" and verdict.promoted, verdict.explain()
    assert not verdict.violations, verdict.explain()
    assert consumed == injected
    pages = release.sfn.get_paginator("get_execution_history").paginate(executionArn=release.arn)
    entered = [
        event["stateEnteredEventDetails"]["name"]
        for page in pages
        for event in page["events"]
        if str(event["type"]).endswith("StateEntered")
    ]
    assert entered.count("SetStepWeight") == 3
