"""`cfcd history`: past releases of the state machine, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from cfcd.cli.options import target_from_kwargs, target_options
from cfcd_common.formatting import format_duration

if TYPE_CHECKING:
    from cfcd.client.history import Release


def render_table(releases: list[Release], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    header = ("NAME", "STATUS", "DISTRIBUTION", "STARTED (UTC)", "DURATION", "KIND", "ERROR")
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
            f"rollback to {release.restored or 'the previous release'}" if release.rollback else "release",
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
    """List past releases, newest first: name, status, start, duration, kind (a rollback names the
    release it restored) and error."""
    # Imported here, not at start-up: boto3 and pydantic (`cfcd history --help` stays fast).
    from botocore.exceptions import BotoCoreError, ClientError

    from cfcd.client.history import list_releases

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
