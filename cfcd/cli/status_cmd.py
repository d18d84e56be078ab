"""`cfcd status [EXECUTION]`: the states of a release, live."""

from __future__ import annotations

import sys
from typing import Any

import click

from cfcd.cli.options import target_from_kwargs, target_options

DEFAULT_FOLLOW_TIMEOUT = 3 * 24 * 3600  # longer than the default approval timeout (a day)


@click.command("status")
@click.argument("execution", required=False)
@click.option(
    "--follow/--no-follow",
    default=None,
    help="Refresh until the execution ends (default: on when stdout is a terminal).",
)
@click.option(
    "--until-waiting",
    is_flag=True,
    help="Follow until the release waits for a decision (⏸) or ends; exit 0 when it waits.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON (for scripts).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    metavar="SECONDS",
    default=None,
    help="Seconds between refreshes (default: 1 locally, 3 on AWS).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    default=DEFAULT_FOLLOW_TIMEOUT,
    show_default=True,
    help="Stop following after this many seconds.",
)
@target_options
def status_command(
    execution: str | None,
    follow: bool | None,
    until_waiting: bool,
    as_json: bool,
    interval: float | None,
    timeout: float,
    **target_kwargs: Any,
) -> None:
    """Show each state of a release: done ✓, running …, waiting for approval ⏸, failed ✗.

    EXECUTION is an execution ARN or name (default: the newest execution). The states come
    from the state machine's definition, in workflow order, with elapsed times.

    \b
    Exit codes:
      0  shown (with --follow: the release SUCCEEDED; with --until-waiting: it waits)
      1  error, or with --follow: the release FAILED, TIMED_OUT or was ABORTED
      3  --follow stopped at --timeout while the release still runs
    """
    # Imported here, not at start-up: boto3 and pydantic (`cfcd status --help` stays fast).
    from cfcd.cli.watch import exit_code_for, newest_execution, show_execution

    target = target_from_kwargs(target_kwargs)
    if execution is None:
        execution_arn = newest_execution(target.sfn(), target.require_state_machine())
    else:
        execution_arn = target.execution_arn(execution)
    following = until_waiting or ((sys.stdout.isatty() and not as_json) if follow is None else follow)
    view = show_execution(
        target,
        execution_arn,
        follow=following,
        as_json=as_json,
        interval=interval or (3.0 if target.is_aws else 1.0),
        timeout=timeout,
        until_waiting=until_waiting,
    )
    if following:
        click.get_current_context().exit(exit_code_for(view, until_waiting))


def register(group: click.Group) -> None:
    group.add_command(status_command)
