"""EnableContinuousDeployment: staging may read the bucket, the policy points at it, is attached and on.

Before it writes anything, a bucket encrypted with SSE-KMS is checked: its key must let staging
decrypt (cfcd_common.kms_access), else KmsKeyDeniesStaging names the key and the statement to add.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import deadline_after
from cfcd_common.cloudfront import (
    allow_distribution_in_bucket_policy,
    attach_policy,
    enable_policy,
    get_distribution,
    s3_buckets_behind_oac,
)
from cfcd_common.kms_access import require_staging_can_decrypt
from cfcd_common.models import TaskRequest, TaskResult, Traffic
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client


class EnablePolicyRequest(TaskRequest):
    primaryDistributionId: str
    stagingDistributionId: str
    policyId: str | None
    traffic: Traffic | None
    deployTimeoutSeconds: int


class PolicyEnabled(TaskResult):
    policyId: str
    stagingDistributionId: str
    stagingDomainName: str
    traffic: Traffic  # the policy's traffic, also when a staging stack brought the policy
    bucketsAllowed: list[str]
    deadline: int  # for WaitForDeployed
    # What Promote expects to find: a change by anyone else in between fails the promotion.
    primaryETag: str
    stagingETag: str


@tracer.capture_method
def enable(
    cloudfront_client: CloudFrontClient,
    s3_client: S3Client,
    kms_client: KMSClient,
    request: EnablePolicyRequest,
) -> PolicyEnabled:
    staging = get_distribution(cloudfront_client, request.stagingDistributionId)
    primary = get_distribution(cloudfront_client, request.primaryDistributionId)
    buckets = s3_buckets_behind_oac(staging.config)
    require_staging_can_decrypt(s3_client, kms_client, buckets, primary.arn, staging.arn)
    allowed = [
        bucket for bucket in buckets if allow_distribution_in_bucket_policy(s3_client, bucket, staging.arn)
    ]
    known_policy = request.policyId or primary.config.get("ContinuousDeploymentPolicyId") or None
    policy_id, traffic = enable_policy(cloudfront_client, known_policy, staging.domain_name, request.traffic)
    attached = attach_policy(cloudfront_client, primary.id, policy_id)
    primary_etag = cloudfront_client.get_distribution_config(Id=primary.id)["ETag"]
    staging_etag = cloudfront_client.get_distribution_config(Id=staging.id)["ETag"]
    logger.info("policy enabled", extra={"policy": policy_id, "attachedNow": attached, "buckets": allowed})
    return PolicyEnabled(
        policyId=policy_id,
        stagingDistributionId=staging.id,
        stagingDomainName=staging.domain_name,
        traffic=traffic,
        bucketsAllowed=allowed,
        deadline=deadline_after(request.deployTimeoutSeconds),
        primaryETag=primary_etag,
        stagingETag=staging_etag,
    )


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    enabled = enable(
        clients.cloudfront(), clients.s3(), clients.kms(), EnablePolicyRequest.model_validate(event)
    )
    metrics.add_metric(name="PoliciesEnabled", unit=MetricUnit.Count, value=1)
    return enabled.model_dump(mode="json")
