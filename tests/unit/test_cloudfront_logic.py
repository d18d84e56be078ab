"""cfcd_common.cloudfront: config merge, policy attach/detach, promotion, bucket policy."""

from __future__ import annotations

import json

import boto3
import pytest

from cfcd_common.cloudfront import (
    allow_distribution_in_bucket_policy,
    attach_policy,
    deep_merge,
    detach_policy,
    is_promoted,
    promote,
    s3_buckets_behind_oac,
    staging_config_from,
    traffic_config,
    traffic_from_config,
    update_distribution,
)
from cfcd_common.errors import InvalidInput, PromotionFailed
from cfcd_common.models import HeaderTraffic, Overrides, Stickiness, WeightTraffic
from tests.unit.cloudfront_stubs import (
    BUCKET,
    PRIMARY_ID,
    STAGING_ID,
    config_response,
    distribution,
    distribution_config,
    stubbed_cloudfront,
)

pytestmark = pytest.mark.unit


def test_deep_merge_merges_objects_and_replaces_lists() -> None:
    base = {"A": {"B": 1, "C": [1, 2]}, "D": "x"}
    merged = deep_merge(base, {"A": {"C": [3], "E": True}, "D": "y"})
    assert merged == {"A": {"B": 1, "C": [3], "E": True}, "D": "y"}
    assert base == {"A": {"B": 1, "C": [1, 2]}, "D": "x"}  # the input is not changed


def test_staging_config_is_the_primary_as_a_staging_distribution_plus_overrides() -> None:
    # Given the live primary and a staging distribution left by an older release
    primary = distribution_config("/1.0.0", ContinuousDeploymentPolicyId="cd-1")
    old_staging = distribution_config("/0.9.0", caller_reference="staging-ref", staging=True, Comment="old")
    overrides = Overrides(originPath="/2.0.0", distributionConfig={"Comment": "release 2.0.0"})
    # When the staging config is built
    config = staging_config_from(primary, old_staging, overrides)
    # Then it holds the primary's settings, the release's overrides and what staging requires
    assert config["Origins"]["Items"][0]["OriginPath"] == "/2.0.0"
    assert config["Comment"] == "release 2.0.0"
    assert config["CallerReference"] == "staging-ref"
    assert config["Aliases"] == {"Quantity": 0}
    assert config["Staging"] is True
    assert "ContinuousDeploymentPolicyId" not in config
    assert config["DefaultRootObject"] == primary["DefaultRootObject"]


def test_an_unknown_origin_id_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="staging.overrides.originId"):
        staging_config_from(
            distribution_config(), distribution_config(), Overrides(originPath="/2", originId="nope")
        )


@pytest.mark.parametrize(
    "traffic",
    [
        HeaderTraffic(type="SingleHeader", header="aws-cf-cd-env", value="staging"),
        WeightTraffic(type="SingleWeight", weight=0.15, stickiness=Stickiness(idleTtl=300, maximumTtl=600)),
        WeightTraffic(type="SingleWeight", weight=0.05),
    ],
)
def test_traffic_converts_to_cloudfront_and_back(traffic: HeaderTraffic | WeightTraffic) -> None:
    assert traffic_from_config(traffic_config(traffic)) == traffic


def test_update_rereads_the_etag_when_someone_else_updated_first() -> None:
    # Given a primary updated by someone else between our read and our write
    client, stubber = stubbed_cloudfront()
    config = distribution_config()
    stubber.add_response("get_distribution_config", config_response(config, "E1"), {"Id": PRIMARY_ID})
    stubber.add_client_error("update_distribution", "PreconditionFailed", http_status_code=412)
    stubber.add_response("get_distribution_config", config_response(config, "E2"), {"Id": PRIMARY_ID})
    stubber.add_response(
        "update_distribution",
        distribution(PRIMARY_ID, config, "InProgress"),
        {"Id": PRIMARY_ID, "IfMatch": "E2", "DistributionConfig": {**config, "Comment": "changed"}},
    )
    stubber.add_response(
        "get_distribution", distribution(PRIMARY_ID, config, "InProgress"), {"Id": PRIMARY_ID}
    )
    # When it is updated
    with stubber:
        update_distribution(client, PRIMARY_ID, lambda c: {**c, "Comment": "changed"})
    # Then the second write used the new ETag (Stubber checked the parameters)
    stubber.assert_no_pending_responses()


