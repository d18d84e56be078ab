"""The edge's view of the emulator: propagated configs, policies, TTLs, invalidation listeners."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from cfcd.local import cloudfront, moto_patches
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.test_cloudfront_policies import distribution_config, header_policy, make_staging

pytestmark = pytest.mark.unit


@pytest.fixture
def client() -> Iterator[Any]:
    moto_patches.install()
    cloudfront.set_propagation_seconds(0)
    with mocked_aws():
        yield boto3.client("cloudfront", region_name="us-east-1")
    cloudfront.set_propagation_seconds(0)


def primary_with_alias(client: Any) -> dict[str, Any]:
    created = client.create_distribution(
        DistributionConfig=distribution_config("p", aliases=["www.example.com"])
    )
    return dict(created["Distribution"])


def attach(client: Any, primary_id: str, policy_config: dict[str, Any]) -> str:
    policy_id = str(
        client.create_continuous_deployment_policy(ContinuousDeploymentPolicyConfig=policy_config)[
            "ContinuousDeploymentPolicy"
        ]["Id"]
    )
    current = client.get_distribution_config(Id=primary_id)
    client.update_distribution(
        Id=primary_id,
        IfMatch=current["ETag"],
        DistributionConfig={**current["DistributionConfig"], "ContinuousDeploymentPolicyId": policy_id},
    )
    return policy_id


def test_distribution_found_by_domain_and_alias(client: Any) -> None:
    primary = primary_with_alias(client)
    view = cloudfront.edge_view()

    by_domain = view.distribution_for_host(primary["DomainName"])
    by_alias = view.distribution_for_host("WWW.example.com")

    assert by_domain is not None and by_alias is not None
    assert by_domain.distribution_id == by_alias.distribution_id == primary["Id"]
    assert by_domain.origins[0].origin_path == "/1.0.0"
    assert by_domain.policy is None and by_domain.staging_distribution is None
    assert view.distribution_for_host("unknown.example.com") is None


def test_enabled_policy_resolves_the_staging_distribution(client: Any) -> None:
    # Given a primary with an enabled header policy to its staging copy
    primary = primary_with_alias(client)
    staging = make_staging(client, primary["Id"], "staging")
    policy_id = attach(client, primary["Id"], header_policy(staging["DomainName"]))

    # When the edge looks the primary up
    seen = cloudfront.edge_view().distribution_for_host("www.example.com")

    # Then it sees the policy and the staging distribution it routes to
    assert seen is not None and seen.policy is not None and seen.staging_distribution is not None
    assert (seen.policy.policy_id, seen.policy.type, seen.policy.header, seen.policy.value) == (
        policy_id,
        "SingleHeader",
        "aws-cf-cd-env",
        "staging",
    )
    assert seen.staging_distribution.distribution_id == staging["Id"]
    assert seen.staging_distribution.staging is True


def test_disabled_policy_is_not_applied(client: Any) -> None:
    primary = primary_with_alias(client)
    staging = make_staging(client, primary["Id"], "staging")
    attach(client, primary["Id"], {**header_policy(staging["DomainName"]), "Enabled": False})

    seen = cloudfront.edge_view().distribution_for_host("www.example.com")

    assert seen is not None and seen.policy is None and seen.staging_distribution is None


def test_edge_sees_only_the_propagated_config(client: Any) -> None:
    # Given a deployed primary serving /1.0.0 and then a propagation delay
    primary = primary_with_alias(client)
    # Long enough that a busy machine still looks before it is deployed.
    cloudfront.set_propagation_seconds(3)
    current = client.get_distribution_config(Id=primary["Id"])
    config = current["DistributionConfig"]
    config["Origins"]["Items"][0]["OriginPath"] = "/2.0.0"

    # When the origin path is changed
    client.update_distribution(Id=primary["Id"], IfMatch=current["ETag"], DistributionConfig=config)

    # Then the edge keeps serving /1.0.0 until the change is deployed
    view = cloudfront.edge_view()

    def origin_path() -> str:
        seen = view.distribution_for_host("www.example.com")
        assert seen is not None
        return seen.origins[0].origin_path

    assert origin_path() == "/1.0.0"
    deadline = time.monotonic() + 15
    while origin_path() != "/2.0.0":
        assert time.monotonic() < deadline, "the change never propagated"
        time.sleep(0.05)
    assert client.get_distribution(Id=primary["Id"])["Distribution"]["Status"] == "Deployed"


def test_new_distribution_is_invisible_until_deployed(client: Any) -> None:
    cloudfront.set_propagation_seconds(30)

    primary = primary_with_alias(client)

    assert cloudfront.edge_view().distribution_for_host(primary["DomainName"]) is None


@pytest.mark.parametrize(
    ("behavior", "ttls"),
    [
        ({"CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}, (0, 0, 0)),
        ({"CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}, (1, 86400, 31536000)),
        (
            {
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "MinTTL": 5,
                "DefaultTTL": 60,
                "MaxTTL": 600,
            },
            (5, 60, 600),
        ),
    ],
)
def test_cache_behaviour_ttls(client: Any, behavior: dict[str, Any], ttls: tuple[int, int, int]) -> None:
    config = distribution_config("p")
    config["DefaultCacheBehavior"] = {
        "TargetOriginId": "site",
        "ViewerProtocolPolicy": "allow-all",
        **behavior,
    }
    created = client.create_distribution(DistributionConfig=config)

    seen = cloudfront.edge_view().distribution_for_host(created["Distribution"]["DomainName"])

    assert seen is not None
    default = seen.default_behavior
    assert (default.path_pattern, default.min_ttl, default.default_ttl, default.max_ttl) == ("*", *ttls)


def test_invalidation_listeners_hear_the_paths(client: Any) -> None:
    # Given a listener subscribed through the edge view
    primary = primary_with_alias(client)
    heard: list[tuple[str, list[str]]] = []
    cloudfront.edge_view().add_invalidation_listener(
        lambda distribution_id, paths: heard.append((distribution_id, paths))
    )

    # When an invalidation is created
    client.create_invalidation(
        DistributionId=primary["Id"],
        InvalidationBatch={
            "Paths": {"Quantity": 2, "Items": ["/index.html", "/css/*"]},
            "CallerReference": "r",
        },
    )

    # Then the listener got the distribution and its paths
    assert (primary["Id"], ["/index.html", "/css/*"]) in heard
