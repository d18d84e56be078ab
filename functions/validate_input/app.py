"""ValidateInput: refuse a bad release before anything in AWS changes.

Read-only: parses the input against the contract, looks the primary distribution up, checks the
SSM parameter the promotion is to write, and finds the CloudFormation stack that made the primary
(cfcd_common.primary_stack).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import Field

from cfcd_common import clients
from cfcd_common.aws import error_code
from cfcd_common.cloudfront import Distribution, apply_overrides, get_distribution, origin_path_of
from cfcd_common.errors import InvalidInput
from cfcd_common.models import CopyStaging, DeploymentInput, StackStaging, TaskRequest, parse_deployment_input
from cfcd_common.primary_stack import PrimaryStack, find_primary_stack, stack_update_warning
from cfcd_common.settings import Settings
from cfcd_common.stack_templates import check_template_body
from cfcd_common.task import metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_ssm import SSMClient

HTTP3_VERSIONS = frozenset({"http3", "http2and3"})


class ValidateRequest(TaskRequest):
    executionName: str
    input: Any


class ValidateInputSettings(Settings):
    # The stack's OriginPathParameterPrefix: IAM lets RecordOriginPath write only below it.
    origin_path_parameter_prefix: str = Field(
        alias="ORIGIN_PATH_PARAMETER_PREFIX", pattern=r"^/([A-Za-z0-9_.-]+/)*$"
    )


class ValidatedDeployment(DeploymentInput):
    """The input with every default filled in, plus what later states need about the primary."""

    primaryDomainName: str
    # The CloudFormation stack that made the primary, and what its next update does to a promotion.
    primaryStack: PrimaryStack | None = None
    stackUpdateWarning: str | None = None


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
    if isinstance(deployment.staging, CopyStaging) and deployment.promotion.originPathParameter:
        _check_promoted_origin_path(primary, deployment.staging)
    return ValidatedDeployment(**dict(deployment), primaryDomainName=primary.domain_name)


@tracer.capture_method
def check_origin_path_parameter(ssm: SSMClient, prefix: str, deployment: ValidatedDeployment) -> None:
    """The parameter the promotion writes: below the stack's prefix, and a String if it exists."""
    name = deployment.promotion.originPathParameter
    if name is None:
        return
    if not name.startswith(prefix):
        raise InvalidInput(
            f"promotion.originPathParameter: {name} is not below {prefix}, the only path the cfcd "
            "stack may write (its OriginPathParameterPrefix)"
        )
    try:
        parameter = ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return  # RecordOriginPath creates it
        raise
    # CloudFormation reads it as AWS::SSM::Parameter::Value<String>, which takes a String (a
    # SecureString isn't supported in templates: PutParameter's Type).
    # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
    if parameter["Type"] != "String" or parameter.get("DataType", "text") != "text":
        raise InvalidInput(
            f"promotion.originPathParameter: {name} is a {parameter['Type']} parameter "
            f"(data type {parameter.get('DataType', 'text')}); cfcd writes a String of data type text"
        )


def _check_promoted_origin_path(primary: Distribution, staging: CopyStaging) -> None:
    # promotion.originPathParameter will hold the promoted origin path, and SSM refuses an empty
    # value (ValidationException; docs silent, evidence https://github.com/getmoto/moto/issues/3794).
    promoted = apply_overrides(primary.config, staging.overrides)
    if not origin_path_of(promoted, staging.overrides.originId):
        raise InvalidInput(
            "promotion.originPathParameter: the promoted origin path would be empty, which an SSM "
            "parameter cannot hold (set staging.overrides.originPath)"
        )


@tracer.capture_method
def with_primary_stack(
    cloudformation: CloudFormationClient, deployment: ValidatedDeployment
) -> ValidatedDeployment:
    stack = find_primary_stack(cloudformation, deployment.primaryDistributionId)
    warning = stack_update_warning(
        deployment.primaryDistributionId, stack, deployment.promotion.originPathParameter
    )
    return deployment.model_copy(update={"primaryStack": stack, "stackUpdateWarning": warning})


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ValidateInputSettings.from_environment()
    validated = validate(clients.cloudfront(), ValidateRequest.model_validate(event))
    check_origin_path_parameter(clients.ssm(), settings.origin_path_parameter_prefix, validated)
    validated = with_primary_stack(clients.cloudformation(), validated)
    metrics.add_metric(name="ReleasesValidated", unit=MetricUnit.Count, value=1)
    return validated.model_dump(mode="json")
