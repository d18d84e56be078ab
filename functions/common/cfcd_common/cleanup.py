"""Undo what a release that ended without its own rollback left behind.

Step Functions runs no Catch when an execution is stopped (StopExecution), times out, or fails on
a quota (history or payload), so neither DisableContinuousDeployment nor ReleaseLock runs. The
cleanup_release function (an EventBridge rule on FAILED/ABORTED/TIMED_OUT) and
`cfcd cleanup DISTRIBUTION` both come here:
disable the primary's policy so every viewer gets the primary again, and free the lock.
The primary's own config is never touched (a promotion that went through stays).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from cfcd_common.cloudfront import disable_policy, get_distribution
from cfcd_common.locks import lock_key, release_lock

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient


class CleanupReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primaryDistributionId: str
    lockHolder: str | None  # the execution whose leftovers were cleaned (None: no lock was held)
    policyId: str | None
    policyDisabled: bool  # False: no policy, or it was already disabled
    lockReleased: bool


def lock_holder(dynamodb: DynamoDBClient, table: str, primary_id: str) -> str | None:
    """The execution holding the primary's lock, whether or not it expired (None: no lock item)."""
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": lock_key(primary_id)}}, ConsistentRead=True)
    return item.get("Item", {}).get("executionArn", {}).get("S")


def clean_up_primary(
    cloudfront: CloudFrontClient, dynamodb: DynamoDBClient, table: str, primary_id: str, holder: str | None
) -> CleanupReport:
    """Disable the primary's policy, then delete the lock if `holder` still holds it.

    Call it only when no live execution works on the primary: `holder` ended (or there is no
    lock), so an enabled policy is a half-finished release nobody will roll back.
    """
    policy_id = get_distribution(cloudfront, primary_id).config.get("ContinuousDeploymentPolicyId") or None
    disabled = disable_policy(cloudfront, policy_id) if policy_id else False
    released = release_lock(dynamodb, table, primary_id, holder) if holder else False
    return CleanupReport(
        primaryDistributionId=primary_id,
        lockHolder=holder,
        policyId=policy_id,
        policyDisabled=disabled,
        lockReleased=released,
    )
