"""Rendering of executions from recorded histories (moto 5.2.5, execute_state_machine on).

The fixtures are real GetExecutionHistory answers of a cfcd-shaped test workflow: one stopped
in a Wait (running), one at its callback task (waiting for approval), one rejected (the
callback failed, a Catch ran the compensation, then a Fail state).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cfcd.cli.render import render
from cfcd.cli.watch import watch
from cfcd.client.execution_view import ExecutionView, StepStatus, build_view
from cfcd_common.formatting import ROLLBACK_NOTE, format_duration
from tests.unit.cli.conftest import FIXTURES

pytestmark = pytest.mark.unit


def load_history(name: str) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((FIXTURES / f"history_{name}.json").read_text())
    for event in recorded["events"]:
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    for key in ("startDate", "stopDate"):
        if key in recorded["execution"]:
            recorded["execution"][key] = datetime.fromisoformat(recorded["execution"][key])
    return recorded


def view_of(name: str) -> ExecutionView:
    recorded = load_history(name)
    return build_view(recorded["definition"], recorded["execution"], recorded["events"])


def statuses(view: ExecutionView) -> dict[str, StepStatus]:
    return {step.name: step.status for step in view.steps}


def test_every_state_of_the_real_workflow_shows_once_in_its_order() -> None:
    # Given the workflow's ASL and an execution that has just started
    definition = json.loads((Path(__file__).parents[3] / "statemachine" / "deployment.asl.json").read_text())
    started = {
        "executionArn": "arn:aws:states:us-east-1:1:execution:cfcd:r1",
        "name": "r1",
        "status": "RUNNING",
        "startDate": T0,
    }

    # When it is rendered
    lines = render(build_view(definition, started, []), now=T0, colour=False).splitlines()

    # Then there is one pending line per state, in the definition's order
    shown = [line.split()[1] for line in lines if line.startswith("  · ")]
    assert shown == list(definition["States"])


def test_a_running_wait_state_shows_running_and_the_rest_pending() -> None:
    view = view_of("running")

    assert statuses(view) == {
        "ValidateInput": StepStatus.DONE,
        "AcquireLock": StepStatus.DONE,
        "WaitForDeployed": StepStatus.RUNNING,
        "RequestApproval": StepStatus.PENDING,
        "Promote": StepStatus.PENDING,
        "ReleaseLock": StepStatus.PENDING,
        "DisableContinuousDeployment": StepStatus.PENDING,
        "Rejected": StepStatus.PENDING,
    }
    text = render(view, colour=False)
    assert "✓ ValidateInput" in text
    assert "… WaitForDeployed" in text


def test_an_outstanding_callback_task_shows_waiting_for_approval() -> None:
    view = view_of("waiting")

    assert statuses(view)["RequestApproval"] is StepStatus.WAITING
    assert statuses(view)["WaitForDeployed"] is StepStatus.DONE
    line = next(line for line in render(view, colour=False).splitlines() if "RequestApproval" in line)
    assert "⏸" in line
    assert "waiting for approval" in line


def test_a_rejected_release_shows_where_it_failed_and_why() -> None:
    view = view_of("rejected")

    assert view.status == "FAILED"
    assert statuses(view) == {
        "ValidateInput": StepStatus.DONE,
        "AcquireLock": StepStatus.DONE,
        "WaitForDeployed": StepStatus.DONE,
        "RequestApproval": StepStatus.FAILED,  # caught, but that is where it went wrong
        "Promote": StepStatus.NOT_RUN,
        "ReleaseLock": StepStatus.NOT_RUN,
        "DisableContinuousDeployment": StepStatus.DONE,
        "Rejected": StepStatus.FAILED,
    }
    text = render(view, colour=False)
    assert "✗ RequestApproval" in text
    assert "DeploymentRejected: Rejected by alice: broken layout" in text


def test_elapsed_times_come_from_the_events() -> None:
    view = view_of("waiting")
    waiting = next(step for step in view.steps if step.name == "RequestApproval")
    assert waiting.started is not None
    now = waiting.started + timedelta(minutes=3, seconds=5)

    line = next(
        line for line in render(view, now=now, colour=False).splitlines() if "RequestApproval" in line
    )

    assert "3m 05s" in line


DEFINITION = {
    "StartAt": "ProbeStaging",
    "States": {
        "ProbeStaging": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True},
    },
}
T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def event(seconds: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"timestamp": T0 + timedelta(seconds=seconds), "type": kind, **details}


def execution(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "executionArn": "arn:aws:states:us-east-1:1:execution:cfcd:r1",
        "name": "r1",
        "status": status,
        "startDate": T0,
        **extra,
    }


def test_a_retried_task_shows_the_attempt_and_the_last_error() -> None:
    # Given a Lambda task that failed once with a throttling error and was scheduled again
    events = [
        event(0, "ExecutionStarted"),
        event(0, "TaskStateEntered", stateEnteredEventDetails={"name": "ProbeStaging"}),
        event(1, "TaskScheduled", taskScheduledEventDetails={"resource": "invoke", "resourceType": "lambda"}),
        event(2, "TaskFailed", taskFailedEventDetails={"error": "Lambda.TooManyRequestsException"}),
        event(4, "TaskScheduled", taskScheduledEventDetails={"resource": "invoke", "resourceType": "lambda"}),
    ]

    view = build_view(DEFINITION, execution("RUNNING"), events)

    step = view.steps[0]
    assert step.status is StepStatus.RUNNING
    assert step.attempts == 2
    assert "attempt 2 after Lambda.TooManyRequestsException" in render(view, now=T0, colour=False)


def test_an_uncaught_lambda_error_shows_its_error_message_not_the_json() -> None:
    cause = json.dumps(
        {
            "errorMessage": "staging returned 500 for /index.html",
            "errorType": "ProbeFailed",
            "stackTrace": ["..."],
        }
    )
    events = [
        event(0, "ExecutionStarted"),
        event(0, "TaskStateEntered", stateEnteredEventDetails={"name": "ProbeStaging"}),
        event(1, "TaskScheduled", taskScheduledEventDetails={"resource": "invoke", "resourceType": "lambda"}),
        event(9, "TaskFailed", taskFailedEventDetails={"error": "ProbeFailed", "cause": cause}),
        event(9, "ExecutionFailed", executionFailedEventDetails={"error": "ProbeFailed", "cause": cause}),
    ]

    view = build_view(
        DEFINITION,
        execution("FAILED", stopDate=T0 + timedelta(seconds=9), error="ProbeFailed", cause=cause),
        events,
    )

    assert view.steps[0].status is StepStatus.FAILED
    text = render(view, colour=False)
    assert "✗ ProbeStaging" in text
    assert "ProbeFailed: staging returned 500 for /index.html" in text
    assert "stackTrace" not in text


def test_a_rolled_back_release_says_when_the_rollback_was_complete() -> None:
    # Given a release failed by the probe, whose cause carries the state machine's rollback note
    note = "complete at 2026-11-26T06:00:12.000Z, the primary Deployed with the policy disabled"
    cause = (
        json.dumps({"errorMessage": "staging returned 500", "errorType": "ProbeFailed"})
        + ROLLBACK_NOTE
        + note
    )
    view = build_view(
        DEFINITION,
        execution("FAILED", stopDate=T0 + timedelta(seconds=12), error="ProbeFailed", cause=cause),
        [event(0, "ExecutionStarted")],
    )

    # Then the error line shows the release's cause and a line of its own the rollback
    text = render(view, colour=False)
    assert "FAILED: ProbeFailed: staging returned 500\n" in text
    assert f"  rollback: {note}" in text


def test_an_aborted_execution_marks_the_open_state_failed() -> None:
    events = [
        event(0, "ExecutionStarted"),
        event(0, "TaskStateEntered", stateEnteredEventDetails={"name": "ProbeStaging"}),
        event(5, "ExecutionAborted"),
    ]

    view = build_view(DEFINITION, execution("ABORTED", stopDate=T0 + timedelta(seconds=5)), events)

    assert view.steps[0].status is StepStatus.FAILED
    assert view.steps[0].error == "Aborted"


@pytest.mark.parametrize(
    ("seconds", "text"), [(-1, "0.0s"), (0.42, "0.4s"), (12, "12s"), (185, "3m 05s"), (7260, "2h 01m")]
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def frames(*names: str) -> Any:
    """A source that returns the recorded views in turn, the last one from then on."""
    views = [view_of(name) for name in names]

    def source() -> ExecutionView:
        return views.pop(0) if len(views) > 1 else views[0]

    return source


def test_live_view_redraws_in_place_until_the_end() -> None:
    # Given an execution seen running, then waiting, then rejected
    out = io.StringIO()

    # When it is followed live (a terminal)
    final = watch(
        frames("running", "waiting", "rejected"),
        follow=True,
        live=True,
        interval=0.01,
        timeout=5,
        out=out,
        colour=False,
    )

    # Then each frame after the first moves back over the previous one and clears it
    assert final.status == "FAILED"
    text = out.getvalue()
    first_frame_lines = len(render(view_of("running"), colour=False).splitlines())
    assert text.count("\x1b[J") == 2
    assert f"\x1b[{first_frame_lines}F\x1b[J" in text


def test_logged_view_prints_a_block_only_when_a_state_changes() -> None:
    out = io.StringIO()

    watch(
        frames("waiting", "waiting", "waiting", "rejected"),
        follow=True,
        live=False,
        interval=0.01,
        timeout=5,
        out=out,
        colour=False,
    )

    text = out.getvalue()
    assert "\x1b[" not in text
    assert text.count("⏸ RequestApproval") == 1
    assert text.count("✗ RequestApproval") == 1
