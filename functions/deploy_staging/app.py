"""DeployStaging (copy mode): copy the primary into a staging distribution once, then apply overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common.aws import CLIENT_CONFIG, named_task_errors
from cfcd_common.cloudfront import ensure_staging_distribution, get_distribution
from cfcd_common.models import Overrides, StagingOutcome, TaskRequest

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

logger = Logger()
tracer = Tracer()
metrics = Metrics()
cloudfront = boto3.client("cloudfront", config=CLIENT_CONFIG)


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


@logger.inject_lambda_context(correlation_id_path="executionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
@named_task_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = deploy_staging(cloudfront, DeployStagingRequest.model_validate(event))
    metrics.add_metric(name="StagingCopies", unit=MetricUnit.Count, value=int(outcome.status == "copied"))
    return outcome.model_dump()
