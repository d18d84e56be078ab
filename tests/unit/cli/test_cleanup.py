"""`cfcd cleanup DISTRIBUTION`: the CleanupRelease rollback by hand, refused while a release runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import click
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from cfcd.cli import CfcdGroup, cleanup_cmd
from cfcd.client.target import Target
from cfcd_common.locks import acquire_lock, lock_key
from tests.unit.cli.conftest import FakeAws, failing_definition
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

pytestmark = pytest.mark.unit

NOW = 1_777_888_800
GONE_EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:cfcd:deleted-long-ago"
LONG_WAIT = {
    "StartAt": "WaitForApproval",
    "States": {"WaitForApproval": {"Type": "Wait", "Seconds": 3600, "End": True}},
}


@pytest.fixture
def cli() -> click.Group:
    group = CfcdGroup("cfcd")
    cleanup_cmd.register(group)
    return group


@pytest.fixture
def cloudfront(fake_aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """CloudFront behind a Stubber (moto has no continuous deployment policies); nothing queued
    means any call fails the test."""
    client, stubber = stubbed_cloudfront()
    monkeypatch.setattr(Target, "cloudfront", lambda target: client)
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def lock(table: Any, holder: str) -> None:
    # A low-level client: the resource's own client turns {"S": ...} into a map attribute.
    acquire_lock(boto3.client("dynamodb"), table.name, PRIMARY_ID, holder, NOW, NOW + 3600)


def lock_item(table: Any) -> dict[str, Any] | None:
    found: dict[str, Any] | None = table.get_item(Key={"pk": lock_key(PRIMARY_ID)}, ConsistentRead=True).get(
        "Item"
    )
    return found


def expect_enabled_policy_disabled(stubber: Stubber) -> None:
    stubber.add_response(
        "get_distribution",
        distribution(PRIMARY_ID, distribution_config("/2.0.0", ContinuousDeploymentPolicyId=POLICY_ID)),
        {"Id": PRIMARY_ID},
    )
    enabled = policy_config(True)
    stubber.add_response(
        "get_continuous_deployment_policy_config", policy_config_response(enabled, "C4"), {"Id": POLICY_ID}
    )
    stubber.add_response(
        "update_continuous_deployment_policy",
        policy_response({**enabled, "Enabled": False}),
        {"Id": POLICY_ID, "IfMatch": "C4", "ContinuousDeploymentPolicyConfig": {**enabled, "Enabled": False}},
    )


def running_release(fake_aws: FakeAws) -> str:
    """An execution in a long Wait: RUNNING until the test (or the fixture's teardown) stops it.

    It is returned once in its Wait: moto's StopExecution fails (AttributeError) on an execution
    whose thread has not yet begun to run it."""
    machine = fake_aws.state_machine("cfcd", LONG_WAIT)
    arn: str = fake_aws.sfn.start_execution(stateMachineArn=machine, name="release-2", input="{}")[
        "executionArn"
    ]
    fake_aws.wait_until_waiting(arn)
    assert fake_aws.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    return arn


def finished_release(fake_aws: FakeAws, ending: str) -> str:
    if ending == "ABORTED":
        arn = running_release(fake_aws)
        fake_aws.sfn.stop_execution(executionArn=arn)
    elif ending == "FAILED":
        machine = fake_aws.state_machine("cfcd", failing_definition())
        arn = fake_aws.sfn.start_execution(stateMachineArn=machine, name="release-2", input="{}")[
            "executionArn"
        ]
    else:  # an execution Step Functions no longer knows (deleted with its state machine, or history expired)
        return GONE_EXECUTION_ARN
    assert fake_aws.wait_until_finished(arn)["status"] == ending
    return arn


def cleanup_args(table: Any, *extra: str) -> list[str]:
    return ["cleanup", PRIMARY_ID, "--table-name", table.name, *extra]


def test_nothing_to_clean_is_exit_0_and_says_so(
    approval_table: Any, cloudfront: Stubber, cli: click.Group, runner: CliRunner
) -> None:
    # Given a primary with no lock and no policy attached
    cloudfront.add_response(
        "get_distribution", distribution(PRIMARY_ID, distribution_config()), {"Id": PRIMARY_ID}
    )

    # When an operator cleans it up
    result = runner.invoke(cli, cleanup_args(approval_table))

    # Then nothing is written (the Stubber fails any update) and the operator is told
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{PRIMARY_ID}: no policy attached; no lock was held"


@pytest.mark.parametrize("ending", ["ABORTED", "FAILED", "unknown"])
def test_the_lock_of_a_finished_release_is_cleaned(
    ending: str,
    fake_aws: FakeAws,
    approval_table: Any,
    cloudfront: Stubber,
    cli: click.Group,
    runner: CliRunner,
) -> None:
    # Given a release that ended still holding the lock, its policy still live
    holder = finished_release(fake_aws, ending)
    lock(approval_table, holder)
    expect_enabled_policy_disabled(cloudfront)

    # When an operator cleans up the primary
    result = runner.invoke(cli, cleanup_args(approval_table))

    # Then the policy is disabled (with the ETag just read) and the lock is gone
    assert result.exit_code == 0, result.output
    assert f"policy {POLICY_ID} disabled" in result.stdout
    assert f"lock of {holder} released" in result.stdout
    assert lock_item(approval_table) is None


def test_a_release_still_running_is_refused_with_exit_3(
    fake_aws: FakeAws, approval_table: Any, cloudfront: Stubber, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release that holds the lock and is still RUNNING
    holder = running_release(fake_aws)
    lock(approval_table, holder)

    # When an operator cleans up without --force
    result = runner.invoke(cli, cleanup_args(approval_table))

    # Then nothing is touched (no CloudFront call, lock kept) and the operator is told what to do
    assert result.exit_code == 3, result.output
    assert f"{PRIMARY_ID} is being released by {holder}, still RUNNING" in result.stderr
    assert "--force" in result.stderr
    assert result.stdout == ""
    held = lock_item(approval_table)
    assert held is not None and held["executionArn"] == holder


def test_force_cleans_up_under_a_running_release(
    fake_aws: FakeAws, approval_table: Any, cloudfront: Stubber, cli: click.Group, runner: CliRunner
) -> None:
    # Given a RUNNING release that holds the lock (say its workers are known to be stuck)
    holder = running_release(fake_aws)
    lock(approval_table, holder)
    expect_enabled_policy_disabled(cloudfront)

    # When an operator forces the cleanup
    result = runner.invoke(cli, cleanup_args(approval_table, "--force"))

    # Then viewers are back on the primary and the lock is free
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{PRIMARY_ID}: policy {POLICY_ID} disabled; lock of {holder} released"
    assert lock_item(approval_table) is None


def test_an_aws_error_is_exit_1_and_keeps_the_lock(
    fake_aws: FakeAws, approval_table: Any, cloudfront: Stubber, cli: click.Group, runner: CliRunner
) -> None:
    # Given an ended release's lock, and CloudFront refusing to read the primary
    lock(approval_table, GONE_EXECUTION_ARN)
    cloudfront.add_client_error("get_distribution", "AccessDenied", http_status_code=403)

    result = runner.invoke(cli, cleanup_args(approval_table))

    # Then the policy could not be checked, so the lock stays for a retry
    assert result.exit_code == 1, result.output
    assert f"cleanup of {PRIMARY_ID} failed" in result.stderr
    assert "AccessDenied" in result.stderr
    assert lock_item(approval_table) is not None


def test_help_documents_the_exit_codes(cli: click.Group, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["cleanup", "--help"])

    assert result.exit_code == 0
    text = " ".join(result.stdout.split())  # click rewraps the docstring to the terminal's width
    assert "0 cleaned (or nothing to do), 1 error, 3 a release still runs (see --force)" in text
