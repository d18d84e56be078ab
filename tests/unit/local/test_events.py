"""EventBridge on the local cloud: rules from a template, delivery to state machines and Lambda,
and the Step Functions status change events moto does not emit.

The deployment tests run a small template (written below) on an in-process local cloud: a
recorder function that writes every event it gets to a directory, a state machine that fails at
once, and rules wiring them together.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cfcd.local import events
from cfcd.local.cloud import LocalCloud
from tests.polling import wait_for

pytestmark = pytest.mark.unit

DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.1

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  OutputDir:
    Type: String
  EnableEcho:
    Type: String
    Default: "false"
    AllowedValues: ["true", "false"]
Conditions:
  EchoEnabled: !Equals [!Ref EnableEcho, "true"]
Resources:
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: recorder/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          OUTPUT_DIR: !Ref OutputDir
      Events:
        Note:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [test.note]
            InputPath: $.detail
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/flow
      DefinitionString: >-
        {"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}
  StartFlowRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: releases
      EventPattern:
        source: [test.start]
        detail-type: [Start Flow]
      Targets:
        - Id: flow
          Arn: !Ref Flow
          RoleArn: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/events
          InputPath: $.detail
  FlowStatusRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.states]
        detail-type: [Step Functions Execution Status Change]
        detail:
          status: [SUCCEEDED, FAILED, TIMED_OUT, ABORTED]
          stateMachineArn: [!Ref Flow]
      Targets:
        - Id: recorder
          Arn: !GetAtt Recorder.Arn
  EchoRule:
    Type: AWS::Events::Rule
    Condition: EchoEnabled
    Properties:
      EventPattern:
        source: [test.note]
      Targets:
        - Id: echo
          Arn: !GetAtt Recorder.Arn
Outputs:
  FlowArn:
    Value: !Ref Flow
  StatusRuleName:
    Value: !Ref FlowStatusRule
"""

RECORDER = """\
import json, os, uuid
from pathlib import Path


def handler(event, context):
    # Written aside, then renamed: the test reading *.json never sees a file half written.
    part = Path(os.environ["OUTPUT_DIR"], f"{uuid.uuid4()}.part")
    part.write_text(json.dumps(event))
    part.rename(part.with_suffix(".json"))
"""


# --- what a target receives ---------------------------------------------------------------------


EVENT = {
    "version": "0",
    "id": "e-1",
    "detail-type": "Release Requested",
    "source": "cfcd",
    "account": "123456789012",
    "time": "2026-05-04T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"primaryDistributionId": "E2QWRUHAPOMQZL", "release": "2.0.0"},
}


def test_input_path_delivers_the_detail_only() -> None:
    assert json.loads(events.target_input({"InputPath": "$.detail"}, EVENT)) == EVENT["detail"]


def test_constant_input_wins_and_no_input_setting_delivers_the_whole_event() -> None:
    assert events.target_input({"Input": '{"fixed": 1}', "InputPath": "$.detail"}, EVENT) == '{"fixed": 1}'
    assert json.loads(events.target_input({}, EVENT)) == EVENT


def test_input_transformer_fills_text_inside_strings_and_json_outside() -> None:
    target = {
        "InputTransformer": {
            "InputPathsMap": {"release": "$.detail.release", "detail": "$.detail"},
            "InputTemplate": '{"title": "Release <release> of <aws.events.rule-name>", "input": <detail>}',
        }
    }

    rendered = json.loads(events.target_input(target, EVENT, rule_name="start-release"))

    assert rendered == {"title": "Release 2.0.0 of start-release", "input": EVENT["detail"]}


def test_moto_event_messages_are_delivered_in_aws_shape() -> None:
    message = {**EVENT, "time": 1777888800.0, "ingestion-time": 1777888800.5}

    delivered = events.aws_event(message)

    assert delivered["time"] == "2026-05-04T10:00:00Z"
    assert "ingestion-time" not in delivered


# --- on the local cloud ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recorded")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, output_dir: Path) -> Iterator[LocalCloud]:
    template_dir = tmp_path_factory.mktemp("template")
    (template_dir / "recorder").mkdir()
    (template_dir / "recorder" / "app.py").write_text(RECORDER)
    (template_dir / "template.yaml").write_text(TEMPLATE)
    cloud = LocalCloud(
        state_dir=tmp_path_factory.mktemp("state"),
        template_path=template_dir / "template.yaml",
        parameter_overrides={"OutputDir": str(output_dir)},
    )
    cloud.start()
    yield cloud
    cloud.stop()


def outputs(cloud: LocalCloud) -> dict[str, str]:
    assert cloud.deployment is not None
    return cloud.deployment.outputs


def recorded(output_dir: Path, matches: Callable[[Any], bool]) -> list[Any]:
    found = [json.loads(path.read_text()) for path in output_dir.glob("*.json")]
    return [event for event in found if matches(event)]


