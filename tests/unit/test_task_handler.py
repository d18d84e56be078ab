"""cfcd_common.task and cfcd_common.settings: what every handler gets around its work."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from cfcd_common import task
from cfcd_common.errors import InvalidInput, TransientAwsError, UnexpectedError
from cfcd_common.settings import EdgeSettings, TableSettings
from tests.unit.approval_support import TASK_TOKEN, captured_logs
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, load_event

pytestmark = pytest.mark.unit


def logged(raw: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def say_done(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task.logger.info("done")
    return {"ok": True}


def test_a_task_logs_with_its_execution_as_correlation_id() -> None:
    # Given a task handler, When it runs for an execution, Then its lines name that execution
    handler = task.task_handler()(say_done)

    with captured_logs(task.logger) as logs:
        handler({"executionArn": EXECUTION_ARN}, FakeLambdaContext())

    [line] = [line for line in logged(logs.getvalue()) if line["message"] == "done"]
    assert line["correlation_id"] == EXECUTION_ARN


def test_an_execution_status_change_correlates_by_its_detail() -> None:
    # Given an EventBridge target (CleanupRelease, NotifyStatus), the execution is in the detail
    handler = task.task_handler(task.STATUS_CHANGE_EXECUTION_ARN)(say_done)
    event = load_event("execution_status_failed.json")

    with captured_logs(task.logger) as logs:
        handler(event, FakeLambdaContext())

    [line] = [line for line in logged(logs.getvalue()) if line["message"] == "done"]
    assert line["correlation_id"] == event["detail"]["executionArn"]


@pytest.mark.parametrize(("carries_secrets", "event_logged"), [(False, True), (True, False)])
def test_an_event_with_secrets_is_never_logged_even_when_events_are(
    carries_secrets: bool, event_logged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function configured to log every event (read when the handler is decorated)
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    handler = task.task_handler(carries_secrets=carries_secrets)(say_done)

    # When it handles an event with a task token
    with captured_logs(task.logger) as logs:
        handler({"executionArn": EXECUTION_ARN, "taskToken": TASK_TOKEN}, FakeLambdaContext())

    # Then the token is in the logs only when the handler does not carry secrets
    assert (TASK_TOKEN in logs.getvalue()) is event_logged


def client_error(code: str, status: int) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetDistribution")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raised", "named"),
    [
        (client_error("Throttling", 400), TransientAwsError),
        (EndpointConnectionError(endpoint_url="https://cloudfront.amazonaws.com"), TransientAwsError),
        (client_error("AccessDenied", 403), UnexpectedError),
        (KeyError("Distribution"), UnexpectedError),
        (InvalidInput("primaryDistributionId: no distribution E1"), InvalidInput),
    ],
    ids=["throttled", "no-connection", "access-denied", "a-bug", "already-named"],
)
def test_a_task_fails_only_with_a_name_the_state_machine_knows(raised: Exception, named: type) -> None:
    def fail(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise raised

    # When a task raises, Then the state machine sees one of its error names
    with pytest.raises(named):
        task.task_handler()(fail)({"executionArn": EXECUTION_ARN}, FakeLambdaContext())


def test_settings_name_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)

    with pytest.raises(UnexpectedError, match="the function's environment: TABLE_NAME: Field required"):
        TableSettings.from_environment()


def test_settings_are_read_when_asked_and_a_blank_optional_one_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CFCD_EDGE_ENDPOINT", "http://127.0.0.1:43123")
    assert EdgeSettings.from_environment().edge_endpoint == "http://127.0.0.1:43123"

    # An optional template parameter left empty arrives as ""
    monkeypatch.setenv("CFCD_EDGE_ENDPOINT", "")
    assert EdgeSettings.from_environment().edge_endpoint is None
