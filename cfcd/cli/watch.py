"""Showing an execution in the terminal, once or until it ends: `cfcd status` and `deploy --wait`."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click
from botocore.exceptions import BotoCoreError, ClientError

from cfcd.cli.render import render, render_lines
from cfcd.client.execution_view import ExecutionView, GrowingHistory, build_view, waiting_steps
from cfcd.client.target import Target

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

EXIT_SUCCEEDED = 0
EXIT_NOT_SUCCEEDED = 1
EXIT_STILL_RUNNING = 3  # --follow gave up at --timeout while the release still runs


class ExecutionSource:
    """Reads one execution; the definition is fetched once (it does not change mid-run)."""

    def __init__(self, sfn: SFNClient, execution_arn: str, console_url: str | None) -> None:
        self._sfn = sfn
        self._arn = execution_arn
        self._console_url = console_url
        self._definition: dict[str, Any] | None = None
        self._history = GrowingHistory(sfn, execution_arn)

    def view(self) -> ExecutionView:
        if self._definition is None:
            described = self._sfn.describe_state_machine_for_execution(executionArn=self._arn)
            self._definition = json.loads(described["definition"])
        execution = dict(self._sfn.describe_execution(executionArn=self._arn))
        self._history.read()
        return build_view(self._definition, execution, self._history.events, self._console_url)


def newest_execution(sfn: SFNClient, state_machine_arn: str) -> str:
    executions = sfn.list_executions(stateMachineArn=state_machine_arn, maxResults=100)["executions"]
    if not executions:
        raise click.ClickException(f"no executions of {state_machine_arn} yet: start one with `cfcd deploy`")
    return max(executions, key=lambda execution: execution["startDate"])["executionArn"]


def stopped(view: ExecutionView, until_waiting: bool) -> bool:
    """Following ends here: the execution ended or, ``until_waiting``, it waits for a decision."""
    return view.finished or (until_waiting and bool(waiting_steps(view)))


def _change_key(view: ExecutionView) -> tuple[Any, ...]:
    return (view.status, tuple((s.status, s.visits, s.attempts) for s in view.steps))


def watch(
    source: Callable[[], ExecutionView],
    *,
    follow: bool,
    live: bool,
    interval: float,
    timeout: float,
    out: TextIO,
    colour: bool,
    until_waiting: bool = False,
) -> ExecutionView:
    """Show the execution once or until it ends (or, ``until_waiting``, waits for a decision).

    ``live`` redraws in place (a terminal); otherwise a new block is printed only when a state
    changes, so logs stay readable.
    """
    deadline = time.monotonic() + timeout
    drawn_lines = 0
    last_key: tuple[Any, ...] | None = None
    while True:
        view = source()
        if live:
            if drawn_lines:
                out.write(f"\x1b[{drawn_lines}F\x1b[J")  # back to the block's first line, clear below
            lines = render_lines(view, colour=colour)
            out.write("\n".join(lines) + "\n")
            drawn_lines = len(lines)
        elif _change_key(view) != last_key:
            out.write(("\n" if last_key is not None else "") + render(view, colour=colour) + "\n")
        out.flush()
        last_key = _change_key(view)
        if not follow or stopped(view, until_waiting) or time.monotonic() >= deadline:
            return view
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def show_execution(
    target: Target,
    execution_arn: str,
    *,
    follow: bool,
    as_json: bool,
    interval: float,
    timeout: float,
    until_waiting: bool = False,
) -> ExecutionView:
    """Shared by `status` and `deploy --wait`."""
    local_target = target.for_arn(execution_arn)
    source = ExecutionSource(local_target.sfn(), execution_arn, target.console_url(execution_arn))
    try:
        if as_json:
            view = watch(
                source.view,
                follow=follow,
                live=False,
                interval=interval,
                timeout=timeout,
                out=io.StringIO(),
                colour=False,
                until_waiting=until_waiting,
            )
            click.echo(view.model_dump_json(indent=2))
            return view
        is_tty = sys.stdout.isatty()
        return watch(
            source.view,
            follow=follow,
            live=is_tty and follow,
            interval=interval,
            timeout=timeout,
            out=sys.stdout,
            colour=is_tty,
            until_waiting=until_waiting,
        )
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"cannot read execution {execution_arn}: {error}") from error


def exit_code_for(view: ExecutionView, until_waiting: bool = False) -> int:
    if view.status == "SUCCEEDED" or (until_waiting and not view.finished and stopped(view, until_waiting)):
        return EXIT_SUCCEEDED
    return EXIT_NOT_SUCCEEDED if view.finished else EXIT_STILL_RUNNING
