"""Where the CLI talks to: --stack, then local.json, then AWS_ENDPOINT_URL, then plain AWS."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest

from cfcd.client.local_state import LocalStateError
from cfcd.client.target import TargetError, discover_table_name, resolve_target
from tests.unit.cli.conftest import ROLE_ARN, FakeAws

pytestmark = pytest.mark.unit

LOCAL_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:cfcd-local"
STACK_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:cfcd-stack"
EU_ARN = "arn:aws:states:eu-west-1:111122223333:stateMachine:cfcd-prod"


def write_local_json(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "local.json").write_text(
        json.dumps(
            {"awsEndpoint": "http://127.0.0.1:45001", "stateMachineArn": LOCAL_ARN, "tableName": "cfcd-local"}
        )
    )
    return directory


def test_stack_outputs_win_over_the_local_cloud(fake_aws: FakeAws, tmp_path: Path) -> None:
    # Given a cfcd stack and a local cloud's local.json
    boto3.client("cloudformation").create_stack(
        StackName="cfcd-prod",
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "StateMachineArn": {"Value": STACK_ARN},
                    "TableName": {"Value": "cfcd-prod-table"},
                },
            }
        ),
    )
    write_local_json(tmp_path / ".cfcd")

    # When the target is resolved with --stack
    target = resolve_target(stack="cfcd-prod", environ={"AWS_DEFAULT_REGION": "us-east-1"})

    # Then the stack's outputs are used, against AWS
    assert (target.source, target.state_machine_arn, target.table_name) == (
        "stack",
        STACK_ARN,
        "cfcd-prod-table",
    )
    assert target.is_aws


def test_a_stack_without_the_output_is_an_error(fake_aws: FakeAws) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="other", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    )

    with pytest.raises(TargetError, match="no StateMachineArn output"):
        resolve_target(stack="other", environ={})


def test_local_json_wins_over_aws_endpoint_url(tmp_path: Path) -> None:
    state_dir = write_local_json(tmp_path / "state")

    target = resolve_target(
        environ={"CFCD_STATE_DIR": str(state_dir), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    )

    assert target.source == "local"
    assert (target.endpoint_url, target.state_machine_arn, target.table_name) == (
        "http://127.0.0.1:45001",
        LOCAL_ARN,
        "cfcd-local",
    )
    assert target.console_url(LOCAL_ARN.replace("stateMachine", "execution") + ":r1") is None


def test_explicit_names_override_local_json(tmp_path: Path) -> None:
    state_dir = write_local_json(tmp_path / "state")

    target = resolve_target(
        state_dir=str(state_dir), state_machine_arn=STACK_ARN, table_name="mine", environ={}
    )

    assert (target.source, target.state_machine_arn, target.table_name) == ("local", STACK_ARN, "mine")


def test_aws_endpoint_url_wins_over_plain_aws(tmp_path: Path) -> None:
    target = resolve_target(
        state_machine_arn=LOCAL_ARN,
        environ={"CFCD_STATE_DIR": str(tmp_path / "none"), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )

    assert (target.source, target.endpoint_url) == ("endpoint", "http://127.0.0.1:9")
    assert not target.is_aws


def test_plain_aws_takes_the_region_from_the_state_machine_arn(tmp_path: Path) -> None:
    target = resolve_target(
        state_machine_arn=EU_ARN, environ={"CFCD_STATE_DIR": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1"}
    )

    assert (target.source, target.region, target.endpoint_url) == ("aws", "eu-west-1", None)
    execution = target.execution_arn("release-7")
    assert execution == "arn:aws:states:eu-west-1:111122223333:execution:cfcd-prod:release-7"
    assert target.console_url(execution) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        f"#/v2/executions/details/{execution}"
    )


def test_without_a_state_machine_the_error_says_what_to_pass(tmp_path: Path) -> None:
    target = resolve_target(environ={"CFCD_STATE_DIR": str(tmp_path)})

    with pytest.raises(TargetError, match="--stack NAME"):
        target.require_state_machine()


def test_a_broken_local_json_is_reported(tmp_path: Path) -> None:
    (tmp_path / "local.json").write_text(json.dumps({"edgeEndpoint": "http://127.0.0.1:1"}))

    with pytest.raises(LocalStateError, match="no 'awsEndpoint'"):
        resolve_target(state_dir=str(tmp_path), environ={})


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_the_table_is_found_in_the_approval_functions_environment(fake_aws: FakeAws, tmp_path: Path) -> None:
    # Given a state machine whose callback task invokes a function with TABLE_NAME (plain AWS,
    # only the state machine ARN known)
    boto3.client("iam").create_role(RoleName="cfcd-test", AssumeRolePolicyDocument="{}")
    function = boto3.client("lambda").create_function(
        FunctionName="cfcd-request-approval",
        Runtime="python3.12",
        Role=ROLE_ARN,
        Handler="app.lambda_handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"TABLE_NAME": "cfcd-approvals"}},
    )["FunctionArn"]
    machine = fake_aws.state_machine(
        "cfcd",
        {
            "StartAt": "RequestApproval",
            "States": {
                "RequestApproval": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": function, "Payload": {"taskToken.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        },
    )
    target = resolve_target(state_machine_arn=machine, environ={"CFCD_STATE_DIR": str(tmp_path)})

    assert discover_table_name(target) == "cfcd-approvals"
