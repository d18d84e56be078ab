"""CleanupRelease: roll back what an execution that ended without its own Catch left behind."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cfcd_common.errors import UnexpectedError
from cfcd_common.locks import acquire_lock, lock_key
from functions.cleanup_release import app
from tests.unit.cloudfront_stubs import (
    POLICY_ID,
    PRIMARY_ID,
    distribution,
    distribution_config,
    policy_config,
    policy_config_response,
    policy_response,
    stubbed_cloudfront,
)
from tests.unit.conftest import EXECUTION_ARN, REGION, FakeLambdaContext, load_event, use_client

pytestmark = pytest.mark.unit

OTHER_EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:cfcd-deployment:release-3-0-0"
ACQUIRED_AT = 1_777_888_800
ROLE_ARN = "arn:aws:iam::123456789012:role/cfcd-test"


@dataclass
class CleanupWorld:
    """The handler's clients: moto DynamoDB and Step Functions, CloudFront behind a Stubber."""

    table: str
    dynamodb: Any
    sfn: Any
    cloudfront_stubber: Stubber

    def lock(self, holder: str, expires_at: int = ACQUIRED_AT + 3600) -> None:
        acquire_lock(self.dynamodb, self.table, PRIMARY_ID, holder, ACQUIRED_AT, expires_at)

    def lock_item(self) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": lock_key(PRIMARY_ID)}}, ConsistentRead=True
        ).get("Item")
        return found


@pytest.fixture
def world(deployment_table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CleanupWorld]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    cloudfront, stubber = stubbed_cloudfront()
    use_client(monkeypatch, "dynamodb", dynamodb)
    use_client(monkeypatch, "stepfunctions", sfn)
    use_client(monkeypatch, "cloudfront", cloudfront)
    # An active Stubber with nothing queued fails any CloudFront call the test did not expect.
    with stubber:
        yield CleanupWorld(deployment_table, dynamodb, sfn, stubber)
        stubber.assert_no_pending_responses()


def status_change(status: str, execution_arn: str = EXECUTION_ARN, **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("execution_status_aborted.json"))
    event["detail"].update({"status": status, "executionArn": execution_arn, **detail})
    return event


def expect_policy_lookup(stubber: Stubber, *, enabled: bool, etag: str = "C7") -> dict[str, Any]:
    stubber.add_response(
        "get_distribution",
        distribution(PRIMARY_ID, distribution_config("/2.0.0", ContinuousDeploymentPolicyId=POLICY_ID)),
        {"Id": PRIMARY_ID},
    )
    config = policy_config(enabled)
    stubber.add_response(
        "get_continuous_deployment_policy_config", policy_config_response(config, etag), {"Id": POLICY_ID}
    )
    return config


# How Step Functions ends an execution without running its Catch: stopped, timed out as a whole,
# or failed on a quota (its history full, or a state's data over 256 KiB).
ENDED_WITHOUT_CATCH = {
    "stopped": ("ABORTED", {}),
    "timed out": ("TIMED_OUT", {}),
    "history full": (
        "FAILED",
        {
            "error": "States.Runtime",
            "cause": "The execution reached the maximum number of history events (25000).",
        },
    ),
    "payload too large": (
        "FAILED",
        {
            "error": "States.DataLimitExceeded",
            "cause": "The state/task 'arn:aws:states:::lambda:invoke' returned a result with a size "
            "exceeding the maximum number of bytes service limit.",
        },
    ),
}


