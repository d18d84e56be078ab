"""`cfcd approve|reject EXECUTION`: decide a pending approval like the emailed link does.

Both go through ``cfcd_common.approvals.decide``: the same single-use conditional update of the
same DynamoDB record, and only its winner sends the task token back. The CLI never sends a token
any other way. ``--by`` is recorded with the caller's AWS identity (``sts:GetCallerIdentity``),
which AWS vouches for; the name alone is only what the caller typed. It is required against AWS.
On the local cloud, which has one user and no identities, it defaults to the login name, so the
pipelines' contract `cfcd reject ARN` holds there.
"""

from __future__ import annotations

import getpass
import time
from typing import TYPE_CHECKING, Any

import click

from cfcd.cli.options import target_from_kwargs, target_options

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient

    from cfcd_common.approvals import Action, Outcome

EXIT_DECIDED = 0
EXIT_ERROR = 1
EXIT_NO_PENDING = 3
EXIT_ALREADY_DECIDED = 4
EXIT_TOO_LATE = 5
USER_AGENT = "cfcd-cli"  # recorded as the decision's userAgent: the source of the decision

_EXIT_CODES_HELP = """
\b
Exit codes:
  0  decision recorded and sent to the workflow
  1  error (AWS, configuration)
  2  bad command line
  3  no pending approval for this execution (not there yet, or it ended)
  4  already decided (by whom and when is printed)
  5  too late: the approval deadline passed or the workflow stopped waiting
"""


def exit_code_for(outcome: Outcome) -> int:
    from cfcd_common.approvals import Outcome

    return {
        Outcome.DECIDED: EXIT_DECIDED,
        Outcome.ALREADY_DECIDED: EXIT_ALREADY_DECIDED,
        Outcome.EXPIRED: EXIT_TOO_LATE,
        Outcome.TASK_GONE: EXIT_TOO_LATE,
        Outcome.NOT_FOUND: EXIT_NO_PENDING,
    }[outcome]


def _explain_nothing_pending(table: Table, sfn: SFNClient, execution_arn: str) -> tuple[str, int]:
    from cfcd_common.approvals import ApprovalStatus, Outcome, describe_refusal, latest_request

    previous = latest_request(table, execution_arn)
    if previous is not None and previous.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        return describe_refusal(Outcome.ALREADY_DECIDED, previous), EXIT_ALREADY_DECIDED
    if previous is not None and previous.status is ApprovalStatus.TIMED_OUT:
        return describe_refusal(Outcome.TASK_GONE, previous), EXIT_TOO_LATE
    execution = sfn.describe_execution(executionArn=execution_arn)
    if execution["status"] != "RUNNING":
        error = f" ({execution['error']})" if execution.get("error") else ""
        return f"The release already ended: {execution['status']}{error}. Nothing to decide.", EXIT_NO_PENDING
    return (
        "The release is not waiting for approval yet (see `cfcd status`); try again when it is.",
        EXIT_NO_PENDING,
    )


def run_decision(
    action: Action, execution: str, comment: str, decided_by: str | None, target_kwargs: Any
) -> int:
    """Find the pending approval of the execution and decide it; returns the exit code."""
    # Imported here, not at start-up: boto3 and pydantic (`cfcd approve --help` stays fast).
    from botocore.exceptions import BotoCoreError, ClientError

    from cfcd_common.approvals import Outcome, decide, find_pending

    target = target_from_kwargs(target_kwargs)
    if decided_by is None:
        if target.source != "local":
            raise click.UsageError(
                f"Missing option '--by': who decides is required against AWS ({target.description})"
            )
        decided_by = getpass.getuser()
    execution_arn = target.execution_arn(execution)
    regional = target.for_arn(execution_arn)
    table, sfn = regional.table(), regional.sfn()
    try:
        caller_arn = regional.sts().get_caller_identity()["Arn"]
        pending = find_pending(table, execution_arn)
        if pending is None:
            message, code = _explain_nothing_pending(table, sfn, execution_arn)
            click.echo(message, err=True)
            return code
        decision = decide(
            table,
            sfn,
            pending.approval_id,
            action,
            decided_by=decided_by,
            comment=comment,
            source_ip=None,
            user_agent=USER_AGENT,
            now=int(time.time()),
            caller_arn=caller_arn,
        )
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"cannot {action} {execution_arn}: {error}") from error
    click.echo(decision.message, err=decision.outcome is not Outcome.DECIDED)
    return exit_code_for(decision.outcome)


def _decision_command(action: Action, summary: str) -> click.Command:
    @click.command(action, help=summary + "\n\nEXECUTION is an execution ARN or name.\n" + _EXIT_CODES_HELP)
    @click.argument("execution")
    @click.option("--comment", default="", metavar="TEXT", help="Why; recorded with the decision.")
    @click.option(
        "--by",
        "decided_by",
        metavar="NAME",
        help="Who decides, as recorded; your AWS identity (sts:GetCallerIdentity) is recorded with it. "
        "Required against AWS; on the local cloud it defaults to your login name.",
    )
    @target_options
    def command(execution: str, comment: str, decided_by: str | None, **target_kwargs: Any) -> None:
        click.get_current_context().exit(run_decision(action, execution, comment, decided_by, target_kwargs))

    return command


approve_command = _decision_command(
    "approve", "Approve the pending release: promote staging to the primary distribution."
)
reject_command = _decision_command(
    "reject", "Reject the pending release: switch staging traffic off; the primary stays as it is."
)


def register(group: click.Group) -> None:
    group.add_command(approve_command)
    group.add_command(reject_command)
