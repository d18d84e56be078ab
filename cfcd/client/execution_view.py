"""What an execution looks like right now, built from GetExecutionHistory.

The states come from the execution's own ASL definition, in its order (so there is no second
list to keep in sync). Only top-level states are shown; events of states nested in a Parallel
or Map are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from cfcd_common.formatting import split_rollback_note
from cfcd_common.primary_stack import release_warnings_in
from cfcd_common.progressive import AnalysisPoint, Progress

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

# A task whose resource ends like this waits for someone to send its token back.
CALLBACK_SUFFIX = ".waitForTaskToken"
FINAL_EXECUTION_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

_TASK_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
}
_EXECUTION_ENDS = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


class StepStatus(StrEnum):
    PENDING = "pending"  # not reached yet, the execution still runs
    RUNNING = "running"
    WAITING = "waiting"  # a .waitForTaskToken task is out: waiting for approval
    DONE = "done"
    FAILED = "failed"
    NOT_RUN = "not_run"  # the execution ended without reaching it


class StepView(BaseModel):
    name: str
    type: str
    status: StepStatus = StepStatus.PENDING
    started: datetime | None = None
    ended: datetime | None = None
    visits: int = 0  # loops (WaitForDeployed, ...) enter a state several times
    attempts: int = 0  # task attempts during the last visit (retries make it > 1)
    error: str | None = None
    cause: str | None = None


class ProgressView(BaseModel):
    """Where a progressive release is: its current (or last) step and that step's latest analysis."""

    step: int  # 1-based
    steps: int
    weight: float
    state: Literal["deploying", "baking", "passed"]
    passed: int  # steps passed so far
    bake_ends: datetime | None = None
    bake_seconds_left: int | None = None  # while it bakes
    latest: AnalysisPoint | None = None  # error rates are fractions (0.01 = 1 %)


class ExecutionView(BaseModel):
    execution_arn: str
    name: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    started: datetime
    stopped: datetime | None = None
    error: str | None = None
    cause: str | None = None
    rollback: str | None = None  # how a failed release's rollback ended, and when
    warnings: list[str] = []  # cfcd_common.primary_stack: what a stack update would undo
    steps: list[StepView]
    progress: ProgressView | None = None  # a progressive release (traffic.steps) that has begun its steps
    console_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_EXECUTION_STATUSES


def ordered_states(definition: Mapping[str, Any]) -> list[str]:
    """Top-level state names in the order the definition lists them.

    The ASL is written for the console graph, top to bottom (happy path, then compensation), so
    its own order is the most readable one; no second list is kept anywhere.
    """
    return list(definition.get("States", {}))


def execution_history(sfn: SFNClient, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of an execution, oldest first (GetExecutionHistory, all pages)."""
    return GrowingHistory(sfn, execution_arn).read()


class GrowingHistory:
    """An execution's history, read again while it grows: each :meth:`read` fetches only the events
    added since the last one, newest first until an event already held. Following a long release
    so costs one GetExecutionHistory per poll, not one per 1,000 events of its history. Event ids
    are "numbered sequentially, starting at one"
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html), so the
    newest id held tells what is new.
    """

    def __init__(self, sfn: SFNClient, execution_arn: str) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self.events: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """The events added since the last read, oldest first; :attr:`events` holds them all."""
        held = int(self.events[-1]["id"]) if self.events else 0
        # A poll finds a few new events: AWS's default page holds them, the largest the history.
        page_size = 100 if held else 1000
        pages = self._sfn.get_paginator("get_execution_history").paginate(
            executionArn=self._arn, reverseOrder=True, PaginationConfig={"PageSize": page_size}
        )
        added: list[dict[str, Any]] = []
        for page in pages:
            newer = [dict(event) for event in page["events"] if int(event["id"]) > held]
            added += newer
            if len(newer) < len(page["events"]):
                break
        added.reverse()
        self.events += added
        return added


def readable_cause(cause: str | None) -> str | None:
    """A Lambda error cause is JSON; its errorMessage is what a human wants to read."""
    cause, _ = split_rollback_note(cause)  # shown on a line of its own (ExecutionView.rollback)
    if not cause:
        return cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    if isinstance(message, str):
        return message
    return cause


# The state that writes the progress of a progressive release writes it here (SetStepWeight,
# AnalyseStep); its exit event's output carries it.
PROGRESS_PATH = "$.progress"


def latest_progress(definition: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> Progress | None:
    """The progress of a release as the last state that wrote ``$.progress`` left it."""
    writers = {
        name
        for name, state in definition.get("States", {}).items()
        if state.get("ResultPath") == PROGRESS_PATH
    }
    latest: str | None = None
    for event in events:
        exited = event.get("stateExitedEventDetails", {})
        if exited.get("name") in writers and exited.get("output"):
            latest = exited["output"]
    return None if latest is None else Progress.model_validate(json.loads(latest)["progress"])


def entered_states(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The name of every state an execution entered, in order (a loop's state once per visit)."""
    return [
        str(event["stateEnteredEventDetails"]["name"])
        for event in events
        if str(event.get("type", "")).endswith("StateEntered")
    ]


