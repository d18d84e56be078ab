"""CleanupRelease: an execution ended without its own rollback (stopped, timed out, or on a quota).

Target of the EventBridge rule on `Step Functions Execution Status Change` events with status
FAILED, ABORTED or TIMED_OUT for the cfcd state machine. Step Functions runs no Catch on ABORTED
and TIMED_OUT, nor for the FAILED endings `States.ALL` does not catch: States.Runtime (also how an
execution whose history reaches 25,000 events ends) and States.DataLimitExceeded
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). If the ended
execution still holds its primary's lock, it was mid-release: disable the policy (viewers back on
the primary) and free the lock. A lock held by another execution (or none) means there is
nothing of this execution left to undo, which is the case of every FAILED execution whose
rollback ran.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from cfcd_common import clients
from cfcd_common.cleanup import CleanupReport, clean_up_primary, lock_holder
from cfcd_common.execution_events import ExecutionStatusChange, ExecutionStatusDetail
from cfcd_common.settings import TableSettings
from cfcd_common.task import STATUS_CHANGE_EXECUTION_ARN, logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

# Endings that may skip the state machine's own rollback; a SUCCEEDED one released its lock.
ENDINGS_WITHOUT_CATCH = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})


class CleanupOutcome(BaseModel):
    executionArn: str
    status: str
    skipped: str | None = None  # why nothing was done
    report: CleanupReport | None = None


def primary_of(client: SFNClient, detail: ExecutionStatusDetail) -> str | None:
    """primaryDistributionId of the execution's input, read from the event or DescribeExecution."""
    text = (
        detail.input
        if detail.input is not None
        else client.describe_execution(executionArn=detail.executionArn).get("input")
    )
    try:
        document = json.loads(text or "null")
    except ValueError:
        return None
    primary = document.get("primaryDistributionId") if isinstance(document, dict) else None
    return primary if isinstance(primary, str) and primary else None


@tracer.capture_method
def clean_up_after(
    cloudfront_client: CloudFrontClient,
    dynamodb_client: DynamoDBClient,
    sfn_client: SFNClient,
    table: str,
    event: ExecutionStatusChange,
) -> CleanupOutcome:
    detail = event.detail
    outcome = CleanupOutcome(executionArn=detail.executionArn, status=detail.status)
    if detail.status not in ENDINGS_WITHOUT_CATCH:
        return outcome.model_copy(update={"skipped": f"{detail.status} executions clean up themselves"})
    primary = primary_of(sfn_client, detail)
    if primary is None:
        return outcome.model_copy(update={"skipped": "the input names no primaryDistributionId"})
    holder = lock_holder(dynamodb_client, table, primary)
    if holder != detail.executionArn:
        # Never locked (stopped before AcquireLock), already released, or taken over since.
        return outcome.model_copy(update={"skipped": f"the lock of {primary} is held by {holder}"})
    report = clean_up_primary(cloudfront_client, dynamodb_client, table, primary, holder)
    return outcome.model_copy(update={"report": report})


@task_handler(STATUS_CHANGE_EXECUTION_ARN)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = ExecutionStatusChange.model_validate(event)
    table = TableSettings.from_environment().table_name
    outcome = clean_up_after(clients.cloudfront(), clients.dynamodb(), clients.stepfunctions(), table, change)
    logger.info("cleanup after an ended execution", extra=outcome.model_dump())
    metrics.add_metric(name="Cleanups", unit=MetricUnit.Count, value=int(outcome.report is not None))
    return outcome.model_dump()