def test_rules_are_deployed_to_their_bus_and_a_false_condition_skips_one(
    cloud: LocalCloud, client: Callable[[str], Any]
) -> None:
    eventbridge = client("events")
    default_rules = {rule["Name"] for rule in eventbridge.list_rules()["Rules"]}
    release_rules = {rule["Name"] for rule in eventbridge.list_rules(EventBusName="releases")["Rules"]}

    assert outputs(cloud)["StatusRuleName"] in default_rules
    assert any("RecorderNote" in name for name in default_rules)  # SAM's EventBridgeRule event
    assert not any("EchoRule" in name for name in default_rules)  # EnableEcho defaults to "false"
    assert any("StartFlowRule" in name for name in release_rules)


def test_an_event_on_a_custom_bus_starts_the_state_machine_with_its_detail(
    cloud: LocalCloud, client: Callable[[str], Any]
) -> None:
    # Given a rule on the "releases" bus targeting the state machine with InputPath $.detail
    sfn = client("stepfunctions")
    flow = outputs(cloud)["FlowArn"]
    detail = {"run": uuid.uuid4().hex}

    # When two matching events and one that does not match are put, through boto3
    for run in (detail, {"run": "second"}):
        response = client("events").put_events(
            Entries=[
                {
                    "Source": "test.start",
                    "DetailType": "Start Flow",
                    "Detail": json.dumps(run),
                    "EventBusName": "releases",
                }
            ]
        )
        assert response["FailedEntryCount"] == 0
    client("events").put_events(
        Entries=[{"Source": "test.start", "DetailType": "Other", "Detail": "{}", "EventBusName": "releases"}]
    )

    # Then each matching event started one execution, with a name of its own and the detail as input
    executions = sfn.list_executions(stateMachineArn=flow)["executions"]
    inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]
    assert sorted(inputs, key=json.dumps) == sorted([detail, {"run": "second"}], key=json.dumps)
    assert len({execution["name"] for execution in executions}) == 2


def test_an_ended_execution_sends_its_status_change_to_a_lambda_target(
    cloud: LocalCloud, client: Callable[[str], Any], output_dir: Path
) -> None:
    # Given an execution of the state machine (it fails at once with Boom)
    sfn = client("stepfunctions")
    name = f"status-{uuid.uuid4().hex[:8]}"
    execution_arn = sfn.start_execution(
        stateMachineArn=outputs(cloud)["FlowArn"], name=name, input=json.dumps({"n": 1})
    )["executionArn"]

    # When it ends, Then the recorder gets the status change event as AWS shapes it
    (event,) = wait_for(
        lambda: recorded(output_dir, lambda e: e.get("detail", {}).get("name") == name) or None,
        DEADLINE_SECONDS,
        "status change event",
        POLL_SECONDS,
    )
    assert event["source"] == "aws.states"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [execution_arn]
    assert event["time"].endswith("Z")
    detail = event["detail"]
    assert (detail["executionArn"], detail["status"]) == (execution_arn, "FAILED")
    assert (detail["error"], detail["cause"]) == ("Boom", "on purpose")
    assert json.loads(detail["input"]) == {"n": 1}
    assert detail["output"] is None
    assert detail["stateMachineArn"] == outputs(cloud)["FlowArn"]
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]


def test_a_lambda_target_with_input_path_gets_the_detail(
    client: Callable[[str], Any], output_dir: Path
) -> None:
    marker = uuid.uuid4().hex

    client("events").put_events(
        Entries=[{"Source": "test.note", "DetailType": "Note", "Detail": json.dumps({"marker": marker})}]
    )

    (delivered,) = wait_for(
        lambda: recorded(output_dir, lambda e: e == {"marker": marker}) or None,
        DEADLINE_SECONDS,
        "recorded note",
        POLL_SECONDS,
    )
    assert delivered == {"marker": marker}


def test_a_disabled_rule_delivers_nothing(
    cloud: LocalCloud, client: Callable[[str], Any], output_dir: Path
) -> None:
    # Given the status rule disabled
    eventbridge = client("events")
    rule = outputs(cloud)["StatusRuleName"]
    eventbridge.disable_rule(Name=rule)
    try:
        sfn = client("stepfunctions")
        name = f"quiet-{uuid.uuid4().hex[:8]}"
        arn = sfn.start_execution(stateMachineArn=outputs(cloud)["FlowArn"], name=name)["executionArn"]
        wait_for(
            lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING" or None,
            DEADLINE_SECONDS,
            "end of execution",
            POLL_SECONDS,
        )
        # Then a note sent after the execution ended arrives, and no status change came before it
        marker = uuid.uuid4().hex
        eventbridge.put_events(
            Entries=[{"Source": "test.note", "DetailType": "Note", "Detail": json.dumps({"marker": marker})}]
        )
        wait_for(
            lambda: recorded(output_dir, lambda e: e == {"marker": marker}) or None,
            DEADLINE_SECONDS,
            "recorded note",
            POLL_SECONDS,
        )
        assert recorded(output_dir, lambda e: e.get("detail", {}).get("name") == name) == []
    finally:
        eventbridge.enable_rule(Name=rule)