def progress_view(
    definition: Mapping[str, Any], events: Iterable[Mapping[str, Any]], running: bool, now: datetime
) -> ProgressView | None:
    """The latest progress a state wrote to ``$.progress``, as the step it is at."""
    progress = latest_progress(definition, events)
    if progress is None or not progress.steps:
        return None
    step = progress.steps[-1]
    bake_ends = (
        datetime.fromtimestamp(step.bakeStartedAt, UTC) + timedelta(seconds=step.bakeSeconds)
        if step.bakeStartedAt is not None
        else None
    )
    state: Literal["deploying", "baking", "passed"] = (
        "passed" if step.passedAt is not None else "baking" if bake_ends is not None else "deploying"
    )
    left = (
        max(0, int((bake_ends - now).total_seconds()))
        if bake_ends and state == "baking" and running
        else None
    )
    return ProgressView(
        step=step.number,
        steps=progress.stepCount,
        weight=step.weight,
        state=state,
        passed=sum(report.passedAt is not None for report in progress.steps),
        bake_ends=bake_ends,
        bake_seconds_left=left,
        latest=step.latest,
    )


def build_view(
    definition: Mapping[str, Any],
    execution: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    console_url: str | None = None,
    now: datetime | None = None,
) -> ExecutionView:
    """Fold the history events into one :class:`StepView` per top-level state.

    ``execution`` is a DescribeExecution response, ``events`` GetExecutionHistory's events in
    order (oldest first); ``now`` (default: the clock) says how much of a bake is left.
    """
    events = list(events)
    states: Mapping[str, Any] = definition.get("States", {})
    steps = {
        name: StepView(name=name, type=str(states[name].get("Type", "")))
        for name in ordered_states(definition)
    }
    open_step: StepView | None = None  # the top-level state entered and not yet exited
    last_output: str | None = None  # the state document as the latest top-level state left it
    innermost_is_top_level = True

    for event in events:
        kind = str(event.get("type", ""))
        when: datetime | None = event.get("timestamp")
        if kind.endswith("StateEntered"):
            name = event.get("stateEnteredEventDetails", {}).get("name")
            innermost_is_top_level = name in steps
            if name in steps:
                open_step = steps[name]
                open_step.visits += 1
                open_step.status, open_step.started, open_step.ended = StepStatus.RUNNING, when, None
                open_step.attempts, open_step.error, open_step.cause = 0, None, None
                if kind == "FailStateEntered":
                    state = states[name]
                    open_step.status, open_step.error = StepStatus.FAILED, state.get("Error")
                    open_step.cause = state.get("Cause")
        elif kind.endswith("StateExited"):
            name = event.get("stateExitedEventDetails", {}).get("name")
            if name in steps:
                last_output = event.get("stateExitedEventDetails", {}).get("output", last_output)
            if name in steps and steps[name] is open_step:
                open_step.ended = when
                # A failure that a Catch handled still shows as failed: that is where it went wrong.
                if open_step.status is not StepStatus.FAILED:
                    open_step.status = StepStatus.DONE
                open_step = None
            innermost_is_top_level = True
        elif open_step is not None and innermost_is_top_level:
            _apply_task_event(open_step, kind, event)
        if kind in _EXECUTION_ENDS and open_step is not None:
            details = event.get(_EXECUTION_ENDS[kind], {})
            open_step.status = StepStatus.FAILED
            open_step.error = details.get("error") or open_step.error or kind.removeprefix("Execution")
            open_step.cause = readable_cause(details.get("cause")) or open_step.cause
            open_step.ended = when
        elif kind == "ExecutionSucceeded" and open_step is not None:
            open_step.status, open_step.ended = StepStatus.DONE, when  # Succeed states may not log an exit

    status = str(execution.get("status", "RUNNING"))
    if status in FINAL_EXECUTION_STATUSES:
        for step in steps.values():
            if step.status is StepStatus.PENDING:
                step.status = StepStatus.NOT_RUN
    return ExecutionView(
        execution_arn=str(execution["executionArn"]),
        name=str(execution.get("name", "")),
        status=status,
        started=execution["startDate"],
        stopped=execution.get("stopDate"),
        error=execution.get("error"),
        cause=readable_cause(execution.get("cause")),
        rollback=split_rollback_note(execution.get("cause"))[1],
        warnings=release_warnings_in(last_output),
        steps=list(steps.values()),
        console_url=console_url,
        progress=progress_view(
            definition, events, status not in FINAL_EXECUTION_STATUSES, now or datetime.now(UTC)
        ),
    )


def _apply_task_event(step: StepView, kind: str, event: Mapping[str, Any]) -> None:
    if kind in ("TaskScheduled", "LambdaFunctionScheduled"):
        resource = str(event.get("taskScheduledEventDetails", {}).get("resource", ""))
        step.attempts += 1
        step.status = StepStatus.WAITING if resource.endswith(CALLBACK_SUFFIX) else StepStatus.RUNNING
    elif kind in ("TaskSucceeded", "LambdaFunctionSucceeded"):
        step.status = StepStatus.RUNNING  # until the state exits
        step.error = step.cause = None
    elif kind in _TASK_FAILURES:
        details = event.get(_TASK_FAILURES[kind], {})
        step.status = StepStatus.FAILED
        step.error = details.get("error") or kind
        step.cause = readable_cause(details.get("cause"))


def waiting_steps(view: ExecutionView) -> Sequence[StepView]:
    return [step for step in view.steps if step.status is StepStatus.WAITING]
