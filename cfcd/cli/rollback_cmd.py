"""`cfcd rollback`: undo a promotion with a release in restore mode."""

from __future__ import annotations

from typing import Any

import click

from cfcd.cli.deploy_cmd import input_from_flags, start_options, start_release, timing_options
from cfcd.cli.options import target_options


@click.command("rollback")
@click.argument("distribution_id", metavar="DISTRIBUTION")
@click.option(
    "--to",
    "restored",
    metavar="RELEASE",
    help="The earlier promoted release to bring back: its execution name or label "
    "(default: the one before the last promotion).",
)
@click.option(
    "--approval",
    type=click.Choice(["manual", "auto"]),
    default="auto",
    show_default=True,
    help="approval.mode: auto promotes once the probe passes; manual emails the approver first.",
)
@click.option(
    "--approval-timeout",
    type=int,
    metavar="SECONDS",
    help="approval.timeoutSeconds (with --approval manual).",
)
@start_options
@timing_options
@target_options
def rollback_command(
    distribution_id: str,
    restored: str | None,
    approval: str,
    approval_timeout: int | None,
    name: str | None,
    wait: bool,
    timeout: float,
    dry_run: bool,
    poll_seconds: int | None,
    deploy_timeout: int | None,
    probe_timeout: int | None,
    **target_kwargs: Any,
) -> None:
    """Undo a promotion of DISTRIBUTION: start a release whose staging config is the one the
    release history recorded before it, probed with that release's own probe, through the whole
    workflow (staging, probe, approval, promote, invalidate, verify).

    \b
    Exit codes:
      0  started (with --wait: the rollback SUCCEEDED)
      1  AWS refused to start it, or with --wait: FAILED, TIMED_OUT or ABORTED
      2  bad command line or invalid input (nothing was started)
      3  --wait stopped at --timeout while the rollback still runs
    """
    data = input_from_flags(
        {
            "distribution_id": distribution_id,
            "approval": approval,
            "approval_timeout": approval_timeout,
            "poll_seconds": poll_seconds,
            "deploy_timeout": deploy_timeout,
            "probe_timeout": probe_timeout,
        }
    )
    data["staging"] = {"mode": "restore", **({"release": restored} if restored else {})}
    start_release(data, name=name, wait=wait, timeout=timeout, dry_run=dry_run, target_kwargs=target_kwargs)


def register(group: click.Group) -> None:
    group.add_command(rollback_command)
