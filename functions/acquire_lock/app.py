"""AcquireLock: one deployment per primary distribution; a second one fails with DeploymentInProgress."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.locks import acquire_lock
from cfcd_common.models import Approval, TaskRequest, TaskResult, Timing
from cfcd_common.settings import TableSettings
from cfcd_common.task import metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Slack on top of the longest the workflow can legitimately run, so a live lock never expires.
LOCK_MARGIN_SECONDS = 3600


class AcquireLockRequest(TaskRequest):
    primaryDistributionId: str
    timing: Timing
    approval: Approval


class LockHeld(TaskResult):
    acquiredAt: int
    expiresAt: int


def lock_lifetime(timing: Timing, approval: Approval) -> int:
    # Waits: stack, Deployed, promotion, invalidation (deployTimeout each), probe, approval.
    waits = 4 * timing.deployTimeoutSeconds + timing.probeTimeoutSeconds + approval.timeoutSeconds
    return waits + LOCK_MARGIN_SECONDS


@tracer.capture_method
def take_lock(client: DynamoDBClient, table: str, request: AcquireLockRequest) -> LockHeld:
    acquired_at = now()
    expires_at = acquired_at + lock_lifetime(request.timing, request.approval)
    acquire_lock(client, table, request.primaryDistributionId, request.executionArn, acquired_at, expires_at)
    return LockHeld(acquiredAt=acquired_at, expiresAt=expires_at)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AcquireLockRequest.model_validate(event)
    held = take_lock(clients.dynamodb(), TableSettings.from_environment().table_name, request)
    metrics.add_metric(name="LocksAcquired", unit=MetricUnit.Count, value=1)
    return held.model_dump()
