"""Promote, InvalidateCache and DisableContinuousDeployment handlers."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cfcd_common.aws import now
from cfcd_common.errors import DeployTimeout, PromotionFailed, TransientAwsError
from functions.disable_policy import app as disable_app
from functions.invalidate_cache import app as invalidate_app
from functions.promote import app as promote_app
from tests.unit.cloudfront_stubs import (
    POLICY_ID,
    PRIMARY_ID,
    STAGING_ID,
    config_response,
    distribution,
    distribution_config,
    policy_config,
    policy_config_response,
    policy_response,
    stubbed_cloudfront,
)
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client
from tests.unit.test_task_validate_input import create_primary

pytestmark = pytest.mark.unit

PROMOTE = {
    "executionArn": EXECUTION_ARN,
    "executionName": "release-2-0-0",
    "primaryDistributionId": PRIMARY_ID,
    "stagingDistributionId": STAGING_ID,
    "deployTimeoutSeconds": 300,
    "release": "2.0.0",
    "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": "v2 App"}},
}


@pytest.fixture
def history_table(deployment_table: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Promote records each release in the table's release history (moto)."""
    use_client(monkeypatch, "dynamodb", boto3.client("dynamodb", region_name="us-east-1"))
    return deployment_table


def record_read(stubber: Stubber, config: dict[str, Any]) -> None:
    """Promote's first call: the primary's config, for the release history."""
    stubber.add_response("get_distribution_config", config_response(config, "P0"), {"Id": PRIMARY_ID})


def promote_stubs(stubber: Stubber) -> None:
    record_read(stubber, distribution_config())
    stubber.add_response(
        "get_distribution_config", config_response(distribution_config(), "P1"), {"Id": PRIMARY_ID}
    )
    stubber.add_response(
        "get_distribution_config",
        config_response(distribution_config(staging=True), "S1"),
        {"Id": STAGING_ID},
    )


