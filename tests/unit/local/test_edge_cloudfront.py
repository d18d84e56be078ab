"""The edge on the CloudFront emulator: distributions and policies made through a real boto3 client."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from cfcd.local import cloudfront, moto_patches
from cfcd.local.edge import EdgeServer, MotoS3OriginReader
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.edge_fakes import BUCKET, BUCKET_DOMAIN, Viewer

pytestmark = pytest.mark.unit

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
V1, V2 = "<h1>v1 App</h1>", "<h1>v2 App</h1>"


@pytest.fixture
def aws() -> Iterator[Any]:
    moto_patches.install()
    cloudfront.set_propagation_seconds(0)
    with mocked_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="1.0.0/index.html", Body=V1, ContentType="text/html")
        s3.put_object(Bucket=BUCKET, Key="2.0.0/index.html", Body=V2, ContentType="text/html")
        yield boto3.client("cloudfront", region_name="us-east-1")


@pytest.fixture
def edge(aws: Any) -> Iterator[EdgeServer]:
    with EdgeServer(cloudfront.edge_view(), MotoS3OriginReader(), rng=random.Random(1234)) as server:
        yield server


def site_config(reference: str) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Comment": "cfcd edge test site",
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": BUCKET_DOMAIN,
                    "OriginPath": "/1.0.0",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
        },
    }


def release_2_on_staging(client: Any, traffic: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A primary serving 1.0.0, a staging copy serving 2.0.0, and an enabled policy between them."""
    primary = client.create_distribution(DistributionConfig=site_config("primary"))["Distribution"]
    staging = client.copy_distribution(
        PrimaryDistributionId=primary["Id"],
        Staging=True,
        IfMatch=primary_etag(client, primary["Id"]),
        CallerReference="staging",
    )["Distribution"]
    staged = client.get_distribution_config(Id=staging["Id"])
    config = staged["DistributionConfig"]
    config["Origins"]["Items"][0]["OriginPath"] = "/2.0.0"
    client.update_distribution(Id=staging["Id"], IfMatch=staged["ETag"], DistributionConfig=config)
    policy = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig={
            "StagingDistributionDnsNames": {"Quantity": 1, "Items": [staging["DomainName"]]},
            "Enabled": True,
            "TrafficConfig": traffic,
        }
    )["ContinuousDeploymentPolicy"]
    current = client.get_distribution_config(Id=primary["Id"])
    client.update_distribution(
        Id=primary["Id"],
        IfMatch=current["ETag"],
        DistributionConfig={**current["DistributionConfig"], "ContinuousDeploymentPolicyId": policy["Id"]},
    )
    return primary, staging


def primary_etag(client: Any, distribution_id: str) -> str:
    return str(client.get_distribution(Id=distribution_id)["ETag"])


def test_header_release_through_the_edge_then_promotion_and_invalidation(aws: Any, edge: EdgeServer) -> None:
    # Given release 2.0.0 on staging behind a header policy
    primary, staging = release_2_on_staging(
        aws, {"Type": "SingleHeader", "SingleHeaderConfig": {"Header": "aws-cf-cd-env", "Value": "staging"}}
    )
    viewer = Viewer(edge.endpoint, host=primary["DomainName"])
    direct = Viewer(edge.endpoint, host=staging["DomainName"])
    try:
        # When viewers ask the primary's domain with and without the header
        # Then the header reaches staging, everyone else the primary, and staging is not reachable directly
        assert viewer.request("/", headers={"aws-cf-cd-env": "staging"}).text == V2
        assert viewer.request("/").text == V1
        assert direct.request("/").status == 403

        # When staging is promoted (the primary's cache still holds 1.0.0)
        aws.update_distribution_with_staging_config(
            Id=primary["Id"],
            StagingDistributionId=staging["Id"],
            IfMatch=f"{primary_etag(aws, primary['Id'])}, {primary_etag(aws, staging['Id'])}",
        )
        # Then viewers keep the cached release until the invalidation
        assert viewer.request("/").headers["X-Cache"] == "Hit from cloudfront"
        assert viewer.request("/").text == V1
        aws.create_invalidation(
            DistributionId=primary["Id"],
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": "after-promotion",
            },
        )
        promoted = viewer.request("/")
        assert promoted.text == V2
        assert promoted.headers["X-Cache"] == "Miss from cloudfront"
    finally:
        viewer.close()
        direct.close()


def test_weight_release_sample_through_the_edge(aws: Any, edge: EdgeServer) -> None:
    # Given release 2.0.0 on staging behind a sticky 0.15 weight policy made through the API
    primary, _ = release_2_on_staging(
        aws,
        {
            "Type": "SingleWeight",
            "SingleWeightConfig": {
                "Weight": 0.15,
                "SessionStickinessConfig": {"IdleTTL": 300, "MaximumTTL": 600},
            },
        },
    )
    viewer = Viewer(edge.endpoint, host=primary["DomainName"])
    try:
        # When 2,000 viewers without cookies ask for the (uncached) page
        replies = [viewer.request(f"/?viewer={n}") for n in range(2000)]
        # And one viewer comes back 20 times with its cookie
        first = viewer.request("/")
        cookie = first.cookie()
        assert cookie is not None
        again = {viewer.request("/index.html", headers={"Cookie": cookie}).text for _ in range(20)}
    finally:
        viewer.close()
    # Then 12-18 % landed on staging, and the returning viewer stayed on its side
    # (query strings are not in the cache key, so the sample reads through the cache: only
    # the first answer per side is a miss; the side is what the body tells)
    share = sum(reply.text == V2 for reply in replies) / len(replies)
    assert 0.12 <= share <= 0.18, share
    assert again == {first.text}
