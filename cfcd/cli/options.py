"""The options every AWS-facing command shares, and the target they resolve to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from cfcd.client.target import Target

F = TypeVar("F", bound=Callable[..., Any])


def target_options(command: F) -> F:
    """The options every AWS-facing command shares; they land in ``**target_kwargs``."""
    options = [
        click.option("--stack", metavar="NAME", help="Use the state machine and table of this cfcd stack."),
        click.option(
            "--state-machine-arn",
            metavar="ARN",
            envvar="CFCD_STATE_MACHINE_ARN",
            help="The cfcd state machine (default: from --stack or the local cloud).",
        ),
        click.option(
            "--table-name",
            metavar="NAME",
            envvar="CFCD_TABLE_NAME",
            help="The cfcd DynamoDB table (default: from --stack, the local cloud or the approval function).",
        ),
        click.option(
            "--region", metavar="REGION", help="AWS region (default: from the ARN or the AWS config)."
        ),
        click.option(
            "--state-dir",
            metavar="DIR",
            envvar="CFCD_STATE_DIR",
            help="Local cloud state directory holding local.json (default: .cfcd).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def target_from_kwargs(kwargs: Mapping[str, Any]) -> Target:
    """Build the target from the values of :func:`target_options` (boto3 is imported here, not
    at start-up)."""
    from cfcd.client.target import resolve_target

    return resolve_target(
        stack=kwargs.get("stack"),
        state_machine_arn=kwargs.get("state_machine_arn"),
        table_name=kwargs.get("table_name"),
        region=kwargs.get("region"),
        state_dir=kwargs.get("state_dir"),
    )
