"""`cfcd history`: past releases of the state machine, newest first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from cfcd.cli.target import target_from_kwargs, target_options
from cfcd_common.formatting import format_duration

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


def render_table(releases: list[Release], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    header = ("NAME", "STATUS", "DISTRIBUTION", "STARTED (UTC)", "DURATION", "ERROR")
    rows = [
        (
            release.name,
            release.status,
            release.distribution_id or "-",
            release.started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            format_duration(
                release.duration_seconds
                if release.duration_seconds is not None
                else (now - release.started).total_seconds()
            )
            + ("" if release.stopped else " …"),
            release.error or "",
        )
        for release in releases
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


@click.command("history")
@click.option(
    "--distribution", "distribution_id", metavar="ID", help="Only releases of this primary distribution."
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many releases.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@target_options
def history_command(distribution_id: str | None, limit: int, as_json: bool, **target_kwargs: Any) -> None:
    """List past releases, newest first: name, status, start, duration and error."""
    target = target_from_kwargs(target_kwargs)
    state_machine = target.require_state_machine()
    try:
        releases = list_releases(
            target.for_arn(state_machine).sfn(), state_machine, distribution_id=distribution_id, limit=limit
        )
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"cannot list releases of {state_machine}: {error}") from error
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in releases], indent=2))
    elif releases:
        click.echo(render_table(releases))
    else:
        click.echo("No releases yet." if distribution_id is None else f"No releases of {distribution_id}.")


def register(group: click.Group) -> None:
    group.add_command(history_command)
