"""ValidateInput: refuse a bad release before anything in AWS changes.

Read-only: parses the input against the contract, looks the primary distribution up, checks the
SSM parameter the promotion is to write, and finds the CloudFormation stack that made the primary
(cfcd_common.primary_stack); in restore mode it resolves from the release history what the
release puts back, and its probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from cfcd_common import clients
from cfcd_common.aws import error_code
from cfcd_common.cloudfront import (
    Distribution,
    apply_overrides,
    get_distribution,
    locked_differences,
    origin_path_of,
)
from cfcd_common.cloudwatch import alarm_states
from cfcd_common.errors import InvalidInput
from cfcd_common.models import (
    UPDATABLE_WHILE_POLICY_ATTACHED,
    CopyStaging,
    DeploymentInput,
    Probe,
    RestoreStaging,
    StackStaging,
    TaskRequest,
    parse_deployment_input,
)
from cfcd_common.primary_stack import PrimaryStack, find_primary_stack, stack_update_warning
from cfcd_common.progressive import Progress, initial_progress
from cfcd_common.release_history import RestorePlan, plan_restore, read_history, recorded_config
from cfcd_common.settings import Settings, TableSettings
from cfcd_common.stack_templates import check_template_body
from cfcd_common.task import metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
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


class ProbeTally(BaseModel):
    stagingServed: int = 0


class ValidatedDeployment(DeploymentInput):
    """The input with every default filled in, plus what later states need about the primary."""

    probe: Probe  # a restore's comes from the release history
    primaryDomainName: str
    restoring: RestorePlan | None = None
    # The CloudFormation stack that made the primary, and what its next update does to a promotion.
    primaryStack: PrimaryStack | None = None
    stackUpdateWarning: str | None = None
    # A progressive release's steps so far (SetStepWeight and AnalyseStep rewrite it); a release
    # without steps starts done.
    progress: Progress
    # The probe counts, over all its rounds, the answers that came from staging, so that a
    # ProbeFailed can say whether staging was ever served (CloudFront may send every request to
    # the primary). The tally starts here rather than in a Pass state of its own: that would cost
    # a state transition per release.
    probeResult: ProbeTally = ProbeTally()


def resolve_restore(
    dynamodb: DynamoDBClient,
    table: str,
    deployment: DeploymentInput,
    release: str | None,
    primary: Distribution,
) -> tuple[DeploymentInput, RestorePlan]:
    """The restore-mode input (restoring `release`, None for the default) with the restored
    release's probe and label, and what it puts back.

    The restored config may differ from the primary only where continuous deployment allows
    (docs/design.md §3.2): anything else (a certificate changed since, say) is refused here, not
    as an IllegalUpdate halfway through the release.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-continuous-deployment.html#updating-staging-and-primary-distributions
    """
    history = read_history(dynamodb, table, primary.id)
    plan, recorded_probe = plan_restore(history, release)
    probe = deployment.probe or recorded_probe
    if probe is None:
        raise InvalidInput(
            f"probe: required to restore {plan.label} of {primary.id}: no release of cfcd served it, "
            "so no probe was recorded"
        )
    restored = recorded_config(history, plan)
    locked = locked_differences(primary.config, restored)
    if locked:
        raise InvalidInput(
            f"staging.release: the configuration of {plan.label} differs from {primary.id}'s in "
            f"{', '.join(locked)}, which CloudFront does not let change while a continuous deployment "
            "policy is attached: set it back on the primary first, or release anew"
        )
    if all(primary.config.get(key) == restored.get(key) for key in UPDATABLE_WHILE_POLICY_ATTACHED):
        raise InvalidInput(f"staging.release: {primary.id} already serves {plan.label}: nothing to restore")
    if deployment.traffic is None and not primary.config.get("ContinuousDeploymentPolicyId"):
        raise InvalidInput(
            f"traffic: required: {primary.id} has no continuous deployment policy whose traffic to reuse"
        )
    update = {
        "staging": RestoreStaging(mode="restore", release=plan.release),
        "probe": probe,
        "release": deployment.release or f"rollback to {plan.label}"[:128],
    }
    return deployment.model_copy(update=update), plan


def release_history_table() -> tuple[DynamoDBClient, str]:
    """Where the release history is (read in restore mode only: other modes need no table)."""
    return clients.dynamodb(), TableSettings.from_environment().table_name


@tracer.capture_method
def validate(
    client: CloudFrontClient,
    request: ValidateRequest,
    history_table: Callable[[], tuple[DynamoDBClient, str]] = release_history_table,
) -> ValidatedDeployment:
    deployment = parse_deployment_input(request.input)
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
    plan = None
    if isinstance(deployment.staging, RestoreStaging):
        dynamodb, table = history_table()
        deployment, plan = resolve_restore(dynamodb, table, deployment, deployment.staging.release, primary)
    deployment = deployment.with_release_label(request.executionName)
    if isinstance(deployment.staging, CopyStaging) and deployment.staging.overrides.originId:
        origin_ids = [origin["Id"] for origin in primary.config["Origins"].get("Items", [])]
        if deployment.staging.overrides.originId not in origin_ids:
            raise InvalidInput(
                f"staging.overrides.originId: no origin {deployment.staging.overrides.originId!r} "
                f"in {primary.id} (origins: {', '.join(origin_ids)})"
            )
    if isinstance(deployment.staging, CopyStaging) and deployment.promotion.originPathParameter:
        _check_promoted_origin_path(primary, deployment.staging)
    return ValidatedDeployment(
        **dict(deployment),
        primaryDomainName=primary.domain_name,
        restoring=plan,
        progress=initial_progress(deployment.traffic),
    )


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


def check_alarms(client: CloudWatchClient, deployment: DeploymentInput) -> None:
    """An alarm that does not exist is never in ALARM: the analysis would watch nothing."""
    names = deployment.analysis.alarmNames if deployment.analysis else []
    missing = alarm_states(client, names).missing
    if missing:
        raise InvalidInput(f"analysis.alarmNames: no CloudWatch alarm {', '.join(missing)} in this region")


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ValidateInputSettings.from_environment()
    validated = validate(clients.cloudfront(), ValidateRequest.model_validate(event))
    check_origin_path_parameter(clients.ssm(), settings.origin_path_parameter_prefix, validated)
    validated = with_primary_stack(clients.cloudformation(), validated)
    check_alarms(clients.cloudwatch(), validated)
    metrics.add_metric(name="ReleasesValidated", unit=MetricUnit.Count, value=1)
    return validated.model_dump(mode="json")
