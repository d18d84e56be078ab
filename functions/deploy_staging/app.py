"""DeployStaging (copy mode): copy the primary into a staging distribution once, then apply overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.cloudfront import ensure_staging_distribution, get_distribution
from cfcd_common.models import Overrides, StagingOutcome, TaskRequest
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class DeployStagingRequest(TaskRequest):
    primaryDistributionId: str
    overrides: Overrides


@tracer.capture_method
def deploy_staging(client: CloudFrontClient, request: DeployStagingRequest) -> StagingOutcome:
    staging, created = ensure_staging_distribution(
        client, request.primaryDistributionId, request.overrides, request.executionArn
    )
    primary_policy = get_distribution(client, request.primaryDistributionId).config.get(
        "ContinuousDeploymentPolicyId"
    )
    logger.info("staging distribution ready", extra={"staging": staging.id, "copiedNow": created})
    return StagingOutcome(
        done=True,
        status="copied" if created else "reused",
        stagingDistributionId=staging.id,
        policyId=primary_policy or None,
    )


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = deploy_staging(clients.cloudfront(), DeployStagingRequest.model_validate(event))
    metrics.add_metric(name="StagingCopies", unit=MetricUnit.Count, value=int(outcome.status == "copied"))
    return outcome.model_dump()
