"""The ``cfcd`` command line.

Start-up imports click and the command modules only: a command imports boto3, pydantic models and
the local cloud (the ``local`` extra) in its body, when it runs, so ``--help`` and every command's
argument handling stay fast (``tests/unit/cli/test_startup.py`` holds them to it).
"""

from __future__ import annotations

from typing import Any

import click

from cfcd.cli import (
    cleanup_cmd,
    decide_cmd,
    demo_cmd,
    deploy_cmd,
    drift_cmd,
    history_cmd,
    mail_cmd,
    rollback_cmd,
    status_cmd,
)
from cfcd.cli.local_cmd import local
from cfcd.client.errors import CfcdError


class CfcdGroup(click.Group):
    """A group that reports the client's errors (:class:`CfcdError`) like click's own: one line, its
    exit code, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CfcdError as error:
            click.ClickException(str(error)).show()
            ctx.exit(error.exit_code)


@click.group(cls=CfcdGroup)
@click.version_option(package_name="cfcd")
def main() -> None:
    """Safe, zero-downtime CloudFront releases orchestrated by AWS Step Functions."""


main.add_command(local)
for _module in (
    deploy_cmd,
    rollback_cmd,
    status_cmd,
    decide_cmd,
    mail_cmd,
    history_cmd,
    demo_cmd,
    cleanup_cmd,
    drift_cmd,
):
    _module.register(main)
