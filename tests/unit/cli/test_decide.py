"""`cfcd approve|reject`: the same records and rules as the emailed link (approvals.decide)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner

from cfcd_common.approvals import ApprovalRequest, ApprovalStatus, create_request, get_request
from tests.unit.approval_support import new_approval_id, sample_summary
from tests.unit.cli.conftest import FakeAws, approval_definition, passing_definition

pytestmark = pytest.mark.unit


def release_waiting_for_approval(
    fake_aws: FakeAws, table: Any, *, timeout_seconds: int = 600, created_ago: int = 0
) -> ApprovalRequest:
    """A running release at its callback task, with the approval record RequestApproval would store."""
    queue = fake_aws.sqs.create_queue(QueueName="approvals")["QueueUrl"]
    machine = fake_aws.state_machine("cfcd", approval_definition(queue))
    fake_aws.sfn.start_execution(stateMachineArn=machine, name="release-2", input="{}")
    callback = fake_aws.wait_for_message(queue)
    return create_request(
        table,
        approval_id=new_approval_id(),
        task_token=callback["taskToken"],
        execution_arn=callback["executionArn"],
        timeout_seconds=timeout_seconds,
        summary=sample_summary(execution_name="release-2"),
        now=int(time.time()) - created_ago,
    )


def decide_args(verb: str, request: ApprovalRequest, table: Any, *extra: str) -> list[str]:
    return [verb, request.execution_arn, "--table-name", table.name, *extra]


def test_approve_resumes_the_release_and_records_who(
    fake_aws: FakeAws, approval_table: Any, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release waiting for approval
    request = release_waiting_for_approval(fake_aws, approval_table)

    # When an operator approves it
    result = runner.invoke(
        cli, decide_args("approve", request, approval_table, "--by", "alice", "--comment", "lgtm")
    )

    # Then the release goes on to promotion and the record says who, when and why
    assert result.exit_code == 0, result.output
    assert "Approved by alice" in result.stdout
    assert fake_aws.wait_until_finished(request.execution_arn)["status"] == "SUCCEEDED"
    stored = get_request(approval_table, request.approval_id)
    assert stored is not None
    assert stored.status is ApprovalStatus.APPROVED
    assert (stored.decided_by, stored.comment, stored.user_agent) == ("alice", "lgtm", "cfcd-cli")
    assert stored.decided_at is not None


def test_reject_fails_the_release_with_deployment_rejected(
    fake_aws: FakeAws, approval_table: Any, cli: click.Group, runner: CliRunner
) -> None:
    request = release_waiting_for_approval(fake_aws, approval_table)

    result = runner.invoke(cli, decide_args("reject", request, approval_table, "--by", "bob"))

    assert result.exit_code == 0, result.output
    finished = fake_aws.wait_until_finished(request.execution_arn)
    assert (finished["status"], finished["error"]) == ("FAILED", "DeploymentRejected")
    stored = get_request(approval_table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.REJECTED
    assert stored.decided_by == "bob"


def test_a_second_decision_is_refused_as_already_decided(
    fake_aws: FakeAws, approval_table: Any, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release alice approved
    request = release_waiting_for_approval(fake_aws, approval_table)
    assert runner.invoke(cli, decide_args("approve", request, approval_table, "--by", "alice")).exit_code == 0

    # When bob tries to reject it
    result = runner.invoke(cli, decide_args("reject", request, approval_table, "--by", "bob"))

    # Then nothing changes and he is told who decided
    assert result.exit_code == 4, result.output
    assert "already approved by alice" in result.stderr
    stored = get_request(approval_table, request.approval_id)
    assert stored is not None and (stored.status, stored.decided_by) == (ApprovalStatus.APPROVED, "alice")


def test_a_decision_after_the_deadline_is_too_late(
    fake_aws: FakeAws, approval_table: Any, cli: click.Group, runner: CliRunner
) -> None:
    # Given an approval whose deadline passed a minute ago
    request = release_waiting_for_approval(fake_aws, approval_table, timeout_seconds=60, created_ago=120)

    result = runner.invoke(cli, decide_args("approve", request, approval_table, "--by", "alice"))

    assert result.exit_code == 5, result.output
    assert "deadline" in result.stderr
    stored = get_request(approval_table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING
    assert fake_aws.sfn.describe_execution(executionArn=request.execution_arn)["status"] == "RUNNING"


def test_no_pending_approval_is_explained(
    fake_aws: FakeAws, approval_table: Any, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release that ended without ever asking for approval
    machine = fake_aws.state_machine("cfcd", passing_definition())
    arn = fake_aws.sfn.start_execution(stateMachineArn=machine, name="done", input="{}")["executionArn"]
    fake_aws.wait_until_finished(arn)

    result = runner.invoke(
        cli,
        [
            "approve",
            "done",
            "--by",
            "alice",
            "--state-machine-arn",
            machine,
            "--table-name",
            approval_table.name,
        ],
    )

    assert result.exit_code == 3, result.output
    assert "already ended: SUCCEEDED" in result.stderr


def test_help_documents_the_exit_codes(cli: click.Group, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["approve", "--help"])

    assert result.exit_code == 0
    for line in ("0  decision recorded", "3  no pending approval", "4  already decided", "5  too late"):
        assert line in result.stdout


def test_who_decides_is_required_and_recorded_with_the_callers_aws_identity(
    fake_aws: FakeAws, approval_table: Any, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release waiting for approval
    request = release_waiting_for_approval(fake_aws, approval_table)

    # When an operator approves without saying who they are, Then nothing is decided
    refused = runner.invoke(cli, decide_args("approve", request, approval_table))
    assert refused.exit_code == 2 and "Missing option '--by'" in refused.output
    pending = get_request(approval_table, request.approval_id)
    assert pending is not None and pending.status is ApprovalStatus.PENDING

    # When they say it, Then the record keeps the name and the identity AWS vouches for
    result = runner.invoke(cli, decide_args("approve", request, approval_table, "--by", "alice"))
    assert result.exit_code == 0, result.output
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    stored = get_request(approval_table, request.approval_id)
    assert stored is not None and (stored.decided_by, stored.caller_arn) == ("alice", caller)
    assert caller in result.stdout
