"""DisableContinuousDeployment: on rejection, approval timeout or any failure after the policy was on.

Finds the policy through the primary (the failed state may not have recorded it) and disables it,
so every viewer gets the primary again; the primary's own config is left as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.cloudfront import disable_policy, get_distribution
from cfcd_common.models import TaskRequest, TaskResult
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class DisablePolicyRequest(TaskRequest):
    primaryDistributionId: str


class PolicyDisabled(TaskResult):
    policyId: str | None
    changed: bool  # False: no policy, or already disabled (e.g. by a promotion)


@tracer.capture_method
def disable(client: CloudFrontClient, request: DisablePolicyRequest) -> PolicyDisabled:
    policy_id = get_distribution(client, request.primaryDistributionId).config.get(
        "ContinuousDeploymentPolicyId"
    )
    if not policy_id:
        return PolicyDisabled(policyId=None, changed=False)
    changed = disable_policy(client, policy_id)
    logger.info("policy disabled", extra={"policy": policy_id, "changed": changed})
    return PolicyDisabled(policyId=policy_id, changed=changed)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    disabled = disable(clients.cloudfront(), DisablePolicyRequest.model_validate(event))
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    return disabled.model_dump()
