"""Past releases of the state machine, newest first, read from Step Functions."""

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


def _distribution_of(raw_input: str | None) -> str | None:
    try:
        data = json.loads(raw_input or "")
    except ValueError:
        return None
    value = data.get("primaryDistributionId") if isinstance(data, dict) else None
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
        distribution = _distribution_of(described.get("input"))
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
            )
        )
    return releases
