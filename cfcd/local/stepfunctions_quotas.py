"""Step Functions' quotas on the local cloud: the history limit, and errors no ``States.ALL`` catches.

moto's interpreter keeps an execution's history without bound, and its ``States.ALL`` matches
every error. AWS Step Functions (Standard workflows) does neither:

- An execution's history holds at most 25,000 events, a hard quota
  (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); reaching it fails the
  execution. Catchers exist on Task, Parallel and Map states "but not for top-level state machine
  execution failures" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html),
  so no Retry or Catch runs: the execution is over. The docs do not give the failure's shape
  (known assumption, from what users report): event number 25,000 is ``ExecutionFailed`` with
  error ``States.Runtime`` and cause "The execution reached the maximum number of history events
  (25000)." Here the limit is what :func:`history_limit` was when the execution started
  (``POST /cfcd-api/history-limit`` lowers it, so a test reaches it in a few hundred events).
- ``States.ALL`` can't catch the ``States.DataLimitExceeded`` terminal error or ``States.Runtime``
  (concepts-error-handling, above). moto already raises ``States.DataLimitExceeded`` when a
  task's result or a state's output passes 256 KiB; here a catcher or retrier matches it, or
  ``States.Runtime``, only by naming it (docs silent on naming them; users report a catcher that
  names States.DataLimitExceeded does catch a task's oversized result).

:mod:`cfcd.local.moto_patches` plugs these functions into moto.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Final

from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)

from cfcd.local.faults import STEP_FUNCTIONS_HISTORY_LIMIT

HISTORY_LIMIT_ERROR = "States.Runtime"
EXECUTION_ENDINGS = frozenset(
    {
        HistoryEventType.ExecutionSucceeded,
        HistoryEventType.ExecutionFailed,
        HistoryEventType.ExecutionAborted,
        HistoryEventType.ExecutionTimedOut,
    }
)
# What States.ALL does not match (a catcher or retrier naming them still does).
NOT_MATCHED_BY_STATES_ALL = frozenset(
    {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}
)

_setting_lock = threading.Lock()
_history_limit = STEP_FUNCTIONS_HISTORY_LIMIT


def history_limit() -> int:
    """The history limit of the executions that start from now on."""
    with _setting_lock:
        return _history_limit


def set_history_limit(events: int) -> None:
    global _history_limit
    with _setting_lock:
        _history_limit = events


def history_limit_cause(limit: int) -> str:
    return f"The execution reached the maximum number of history events ({limit})."


def failed_event_details(details: ExecutionFailedEventDetails) -> Any:
    """moto's ``EventDetails`` of an ``ExecutionFailed`` event (a TypedDict moto fills in part)."""
    return {"executionFailedEventDetails": details}


class HistoryLimitReached(FailureEventException):
    """The execution's history is full: it ends here, past every Retry and Catch."""

    def __init__(self, details: ExecutionFailedEventDetails) -> None:
        # FailureEvent reads the state name and source event from an environment; there is none
        # here, and neither goes into the execution's failure.
        nowhere = SimpleNamespace(
            next_state_name=None, event_history_context=SimpleNamespace(source_event_id=0)
        )
        super().__init__(
            FailureEvent(
                env=nowhere,  # type: ignore[arg-type]
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                # A Task records its failure before it looks at Retry and Catch: on a full history
                # that record raises this again, so neither is looked at.
                event_type=HistoryEventType.TaskFailed,
                event_details=failed_event_details(details),
            )
        )
        self.details: Final = details

    def get_execution_failed_event_details(self) -> ExecutionFailedEventDetails:
        # As recorded: moto would prefix a States.Runtime cause with the state that raised it.
        return self.details


class _HistoryQuota:
    """What one execution's event manager holds about its limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.recorded = 0
        self.failure: ExecutionFailedEventDetails | None = None  # set once the history is full
        self.lock = threading.Lock()


_QUOTA = "cfcd_history_quota"


def keep_history_limit(event_manager: Any) -> None:
    """After moto made an execution's event manager: the limit in force now is the execution's."""
    setattr(event_manager, _QUOTA, _HistoryQuota(history_limit()))


def add_event_within_limit(
    add_event: Callable[..., int],
    event_manager: Any,
    context: Any,
    event_type: Any,
    *args: Any,
    **kwargs: Any,
) -> int:
    """moto's ``EventManager.add_event``, unless the event would be the last the history holds.

    Then that last event is the execution's failure instead, and :class:`HistoryLimitReached`
    unwinds the interpreter up to the end of the execution: every event it tries to record on
    the way (a Task's failure, before its Retry and Catch are looked at) raises it again, and the
    execution's own ending, recorded already, is dropped.
    """
    quota: _HistoryQuota = getattr(event_manager, _QUOTA)
    with quota.lock:
        if quota.failure is None and (quota.recorded + 1 < quota.limit or event_type in EXECUTION_ENDINGS):
            quota.recorded += 1
            return add_event(event_manager, context, event_type, *args, **kwargs)
        if quota.failure is None:
            quota.failure = ExecutionFailedEventDetails(
                error=HISTORY_LIMIT_ERROR, cause=history_limit_cause(quota.limit)
            )
            add_event(
                event_manager,
                context,
                HistoryEventType.ExecutionFailed,
                failed_event_details(quota.failure),
            )
            quota.recorded += 1
        if event_type in EXECUTION_ENDINGS:
            return quota.limit
        raise HistoryLimitReached(quota.failure)


def match_error_equals(eval_body: Callable[..., None], error_equals: Any, env: Any) -> None:
    """moto's ``ErrorEqualsDecl._eval_body``, with ``States.ALL`` not matching the terminal errors."""
    error_name = env.stack[-1]
    terminal = isinstance(error_name, StatesErrorName) and error_name.typ in NOT_MATCHED_BY_STATES_ALL
    if terminal and error_name not in error_equals.error_names:
        env.stack.pop()
        env.stack.append(False)
        return
    eval_body(error_equals, env)


__all__ = [
    "HistoryLimitReached",
    "add_event_within_limit",
    "history_limit",
    "history_limit_cause",
    "keep_history_limit",
    "match_error_equals",
    "set_history_limit",
]
