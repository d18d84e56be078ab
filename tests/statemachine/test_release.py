"""The real ASL with the real handlers, on the local cloud: releases end in promotion or rollback.

Each test seeds its own site (bucket, origin access control, primary distribution serving
``/1.0.0``) so the tests do not depend on each other's releases.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from cfcd.local.seed import SeededSite
from cfcd_common.approvals import EXECUTION_INDEX
from tests.conftest import LocalCloudHandle
from tests.polling import wait_for

pytestmark = pytest.mark.statemachine

EVENTS = Path(__file__).resolve().parent.parent / "events"
EXECUTION_DEADLINE_SECONDS = 120.0
FAST_TIMING = {"pollSeconds": 1, "deployTimeoutSeconds": 60, "probeTimeoutSeconds": 60}


def release_input(site: SeededSite, event_file: str, release: str) -> dict[str, Any]:
    """A contract input from tests/events, pointed at this site and release, with fast timing."""
    document: dict[str, Any] = json.loads((EVENTS / event_file).read_text())
    document["primaryDistributionId"] = site.primary_distribution_id
    document["staging"]["overrides"]["originPath"] = f"/{release}"
    document["probe"]["expect"]["bodyContains"] = f"v{release.split('.')[0]} App"
    document["timing"] = FAST_TIMING
    document["approval"] = {"timeoutSeconds": 120}
    return document


class Release:
    def __init__(self, cloud: LocalCloudHandle, site: SeededSite, document: dict[str, Any]) -> None:
        self.cloud = cloud
        self.site = site
        self.sfn = cloud.client("stepfunctions")
        self.name = f"test-{uuid.uuid4().hex[:12]}"
        self.arn: str = self.sfn.start_execution(
            stateMachineArn=cloud.info.state_machine_arn, name=self.name, input=json.dumps(document)
        )["executionArn"]

    def pending_approval(self) -> dict[str, Any]:
        table = self.cloud.resource("dynamodb").Table(self.cloud.info.table_name)

        def probe() -> dict[str, Any] | None:
            self.fail_fast_if_finished()
            items = table.query(
                IndexName=EXECUTION_INDEX, KeyConditionExpression=Key("executionArn").eq(self.arn)
            )
            pending = [item for item in items["Items"] if item.get("status") == "PENDING"]
            # The index holds no task token: the item itself does.
            return (
                table.get_item(Key={"pk": pending[0]["pk"]}, ConsistentRead=True)["Item"] if pending else None
            )

        return wait_for(probe, EXECUTION_DEADLINE_SECONDS, "pending approval")

    def fail_fast_if_finished(self) -> None:
        description = self.sfn.describe_execution(executionArn=self.arn)
        if description["status"] != "RUNNING":
            raise AssertionError(
                f"execution ended before approval: {description['status']} "
                f"{description.get('error')}: {str(description.get('cause'))[:2000]}"
            )

    def finished(self) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            description: dict[str, Any] = self.sfn.describe_execution(executionArn=self.arn)
            return None if description["status"] == "RUNNING" else description

        return wait_for(probe, EXECUTION_DEADLINE_SECONDS, "end of the execution")


def edge_body(cloud: LocalCloudHandle, site: SeededSite, headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(
        cloud.info.edge_endpoint + "/", headers={"Host": site.domain_name, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"


def primary_origin_path(cloud: LocalCloudHandle, site: SeededSite) -> str:
    config = cloud.client("cloudfront").get_distribution_config(Id=site.primary_distribution_id)
    return str(config["DistributionConfig"]["Origins"]["Items"][0]["OriginPath"])


def policy_of(cloud: LocalCloudHandle, site: SeededSite) -> dict[str, Any]:
    cloudfront = cloud.client("cloudfront")
    config = cloudfront.get_distribution_config(Id=site.primary_distribution_id)["DistributionConfig"]
    policy_id = config.get("ContinuousDeploymentPolicyId")
    assert policy_id, "the primary has no continuous deployment policy attached"
    policy: dict[str, Any] = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)
    return dict(policy["ContinuousDeploymentPolicyConfig"])


def test_header_release_ends_in_promotion(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given a primary serving 1.0.0 and a header release of 2.0.0
    release = Release(cloud, site, release_input(site, "input_copy_header.json", "2.0.0"))

    # When the approver approves (the task token of the approval record)
    approval = release.pending_approval()
    assert "v1 App" in edge_body(cloud, site)  # viewers still on 1.0.0 while waiting
    cloud.client("stepfunctions").send_task_success(
        taskToken=approval["taskToken"],
        output=json.dumps({"approvalId": approval["pk"], "decidedBy": "test", "comment": ""}),
    )

    # Then the release is promoted: the primary serves 2.0.0 through the edge, policy disabled
    assert release.finished()["status"] == "SUCCEEDED"
    assert primary_origin_path(cloud, site) == "/2.0.0"
    assert "v2 App" in edge_body(cloud, site)
    assert policy_of(cloud, site)["Enabled"] is False


def test_weight_release_ends_in_promotion(cloud: LocalCloudHandle, site: SeededSite) -> None:
    release = Release(cloud, site, release_input(site, "input_copy_weight.json", "3.0.0"))

    approval = release.pending_approval()
    cloud.client("stepfunctions").send_task_success(
        taskToken=approval["taskToken"],
        output=json.dumps({"approvalId": approval["pk"], "decidedBy": "test", "comment": ""}),
    )

    assert release.finished()["status"] == "SUCCEEDED"
    assert primary_origin_path(cloud, site) == "/3.0.0"
    assert "v3 App" in edge_body(cloud, site)
    policy = policy_of(cloud, site)
    assert policy["Enabled"] is False
    assert policy["TrafficConfig"]["Type"] == "SingleWeight"


def test_rejection_disables_the_policy_and_leaves_the_primary_unchanged(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given a header release waiting for approval, staging already reachable with the header
    release = Release(cloud, site, release_input(site, "input_copy_header.json", "2.0.0"))
    approval = release.pending_approval()
    assert "v2 App" in edge_body(cloud, site, {"aws-cf-cd-env": "staging"})

    # When the approver rejects it
    cloud.client("stepfunctions").send_task_failure(
        taskToken=approval["taskToken"], error="DeploymentRejected", cause="not today"
    )

    # Then the release fails as rejected, the policy is disabled, the primary still serves 1.0.0
    description = release.finished()
    assert description["status"] == "FAILED"
    assert description["error"] == "DeploymentRejected"
    assert policy_of(cloud, site)["Enabled"] is False
    assert primary_origin_path(cloud, site) == "/1.0.0"
    # And the execution ended only once the disabled policy was deployed: even the header no
    # longer reaches staging
    assert "v1 App" in edge_body(cloud, site, {"aws-cf-cd-env": "staging"})
    # And the lock is released for the next release
    lock = (
        cloud.resource("dynamodb")
        .Table(cloud.info.table_name)
        .get_item(Key={"pk": f"lock#{site.primary_distribution_id}"})
    )
    assert "Item" not in lock
