"""Continuous deployment policy API of the CloudFront emulator, through a real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cfcd.local import cloudfront, moto_patches
from tests.unit.aws_mock import mocked_aws

pytestmark = pytest.mark.unit

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


@pytest.fixture
def client() -> Iterator[Any]:
    moto_patches.install()
    cloudfront.set_propagation_seconds(0)
    with mocked_aws():
        yield boto3.client("cloudfront", region_name="us-east-1")


def distribution_config(reference: str, *, aliases: list[str] | None = None) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Comment": reference,
        "Enabled": True,
        "Aliases": {"Quantity": len(aliases), "Items": aliases} if aliases else {"Quantity": 0},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": "site.s3.us-east-1.amazonaws.com",
                    "OriginPath": "/1.0.0",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_DISABLED,
        },
    }


def make_primary(client: Any, reference: str = "primary") -> dict[str, Any]:
    created = client.create_distribution(DistributionConfig=distribution_config(reference))
    return dict(created["Distribution"])


def make_staging(client: Any, primary_id: str, reference: str) -> dict[str, Any]:
    etag = client.get_distribution(Id=primary_id)["ETag"]
    copied = client.copy_distribution(
        PrimaryDistributionId=primary_id, Staging=True, IfMatch=etag, CallerReference=reference
    )
    return dict(copied["Distribution"])


def header_policy(
    staging_domain: str, header: str = "aws-cf-cd-env", value: str = "staging"
) -> dict[str, Any]:
    return {
        "StagingDistributionDnsNames": {"Quantity": 1, "Items": [staging_domain]},
        "Enabled": True,
        "TrafficConfig": {"Type": "SingleHeader", "SingleHeaderConfig": {"Header": header, "Value": value}},
    }


def weight_policy(
    staging_domain: str, weight: float, stickiness: dict[str, int] | None = None
) -> dict[str, Any]:
    single_weight: dict[str, Any] = {"Weight": weight}
    if stickiness is not None:
        single_weight["SessionStickinessConfig"] = stickiness
    return {
        "StagingDistributionDnsNames": {"Quantity": 1, "Items": [staging_domain]},
        "Enabled": True,
        "TrafficConfig": {"Type": "SingleWeight", "SingleWeightConfig": single_weight},
    }


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_policy_round_trip_create_get_config_list(client: Any) -> None:
    # Given a staging copy of a primary distribution
    primary = make_primary(client)
    staging = make_staging(client, primary["Id"], "staging")

    # When a header policy is created for it
    created = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )

    # Then Get, GetConfig and List return it with the same ETag and config
    policy_id = created["ContinuousDeploymentPolicy"]["Id"]
    assert created["Location"].endswith(f"/continuous-deployment-policy/{policy_id}")
    got = client.get_continuous_deployment_policy(Id=policy_id)
    config = client.get_continuous_deployment_policy_config(Id=policy_id)
    assert got["ETag"] == config["ETag"] == created["ETag"]
    assert config["ContinuousDeploymentPolicyConfig"] == header_policy(staging["DomainName"])
    listing = client.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]
    assert [item["ContinuousDeploymentPolicy"]["Id"] for item in listing["Items"]] == [policy_id]


def test_policy_update_needs_the_current_etag(client: Any) -> None:
    # Given a policy
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    created = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )
    policy_id, first_etag = created["ContinuousDeploymentPolicy"]["Id"], created["ETag"]
    disabled = {**header_policy(staging["DomainName"]), "Enabled": False}

    # When it is updated with its ETag
    updated = client.update_continuous_deployment_policy(
        Id=policy_id, IfMatch=first_etag, ContinuousDeploymentPolicyConfig=disabled
    )

    # Then the whole config is replaced and the ETag changes; the old ETag and none are refused
    assert updated["ETag"] != first_etag
    assert updated["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]["Enabled"] is False
    with pytest.raises(ClientError) as stale:
        client.update_continuous_deployment_policy(
            Id=policy_id, IfMatch=first_etag, ContinuousDeploymentPolicyConfig=disabled
        )
    assert error_code(stale) == "PreconditionFailed"
    assert stale.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as missing:
        client.update_continuous_deployment_policy(Id=policy_id, ContinuousDeploymentPolicyConfig=disabled)
    assert error_code(missing) == "InvalidIfMatchVersion"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-env", "staging"),  # not the aws-cf-cd- prefix
        ("aws-cf-cd-" + "h" * 247, "staging"),  # 257 characters
        ("aws-cf-cd-env", "v" * 1784),  # value longer than 1783
    ],
)
def test_header_policy_limits(client: Any, header: str, value: str) -> None:
    # Given a staging distribution
    staging = make_staging(client, make_primary(client)["Id"], "staging")

    # When a header policy breaks a limit, Then CloudFront refuses it
    with pytest.raises(ClientError) as refused:
        client.create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"], header, value)
        )
    assert error_code(refused) == "InvalidArgument"


def test_header_policy_at_the_limits_is_accepted(client: Any) -> None:
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    header = "aws-cf-cd-" + "h" * 246  # 256 characters

    created = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"], header, "v" * 1783)
    )

    assert (
        created["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]["TrafficConfig"][
            "SingleHeaderConfig"
        ]["Header"]
        == header
    )


@pytest.mark.parametrize(
    ("weight", "stickiness", "accepted"),
    [
        (0.15, {"IdleTTL": 300, "MaximumTTL": 600}, True),
        (0.0, None, True),
        (0.5, None, False),  # CloudFormation's schema allows it, CloudFront does not
        (0.15, {"IdleTTL": 299, "MaximumTTL": 600}, False),
        (0.15, {"IdleTTL": 300, "MaximumTTL": 3601}, False),
        (0.15, {"IdleTTL": 3600, "MaximumTTL": 3600}, True),
        (0.15, {"IdleTTL": 601, "MaximumTTL": 600}, False),  # IdleTTL <= MaximumTTL
        (-0.01, None, False),
    ],
)
def test_weight_policy_limits(
    client: Any, weight: float, stickiness: dict[str, int] | None, accepted: bool
) -> None:
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    config = weight_policy(staging["DomainName"], weight, stickiness)

    if accepted:
        created = client.create_continuous_deployment_policy(ContinuousDeploymentPolicyConfig=config)
        assert created["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"] == config
    else:
        with pytest.raises(ClientError) as refused:
            client.create_continuous_deployment_policy(ContinuousDeploymentPolicyConfig=config)
        assert error_code(refused) == "InvalidArgument"


def test_stickiness_needs_both_ttls(client: Any) -> None:
    # Given a client that skips botocore's own check of required members, as other SDKs might
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    unchecked: Any = boto3.client(
        "cloudfront", region_name="us-east-1", config=Config(parameter_validation=False)
    )

    # When the stickiness config has only IdleTTL, Then CloudFront refuses it
    with pytest.raises(ClientError) as refused:
        unchecked.create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=weight_policy(staging["DomainName"], 0.1, {"IdleTTL": 300})
        )
    assert error_code(refused) == "InvalidArgument"


def test_policy_must_route_to_a_staging_distribution(client: Any) -> None:
    primary = make_primary(client)

    with pytest.raises(ClientError) as refused:
        client.create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=header_policy(primary["DomainName"])
        )

    assert error_code(refused) == "InvalidArgument"


def test_one_policy_per_staging_distribution(client: Any) -> None:
    # Given two staging copies, each named by its own policy
    primary_id = make_primary(client)["Id"]
    staging, other = (make_staging(client, primary_id, reference) for reference in ("staging", "other"))
    client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )
    other_policy = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(other["DomainName"])
    )

    # When a second policy would name the first staging copy, by creation or by update
    with pytest.raises(ClientError) as created:
        client.create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=weight_policy(staging["DomainName"], 0.1)
        )
    with pytest.raises(ClientError) as updated:
        client.update_continuous_deployment_policy(
            Id=other_policy["ContinuousDeploymentPolicy"]["Id"],
            IfMatch=other_policy["ETag"],
            ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"]),
        )

    # Then both are refused
    assert error_code(created) == error_code(updated) == "StagingDistributionInUse"


def test_twenty_policies_per_account(client: Any) -> None:
    # Given 20 staging distributions, each with its policy
    primary = make_primary(client)
    stagings = [make_staging(client, primary["Id"], f"staging-{n}") for n in range(20)]
    for staging in stagings:
        client.create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
        )

    # When a 21st policy is created, Then the account limit refuses it
    with pytest.raises(ClientError) as refused:
        client.create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=header_policy(stagings[0]["DomainName"])
        )
    assert error_code(refused) == "TooManyContinuousDeploymentPolicies"


def test_attached_policy_cannot_be_deleted_until_detached_with_empty_id(client: Any) -> None:
    # Given a policy attached to its primary
    primary = make_primary(client)
    staging = make_staging(client, primary["Id"], "staging")
    created = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )
    policy_id = created["ContinuousDeploymentPolicy"]["Id"]
    current = client.get_distribution_config(Id=primary["Id"])
    config = {**current["DistributionConfig"], "ContinuousDeploymentPolicyId": policy_id}
    attached = client.update_distribution(
        Id=primary["Id"], IfMatch=current["ETag"], DistributionConfig=config
    )

    # When it is deleted, Then it is in use
    with pytest.raises(ClientError) as in_use:
        client.delete_continuous_deployment_policy(Id=policy_id, IfMatch=created["ETag"])
    assert error_code(in_use) == "ContinuousDeploymentPolicyInUse"

    # When the primary is updated without the field, Then the policy stays attached
    without_field = {k: v for k, v in config.items() if k != "ContinuousDeploymentPolicyId"}
    kept = client.update_distribution(
        Id=primary["Id"], IfMatch=attached["ETag"], DistributionConfig=without_field
    )
    assert kept["Distribution"]["DistributionConfig"]["ContinuousDeploymentPolicyId"] == policy_id

    # When it is detached with "", Then the policy can be deleted, and is gone
    detached = {**config, "ContinuousDeploymentPolicyId": ""}
    client.update_distribution(Id=primary["Id"], IfMatch=kept["ETag"], DistributionConfig=detached)
    client.delete_continuous_deployment_policy(Id=policy_id, IfMatch=created["ETag"])
    with pytest.raises(ClientError) as gone:
        client.get_continuous_deployment_policy(Id=policy_id)
    assert error_code(gone) == "NoSuchContinuousDeploymentPolicy"
