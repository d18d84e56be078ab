"""DeployStaging (copy mode): CopyDistribution once, reuse afterwards, overrides on top of the primary."""

from __future__ import annotations

import pytest
from botocore.stub import ANY

from functions.deploy_staging import app
from tests.unit.cloudfront_stubs import (
    POLICY_ID,
    PRIMARY_ID,
    STAGING_ID,
    config_response,
    distribution,
    distribution_config,
    policy_config,
    policy_config_response,
    stubbed_cloudfront,
)
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client

pytestmark = pytest.mark.unit

EVENT = {
    "executionArn": EXECUTION_ARN,
    "primaryDistributionId": PRIMARY_ID,
    "overrides": {"originPath": "/2.0.0", "originId": None, "distributionConfig": {"Comment": "v2"}},
}


def expected_staging(caller_reference: str) -> dict[str, object]:
    config = distribution_config("/2.0.0", caller_reference=caller_reference, staging=True, Comment="v2")
    return config


def test_first_release_copies_the_primary_and_applies_overrides(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given a primary without a continuous deployment policy
    client, stubber = stubbed_cloudfront()
    primary = distribution(PRIMARY_ID, distribution_config("/1.0.0"))
    copied_config = distribution_config("/1.0.0", caller_reference="copy-ref", staging=True)
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})
    # No staging copy of this primary yet (none made by an earlier attempt or release)
    stubber.add_response("list_distributions", distribution_list(), {})
    stubber.add_response(
        "copy_distribution",
        {**distribution(STAGING_ID, copied_config, "InProgress"), "Location": "https://x"},
        {
            "PrimaryDistributionId": PRIMARY_ID,
            "Staging": True,
            "IfMatch": primary["ETag"],
            "CallerReference": ANY,
        },
    )
    stubber.add_response("get_distribution_config", config_response(copied_config, "S1"), {"Id": STAGING_ID})
    stubber.add_response(
        "update_distribution",
        distribution(STAGING_ID, expected_staging("copy-ref"), "InProgress"),
        {"Id": STAGING_ID, "IfMatch": "S1", "DistributionConfig": expected_staging("copy-ref")},
    )
    stubber.add_response(
        "get_distribution", distribution(STAGING_ID, expected_staging("copy-ref")), {"Id": STAGING_ID}
    )
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})
    use_client(monkeypatch, "cloudfront", client)
    # When DeployStaging runs
    with stubber:
        result = app.lambda_handler(EVENT, lambda_context)
    # Then a staging copy was made once, with the release's origin path
    stubber.assert_no_pending_responses()
    assert result == {
        "done": True,
        "status": "copied",
        "stagingDistributionId": STAGING_ID,
        "policyId": None,
        "nextWaitSeconds": 0,
    }


def test_later_releases_reuse_the_staging_distribution_of_the_policy(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    # Given a primary whose policy points at an existing staging distribution
    client, stubber = stubbed_cloudfront()
    primary_config = distribution_config("/1.0.0", ContinuousDeploymentPolicyId=POLICY_ID)
    primary = distribution(PRIMARY_ID, primary_config)
    old_staging = distribution_config("/1.5.0", caller_reference="staging-ref", staging=True)
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})
    stubber.add_response(
        "get_continuous_deployment_policy_config",
        policy_config_response(policy_config(False)),
        {"Id": POLICY_ID},
    )
    stubber.add_response(
        "list_distributions",
        distribution_list(summary(STAGING_ID, staging=True)),
        {},
    )
    stubber.add_response("get_distribution_config", config_response(old_staging, "S7"), {"Id": STAGING_ID})
    stubber.add_response(
        "update_distribution",
        distribution(STAGING_ID, expected_staging("staging-ref"), "InProgress"),
        {"Id": STAGING_ID, "IfMatch": "S7", "DistributionConfig": expected_staging("staging-ref")},
    )
    stubber.add_response(
        "get_distribution", distribution(STAGING_ID, expected_staging("staging-ref")), {"Id": STAGING_ID}
    )
    stubber.add_response("get_distribution", primary, {"Id": PRIMARY_ID})
    use_client(monkeypatch, "cloudfront", client)
    # When DeployStaging runs, then no CopyDistribution happens (Stubber fails on an unexpected call)
    with stubber:
        result = app.lambda_handler(EVENT, lambda_context)
    stubber.assert_no_pending_responses()
    assert result == {
        "done": True,
        "status": "reused",
        "stagingDistributionId": STAGING_ID,
        "policyId": POLICY_ID,
        "nextWaitSeconds": 0,
    }


def distribution_list(*summaries: dict[str, object]) -> dict[str, object]:
    listed = {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": len(summaries)}
    return {"DistributionList": {**listed, **({"Items": list(summaries)} if summaries else {})}}


def summary(distribution_id: str, staging: bool) -> dict[str, object]:
    found = distribution(distribution_id, distribution_config(staging=staging))["Distribution"]
    config = found["DistributionConfig"]
    return {
        "Id": distribution_id,
        "ARN": found["ARN"],
        "Status": "Deployed",
        "LastModifiedTime": found["LastModifiedTime"],
        "DomainName": found["DomainName"],
        "Aliases": config["Aliases"],
        "Origins": config["Origins"],
        "DefaultCacheBehavior": config["DefaultCacheBehavior"],
        "CacheBehaviors": {"Quantity": 0},
        "CustomErrorResponses": {"Quantity": 0},
        "Comment": "",
        "PriceClass": "PriceClass_All",
        "Enabled": True,
        "ViewerCertificate": {},
        "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
        "WebACLId": "",
        "HttpVersion": "http2",
        "IsIPV6Enabled": True,
        "Staging": staging,
    }
