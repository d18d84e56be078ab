"""`cfcd cleanup DISTRIBUTION`: roll back what an ended release left on a primary, by hand.

The same rollback the CleanupRelease function runs after a stopped or timed-out execution
(``cfcd_common.cleanup``): disable the primary's continuous deployment policy and free its lock.
For when that function could not run (no EventBridge rule, a rollback AWS refused, a crashed
run). It refuses while the lock holder is still RUNNING: stop that execution instead, and the
function cleans up after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cfcd.cli.options import target_from_kwargs, target_options

if TYPE_CHECKING:
    from cfcd.client.target import Target
    from cfcd_common.cleanup import CleanupReport

EXIT_CLEANED = 0
EXIT_ERROR = 1
EXIT_STILL_RUNNING = 3


def _running(target: Target, execution_arn: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        status = target.for_arn(execution_arn).sfn().describe_execution(executionArn=execution_arn)["status"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return False
        raise
    return status == "RUNNING"


def describe(report: CleanupReport) -> str:
    policy = (
        f"policy {report.policyId} disabled"
        if report.policyDisabled
        else f"policy {report.policyId} was already disabled"
        if report.policyId
        else "no policy attached"
    )
    lock = (
        f"lock of {report.lockHolder} released"
        if report.lockReleased
        else "no lock was held"
        if report.lockHolder is None
        else f"lock of {report.lockHolder} was already gone"
    )
    return f"{report.primaryDistributionId}: {policy}; {lock}"


@click.command("cleanup")
@click.argument("distribution")
@click.option("--force", is_flag=True, help="Clean up even while the lock holder is still RUNNING.")
@target_options
def cleanup_command(distribution: str, force: bool, **target_kwargs: Any) -> None:
    """Disable DISTRIBUTION's continuous deployment policy and free its release lock.

    Viewers all get the primary again; the primary's own config is left as it is.
    Exit codes: 0 cleaned (or nothing to do), 1 error, 3 a release still runs (see --force).
    """
    # Imported here, not at start-up: boto3 (`cfcd cleanup --help` stays fast).
    from botocore.exceptions import BotoCoreError, ClientError

    from cfcd_common.cleanup import clean_up_primary, lock_holder

    target = target_from_kwargs(target_kwargs)
    try:
        table = target.table().name
        dynamodb = target.dynamodb()
        holder = lock_holder(dynamodb, table, distribution)
        if holder and not force and _running(target, holder):
            click.echo(
                f"{distribution} is being released by {holder}, still RUNNING: stop it "
                "(the cleanup rule then rolls back) or pass --force",
                err=True,
            )
            raise SystemExit(EXIT_STILL_RUNNING)
        report = clean_up_primary(target.cloudfront(), dynamodb, table, distribution, holder)
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"cleanup of {distribution} failed: {error}") from error
    click.echo(describe(report))


def register(group: click.Group) -> None:
    group.add_command(cleanup_command)