def test_promote_returns_the_deadline_of_the_promotion_wait(
    history_table: str, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    client, stubber = stubbed_cloudfront()
    promote_stubs(stubber)
    stubber.add_response(
        "update_distribution_with_staging_config",
        distribution(PRIMARY_ID, distribution_config("/2.0.0"), "InProgress"),
        {"Id": PRIMARY_ID, "StagingDistributionId": STAGING_ID, "IfMatch": "P1, S1"},
    )
    use_client(monkeypatch, "cloudfront", client)
    with stubber:
        result = promote_app.lambda_handler(PROMOTE, lambda_context)
    assert result["deadline"] == result["promotedAt"] + 300


def test_throttling_after_botos_retries_surfaces_as_transient_aws_error(
    history_table: str, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    client, stubber = stubbed_cloudfront()
    promote_stubs(stubber)
    stubber.add_client_error("update_distribution_with_staging_config", "Throttling", http_status_code=400)
    use_client(monkeypatch, "cloudfront", client)
    with stubber, pytest.raises(TransientAwsError, match="Throttling"):
        promote_app.lambda_handler(PROMOTE, lambda_context)


def test_an_illegal_update_is_promotion_failed(
    history_table: str, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    client, stubber = stubbed_cloudfront()
    promote_stubs(stubber)
    stubber.add_client_error("update_distribution_with_staging_config", "IllegalUpdate", http_status_code=400)
    use_client(monkeypatch, "cloudfront", client)
    with stubber, pytest.raises(PromotionFailed, match="IllegalUpdate"):
        promote_app.lambda_handler(PROMOTE, lambda_context)


def test_a_primary_changed_since_the_probe_is_not_promoted_over(
    history_table: str, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given the policy went live with primary ETag P0, and another writer has changed the primary since
    client, stubber = stubbed_cloudfront()
    changed = distribution_config(Comment="changed by someone else")
    record_read(stubber, changed)
    stubber.add_response("get_distribution_config", config_response(changed, "P1"), {"Id": PRIMARY_ID})
    stubber.add_response(
        "get_distribution_config",
        config_response(distribution_config("/2.0.0", staging=True), "S1"),
        {"Id": STAGING_ID},
    )
    use_client(monkeypatch, "cloudfront", client)
    probed = {**PROMOTE, "expectedPrimaryETag": "P0", "expectedStagingETag": "S1"}
    # When Promote runs, Then it refuses without calling UpdateDistributionWithStagingConfig
    with stubber, pytest.raises(PromotionFailed, match="changed since the release was probed"):
        promote_app.lambda_handler(probed, lambda_context)
    stubber.assert_no_pending_responses()


def test_a_retried_promote_that_already_went_through_succeeds(
    history_table: str, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given an earlier attempt of this Promote already copied the staging config onto the primary
    client, stubber = stubbed_cloudfront()
    staging_config = distribution_config("/2.0.0", staging=True)
    promoted = {**staging_config, "Staging": False}
    record_read(stubber, promoted)
    stubber.add_response("get_distribution_config", config_response(promoted, "P2"), {"Id": PRIMARY_ID})
    stubber.add_response("get_distribution_config", config_response(staging_config, "S1"), {"Id": STAGING_ID})
    use_client(monkeypatch, "cloudfront", client)
    probed = {**PROMOTE, "expectedPrimaryETag": "P1", "expectedStagingETag": "S1"}
    # When it is invoked again, Then it succeeds without promoting twice
    with stubber:
        result = promote_app.lambda_handler(probed, lambda_context)
    stubber.assert_no_pending_responses()
    assert result["deadline"] == result["promotedAt"] + 300


def test_invalidation_is_created_once_per_execution_and_waited_for(
    aws: None, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given a promoted primary on moto
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    primary = create_primary(cloudfront)["Id"]
    use_client(monkeypatch, "cloudfront", cloudfront)
    create = {
        "executionArn": EXECUTION_ARN,
        "action": "create",
        "primaryDistributionId": primary,
        "paths": ["/*"],
        "pollSeconds": 1,
        "timeoutSeconds": 300,
        "deadline": 2**31,
    }
    # When the invalidation is created and checked
    started = invalidate_app.lambda_handler(create, lambda_context)
    assert (started["started"], started["skipped"]) == (True, None)
    check = {
        "executionArn": EXECUTION_ARN,
        "action": "check",
        "primaryDistributionId": primary,
        "invalidationId": started["invalidationId"],
        "pollSeconds": 1,
        "timeoutSeconds": 300,
        "deadline": started["deadline"],
    }
    status = invalidate_app.lambda_handler(check, lambda_context)
    # Then it covers the paths and is complete
    found = cloudfront.get_invalidation(DistributionId=primary, Id=started["invalidationId"])["Invalidation"]
    assert found["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    assert status["done"] is True


def test_an_invalidation_still_in_progress_at_the_deadline_is_deploy_timeout(aws: None) -> None:
    client = boto3.client("cloudfront", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "get_invalidation",
        {
            "Invalidation": {
                "Id": "I1",
                "Status": "InProgress",
                "CreateTime": "2025-01-01T00:00:00Z",
                "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "r"},
            }
        },
        {"DistributionId": PRIMARY_ID, "Id": "I1"},
    )
    request = invalidate_app.CheckInvalidationRequest(
        executionArn=EXECUTION_ARN,
        action="check",
        primaryDistributionId=PRIMARY_ID,
        invalidationId="I1",
        pollSeconds=1,
        timeoutSeconds=10,
        deadline=10,
    )
    with stubber, pytest.raises(DeployTimeout, match="I1 still InProgress"):
        invalidate_app.check_invalidation(client, request, at=10)


def create_invalidation_request(deadline: int) -> Any:
    return invalidate_app.CreateInvalidationRequest(
        executionArn=EXECUTION_ARN,
        action="create",
        primaryDistributionId=PRIMARY_ID,
        paths=["/*"],
        pollSeconds=5,
        timeoutSeconds=100,
        deadline=deadline,
    )


def too_many_invalidations(stubber: Stubber) -> None:
    # 15 wildcard paths (or 3,000 files) already in progress on the distribution:
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html
    stubber.add_client_error(
        "create_invalidation",
        "TooManyInvalidationsInProgress",
        "Processing your request will cause you to exceed the maximum number of in-progress wildcard "
        "invalidations.",
        http_status_code=400,
    )


def test_too_many_invalidations_in_progress_after_a_promotion_is_waited_out(aws: None) -> None:
    # Given CloudFront refuses the invalidation: too many already in progress
    client = boto3.client("cloudfront", region_name="us-east-1")
    stubber = Stubber(client)
    too_many_invalidations(stubber)
    # When InvalidateCache runs before its deadline
    with stubber:
        result = invalidate_app.create_invalidation(client, create_invalidation_request(deadline=100), at=50)
    # Then it asks to be run again after a wait (a quarter of the 50 s it has waited), not to fail
    # the promoted release
    assert (result.started, result.invalidationId, result.skipped) == (False, None, None)
    assert result.nextWaitSeconds == 13


def test_too_many_invalidations_until_the_deadline_goes_on_without_invalidating(aws: None) -> None:
    client = boto3.client("cloudfront", region_name="us-east-1")
    stubber = Stubber(client)
    too_many_invalidations(stubber)
    with stubber:
        result = invalidate_app.create_invalidation(client, create_invalidation_request(deadline=100), at=100)
    # The primary is promoted: VerifyPrimary decides whether viewers already get the release
    assert (result.started, result.invalidationId, result.nextWaitSeconds) == (False, None, 0)
    assert result.skipped is not None and "TooManyInvalidationsInProgress" in result.skipped


def disable_event() -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "primaryDistributionId": PRIMARY_ID,
        "stagingDistributionId": STAGING_ID,
        "deployTimeoutSeconds": 300,
    }


def policies_listed(stubber: Stubber, *configs: dict[str, Any]) -> None:
    """GetDistribution of staging, then ListContinuousDeploymentPolicies answering `configs`."""
    staging = distribution(STAGING_ID, distribution_config(staging=True))
    stubber.add_response("get_distribution", staging, {"Id": STAGING_ID})
    items = [
        {"ContinuousDeploymentPolicy": policy_response(config)["ContinuousDeploymentPolicy"]}
        for config in configs
    ]
    listed = {"MaxItems": 100, "Quantity": len(items), **({"Items": items} if items else {})}
    stubber.add_response(
        "list_continuous_deployment_policies", {"ContinuousDeploymentPolicyList": listed}, {}
    )


def test_rollback_disables_the_primarys_policy(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    client, stubber = stubbed_cloudfront()
    primary = distribution(PRIMARY_ID, distribution_config(ContinuousDeploymentPolicyId=POLICY_ID))
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})
    enabled = policy_config(True)
    policies_listed(stubber, enabled)
    stubber.add_response(
        "get_continuous_deployment_policy_config", policy_config_response(enabled, "C3"), {"Id": POLICY_ID}
    )
    stubber.add_response(
        "update_continuous_deployment_policy",
        policy_response({**enabled, "Enabled": False}),
        {"Id": POLICY_ID, "IfMatch": "C3", "ContinuousDeploymentPolicyConfig": {**enabled, "Enabled": False}},
    )
    use_client(monkeypatch, "cloudfront", client)
    with stubber:
        result = disable_app.lambda_handler(disable_event(), lambda_context)
    stubber.assert_no_pending_responses()
    assert (result["policyId"], result["changed"]) == (POLICY_ID, True)
    # CheckRollback waits for the primary to be Deployed until timing.deployTimeoutSeconds from now
    assert result["deadline"] >= now() + 299


@pytest.mark.parametrize("attached", [False, True])
def test_rollback_is_a_no_op_without_an_enabled_policy(
    attached: bool, monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given no policy, or one a promotion already disabled
    client, stubber = stubbed_cloudfront()
    config = (
        distribution_config(ContinuousDeploymentPolicyId=POLICY_ID) if attached else distribution_config()
    )
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, config), {"Id": PRIMARY_ID})
    policies_listed(stubber, *([policy_config(False)] if attached else []))
    if attached:
        stubber.add_response(
            "get_continuous_deployment_policy_config",
            policy_config_response(policy_config(False)),
            {"Id": POLICY_ID},
        )
    use_client(monkeypatch, "cloudfront", client)
    # When rolling back, then nothing is written (Stubber fails on any unexpected update)
    with stubber:
        result = disable_app.lambda_handler(disable_event(), lambda_context)
    assert (result["policyId"], result["changed"]) == (POLICY_ID if attached else None, False)
