"""Releases started by EventBridge, and every ending mailed, on the local cloud.

The session's local cloud deploys template.yaml with ``EnableReleaseEvents=true`` (tests/conftest.py),
so the "Release Requested" rule exists on the default bus; the status notification rule always does.
"""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from cfcd.local.seed import SeededSite
from cfcd_common.approvals import EXECUTION_INDEX
from tests.conftest import LocalCloudHandle
from tests.polling import wait_for
from tests.statemachine.test_release import EXECUTION_DEADLINE_SECONDS, release_input

pytestmark = pytest.mark.e2e

MAIL_DEADLINE_SECONDS = 60.0


def request_release(cloud: LocalCloudHandle, detail: dict[str, Any]) -> None:
    """What a pipeline or another account does: put the event on the bus (`aws events put-events`)."""
    response = cloud.client("events").put_events(
        Entries=[{"Source": "cfcd", "DetailType": "Release Requested", "Detail": json.dumps(detail)}]
    )
    assert response["FailedEntryCount"] == 0, response["Entries"]


def execution_started_with(cloud: LocalCloudHandle, detail: dict[str, Any]) -> str:
    """The ARN of the one execution whose input is ``detail``."""
    sfn = cloud.client("stepfunctions")

    def probe() -> str | None:
        executions = sfn.list_executions(stateMachineArn=cloud.info.state_machine_arn)["executions"]
        matching = [
            execution["executionArn"]
            for execution in executions
            if json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == detail
        ]
        assert len(matching) <= 1, f"one event started {len(matching)} executions"
        return matching[0] if matching else None

    return wait_for(probe, 30.0, "execution started by the event")


def finished(cloud: LocalCloudHandle, execution_arn: str) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")

    def probe() -> dict[str, Any] | None:
        description: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        return None if description["status"] == "RUNNING" else description

    return wait_for(probe, EXECUTION_DEADLINE_SECONDS, "end of the execution")


def status_mail(cloud: LocalCloudHandle, execution_arn: str) -> tuple[str, str]:
    """Subject and text of the captured status notification of one execution."""
    console_link = f"#/v2/executions/details/{execution_arn}"

    def probe() -> tuple[str, str] | None:
        for path in sorted(Path(cloud.mail_dir).glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = str(body.get_content()) if body is not None else ""
            if console_link in text:
                return str(message["Subject"]), text.replace("\r\n", "\n")
        return None

    return wait_for(probe, MAIL_DEADLINE_SECONDS, f"status mail of {execution_arn}")


def test_a_release_requested_event_starts_a_release_and_its_rejection_is_mailed(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given a valid release input for a fresh site
    detail = release_input(site, "input_copy_header.json", "2.0.0")

    # When a "Release Requested" event carrying it is put on the default bus
    request_release(cloud, detail)

    # Then an execution starts with the event's detail as its input and reaches the approval step
    execution_arn = execution_started_with(cloud, detail)
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)

    def pending() -> dict[str, Any] | None:
        items = table.query(
            IndexName=EXECUTION_INDEX, KeyConditionExpression=Key("executionArn").eq(execution_arn)
        )
        found = [
            table.get_item(Key={"pk": item["pk"]}, ConsistentRead=True)[
                "Item"
            ]  # the token is not on the index
            for item in items["Items"]
            if item.get("status") == "PENDING"
        ]
        if not found:
            ended = cloud.client("stepfunctions").describe_execution(executionArn=execution_arn)
            assert ended["status"] == "RUNNING", (
                f"the execution ended before asking for approval: {ended['status']} "
                f"{ended.get('error')}: {str(ended.get('cause'))[:2000]}"
            )
        return found[0] if found else None

    approval = wait_for(pending, EXECUTION_DEADLINE_SECONDS, "pending approval")

    # When the approver rejects it (what the approval page's Reject does)
    cloud.client("stepfunctions").send_task_failure(
        taskToken=approval["taskToken"], error="DeploymentRejected", cause="Rejected by e2e: wrong banner"
    )

    # Then the release fails as rejected, and its ending is mailed with the status and the console link
    description = finished(cloud, execution_arn)
    assert (description["status"], description.get("error")) == ("FAILED", "DeploymentRejected")
    subject, text = status_mail(cloud, execution_arn)
    assert subject == f"cfcd: release 2.0.0 FAILED ({site.primary_distribution_id})"
    assert "Status        FAILED" in text
    assert "Error         DeploymentRejected" in text
    assert "Cause         Rejected by e2e: wrong banner" in text
    assert (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/v2/executions/details/{execution_arn}"
    ) in text


def test_a_release_event_with_a_bad_input_fails_at_once_and_says_why(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given an input breaking the contract: CloudFront allows at most 15 % of traffic on staging
    detail = release_input(site, "input_copy_weight.json", "3.0.0")
    detail["traffic"]["weight"] = 0.5
    detail["release"] = f"bad-{uuid.uuid4().hex[:8]}"

    # When it arrives as an event
    request_release(cloud, detail)

    # Then the execution fails with InvalidInput and the mail names the field
    execution_arn = execution_started_with(cloud, detail)
    description = finished(cloud, execution_arn)
    assert (description["status"], description.get("error")) == ("FAILED", "InvalidInput")
    subject, text = status_mail(cloud, execution_arn)
    assert subject == f"cfcd: release {detail['release']} FAILED ({site.primary_distribution_id})"
    assert "Error         InvalidInput" in text
    assert "traffic.weight" in text
