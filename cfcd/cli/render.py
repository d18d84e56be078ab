"""Terminal rendering of an execution: one line per state, like the console graph."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from cfcd.client.execution_view import ExecutionView, ProgressView, StepStatus, StepView
from cfcd_common.formatting import format_duration
from cfcd_common.primary_stack import warning_lines

_MARKS: dict[StepStatus, tuple[str, str | None]] = {
    StepStatus.DONE: ("✓", "green"),
    StepStatus.RUNNING: ("…", "cyan"),
    StepStatus.WAITING: ("⏸", "yellow"),
    StepStatus.FAILED: ("✗", "red"),
    StepStatus.PENDING: ("·", None),
    StepStatus.NOT_RUN: ("-", None),
}
_EXECUTION_COLOURS = {
    "SUCCEEDED": "green",
    "RUNNING": "cyan",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "red",
}
MAX_CAUSE = 160


def _elapsed(start: datetime | None, end: datetime | None, now: datetime) -> str:
    if start is None:
        return ""
    return format_duration(max(0.0, ((end or now) - start).total_seconds()))


def _shorten(text: str, limit: int = MAX_CAUSE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _step_note(step: StepView, execution_name: str) -> str:
    if step.status is StepStatus.WAITING:
        return f"waiting for approval (cfcd approve|reject {execution_name})"
    if step.status is StepStatus.FAILED:
        note = step.error or "failed"
        return f"{note}: {_shorten(step.cause)}" if step.cause else note
    notes = []
    if step.status is StepStatus.RUNNING and step.attempts > 1:
        notes.append(f"attempt {step.attempts}" + (f" after {step.error}" if step.error else ""))
    if step.visits > 1:
        notes.append(f"×{step.visits}")
    return ", ".join(notes)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"


def progress_line(progress: ProgressView) -> str:
    """Where a progressive release is, e.g. `step 2 of 3, weight 0.1: baking, 1m 20s left; ...`."""
    where = f"step {progress.step} of {progress.steps}, weight {progress.weight:g}: {progress.state}"
    if progress.bake_seconds_left is not None:
        where += f", {format_duration(progress.bake_seconds_left)} left"
    latest = progress.latest
    if latest is None:
        return where
    return (
        f"{where}; 5xx staging {_percent(latest.stagingErrorRate)} of {latest.stagingRequests} requests, "
        f"primary {_percent(latest.primaryErrorRate)} of {latest.primaryRequests} (last {latest.at} s)"
    )


def render_lines(view: ExecutionView, now: datetime | None = None, colour: bool = True) -> list[str]:
    """The view as lines of text (ANSI colours when ``colour``)."""
    now = now or datetime.now(UTC)

    def style(text: str, fg: str | None, bold: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold) if colour and (fg or bold) else text

    width = max((len(step.name) for step in view.steps), default=0)
    status = style(view.status, _EXECUTION_COLOURS.get(view.status), bold=True)
    lines = [
        f"{style(view.name, None, bold=True)}  {status}  {_elapsed(view.started, view.stopped, now)}",
        f"  {view.execution_arn}",
    ]
    for step in view.steps:
        mark, fg = _MARKS[step.status]
        elapsed = _elapsed(step.started, step.ended, now) if step.started else ""
        note = _step_note(step, view.name)
        line = f"  {style(mark, fg)} {step.name.ljust(width)}  {elapsed:>8}"
        lines.append((line + "  " + style(note, fg) if note else line).rstrip())
    if view.progress is not None:
        lines.append(f"  progressive: {progress_line(view.progress)}")
    if view.finished and view.error:
        cause = f": {_shorten(view.cause)}" if view.cause else ""
        lines.append(style(f"  {view.status}: {view.error}{cause}", "red"))
    if view.finished and view.rollback:
        lines.append(f"  rollback: {view.rollback}")
    lines += [style(f"  {line}", "yellow") for line in warning_lines(view.warnings)]
    if view.console_url:
        lines.append(f"  console: {view.console_url}")
    return lines


def render(view: ExecutionView, now: datetime | None = None, colour: bool = True) -> str:
    return "\n".join(render_lines(view, now, colour))
