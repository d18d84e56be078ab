"""Past releases of the state machine, newest first, read from Step Functions; rollbacks (restore
mode) say which release they restored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import ExecutionListItemTypeDef


class Release(BaseModel):
    name: str
    execution_arn: str
    status: str
    distribution_id: str | None
    started: datetime
    stopped: datetime | None
    duration_seconds: float | None
    error: str | None
    cause: str | None
    rollback: bool = False  # a restore-mode release
    # What a rollback restored: ValidateInput's resolution (in a succeeded one's output), else the
    # release the input named; None: the release before the last promotion, unresolved.
    restored: str | None = None


def _document(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(document: dict[str, Any], *path: str) -> str | None:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _executions(sfn: SFNClient, state_machine_arn: str) -> Iterator[ExecutionListItemTypeDef]:
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 100}
    while True:
        page = sfn.list_executions(**kwargs)
        # Newest first, whatever order the service pages in.
        yield from sorted(page["executions"], key=lambda e: e["startDate"], reverse=True)
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def list_releases(
    sfn: SFNClient, state_machine_arn: str, *, distribution_id: str | None, limit: int
) -> list[Release]:
    """Up to ``limit`` releases, newest first, optionally of one primary distribution."""
    releases: list[Release] = []
    for summary in _executions(sfn, state_machine_arn):
        if len(releases) >= limit:
            break
        described = sfn.describe_execution(executionArn=summary["executionArn"])
        given, output = _document(described.get("input")), _document(described.get("output"))
        distribution = _text(given, "primaryDistributionId")
        if distribution_id is not None and distribution != distribution_id:
            continue
        started, stopped = described["startDate"], described.get("stopDate")
        releases.append(
            Release(
                name=described.get("name", summary["name"]),
                execution_arn=described["executionArn"],
                status=described["status"],
                distribution_id=distribution,
                started=started,
                stopped=stopped,
                duration_seconds=(stopped - started).total_seconds() if stopped else None,
                error=described.get("error"),
                cause=described.get("cause"),
                rollback=_text(given, "staging", "mode") == "restore",
                restored=_text(output, "restoring", "label") or _text(given, "staging", "release"),
            )
        )
    return releases
