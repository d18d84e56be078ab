"""ReleaseLock: runs on every ending that acquired the lock, success or failure."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common.aws import CLIENT_CONFIG, named_task_errors
from cfcd_common.locks import release_lock
from cfcd_common.models import TaskRequest, TaskResult

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger()
tracer = Tracer()
metrics = Metrics()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)


class ReleaseLockRequest(TaskRequest):
    primaryDistributionId: str


class LockReleased(TaskResult):
    released: bool


@tracer.capture_method
def free_lock(client: DynamoDBClient, table: str, request: ReleaseLockRequest) -> LockReleased:
    released = release_lock(client, table, request.primaryDistributionId, request.executionArn)
    if not released:
        # Expired and possibly taken by a newer execution: not ours to delete.
        logger.warning("lock not held by this execution", extra={"primary": request.primaryDistributionId})
    return LockReleased(released=released)


@logger.inject_lambda_context(correlation_id_path="executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@named_task_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = free_lock(dynamodb, os.environ["TABLE_NAME"], ReleaseLockRequest.model_validate(event))
    metrics.add_metric(name="LocksReleased", unit=MetricUnit.Count, value=int(result.released))
    return result.model_dump()
