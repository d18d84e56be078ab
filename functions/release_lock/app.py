"""ReleaseLock: runs on every ending that acquired the lock, success or failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.locks import release_lock
from cfcd_common.models import TaskRequest, TaskResult
from cfcd_common.settings import TableSettings
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ReleaseLockRequest.model_validate(event)
    result = free_lock(clients.dynamodb(), TableSettings.from_environment().table_name, request)
    metrics.add_metric(name="LocksReleased", unit=MetricUnit.Count, value=int(result.released))
    return result.model_dump()
