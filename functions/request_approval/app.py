"""RequestApproval (`lambda:invoke.waitForTaskToken`): store the approval, email signed links.

The payload carries the raw task token: it goes to DynamoDB only. The event is never logged
(`log_event=False` wins over POWERTOOLS_LOGGER_LOG_EVENT) and the token never appears in the mail.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common.approval_request import (
    RequestApprovalDependencies,
    RequestApprovalSettings,
    parse_task,
    request_approval,
)
from cfcd_common.approvals import format_utc, load_signing_key
from cfcd_common.aws import CLIENT_CONFIG, named_task_errors, now

logger = Logger()
tracer = Tracer()


@cache
def dependencies() -> RequestApprovalDependencies:
    """Clients and the signing key, made once per sandbox (on the first invocation, not at import)."""
    settings = RequestApprovalSettings.model_validate(dict(os.environ))
    secrets = boto3.client("secretsmanager", config=CLIENT_CONFIG)
    return RequestApprovalDependencies(
        settings=settings,
        table=boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(settings.table_name),
        cloudfront=boto3.client("cloudfront", config=CLIENT_CONFIG),
        sns=boto3.client("sns", config=CLIENT_CONFIG),
        sesv2=boto3.client("sesv2", config=CLIENT_CONFIG),
        signing_key=load_signing_key(secrets, settings.signing_secret_arn),
    )


@logger.inject_lambda_context(correlation_id_path="executionArn", log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@named_task_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    task = parse_task(event)
    approval = request_approval(dependencies(), task, now=now())
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