@pytest.mark.parametrize(("status", "failure"), ENDED_WITHOUT_CATCH.values(), ids=ENDED_WITHOUT_CATCH.keys())
def test_a_release_ended_without_its_catch_holding_the_lock_is_rolled_back_and_unlocked(
    status: str, failure: dict[str, str], world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given a release ended mid-way: it holds the lock and its policy still sends viewers to staging
    world.lock(EXECUTION_ARN)
    enabled = expect_policy_lookup(world.cloudfront_stubber, enabled=True, etag="C7")
    world.cloudfront_stubber.add_response(
        "update_continuous_deployment_policy",
        policy_response({**enabled, "Enabled": False}),
        {"Id": POLICY_ID, "IfMatch": "C7", "ContinuousDeploymentPolicyConfig": {**enabled, "Enabled": False}},
    )

    # When its end is reported
    outcome = app.lambda_handler(status_change(status, **failure), lambda_context)

    # Then the policy is disabled with the ETag just read, and the lock is free for the next release
    assert outcome["skipped"] is None
    assert outcome["report"] == {
        "primaryDistributionId": PRIMARY_ID,
        "lockHolder": EXECUTION_ARN,
        "policyId": POLICY_ID,
        "policyDisabled": True,
        "lockReleased": True,
    }
    assert world.lock_item() is None


def test_a_failed_release_whose_rollback_ran_is_left_alone(
    world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given a FAILED release whose Catch already disabled the policy and released the lock
    event = load_event("execution_status_failed.json")
    event["detail"]["executionArn"] = EXECUTION_ARN

    # When its end is reported (the Stubber fails any CloudFront call)
    outcome = app.lambda_handler(event, lambda_context)

    # Then nothing is done and the outcome says why
    assert outcome["report"] is None
    assert outcome["skipped"].startswith(f"the lock of {PRIMARY_ID} ")
    assert world.lock_item() is None


def test_a_lock_taken_by_another_release_is_not_touched(
    world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given the next release already holds the primary's lock (and its policy is live on purpose)
    world.lock(OTHER_EXECUTION_ARN)
    before = world.lock_item()

    # When the end of an earlier, stopped release is reported late
    outcome = app.lambda_handler(status_change("ABORTED"), lambda_context)

    # Then neither the other release's lock nor its policy is touched
    assert outcome["report"] is None
    assert OTHER_EXECUTION_ARN in outcome["skipped"]
    assert world.lock_item() == before


def test_an_already_disabled_policy_is_not_updated_but_the_lock_is_freed(
    world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given a release stopped after its policy was disabled, before ReleaseLock ran
    world.lock(EXECUTION_ARN)
    expect_policy_lookup(world.cloudfront_stubber, enabled=False)

    # When its end is reported (no update is queued: an UpdateContinuousDeploymentPolicy fails the test)
    outcome = app.lambda_handler(status_change("ABORTED"), lambda_context)

    # Then only the lock goes
    assert outcome["report"]["policyDisabled"] is False
    assert outcome["report"]["lockReleased"] is True
    assert world.lock_item() is None


def test_a_release_stopped_before_a_policy_was_attached_only_frees_the_lock(
    world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    world.lock(EXECUTION_ARN)
    world.cloudfront_stubber.add_response(
        "get_distribution", distribution(PRIMARY_ID, distribution_config()), {"Id": PRIMARY_ID}
    )

    outcome = app.lambda_handler(status_change("TIMED_OUT"), lambda_context)

    assert outcome["report"]["policyId"] is None
    assert outcome["report"]["lockReleased"] is True
    assert world.lock_item() is None


def test_an_expired_lock_of_the_ended_release_is_still_its_leftover(
    world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given a release that ran past its lock's expiry and then timed out (TTL deletion lags for days)
    world.lock(EXECUTION_ARN, expires_at=ACQUIRED_AT + 1)
    expect_policy_lookup(world.cloudfront_stubber, enabled=False)

    outcome = app.lambda_handler(status_change("TIMED_OUT"), lambda_context)

    assert outcome["report"]["lockReleased"] is True
    assert world.lock_item() is None


@pytest.mark.parametrize("absent", ["missing", "null"])
def test_an_input_left_out_of_the_event_is_read_from_describe_execution(
    absent: str, world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given a release that was stopped while holding the lock, on (moto) Step Functions
    machine = world.sfn.create_state_machine(
        name="cfcd-deployment",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    release_input = json.loads(load_event("execution_status_aborted.json")["detail"]["input"])
    execution = world.sfn.start_execution(
        stateMachineArn=machine, name="release-2-0-0", input=json.dumps(release_input)
    )["executionArn"]
    world.sfn.stop_execution(executionArn=execution)
    world.lock(execution)
    expect_policy_lookup(world.cloudfront_stubber, enabled=False)
    # And an event without the input (EventBridge leaves out an input over its size limit)
    event = status_change("ABORTED", execution, inputDetails={"included": False})
    if absent == "missing":
        del event["detail"]["input"]
    else:
        event["detail"]["input"] = None

    # When its end is reported
    outcome = app.lambda_handler(event, lambda_context)

    # Then the primary came from DescribeExecution and its lock is freed
    assert outcome["report"]["primaryDistributionId"] == PRIMARY_ID
    assert world.lock_item() is None


@pytest.mark.parametrize(
    ("status", "detail", "reason"),
    [
        ("SUCCEEDED", {}, "SUCCEEDED executions clean up themselves"),
        ("RUNNING", {}, "RUNNING executions clean up themselves"),
        ("ABORTED", {"input": "{}"}, "the input names no primaryDistributionId"),
        ("ABORTED", {"input": "not json"}, "the input names no primaryDistributionId"),
        ("FAILED", {"input": '{"primaryDistributionId": 42}'}, "the input names no primaryDistributionId"),
    ],
)
def test_endings_with_nothing_to_undo_are_skipped(
    status: str, detail: dict[str, Any], reason: str, world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given the lock is held by this very execution, so only the status or input can stop a cleanup
    world.lock(EXECUTION_ARN)

    outcome = app.lambda_handler(status_change(status, **detail), lambda_context)

    assert (outcome["skipped"], outcome["report"]) == (reason, None)
    assert world.lock_item() is not None


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (lambda event: event.pop("detail"), "detail"),
        (lambda event: event["detail"].pop("executionArn"), "detail.executionArn"),
        (lambda event: event["detail"].pop("status"), "detail.status"),
        (lambda event: event.pop("detail-type"), "detail-type"),
    ],
    ids=["no-detail", "no-execution-arn", "no-status", "no-detail-type"],
)
def test_an_event_that_is_not_a_status_change_is_refused_naming_the_field(
    breakage: Any, named: str, world: CleanupWorld, lambda_context: FakeLambdaContext
) -> None:
    # Given an event missing a field the cleanup decides on, and a lock it could wrongly free
    world.lock(EXECUTION_ARN)
    event = status_change("ABORTED")
    breakage(event)

    # When the handler gets it, Then it fails naming the field, before any AWS call
    with pytest.raises(UnexpectedError, match=rf"ValidationError: .*\n{named}\n +Field required"):
        app.lambda_handler(event, lambda_context)
    assert world.lock_item() is not None
