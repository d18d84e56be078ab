"""CheckStack: is the staging stack complete? Its outputs name the staging distribution (and policy).

A complete stack's staging distribution must equal the primary but in the fields CloudFront lets
staging change while a policy is attached: otherwise the next stack update fails IllegalUpdate,
and a promotion would copy the difference (a price class, an HTTP version, a certificate) onto
the primary unprobed. Found here, before any policy sends a viewer to staging.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-continuous-deployment.html#updating-staging-and-primary-distributions
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.cloudfront import Config, locked_differences
from cfcd_common.errors import DeployTimeout, StackFailed
from cfcd_common.models import UPDATABLE_WHILE_POLICY_ATTACHED, StagingOutcome
from cfcd_common.polling import PolledCheck
from cfcd_common.task import task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient

# The update is applied; the cleanup of replaced resources does not concern the new distribution.
COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"})


class CheckStackRequest(PolledCheck):
    primaryDistributionId: str
    stackName: str


def check_staging_matches_primary(
    cloudfront: CloudFrontClient, request: CheckStackRequest, staging_id: str
) -> None:
    primary = cast(
        Config, cloudfront.get_distribution_config(Id=request.primaryDistributionId)["DistributionConfig"]
    )
    staging = cast(Config, cloudfront.get_distribution_config(Id=staging_id)["DistributionConfig"])
    differences = locked_differences(primary, staging)
    if differences:
        shown = "; ".join(
            f"{field} {primary.get(field)!r} vs {staging.get(field)!r}" for field in differences
        )
        raise StackFailed(
            f"{request.stackName}: the staging distribution {staging_id} differs from the primary "
            f"{request.primaryDistributionId} in {', '.join(differences)} ({shown}): while a continuous "
            f"deployment policy is attached CloudFront lets staging differ only in "
            f"{', '.join(sorted(UPDATABLE_WHILE_POLICY_ATTACHED))}; make the template match the primary"
        )


@tracer.capture_method
def check_stack(
    client: CloudFormationClient, cloudfront: CloudFrontClient, request: CheckStackRequest, at: int
) -> StagingOutcome:
    stack = client.describe_stacks(StackName=request.stackName)["Stacks"][0]
    status = stack["StackStatus"]
    if status in COMPLETE:
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        if not outputs.get("StagingDistributionId"):
            raise StackFailed(f"{request.stackName}: the stack has no StagingDistributionId output")
        check_staging_matches_primary(cloudfront, request, outputs["StagingDistributionId"])
        return StagingOutcome(
            done=True,
            status=status,
            stagingDistributionId=outputs["StagingDistributionId"],
            policyId=outputs.get("ContinuousDeploymentPolicyId") or None,
        )
    if "FAILED" in status or "ROLLBACK" in status or status.startswith("DELETE"):
        reason = stack.get("StackStatusReason", "see the stack events")
        raise StackFailed(f"{request.stackName}: {status}: {reason}")
    if request.timed_out(at):
        raise DeployTimeout(f"{request.stackName}: still {status} after timing.deployTimeoutSeconds")
    return StagingOutcome(done=False, status=status, nextWaitSeconds=request.next_wait_seconds(at))


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckStackRequest.model_validate(event)
    return check_stack(clients.cloudformation(), clients.cloudfront(), request, now()).model_dump()
