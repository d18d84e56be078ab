"""InvalidateCache / CheckInvalidation: clear the primary's cache after promotion, wait for Completed.

Primary and staging never share a cache: without this, viewers keep the old release until TTLs expire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, TypeAdapter

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.cloudfront import caller_reference
from cfcd_common.errors import DeployTimeout
from cfcd_common.models import TaskRequest, TaskResult
from cfcd_common.task import metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class CreateInvalidationRequest(TaskRequest):
    action: Literal["create"]
    primaryDistributionId: str
    paths: Annotated[list[str], Field(min_length=1)]
    deployTimeoutSeconds: int


class CheckInvalidationRequest(TaskRequest):
    action: Literal["check"]
    primaryDistributionId: str
    invalidationId: str
    deadline: int


InvalidationRequest = Annotated[
    CreateInvalidationRequest | CheckInvalidationRequest, Field(discriminator="action")
]
parse_request: TypeAdapter[CreateInvalidationRequest | CheckInvalidationRequest] = TypeAdapter(
    InvalidationRequest
)


class InvalidationStarted(TaskResult):
    invalidationId: str
    deadline: int


class InvalidationStatus(TaskResult):
    done: bool
    status: str
    checkedAt: int


@tracer.capture_method
def create_invalidation(
    client: CloudFrontClient, request: CreateInvalidationRequest, at: int
) -> InvalidationStarted:
    created = client.create_invalidation(
        DistributionId=request.primaryDistributionId,
        InvalidationBatch={
            "Paths": {"Quantity": len(request.paths), "Items": request.paths},
            # Per execution: a retried call returns the same invalidation instead of a second one.
            "CallerReference": caller_reference(request.primaryDistributionId, request.executionArn),
        },
    )
    return InvalidationStarted(
        invalidationId=created["Invalidation"]["Id"], deadline=at + request.deployTimeoutSeconds
    )


@tracer.capture_method
def check_invalidation(
    client: CloudFrontClient, request: CheckInvalidationRequest, at: int
) -> InvalidationStatus:
    found = client.get_invalidation(DistributionId=request.primaryDistributionId, Id=request.invalidationId)
    status = found["Invalidation"]["Status"]
    done = status.lower() == "completed"
    if not done and at > request.deadline:
        raise DeployTimeout(
            f"invalidation {request.invalidationId} still {status} after timing.deployTimeoutSeconds"
        )
    return InvalidationStatus(done=done, status=status, checkedAt=at)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request.validate_python(event)
    if isinstance(request, CreateInvalidationRequest):
        metrics.add_metric(name="Invalidations", unit=MetricUnit.Count, value=1)
        return create_invalidation(clients.cloudfront(), request, now()).model_dump()
    return check_invalidation(clients.cloudfront(), request, now()).model_dump()
