"""NotifyStatus: a Step Functions status change becomes a short mail on the topic (moto SNS -> SQS)."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from cfcd_common.errors import UnexpectedError
from cfcd_common.execution_events import ExecutionStatusChange
from cfcd_common.formatting import ROLLBACK_NOTE
from functions.notify_status import app
from tests.unit.conftest import REGION, FakeLambdaContext, load_event, use_client

pytestmark = pytest.mark.unit

CONSOLE = (
    "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/"
    "arn:aws:states:eu-west-1:123456789012:execution:cfcd-deployment:release-2-0-0"
)


class Topic:
    """A topic with an SQS subscriber: what was published, read back as a subscriber sees it."""

    def __init__(self) -> None:
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.arn = self.sns.create_topic(Name="cfcd-test-topic")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName="cfcd-test-subscriber")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=self.arn, Protocol="sqs", Endpoint=queue_arn)

    def received(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


@pytest.fixture
def topic(aws: None, monkeypatch: pytest.MonkeyPatch) -> Topic:
    created = Topic()
    use_client(monkeypatch, "sns", created.sns)
    monkeypatch.setenv("TOPIC_ARN", created.arn)
    return created


def status_event(**detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("execution_status_failed.json"))
    event["detail"].update(detail)
    return event


def test_a_rejected_release_is_mailed_with_error_cause_duration_and_console_link(
    topic: Topic, lambda_context: FakeLambdaContext
) -> None:
    # Given the status change of a release the approver rejected after 3 min 12 s
    event = status_event()

    # When the function handles it
    result = app.lambda_handler(event, lambda_context)

    # Then one message reaches the subscribers, saying what ended, how, why and where to look
    (message,) = topic.received()
    assert message["MessageId"] == result["messageId"]
    assert message["Subject"] == "cfcd: release 2.0.0 FAILED (E2QWRUHAPOMQZL)"
    body = message["Message"]
    assert "Distribution  E2QWRUHAPOMQZL" in body
    assert "Status        FAILED" in body
    assert "Error         DeploymentRejected" in body
    assert "Cause         Rejected by ada@example.com: the banner is wrong" in body
    assert "Started       2026-05-04 10:00:00 UTC" in body
    assert "Duration      3m 12s" in body
    assert body.rstrip().endswith(CONSOLE)


def test_a_succeeded_release_has_no_error_lines(topic: Topic, lambda_context: FakeLambdaContext) -> None:
    event = status_event(status="SUCCEEDED", error=None, cause=None, output='{"released": true}')

    app.lambda_handler(event, lambda_context)

    (message,) = topic.received()
    assert message["Subject"] == "cfcd: release 2.0.0 SUCCEEDED (E2QWRUHAPOMQZL)"
    assert "Error" not in message["Message"] and "Cause" not in message["Message"]


def test_a_lambda_error_cause_shows_its_message_not_the_stack_trace() -> None:
    cause = json.dumps(
        {"errorType": "ProbeFailed", "errorMessage": "staging never served 'v2 App'", "stackTrace": ["..."]}
    )
    event = ExecutionStatusChange.model_validate(status_event(error="ProbeFailed", cause=cause))

    notification = app.build_notification(event)

    assert "Cause         staging never served 'v2 App'\n" in notification.message
    assert "stackTrace" not in notification.message


def test_the_mail_says_when_the_rollback_was_complete() -> None:
    # Given a probe failure rolled back, the state machine's note behind the Lambda error's cause
    cause = json.dumps({"errorType": "ProbeFailed", "errorMessage": "staging never served 'v2 App'"})
    note = (
        "complete at 2026-05-04T10:03:11.512Z, the primary Deployed with the continuous deployment "
        "policy disabled: no viewer reaches staging"
    )
    event = ExecutionStatusChange.model_validate(
        status_event(error="ProbeFailed", cause=f"{cause}{ROLLBACK_NOTE}{note}")
    )

    notification = app.build_notification(event)

    # Then the cause is the release's, and a row of its own says how and when the rollback ended
    assert "Cause         staging never served 'v2 App'\n" in notification.message
    assert f"Rollback      {note}\n" in notification.message


def test_an_input_the_workflow_refused_still_gets_a_mail_named_after_the_execution() -> None:
    # Given a release whose input is not even JSON of the contract's shape
    event = ExecutionStatusChange.model_validate(
        status_event(
            input='["not", "an", "object"]', error="InvalidInput", cause="primaryDistributionId: ..."
        )
    )

    notification = app.build_notification(event)

    assert notification.subject == "cfcd: release release-2-0-0 FAILED"
    assert "Distribution  (not in the input)" in notification.message


@pytest.mark.parametrize(
    ("staging", "label"),
    [
        ({"mode": "restore", "release": "2.0.0"}, "rollback to 2.0.0"),
        ({"mode": "restore"}, "rollback to the previous release"),
    ],
)
def test_a_rollback_is_named_after_what_it_restores(staging: dict[str, str], label: str) -> None:
    given = {"primaryDistributionId": "E2QWRUHAPOMQZL", "staging": staging}
    event = ExecutionStatusChange.model_validate(status_event(input=json.dumps(given)))
    assert app.build_notification(event).subject == f"cfcd: release {label} FAILED (E2QWRUHAPOMQZL)"


def test_the_subject_stays_within_what_sns_accepts() -> None:
    # SNS refuses subjects of 100 characters or more, or with non-ASCII characters.
    event = ExecutionStatusChange.model_validate(
        status_event(input=json.dumps({"primaryDistributionId": "E2QWRUHAPOMQZL", "release": "é" * 128}))
    )

    subject = app.build_notification(event).subject

    assert len(subject) < 100
    assert subject.isascii()
    assert subject.endswith("... FAILED (E2QWRUHAPOMQZL)")


def test_an_event_of_another_shape_is_refused(topic: Topic, lambda_context: FakeLambdaContext) -> None:
    event = status_event()
    del event["detail"]["executionArn"]

    with pytest.raises(UnexpectedError, match="executionArn"):
        app.lambda_handler(event, lambda_context)
    assert topic.received() == []