def test_attach_sends_the_policy_id_and_detach_sends_an_empty_string() -> None:
    client, stubber = stubbed_cloudfront()
    config = distribution_config()
    attached = {**config, "ContinuousDeploymentPolicyId": "cd-1"}
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, config), {"Id": PRIMARY_ID})
    stubber.add_response("get_distribution_config", config_response(config, "E1"), {"Id": PRIMARY_ID})
    stubber.add_response(
        "update_distribution",
        distribution(PRIMARY_ID, attached),
        {"Id": PRIMARY_ID, "IfMatch": "E1", "DistributionConfig": attached},
    )
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, attached), {"Id": PRIMARY_ID})
    # detach: "" (leaving the field out would keep the policy attached)
    stubber.add_response("get_distribution_config", config_response(attached, "E2"), {"Id": PRIMARY_ID})
    stubber.add_response(
        "update_distribution",
        distribution(PRIMARY_ID, config),
        {
            "Id": PRIMARY_ID,
            "IfMatch": "E2",
            "DistributionConfig": {**config, "ContinuousDeploymentPolicyId": ""},
        },
    )
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, config), {"Id": PRIMARY_ID})
    with stubber:
        assert attach_policy(client, PRIMARY_ID, "cd-1") is True
        detach_policy(client, PRIMARY_ID)
    stubber.assert_no_pending_responses()


def test_attach_is_a_no_op_when_the_policy_is_already_attached() -> None:
    client, stubber = stubbed_cloudfront()
    attached = distribution_config(ContinuousDeploymentPolicyId="cd-1")
    stubber.add_response("get_distribution", distribution(PRIMARY_ID, attached), {"Id": PRIMARY_ID})
    with stubber:
        assert attach_policy(client, PRIMARY_ID, "cd-1") is False
    stubber.assert_no_pending_responses()


def promotion_etags(stubber: object, primary_etag: str, staging_etag: str) -> None:
    stubber.add_response(  # type: ignore[attr-defined]
        "get_distribution_config", config_response(distribution_config(), primary_etag), {"Id": PRIMARY_ID}
    )
    stubber.add_response(  # type: ignore[attr-defined]
        "get_distribution_config",
        config_response(distribution_config(staging=True), staging_etag),
        {"Id": STAGING_ID},
    )


def test_promote_sends_both_etags_and_rereads_them_when_stale() -> None:
    client, stubber = stubbed_cloudfront()
    promotion_etags(stubber, "P1", "S1")
    stubber.add_client_error(
        "update_distribution_with_staging_config", "PreconditionFailed", http_status_code=412
    )
    promotion_etags(stubber, "P2", "S1")
    stubber.add_response(
        "update_distribution_with_staging_config",
        distribution(PRIMARY_ID, distribution_config("/2.0.0"), "InProgress"),
        {"Id": PRIMARY_ID, "StagingDistributionId": STAGING_ID, "IfMatch": "P2, S1"},
    )
    with stubber:
        promote(client, PRIMARY_ID, STAGING_ID)
    stubber.assert_no_pending_responses()


def test_a_refused_promotion_is_promotion_failed() -> None:
    client, stubber = stubbed_cloudfront()
    promotion_etags(stubber, "P1", "S1")
    stubber.add_client_error(
        "update_distribution_with_staging_config",
        "IllegalUpdate",
        "One or more fields updated are not supported for continuous deployment",
        http_status_code=400,
    )
    with stubber, pytest.raises(PromotionFailed, match="IllegalUpdate: One or more fields"):
        promote(client, PRIMARY_ID, STAGING_ID)


