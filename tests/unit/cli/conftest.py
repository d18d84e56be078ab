"""Fixtures of the CLI tests: moto in-process with the ASL interpreter on, a test state machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner

from cfcd.cli import CfcdGroup, decide_cmd, deploy_cmd, history_cmd, mail_cmd, rollback_cmd, status_cmd
from cfcd.client.execution_view import execution_history
from tests.polling import wait_for
from tests.unit.approval_support import use_fake_aws
from tests.unit.aws_mock import mocked_aws
from tests.unit.conftest import create_table

ROLE_ARN = "arn:aws:iam::123456789012:role/cfcd-test"
DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.05
FIXTURES = Path(__file__).parent / "fixtures"

VALID_INPUT: dict[str, Any] = {
    "primaryDistributionId": "E2QWRUHAPOMQZL",
    "staging": {"mode": "copy", "overrides": {"originPath": "/2.0.0"}},
    "traffic": {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"},
    "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": "v2 App"}},
    "approval": {"timeoutSeconds": 600},
    "timing": {"pollSeconds": 1, "deployTimeoutSeconds": 60, "probeTimeoutSeconds": 60},
}


def passing_definition() -> dict[str, Any]:
    """The workflow's shape with Pass states only: it runs to SUCCEEDED at once."""
    return {
        "StartAt": "ValidateInput",
        "States": {
            "ValidateInput": {"Type": "Pass", "Next": "AcquireLock"},
            "AcquireLock": {"Type": "Pass", "Next": "Promote"},
            "Promote": {"Type": "Pass", "Next": "ReleaseLock"},
            "ReleaseLock": {"Type": "Pass", "End": True},
        },
    }


def failing_definition() -> dict[str, Any]:
    return {
        "StartAt": "ValidateInput",
        "States": {
            "ValidateInput": {"Type": "Pass", "Next": "ProbeFailedHere"},
            "ProbeFailedHere": {"Type": "Fail", "Error": "ProbeFailed", "Cause": "staging answered 500"},
        },
    }


def approval_definition(queue_url: str) -> dict[str, Any]:
    """A callback task like RequestApproval; SQS stands in for the Lambda (moto runs no Lambda
    in-process) and hands the test the task token, as the real function stores it in DynamoDB."""
    return {
        "StartAt": "ValidateInput",
        "States": {
            "ValidateInput": {"Type": "Pass", "Next": "RequestApproval"},
            "RequestApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {"taskToken.$": "$$.Task.Token", "executionArn.$": "$$.Execution.Id"},
                },
                "Catch": [{"ErrorEquals": ["DeploymentRejected"], "Next": "DisableContinuousDeployment"}],
                "Next": "Promote",
            },
            "Promote": {"Type": "Pass", "End": True},
            "DisableContinuousDeployment": {"Type": "Pass", "Next": "Rejected"},
            "Rejected": {"Type": "Fail", "Error": "DeploymentRejected", "Cause": "the release was rejected"},
        },
    }


@dataclass
class FakeAws:
    """moto's in-process AWS with clients for assertions."""

    sfn: Any
    sqs: Any
    dynamodb: Any

    def state_machine(self, name: str, definition: dict[str, Any]) -> str:
        arn: str = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        return arn

    def wait_until_finished(self, execution_arn: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            return None if described["status"] == "RUNNING" else described

        return wait_for(ended, DEADLINE_SECONDS, f"end of {execution_arn}", POLL_SECONDS)

    def wait_until_waiting(self, execution_arn: str) -> None:
        """Until the execution has entered a Wait state: every state before it has run (moto runs
        an execution on a thread of its own, after StartExecution has answered)."""

        def waiting() -> bool | None:
            events = execution_history(self.sfn, execution_arn)
            return any(event["type"] == "WaitStateEntered" for event in events) or None

        wait_for(waiting, DEADLINE_SECONDS, f"Wait state of {execution_arn}", POLL_SECONDS)

    def wait_for_message(self, queue_url: str) -> dict[str, Any]:
        def received() -> dict[str, Any] | None:
            messages = self.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
            return json.loads(messages[0]["Body"]) if messages else None

        return wait_for(received, DEADLINE_SECONDS, f"callback message on {queue_url}", POLL_SECONDS)

    def stop_running(self) -> None:
        for machine in self.sfn.list_state_machines()["stateMachines"]:
            arn = machine["stateMachineArn"]
            for execution in self.sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")[
                "executions"
            ]:
                self.sfn.stop_execution(executionArn=execution["executionArn"])


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAws]:
    use_fake_aws(monkeypatch)
    for name in ("CFCD_STATE_DIR", "CFCD_STATE_MACHINE_ARN", "CFCD_TABLE_NAME", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .cfcd/local.json of a developer's local cloud
    with mocked_aws(execute_state_machine=True):
        aws = FakeAws(
            sfn=boto3.client("stepfunctions"),
            sqs=boto3.client("sqs"),
            dynamodb=boto3.resource("dynamodb"),
        )
        yield aws
        aws.stop_running()  # no interpreter thread outlives the mock


@pytest.fixture
def cli() -> click.Group:
    """The commands of this package on a group of their own (the real `main` is assembled in
    cfcd/cli/__init__.py from the same register functions)."""
    group = CfcdGroup("cfcd")
    for module in (deploy_cmd, rollback_cmd, status_cmd, decide_cmd, mail_cmd, history_cmd):
        module.register(group)
    return group


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def approval_table(fake_aws: FakeAws) -> Any:
    return create_table(fake_aws.dynamodb)


def write_input(directory: Path, data: dict[str, Any], name: str = "release.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(data))
    return path
