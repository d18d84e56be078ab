"""Reading an execution history: where the time went, what was waited for, what was billed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

WAIT_STATE_ENTERED = "WaitStateEntered"


@dataclass
class StateVisit:
    name: str
    kind: str  # Task, Choice, Wait, Pass, ...
    entered: datetime
    exited: datetime | None = None
    # Task states: the function's run (scheduled -> result) and, for .waitForTaskToken, the wait
    lambda_started: datetime | None = None
    lambda_ended: datetime | None = None
    token_wait_started: datetime | None = None

    @property
    def seconds(self) -> float:
        return (self.exited - self.entered).total_seconds() if self.exited else 0.0

    @property
    def lambda_seconds(self) -> float | None:
        if self.lambda_started and self.lambda_ended:
            return (self.lambda_ended - self.lambda_started).total_seconds()
        return None

    @property
    def token_wait_seconds(self) -> float:
        """Time a .waitForTaskToken task spent waiting for its answer (the human's part)."""
        if self.token_wait_started and self.exited:
            return (self.exited - self.token_wait_started).total_seconds()
        return 0.0


@dataclass
class HistoryAnalysis:
    visits: list[StateVisit]
    lambda_invocations: int
    retries: int
    events: int
    started: datetime
    ended: datetime
    first_entry: dict[str, datetime] = field(default_factory=dict)

    @property
    def transitions(self) -> int:
        """State transitions as Step Functions Standard bills them: one per state entered."""
        return len(self.visits)

    @property
    def polls(self) -> int:
        """Poll iterations: each Wait state entered (a wait, a check, a choice)."""
        return sum(1 for visit in self.visits if visit.kind == "Wait")

    @property
    def wait_seconds(self) -> float:
        return sum(visit.seconds for visit in self.visits if visit.kind == "Wait")

    @property
    def approval_wait_seconds(self) -> float:
        return sum(visit.token_wait_seconds for visit in self.visits)

    @property
    def lambda_seconds(self) -> list[float]:
        return [s for visit in self.visits if (s := visit.lambda_seconds) is not None]

    def seconds_by_state(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for visit in self.visits:
            totals[visit.name] += visit.seconds - visit.token_wait_seconds
        return dict(totals)

    def entries(self, name: str) -> list[StateVisit]:
        return [visit for visit in self.visits if visit.name == name]


def analyse(events: list[dict[str, Any]]) -> HistoryAnalysis:
    visits: list[StateVisit] = []
    current: StateVisit | None = None
    invocations = retries = 0
    for event in events:
        kind: str = event["type"]
        at: datetime = event["timestamp"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            current = StateVisit(name=name, kind=kind.removesuffix("StateEntered"), entered=at)
            visits.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current.exited = at
        elif kind == "TaskScheduled" and current is not None:
            invocations += 1
            if current.lambda_started is not None:
                retries += 1
            current.lambda_started = at
        elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") and current is not None:
            if current.lambda_ended is None:
                current.lambda_ended = at
        elif kind == "TaskSubmitted" and current is not None:
            current.lambda_ended = at
            current.token_wait_started = at
    first_entry: dict[str, datetime] = {}
    for visit in visits:
        first_entry.setdefault(visit.name, visit.entered)
    return HistoryAnalysis(
        visits=visits,
        lambda_invocations=invocations,
        retries=retries,
        events=len(events),
        started=events[0]["timestamp"],
        ended=events[-1]["timestamp"],
        first_entry=first_entry,
    )
