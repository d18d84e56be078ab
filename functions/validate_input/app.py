"""ValidateInput: refuse a bad release before anything in AWS changes.

Read-only: parses the input against the contract and looks the primary distribution up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from cfcd_common import clients
from cfcd_common.aws import error_code
from cfcd_common.cloudfront import get_distribution
from cfcd_common.cloudwatch import alarm_states
from cfcd_common.errors import InvalidInput
from cfcd_common.models import CopyStaging, DeploymentInput, StackStaging, TaskRequest, parse_deployment_input
from cfcd_common.progressive import Progress, initial_progress
from cfcd_common.stack_templates import check_template_body
from cfcd_common.task import metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudwatch import CloudWatchClient

HTTP3_VERSIONS = frozenset({"http3", "http2and3"})


class ValidateRequest(TaskRequest):
    executionName: str
    input: Any


class ValidatedDeployment(DeploymentInput):
    """The input with every default filled in, plus what later states need about the primary."""

    primaryDomainName: str
    # A progressive release's steps so far (SetStepWeight and AnalyseStep rewrite it); a release
    # without steps starts done.
    progress: Progress


@tracer.capture_method
def validate(client: CloudFrontClient, request: ValidateRequest) -> ValidatedDeployment:
    deployment = parse_deployment_input(request.input).with_release_label(request.executionName)
    if isinstance(deployment.staging, StackStaging):
        check_template_body(deployment.staging, deployment.traffic)
    try:
        primary = get_distribution(client, deployment.primaryDistributionId)
    except ClientError as error:
        if error_code(error) == "NoSuchDistribution":
            raise InvalidInput(
                f"primaryDistributionId: no distribution {deployment.primaryDistributionId}"
            ) from None
        raise
    if primary.config.get("Staging"):
        raise InvalidInput(f"primaryDistributionId: {primary.id} is a staging distribution")
    if not primary.config.get("Enabled", True):
        # No viewer reaches a disabled distribution, so no probe can pass; and its staging copy
        # would be disabled too, which CloudFront refuses while a policy names it
        # (StagingDistributionInUse; docs silent, terraform-provider-aws#33575).
        raise InvalidInput(f"primaryDistributionId: {primary.id} is disabled: enable it first")
    if primary.config.get("HttpVersion") in HTTP3_VERSIONS:
        # Continuous deployment cannot be used with a distribution that supports HTTP/3 (Quotas and
        # other considerations, "HTTP/3"):
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/continuous-deployment-quotas-considerations.html
        raise InvalidInput(
            f"primaryDistributionId: {primary.id} has HttpVersion {primary.config['HttpVersion']}: "
            "continuous deployment cannot be used with a distribution that supports HTTP/3 "
            "(set HttpVersion to http2 or http1.1 first)"
        )
    if isinstance(deployment.staging, CopyStaging) and deployment.staging.overrides.originId:
        origin_ids = [origin["Id"] for origin in primary.config["Origins"].get("Items", [])]
        if deployment.staging.overrides.originId not in origin_ids:
            raise InvalidInput(
                f"staging.overrides.originId: no origin {deployment.staging.overrides.originId!r} "
                f"in {primary.id} (origins: {', '.join(origin_ids)})"
            )
    return ValidatedDeployment(
        **dict(deployment),
        primaryDomainName=primary.domain_name,
        progress=initial_progress(deployment.traffic),
    )


def check_alarms(client: CloudWatchClient, deployment: DeploymentInput) -> None:
    """An alarm that does not exist is never in ALARM: the analysis would watch nothing."""
    names = deployment.analysis.alarmNames if deployment.analysis else []
    missing = alarm_states(client, names).missing
    if missing:
        raise InvalidInput(f"analysis.alarmNames: no CloudWatch alarm {', '.join(missing)} in this region")


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    validated = validate(clients.cloudfront(), ValidateRequest.model_validate(event))
    check_alarms(clients.cloudwatch(), validated)
    metrics.add_metric(name="ReleasesValidated", unit=MetricUnit.Count, value=1)
    return validated.model_dump(mode="json")
