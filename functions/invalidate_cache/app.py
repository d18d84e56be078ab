"""InvalidateCache / CheckInvalidation: clear the primary's cache after promotion, wait for Completed.

Primary and staging never share a cache: without this, viewers keep the old release until TTLs expire.
The primary is already promoted here, so CloudFront's TooManyInvalidationsInProgress (at most 15
wildcard paths or 3,000 files in progress per distribution) is waited out, never a failure:
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import Field, TypeAdapter

from cfcd_common import clients
from cfcd_common.aws import error_code, now
from cfcd_common.cloudfront import caller_reference
from cfcd_common.errors import DeployTimeout
from cfcd_common.models import TaskResult
from cfcd_common.polling import PolledCheck
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class CreateInvalidationRequest(PolledCheck):
    """Its deadline: until when to keep trying while CloudFront has too many invalidations in
    progress; CheckInvalidation then gets as long (timeoutSeconds) for the one it made."""

    action: Literal["create"]
    primaryDistributionId: str
    paths: Annotated[list[str], Field(min_length=1)]


class CheckInvalidationRequest(PolledCheck):
    action: Literal["check"]
    primaryDistributionId: str
    invalidationId: str


InvalidationRequest = Annotated[
    CreateInvalidationRequest | CheckInvalidationRequest, Field(discriminator="action")
]
parse_request: TypeAdapter[CreateInvalidationRequest | CheckInvalidationRequest] = TypeAdapter(
    InvalidationRequest
)


class InvalidationStarted(TaskResult):
    started: bool  # False: too many in progress, run again after a wait (or skipped)
    invalidationId: str | None
    # Why the release goes on without invalidating (the deadline passed); None otherwise.
    skipped: str | None
    deadline: int  # for CheckInvalidation
    nextWaitSeconds: int  # before trying again; 0 once started or skipped


class InvalidationStatus(TaskResult):
    done: bool
    status: str
    checkedAt: int
    nextWaitSeconds: int  # 0 when done


@tracer.capture_method
def create_invalidation(
    client: CloudFrontClient, request: CreateInvalidationRequest, at: int
) -> InvalidationStarted:
    deadline = at + request.timeoutSeconds
    try:
        created = client.create_invalidation(
            DistributionId=request.primaryDistributionId,
            InvalidationBatch={
                "Paths": {"Quantity": len(request.paths), "Items": request.paths},
                # Per execution, with the same paths: CloudFront answers a repeated request
                # (a retry, a lost answer) with the invalidation it already made.
                # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_InvalidationBatch.html
                "CallerReference": caller_reference(request.primaryDistributionId, request.executionArn),
            },
        )
    except ClientError as error:
        if error_code(error) != "TooManyInvalidationsInProgress":
            raise
        skipped = (
            f"TooManyInvalidationsInProgress on {request.primaryDistributionId} until "
            "timing.deployTimeoutSeconds after the promotion: not invalidated (cached objects "
            "expire with their TTLs)"
            if request.timed_out(at)
            else None
        )
        logger.warning("too many invalidations in progress", extra={"skipped": skipped is not None})
        wait = 0 if skipped else request.next_wait_seconds(at)
        return InvalidationStarted(
            started=False, invalidationId=None, skipped=skipped, deadline=deadline, nextWaitSeconds=wait
        )
    return InvalidationStarted(
        started=True,
        invalidationId=created["Invalidation"]["Id"],
        skipped=None,
        deadline=deadline,
        nextWaitSeconds=0,
    )


@tracer.capture_method
def check_invalidation(
    client: CloudFrontClient, request: CheckInvalidationRequest, at: int
) -> InvalidationStatus:
    found = client.get_invalidation(DistributionId=request.primaryDistributionId, Id=request.invalidationId)
    status = found["Invalidation"]["Status"]
    done = status.lower() == "completed"
    if not done and request.timed_out(at):
        raise DeployTimeout(
            f"invalidation {request.invalidationId} still {status} after timing.deployTimeoutSeconds"
        )
    wait = 0 if done else request.next_wait_seconds(at)
    return InvalidationStatus(done=done, status=status, checkedAt=at, nextWaitSeconds=wait)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request.validate_python(event)
    if isinstance(request, CreateInvalidationRequest):
        metrics.add_metric(name="Invalidations", unit=MetricUnit.Count, value=1)
        return create_invalidation(clients.cloudfront(), request, now()).model_dump()
    return check_invalidation(clients.cloudfront(), request, now()).model_dump()
