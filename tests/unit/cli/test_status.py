"""`cfcd status`: the view of an execution read from Step Functions."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from tests.unit.cli.conftest import FakeAws, approval_definition, failing_definition, passing_definition

pytestmark = pytest.mark.unit


def start(fake_aws: FakeAws, machine: str, name: str) -> str:
    arn: str = fake_aws.sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    return arn


def test_status_defaults_to_the_newest_execution(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    # Given two finished releases
    machine = fake_aws.state_machine("cfcd", passing_definition())
    fake_aws.wait_until_finished(start(fake_aws, machine, "older"))
    newest = start(fake_aws, machine, "newer")
    fake_aws.wait_until_finished(newest)

    # When status is asked without an execution
    result = runner.invoke(cli, ["status", "--state-machine-arn", machine])

    # Then the newest one is shown, every state done, with the console link (this is "AWS")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("newer  SUCCEEDED")
    for state in ("ValidateInput", "AcquireLock", "Promote", "ReleaseLock"):
        assert f"✓ {state}" in result.stdout
    assert (
        "console: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1"
        f"#/v2/executions/details/{newest}"
    ) in result.stdout


def test_status_shows_waiting_for_approval(fake_aws: FakeAws, cli: click.Group, runner: CliRunner) -> None:
    # Given a release whose callback task is out
    queue = fake_aws.sqs.create_queue(QueueName="approvals")["QueueUrl"]
    machine = fake_aws.state_machine("cfcd", approval_definition(queue))
    arn = start(fake_aws, machine, "release-1")
    fake_aws.wait_for_message(queue)

    # When status is asked by execution name, once, as JSON
    result = runner.invoke(cli, ["status", "release-1", "--json", "--state-machine-arn", machine])

    # Then RequestApproval is waiting and what follows is pending
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["execution_arn"] == arn
    assert view["status"] == "RUNNING"
    steps = {step["name"]: step["status"] for step in view["steps"]}
    assert steps == {
        "ValidateInput": "done",
        "RequestApproval": "waiting",
        "Promote": "pending",
        "DisableContinuousDeployment": "pending",
        "Rejected": "pending",
    }


def test_follow_exits_non_zero_for_a_failed_release(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    machine = fake_aws.state_machine("cfcd", failing_definition())
    arn = start(fake_aws, machine, "doomed")

    result = runner.invoke(cli, ["status", arn, "--follow", "--interval", "0.2", "--timeout", "10"])

    assert result.exit_code == 1, result.output
    assert "✗ ProbeFailedHere" in result.stdout
    assert "FAILED: ProbeFailed: staging answered 500" in result.stdout


def test_follow_gives_up_at_the_timeout_with_exit_3(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    queue = fake_aws.sqs.create_queue(QueueName="approvals")["QueueUrl"]
    machine = fake_aws.state_machine("cfcd", approval_definition(queue))
    arn = start(fake_aws, machine, "stuck")
    fake_aws.wait_for_message(queue)

    result = runner.invoke(cli, ["status", arn, "--follow", "--interval", "0.2", "--timeout", "0.5"])

    assert result.exit_code == 3, result.output
    assert "waiting for approval" in result.stdout


def test_until_waiting_follows_until_the_release_asks_for_a_decision(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release on its way to its callback task
    queue = fake_aws.sqs.create_queue(QueueName="approvals")["QueueUrl"]
    machine = fake_aws.state_machine("cfcd", approval_definition(queue))
    arn = start(fake_aws, machine, "release-1")

    # When status follows it until it waits
    result = runner.invoke(cli, ["status", arn, "--until-waiting", "--interval", "0.2", "--timeout", "10"])

    # Then it stops there with exit 0, the release still running
    assert result.exit_code == 0, result.output
    assert "⏸ RequestApproval" in result.stdout
    assert fake_aws.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"


def test_until_waiting_reports_a_release_that_failed_first(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    machine = fake_aws.state_machine("cfcd", failing_definition())
    arn = start(fake_aws, machine, "doomed")

    result = runner.invoke(cli, ["status", arn, "--until-waiting", "--interval", "0.2", "--timeout", "10"])

    assert result.exit_code == 1, result.output
    assert "✗ ProbeFailedHere" in result.stdout


def test_no_executions_yet_is_explained(fake_aws: FakeAws, cli: click.Group, runner: CliRunner) -> None:
    machine = fake_aws.state_machine("cfcd", passing_definition())

    result = runner.invoke(cli, ["status", "--state-machine-arn", machine])

    assert result.exit_code == 1
    assert "no executions" in result.stderr
    assert "cfcd deploy" in result.stderr
