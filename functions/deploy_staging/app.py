"""DeployStaging (copy and restore modes): copy the primary into a staging distribution once, then
apply the release's overrides, or (restore) a configuration the release history kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import model_validator

from cfcd_common import clients
from cfcd_common.cloudfront import (
    Config,
    ensure_staging_distribution,
    get_distribution,
    restored_staging_config,
    staging_config_from,
)
from cfcd_common.models import Overrides, StagingOutcome, TaskRequest
from cfcd_common.release_history import RestorePlan, read_history, recorded_config
from cfcd_common.settings import TableSettings
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient


class DeployStagingRequest(TaskRequest):
    primaryDistributionId: str
    # Exactly one: copy mode's overrides, or what a restore puts back.
    overrides: Overrides | None = None
    restoring: RestorePlan | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DeployStagingRequest:
        if (self.overrides is None) == (self.restoring is None):
            raise ValueError("exactly one of overrides and restoring")
        return self


@tracer.capture_method
def deploy_staging(
    client: CloudFrontClient, request: DeployStagingRequest, restored: Config | None = None
) -> StagingOutcome:
    """Copy mode applies `request.overrides`; restore mode gives staging `restored`."""
    overrides = request.overrides or Overrides()
    staging, created = ensure_staging_distribution(
        client,
        request.primaryDistributionId,
        lambda primary, current: (
            restored_staging_config(primary, current, restored)
            if restored is not None
            else staging_config_from(primary, current, overrides)
        ),
        request.executionArn,
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


def config_to_restore(dynamodb: DynamoDBClient, table: str, primary_id: str, plan: RestorePlan) -> Config:
    return recorded_config(read_history(dynamodb, table, primary_id), plan)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DeployStagingRequest.model_validate(event)
    restored = None
    if request.restoring is not None:
        table = TableSettings.from_environment().table_name
        restored = config_to_restore(
            clients.dynamodb(), table, request.primaryDistributionId, request.restoring
        )
    outcome = deploy_staging(clients.cloudfront(), request, restored)
    metrics.add_metric(name="StagingCopies", unit=MetricUnit.Count, value=int(outcome.status == "copied"))
    return outcome.model_dump()
