"""DisableContinuousDeployment: on rejection, approval timeout or any failure after the policy was on.

Finds the policy through the primary (the failed state may not have recorded it) and disables it,
so every viewer gets the primary again; the primary's own config is left as it was. A policy
naming the release's staging distribution that never got attached (EnableContinuousDeployment
failed in between) is disabled too. CheckRollback then waits until the primary is Deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from cfcd_common import clients
from cfcd_common.aws import deadline_after, error_code
from cfcd_common.cloudfront import disable_policy, get_distribution, policies_naming
from cfcd_common.models import TaskRequest, TaskResult
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class DisablePolicyRequest(TaskRequest):
    primaryDistributionId: str
    stagingDistributionId: str
    deployTimeoutSeconds: int


class PolicyDisabled(TaskResult):
    policyId: str | None
    changed: bool  # False: no policy, or already disabled (e.g. by a promotion)
    deadline: int  # for CheckRollback: the primary Deployed with the policy off


def policies_of_staging(client: CloudFrontClient, staging_id: str) -> list[str]:
    try:
        staging_domain = get_distribution(client, staging_id).domain_name
    except ClientError as error:
        if error_code(error) != "NoSuchDistribution":
            raise
        return []  # deleted by someone else: no policy can route to it
    return policies_naming(client, staging_domain)


@tracer.capture_method
def disable(client: CloudFrontClient, request: DisablePolicyRequest) -> PolicyDisabled:
    attached = get_distribution(client, request.primaryDistributionId).config.get(
        "ContinuousDeploymentPolicyId"
    )
    # The attached policy first: it is the one routing viewers.
    policy_ids = [attached] if attached else []
    policy_ids += [
        id_ for id_ in policies_of_staging(client, request.stagingDistributionId) if id_ != attached
    ]
    # An already disabled policy is not written again, so a retried rollback is harmless.
    changed = [policy_id for policy_id in policy_ids if disable_policy(client, policy_id)]
    logger.info("policy disabled", extra={"policies": policy_ids, "changed": changed})
    return PolicyDisabled(
        policyId=policy_ids[0] if policy_ids else None,
        changed=bool(changed),
        deadline=deadline_after(request.deployTimeoutSeconds),
    )


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    disabled = disable(clients.cloudfront(), DisablePolicyRequest.model_validate(event))
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    return disabled.model_dump()
