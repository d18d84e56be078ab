"""Promote: copy the staging config onto the primary (UpdateDistributionWithStagingConfig)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.cloudfront import promote
from cfcd_common.models import TaskRequest, TaskResult
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class PromoteRequest(TaskRequest):
    primaryDistributionId: str
    stagingDistributionId: str
    deployTimeoutSeconds: int
    # The ETags EnableContinuousDeployment saw when the policy went live (None: do not check).
    expectedPrimaryETag: str | None = None
    expectedStagingETag: str | None = None


class Promoted(TaskResult):
    promotedAt: int
    deadline: int  # for WaitForPromotion


@tracer.capture_method
def promote_staging(client: CloudFrontClient, request: PromoteRequest) -> Promoted:
    probed = (
        (request.expectedPrimaryETag, request.expectedStagingETag)
        if request.expectedPrimaryETag and request.expectedStagingETag
        else None
    )
    promote(client, request.primaryDistributionId, request.stagingDistributionId, probed)
    promoted_at = now()
    logger.info(
        "promoted", extra={"primary": request.primaryDistributionId, "staging": request.stagingDistributionId}
    )
    return Promoted(promotedAt=promoted_at, deadline=promoted_at + request.deployTimeoutSeconds)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    promoted = promote_staging(clients.cloudfront(), PromoteRequest.model_validate(event))
    metrics.add_metric(name="Promotions", unit=MetricUnit.Count, value=1)
    return promoted.model_dump()
