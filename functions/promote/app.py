"""Promote: record what the primary had in the release history, then copy the staging config onto
the primary (UpdateDistributionWithStagingConfig)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.cloudfront import Config, promote
from cfcd_common.models import Probe, TaskRequest, TaskResult
from cfcd_common.release_history import PromotionRecord, mark_promoted, record_before_promotion
from cfcd_common.settings import TableSettings
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient


class PromoteRequest(TaskRequest):
    executionName: str
    primaryDistributionId: str
    stagingDistributionId: str
    deployTimeoutSeconds: int
    # The ETags EnableContinuousDeployment saw when the policy went live (None: do not check).
    expectedPrimaryETag: str | None = None
    expectedStagingETag: str | None = None
    # What the release history keeps of this release: its label and its probe.
    release: str
    probe: Probe


class Promoted(TaskResult):
    promotedAt: int
    deadline: int  # for WaitForPromotion


@tracer.capture_method
def promote_staging(
    client: CloudFrontClient, dynamodb: DynamoDBClient, table: str, request: PromoteRequest
) -> Promoted:
    """Record first, keyed by the execution: a retry (after a lost answer, the promotion perhaps
    done) finds the record and keeps it, so its configBefore is always the pre-promotion one.
    The record counts as promoted only once the promotion went through."""
    primary_id = request.primaryDistributionId
    before = client.get_distribution_config(Id=primary_id)["DistributionConfig"]
    record = PromotionRecord(
        executionName=request.executionName,
        executionArn=request.executionArn,
        release=request.release,
        recordedAt=now(),
        probe=request.probe,
        configBefore=cast(Config, before),
    )
    recorded_now = record_before_promotion(dynamodb, table, primary_id, record)
    probed = (
        (request.expectedPrimaryETag, request.expectedStagingETag)
        if request.expectedPrimaryETag and request.expectedStagingETag
        else None
    )
    promote(client, primary_id, request.stagingDistributionId, probed)
    promoted_at = now()
    if not mark_promoted(dynamodb, table, primary_id, request.executionName, promoted_at):
        logger.warning("no release history record to mark promoted", extra={"primary": primary_id})
    logger.info(
        "promoted",
        extra={"primary": primary_id, "staging": request.stagingDistributionId, "recordedNow": recorded_now},
    )
    return Promoted(promotedAt=promoted_at, deadline=promoted_at + request.deployTimeoutSeconds)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    promoted = promote_staging(
        clients.cloudfront(),
        clients.dynamodb(),
        TableSettings.from_environment().table_name,
        PromoteRequest.model_validate(event),
    )
    metrics.add_metric(name="Promotions", unit=MetricUnit.Count, value=1)
    return promoted.model_dump()
