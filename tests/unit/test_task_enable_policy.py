"""EnableContinuousDeployment: bucket policy for staging, policy created or updated, attached, enabled."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.enable_policy import app
from tests.unit.cloudfront_stubs import (
    BUCKET,
    POLICY_ID,
    PRIMARY_ID,
    STAGING_ID,
    config_response,
    distribution,
    distribution_config,
    header_traffic_config,
    policy_config,
    policy_config_response,
    policy_response,
    stubbed_cloudfront,
)
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client

pytestmark = pytest.mark.unit

STAGING_DOMAIN = f"{STAGING_ID.lower()}.cloudfront.net"
WEIGHT = {"type": "SingleWeight", "weight": 0.15, "stickiness": {"idleTtl": 300, "maximumTtl": 600}}
WEIGHT_CONFIG = {
    "Type": "SingleWeight",
    "SingleWeightConfig": {"Weight": 0.15, "SessionStickinessConfig": {"IdleTTL": 300, "MaximumTTL": 600}},
}


def event(traffic: dict[str, Any] | None, policy_id: str | None = None) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "primaryDistributionId": PRIMARY_ID,
        "stagingDistributionId": STAGING_ID,
        "policyId": policy_id,
        "traffic": traffic,
        "deployTimeoutSeconds": 600,
    }


@pytest.fixture
def s3(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    use_client(monkeypatch, "s3", client)
    return client


def test_first_release_creates_attaches_and_enables_the_policy(
    s3: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given a staging copy and a primary without a policy
    client, stubber = stubbed_cloudfront()
    staging = distribution(STAGING_ID, distribution_config("/2.0.0", staging=True))
    primary_config = distribution_config("/1.0.0")
    attached = {**primary_config, "ContinuousDeploymentPolicyId": POLICY_ID}
    wanted = policy_config(True, WEIGHT_CONFIG, STAGING_DOMAIN)
    stubber.add_response("get_distribution", staging, {"Id": STAGING_ID})
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, primary_config), {"Id": PRIMARY_ID})
    # No policy names staging yet (none made by an earlier attempt or release)
    stubber.add_response(
        "list_continuous_deployment_policies",
        {"ContinuousDeploymentPolicyList": {"MaxItems": 100, "Quantity": 0}},
        {},
    )
    stubber.add_response(
        "create_continuous_deployment_policy",
        {**policy_response(wanted), "Location": "https://x"},
        {"ContinuousDeploymentPolicyConfig": wanted},
    )
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, primary_config), {"Id": PRIMARY_ID})
    stubber.add_response("get_distribution_config", config_response(primary_config, "P1"), {"Id": PRIMARY_ID})
    stubber.add_response(
        "update_distribution",
        distribution(PRIMARY_ID, attached, "InProgress"),
        {"Id": PRIMARY_ID, "IfMatch": "P1", "DistributionConfig": attached},
    )
    stubber.add_response(
        "get_distribution", distribution(PRIMARY_ID, attached, "InProgress"), {"Id": PRIMARY_ID}
    )
    stubber.add_response("get_distribution_config", config_response(attached, "P2"), {"Id": PRIMARY_ID})
    stubber.add_response(
        "get_distribution_config",
        config_response(distribution_config("/2.0.0", staging=True), "S1"),
        {"Id": STAGING_ID},
    )
    use_client(monkeypatch, "cloudfront", client)
    # When the step runs
    with stubber:
        result = app.lambda_handler(event(WEIGHT), lambda_context)
    # Then the policy sends the weight to staging, is attached, and staging may read the bucket
    stubber.assert_no_pending_responses()
    assert result["policyId"] == POLICY_ID
    assert result["traffic"] == {**WEIGHT, "steps": None}  # a policy has one weight, never steps
    assert result["stagingDomainName"] == STAGING_DOMAIN
    assert result["bucketsAllowed"] == [BUCKET]
    # And Promote will refuse if anyone changes either distribution after this point
    assert (result["primaryETag"], result["stagingETag"]) == ("P2", "S1")
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert staging["Distribution"]["ARN"] in json.dumps(policy)


def test_a_later_release_re_enables_the_existing_policy_and_keeps_a_stack_policys_traffic(
    s3: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given a policy (disabled by the last promotion) already attached to the primary, no traffic in input
    client, stubber = stubbed_cloudfront()
    staging = distribution(STAGING_ID, distribution_config("/2.0.0", staging=True))
    primary = distribution(PRIMARY_ID, distribution_config("/1.0.0", ContinuousDeploymentPolicyId=POLICY_ID))
    stubber.add_response("get_distribution", staging, {"Id": STAGING_ID})
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})
    disabled = policy_config(False, header_traffic_config(), STAGING_DOMAIN)
    stubber.add_response(
        "get_continuous_deployment_policy_config", policy_config_response(disabled, "C1"), {"Id": POLICY_ID}
    )
    enabled = {**disabled, "Enabled": True}
    stubber.add_response(
        "update_continuous_deployment_policy",
        policy_response(enabled),
        {"Id": POLICY_ID, "IfMatch": "C1", "ContinuousDeploymentPolicyConfig": enabled},
    )
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})  # already attached: no update
    stubber.add_response(
        "get_distribution_config",
        config_response(distribution_config("/1.0.0", ContinuousDeploymentPolicyId=POLICY_ID), "P1"),
        {"Id": PRIMARY_ID},
    )
    stubber.add_response(
        "get_distribution_config",
        config_response(distribution_config("/2.0.0", staging=True), "S1"),
        {"Id": STAGING_ID},
    )
    use_client(monkeypatch, "cloudfront", client)
    with stubber:
        result = app.lambda_handler(event(None, policy_id=POLICY_ID), lambda_context)
    stubber.assert_no_pending_responses()
    assert result["traffic"] == {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"}
    assert result["deadline"] > 0
