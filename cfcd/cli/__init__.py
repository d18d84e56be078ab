"""The ``cfcd`` command line."""

from __future__ import annotations

import click

from cfcd.cli import cleanup_cmd, decide_cmd, demo_cmd, deploy_cmd, history_cmd, mail_cmd, status_cmd
from cfcd.cli.local_cmd import local


@click.group()
@click.version_option(package_name="cfcd")
def main() -> None:
    """Safe, zero-downtime CloudFront releases orchestrated by AWS Step Functions."""


main.add_command(local)
for _module in (deploy_cmd, status_cmd, decide_cmd, mail_cmd, history_cmd, demo_cmd, cleanup_cmd):
    _module.register(main)