def test_throttled_promotion_is_left_to_the_transient_error_path() -> None:
    client, stubber = stubbed_cloudfront()
    promotion_etags(stubber, "P1", "S1")
    stubber.add_client_error("update_distribution_with_staging_config", "Throttling", http_status_code=400)
    with stubber, pytest.raises(Exception) as raised:
        promote(client, PRIMARY_ID, STAGING_ID)
    assert not isinstance(raised.value, PromotionFailed)


ACM_CERTIFICATE = {
    "ACMCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/site",
    "SSLSupportMethod": "sni-only",
    "MinimumProtocolVersion": "TLSv1.2_2021",
}
DEFAULT_CERTIFICATE = {"CloudFrontDefaultCertificate": True}


def test_promotion_keeps_only_the_primarys_aliases_and_policy_id() -> None:
    # Given a staging config as CloudFront promotes it: everything but Aliases and the policy id
    # (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistributionWithStagingConfig.html)
    staging = distribution_config("/2.0.0", caller_reference="staging-ref", staging=True)
    staging["ViewerCertificate"] = ACM_CERTIFICATE
    promoted = {**staging, "CallerReference": "primary-ref", "Staging": False}
    promoted |= {
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "ContinuousDeploymentPolicyId": "cd-1",
    }
    assert is_promoted(promoted, staging)
    # Then a primary whose certificate differs from staging's does not carry the staging config
    assert not is_promoted({**promoted, "ViewerCertificate": DEFAULT_CERTIFICATE}, staging)


def test_a_retried_promote_does_not_mistake_a_different_certificate_for_its_own_promotion() -> None:
    # Given the ETags changed since the probe and the primary differs from staging only in its certificate
    client, stubber = stubbed_cloudfront()
    staging = distribution_config("/2.0.0", caller_reference="staging-ref", staging=True)
    primary = {**staging, "CallerReference": "primary-ref", "Staging": False}
    primary |= {
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "ViewerCertificate": ACM_CERTIFICATE,
    }
    staging["ViewerCertificate"] = DEFAULT_CERTIFICATE
    stubber.add_response("get_distribution_config", config_response(primary, "P2"), {"Id": PRIMARY_ID})
    stubber.add_response("get_distribution_config", config_response(staging, "S2"), {"Id": STAGING_ID})
    # When Promote runs again, Then it refuses rather than report a promotion that did not happen
    with stubber, pytest.raises(PromotionFailed, match="changed since the release was probed"):
        promote(client, PRIMARY_ID, STAGING_ID, ("P1", "S1"))


def test_buckets_behind_oac_are_found_from_the_origin_domain() -> None:
    config = distribution_config()
    config["Origins"]["Items"].append(
        {"Id": "api", "DomainName": "api.example.com", "CustomOriginConfig": {}, "OriginAccessControlId": ""}
    )
    assert s3_buckets_behind_oac(config) == [BUCKET]


def test_bucket_policy_gains_one_statement_for_the_staging_distribution(aws: None) -> None:
    # Given a site bucket whose policy lets the primary read it
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    primary_arn = f"arn:aws:cloudfront::123456789012:distribution/{PRIMARY_ID}"
    staging_arn = f"arn:aws:cloudfront::123456789012:distribution/{STAGING_ID}"
    existing = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Primary",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": primary_arn}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(existing))
    # When the staging distribution is allowed, twice
    first = allow_distribution_in_bucket_policy(s3, BUCKET, staging_arn)
    second = allow_distribution_in_bucket_policy(s3, BUCKET, staging_arn)
    # Then one statement was added, the primary's kept
    statements = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert (first, second) == (True, False)
    assert [s["Condition"]["StringEquals"]["AWS:SourceArn"] for s in statements] == [primary_arn, staging_arn]
    assert statements[1]["Resource"] == f"arn:aws:s3:::{BUCKET}/*"


def test_bucket_without_a_policy_gets_one(aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    staging_arn = f"arn:aws:cloudfront::123456789012:distribution/{STAGING_ID}"
    assert allow_distribution_in_bucket_policy(s3, BUCKET, staging_arn) is True
    assert staging_arn in s3.get_bucket_policy(Bucket=BUCKET)["Policy"]
