"""Follow an execution as it happens: one line per state it enters, read from its history.

Choice and Wait states are left out (they only route and pause); loops show which visit it is
(``CheckDeployed (check 3)``); task errors and the wait for a task token are called out.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cfcd.client.execution_view import CALLBACK_SUFFIX, GrowingHistory, readable_cause
from cfcd.demo.report import POLL_SECONDS, QUIET_SECONDS, Report

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

SILENT_STATE_TYPES = ("Choice", "Wait")
_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
}


def what_it_saw(output: str | None) -> str | None:
    """The facts a task returns that show progress: a probe's summary, distribution statuses
    (CheckDeployed), an invalidation's status, the staging distribution and policy it set up."""
    try:
        parsed = json.loads(output or "")
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("Payload"), dict):
        parsed = parsed["Payload"]
    if not isinstance(parsed, dict):
        return None
    if isinstance(parsed.get("summary"), str):
        return str(parsed["summary"])
    if isinstance(parsed.get("statuses"), dict):
        return ", ".join(f"{name} {status}" for name, status in parsed["statuses"].items())
    if isinstance(parsed.get("status"), str):
        return str(parsed["status"])
    if isinstance(parsed.get("stagingDistributionId"), str) and isinstance(parsed.get("policyId"), str):
        return f"staging {parsed['stagingDistributionId']}, policy {parsed['policyId']} enabled"
    return None


class ExecutionFollower:
    def __init__(self, sfn: SFNClient, execution_arn: str, report: Report) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self._report = report
        self._history = GrowingHistory(sfn, execution_arn)
        self._visits: Counter[str] = Counter()
        self.current_state = ""

    def poll(self) -> dict[str, Any]:
        """Print what happened since the last poll; return DescribeExecution."""
        description = dict(self._sfn.describe_execution(executionArn=self._arn))
        for event in self._history.read():
            self._show(event)
        return description

    def _show(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            name = str(event["stateEnteredEventDetails"]["name"])
            self.current_state = name
            if kind.removesuffix("StateEntered") in SILENT_STATE_TYPES:
                return
            self._visits[name] += 1
            visit = self._visits[name]
            self._report.progress(name + (f" (check {visit})" if visit > 1 else ""))
        elif kind == "TaskScheduled":
            resource = str(event.get("taskScheduledEventDetails", {}).get("resource", ""))
            if resource.endswith(CALLBACK_SUFFIX):
                self._report.progress(f"{self.current_state}: waiting for a decision (task token handed out)")
        elif kind == "TaskSucceeded":
            seen = what_it_saw(event.get("taskSucceededEventDetails", {}).get("output"))
            if seen:
                self._report.progress(f"{self.current_state}: {seen}")
        elif kind in _FAILURES:
            details = event.get(_FAILURES[kind], {})
            cause = (readable_cause(details.get("cause")) or "")[:300]
            self._report.progress(
                f"{self.current_state} failed: {details.get('error')}" + (f": {cause}" if cause else "")
            )
        elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            self._report.progress(f"execution {kind.removeprefix('Execution').upper()}")

    def until(
        self, reached: Callable[[dict[str, Any]], bool], *, what: str, timeout: float
    ) -> dict[str, Any]:
        """Poll (printing progress) until ``reached(description)``; ✗ if the execution ends first."""
        started = time.monotonic()
        last_said = started
        while True:
            seen_before = len(self._history.events)
            description = self.poll()
            if reached(description):
                return description
            if description["status"] != "RUNNING":
                self._report.fail(
                    what,
                    f"the execution ended first: {description['status']} {description.get('error', '')}: "
                    f"{(readable_cause(description.get('cause')) or '')[:500]}",
                )
            now = time.monotonic()
            if now - started > timeout:
                self._report.fail(f"{what} within {timeout:.0f} s", f"still in {self.current_state}")
            if len(self._history.events) != seen_before:
                last_said = now
            elif now - last_said >= QUIET_SECONDS:
                self._report.progress(f"still in {self.current_state} ({now - started:.0f} s)")
                last_said = now
            time.sleep(POLL_SECONDS)

    def until_finished(self, timeout: float) -> dict[str, Any]:
        return self.until(
            lambda d: d["status"] != "RUNNING", what="the end of the execution", timeout=timeout
        )
