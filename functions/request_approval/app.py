"""RequestApproval (`lambda:invoke.waitForTaskToken`): store the approval, email signed links.

The payload carries the raw task token: it goes to DynamoDB only. The event is never logged, nor
the answer traced (`carries_secrets`), and the token never appears in the mail.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.approval_keys import sandbox_signing_keys
from cfcd_common.approval_request import (
    RequestApprovalDependencies,
    RequestApprovalSettings,
    parse_task,
    request_approval,
)
from cfcd_common.approvals import format_utc
from cfcd_common.aws import now
from cfcd_common.task import logger, task_handler


def dependencies(settings: RequestApprovalSettings) -> RequestApprovalDependencies:
    """The sandbox's clients and the signing keys."""
    return RequestApprovalDependencies(
        settings=settings,
        table=clients.dynamodb_table(settings.table_name),
        cloudfront=clients.cloudfront(),
        # Single attempt: the approval mail is sent at most once (cfcd_common.approvals.send_once).
        sns=clients.sns_single_attempt(),
        sesv2=clients.sesv2_single_attempt(),
        signing_keys=sandbox_signing_keys(settings.signing_secret_arn),
    )


@task_handler(carries_secrets=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    task = parse_task(event)
    approval = request_approval(dependencies(RequestApprovalSettings.from_environment()), task, now=now())
    logger.info(
        "Approval requested",
        extra={
            "approvalId": approval.approval_id,
            "deadline": format_utc(approval.deadline),
            "release": task.release,
            "changes": len(approval.summary.changes),
        },
    )
    # Step Functions ignores this result (it waits for the token); it helps when invoked by hand.
    return {"approvalId": approval.approval_id, "deadline": format_utc(approval.deadline)}
