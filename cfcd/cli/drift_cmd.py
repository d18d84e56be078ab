"""`cfcd drift DISTRIBUTION`: does the distribution's CloudFormation stack still describe it?"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from cfcd.cli.options import target_from_kwargs, target_options

EXIT_SAME = 0
EXIT_DRIFTED = 1


@click.command("drift")
@click.argument("distribution")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts).")
@target_options
def drift_command(distribution: str, as_json: bool, **target_kwargs: Any) -> None:
    """Compare DISTRIBUTION with what its CloudFormation stack's next update would set on it.

    Every field the stack's template sets on the distribution, with the stack's current
    parameters (an SSM-typed one read from Parameter Store now), against the live config. After
    a promotion, a differing origin path means the next stack update puts the old release back
    (README: Primaries managed as code). Fields the template leaves out are not compared.

    \b
    Exit codes:
      0  the distribution is what the stack would set
      1  they differ (the fields are printed)
      2  error: no stack holds the distribution, or a read failed
    """
    # Imported here, not at start-up: boto3 and the template evaluation.
    from cfcd.client.drift import DriftClients, check_drift, describe

    target = target_from_kwargs(target_kwargs)
    report = check_drift(
        DriftClients(
            cloudformation=target.cloudformation(), cloudfront=target.cloudfront(), ssm=target.ssm()
        ),
        distribution,
    )
    if as_json:
        click.echo(json.dumps({**asdict(report), "drifted": report.drifted}, indent=2, default=str))
    else:
        click.echo("\n".join(describe(report)))
    click.get_current_context().exit(EXIT_DRIFTED if report.drifted else EXIT_SAME)


def register(group: click.Group) -> None:
    group.add_command(drift_command)
