"""Deploying a SAM template itself into the local cloud, and running its state machine."""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cfcd.client.cfn_template import IntrinsicResolver
from cfcd.local import mail
from cfcd.local.cloud import LocalCloud, LocalCloudInfo
from cfcd.local.deploy import ACCOUNT_ID, generate_secret_string, physical_name
from tests.polling import wait_for

pytestmark = pytest.mark.unit

TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"
DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.1


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(state_dir=tmp_path_factory.mktemp("state"), template_path=TEMPLATE)
    cloud.start()
    yield cloud
    cloud.stop()


def finished_execution(sfn: Any, arn: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return None if description["status"] == "RUNNING" else description

    return wait_for(probe, DEADLINE_SECONDS, f"end of {arn}", POLL_SECONDS)


def test_outputs_are_resolved(cloud: LocalCloud, info: LocalCloudInfo) -> None:
    assert cloud.deployment is not None
    outputs = cloud.deployment.outputs
    assert outputs["StateMachineArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:stateMachine:cfcd-Flow-"
    )
    assert outputs["EchoUrl"].startswith("http://127.0.0.1:")
    assert info.state_machine_arn == outputs["StateMachineArn"]
    assert info.table_name == outputs["TableName"]
    assert info.topic_arn == outputs["TopicArn"]


def test_function_runs_with_the_template_environment(
    cloud: LocalCloud, info: LocalCloudInfo, client: Callable[[str], Any]
) -> None:
    assert cloud.deployment is not None
    name = cloud.deployment.functions["EchoFunction"]

    response = client("lambda").invoke(FunctionName=name, Payload=json.dumps({"ping": 1}).encode())

    assert "FunctionError" not in response
    body = json.loads(response["Payload"].read())
    assert body["greeting"] == "hello from us-east-1"  # Fn::Sub with a parameter and a pseudo parameter
    assert body["sender"] is None  # Fn::If -> AWS::NoValue removed the variable
    assert body["tableName"] == info.table_name  # Globals + Ref
    assert body["layer"] == "from the layer"  # Globals Layers -> the layer's ContentUri on sys.path
    assert body["endpoint"] == info.aws_endpoint
    assert body["edge"] == info.edge_endpoint


def test_function_error_surfaces_as_unhandled_with_error_type(
    cloud: LocalCloud, client: Callable[[str], Any]
) -> None:
    assert cloud.deployment is not None
    name = cloud.deployment.functions["EchoFunction"]

    response = client("lambda").invoke(FunctionName=name, Payload=b'{"fail": "boom"}')

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "ProbeFailed"


def test_state_machine_runs_through_a_task_token(
    cloud: LocalCloud, info: LocalCloudInfo, client: Callable[[str], Any]
) -> None:
    # Given an execution waiting for its task token
    sfn = client("stepfunctions")
    assert info.table_name is not None
    table = boto3.resource(
        "dynamodb",
        endpoint_url=info.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(info.table_name)
    execution = sfn.start_execution(
        stateMachineArn=info.state_machine_arn, name="token-run", input='{"n": 1}'
    )
    record = wait_for(
        lambda: table.get_item(Key={"pk": "approval#token-run"}).get("Item"),
        DEADLINE_SECONDS,
        "approval record",
        POLL_SECONDS,
    )
    assert record["executionArn"] == execution["executionArn"]

    # When the token is answered
    sfn.send_task_success(taskToken=record["taskToken"], output='{"approved": true}')

    # Then the execution succeeds with both task results in its output
    description = finished_execution(sfn, execution["executionArn"])
    assert description["status"] == "SUCCEEDED"
    assert json.loads(description["output"]) == {
        "n": 1,
        "echo": {"greeting": "hello from us-east-1"},
        "decision": {"approved": True},
    }
    # And the announcement on the topic was captured as mail
    subjects = [summary.subject for summary in mail.list_mail(cloud.state_dir)]
    assert "Approve token-run" in subjects


def test_function_error_type_is_the_state_machine_error_name(
    info: LocalCloudInfo, client: Callable[[str], Any]
) -> None:
    sfn = client("stepfunctions")

    execution = sfn.start_execution(
        stateMachineArn=info.state_machine_arn, name="failing-run", input='{"fail": "x"}'
    )

    description = finished_execution(sfn, execution["executionArn"])
    assert description["status"] == "FAILED"
    assert description["error"] == "ProbeFailed"  # reached through Catch on ["ProbeFailed"]


def test_table_topic_secret_and_log_group_exist(
    cloud: LocalCloud, info: LocalCloudInfo, client: Callable[[str], Any]
) -> None:
    table = client("dynamodb").describe_table(TableName=info.table_name)["Table"]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["byExecution"]
    ttl = client("dynamodb").describe_time_to_live(TableName=info.table_name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}

    subscriptions = client("sns").list_subscriptions_by_topic(TopicArn=info.topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "approver@example.com")]

    assert cloud.deployment is not None
    secret_arn = cloud.deployment.resources["SigningSecret"].ref
    secret = client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    assert len(secret) == 48
    assert set(secret) <= set(string.ascii_letters + string.digits)

    groups = client("logs").describe_log_groups(logGroupNamePrefix="cfcd-Logs-")["logGroups"]
    assert groups[0]["retentionInDays"] == 7


def test_unknown_resource_types_are_skipped(cloud: LocalCloud) -> None:
    assert cloud.deployment is not None
    assert cloud.deployment.resources["Schedule"].ref == "Schedule"


def resolver(**conditions: Any) -> IntrinsicResolver:
    return IntrinsicResolver(
        {"Env": "prod", "Names": ["a", "b"]}, conditions, {}, "eu-west-1", "stack", account_id=ACCOUNT_ID
    )


def test_resolver_functions() -> None:
    r = resolver(IsProd={"Fn::Equals": [{"Ref": "Env"}, "prod"]})

    assert r.resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Env}-${AWS::Region}/${!Literal}"}) == (
        "arn:aws:s3:::prod-eu-west-1/${Literal}"
    )
    assert r.resolve({"Fn::Sub": ["${X}-${Env}", {"X": {"Fn::Select": [1, {"Ref": "Names"}]}}]}) == "b-prod"
    assert r.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"
    assert r.resolve({"Fn::Not": [{"Condition": "IsProd"}]}) is False
    assert r.resolve({"Fn::Join": ["/", {"Fn::Split": [",", "x,y"]}]}) == "x/y"
    assert r.resolve(
        {"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 2]}]}
    ) == {"B": [1]}


def test_generated_names_and_secrets() -> None:
    name = physical_name("cfcd", "AVeryLongLogicalIdThatWouldNotFitIntoSixtyFourCharactersOtherwise")
    assert len(name) == 64
    assert name == physical_name("cfcd", "AVeryLongLogicalIdThatWouldNotFitIntoSixtyFourCharactersOtherwise")

    secret = json.loads(
        generate_secret_string(
            {"SecretStringTemplate": '{"user": "x"}', "GenerateStringKey": "pw", "ExcludeCharacters": "abc"}
        )
    )
    assert secret["user"] == "x"
    assert len(secret["pw"]) == 32
    assert not set(secret["pw"]) & set("abc")
