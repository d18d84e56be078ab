"""Distributions, staging copies, promotion, ETags and propagation, through a real boto3 client."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cfcd.local import cloudfront, moto_patches
from cfcd.local.cloudfront import configs
from tests.polling import wait_for
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.test_cloudfront_policies import (
    CACHING_DISABLED,
    distribution_config,
    error_code,
    header_policy,
    make_primary,
    make_staging,
)

pytestmark = pytest.mark.unit
# How long a change stays InProgress: long enough that a busy machine still looks before it is deployed.
CHANGE_SECONDS = 2.0
DEADLINE_SECONDS = 15.0
POLL_SECONDS = 0.05


@pytest.fixture
def client() -> Iterator[Any]:
    moto_patches.install()
    cloudfront.set_propagation_seconds(0)
    with mocked_aws():
        yield boto3.client("cloudfront", region_name="us-east-1")
    cloudfront.set_propagation_seconds(0)


def attach_policy(client: Any, primary_id: str, staging_domain: str) -> tuple[str, str]:
    """Create a header policy for the staging distribution and attach it; (policy id, primary ETag)."""
    policy_id = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging_domain)
    )["ContinuousDeploymentPolicy"]["Id"]
    current = client.get_distribution_config(Id=primary_id)
    config = {**current["DistributionConfig"], "ContinuousDeploymentPolicyId": policy_id}
    updated = client.update_distribution(Id=primary_id, IfMatch=current["ETag"], DistributionConfig=config)
    return policy_id, updated["ETag"]


def update_config(client: Any, distribution_id: str, **changes: Any) -> str:
    """GetDistributionConfig, change top-level fields, UpdateDistribution; the new ETag."""
    current = client.get_distribution_config(Id=distribution_id)
    config = {**current["DistributionConfig"], **changes}
    return str(
        client.update_distribution(Id=distribution_id, IfMatch=current["ETag"], DistributionConfig=config)[
            "ETag"
        ]
    )


def until_deployed(client: Any, distribution_id: str) -> None:
    wait_for(
        lambda: client.get_distribution(Id=distribution_id)["Distribution"]["Status"] == "Deployed" or None,
        DEADLINE_SECONDS,
        f"{distribution_id} Deployed",
        POLL_SECONDS,
    )


def test_staging_and_policy_id_are_kept_in_configs(client: Any) -> None:
    # Given a distribution created with Staging false (moto alone drops the field)
    primary = make_primary(client)

    # When its config is read back
    config = client.get_distribution_config(Id=primary["Id"])["DistributionConfig"]

    # Then Staging and ContinuousDeploymentPolicyId are there, as CloudFront returns them
    assert config["Staging"] is False
    assert config["ContinuousDeploymentPolicyId"] == ""
    staging = make_staging(client, primary["Id"], "staging")
    assert client.get_distribution_config(Id=staging["Id"])["DistributionConfig"]["Staging"] is True


def test_every_change_gets_a_new_etag_and_stale_or_missing_ones_are_refused(client: Any) -> None:
    primary = make_primary(client)
    first = client.get_distribution_config(Id=primary["Id"])
    config = {**first["DistributionConfig"], "Comment": "changed"}

    updated = client.update_distribution(Id=primary["Id"], IfMatch=first["ETag"], DistributionConfig=config)

    assert updated["ETag"] != first["ETag"]
    assert client.get_distribution(Id=primary["Id"])["ETag"] == updated["ETag"]
    with pytest.raises(ClientError) as stale:
        client.update_distribution(Id=primary["Id"], IfMatch=first["ETag"], DistributionConfig=config)
    assert error_code(stale) == "PreconditionFailed"
    for garbled in ("", "not an etag!"):
        with pytest.raises(ClientError) as invalid:
            client.update_distribution(Id=primary["Id"], IfMatch=garbled, DistributionConfig=config)
        assert error_code(invalid) == "InvalidIfMatchVersion"
    with pytest.raises(ClientError) as stale_delete:
        client.delete_distribution(Id=primary["Id"], IfMatch=first["ETag"])
    assert error_code(stale_delete) == "PreconditionFailed"


def test_copy_distribution_makes_a_staging_copy_without_aliases(client: Any) -> None:
    # Given a primary with a CNAME
    created = client.create_distribution(
        DistributionConfig=distribution_config("p", aliases=["www.example.com"])
    )
    primary_id, etag = created["Distribution"]["Id"], created["ETag"]

    # When it is copied with a stale ETag, Then the copy is refused
    with pytest.raises(ClientError) as stale:
        client.copy_distribution(
            PrimaryDistributionId=primary_id, Staging=True, IfMatch="E0STALE0ETAG00", CallerReference="s"
        )
    assert error_code(stale) == "PreconditionFailed"

    # When it is copied with its ETag
    copied = client.copy_distribution(
        PrimaryDistributionId=primary_id, Staging=True, IfMatch=etag, CallerReference="s"
    )

    # Then the copy is a staging distribution with the primary's origins and no CNAME
    config = copied["Distribution"]["DistributionConfig"]
    assert config["Staging"] is True
    assert config["Aliases"] == {"Quantity": 0}
    assert config["Origins"] == created["Distribution"]["DistributionConfig"]["Origins"]
    assert copied["Distribution"]["Id"] != primary_id


def test_staging_distributions_reject_aliases(client: Any) -> None:
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    current = client.get_distribution_config(Id=staging["Id"])
    config = {**current["DistributionConfig"], "Aliases": {"Quantity": 1, "Items": ["staging.example.com"]}}

    with pytest.raises(ClientError) as refused:
        client.update_distribution(Id=staging["Id"], IfMatch=current["ETag"], DistributionConfig=config)

    assert error_code(refused) == "InvalidArgument"


def test_twenty_staging_distributions_per_account(client: Any) -> None:
    primary = make_primary(client)
    for n in range(20):
        make_staging(client, primary["Id"], f"staging-{n}")

    with pytest.raises(ClientError) as refused:
        make_staging(client, primary["Id"], "staging-20")

    assert error_code(refused) == "TooManyDistributions"


def test_promotion_copies_staging_onto_primary_and_disables_the_policy(client: Any) -> None:
    # Given a primary with a CNAME, a staging copy serving /2.0.0 and an attached policy
    created = client.create_distribution(
        DistributionConfig=distribution_config("p", aliases=["www.example.com"])
    )
    primary_id = created["Distribution"]["Id"]
    staging = make_staging(client, primary_id, "staging")
    staging_config = client.get_distribution_config(Id=staging["Id"])
    changed = staging_config["DistributionConfig"]
    changed["Origins"]["Items"][0]["OriginPath"] = "/2.0.0"
    staging_etag = client.update_distribution(
        Id=staging["Id"], IfMatch=staging_config["ETag"], DistributionConfig=changed
    )["ETag"]
    policy_id, primary_etag = attach_policy(client, primary_id, staging["DomainName"])

    # When the IfMatch is not the pair of ETags, Then promotion is refused
    with pytest.raises(ClientError) as single:
        client.update_distribution_with_staging_config(
            Id=primary_id, StagingDistributionId=staging["Id"], IfMatch=primary_etag
        )
    assert error_code(single) == "InvalidIfMatchVersion"
    with pytest.raises(ClientError) as stale:
        client.update_distribution_with_staging_config(
            Id=primary_id, StagingDistributionId=staging["Id"], IfMatch=f"{primary_etag}, {staging['Id']}"
        )
    assert error_code(stale) == "PreconditionFailed"

    # When it is promoted with both ETags
    promoted = client.update_distribution_with_staging_config(
        Id=primary_id, StagingDistributionId=staging["Id"], IfMatch=f"{primary_etag}, {staging_etag}"
    )

    # Then the primary serves the staging config but keeps its CNAME, policy and primary flag
    config = promoted["Distribution"]["DistributionConfig"]
    assert promoted["Distribution"]["Status"] == "InProgress"
    assert config["Origins"]["Items"][0]["OriginPath"] == "/2.0.0"
    assert config["Aliases"] == {"Quantity": 1, "Items": ["www.example.com"]}
    assert config["ContinuousDeploymentPolicyId"] == policy_id
    assert config["Staging"] is False
    assert config["CallerReference"] == "p"
    policy = client.get_continuous_deployment_policy_config(Id=policy_id)["ContinuousDeploymentPolicyConfig"]
    assert policy["Enabled"] is False
    # and the staging distribution is left as it was, to be reused
    assert client.get_distribution(Id=staging["Id"])["ETag"] == staging_etag


def test_deleting_a_staging_distribution_a_policy_uses_is_refused(client: Any) -> None:
    # Given a disabled staging distribution that a policy then routes to
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    disabled = update_config(client, staging["Id"], Enabled=False)
    client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )

    with pytest.raises(ClientError) as refused:
        client.delete_distribution(Id=staging["Id"], IfMatch=disabled)

    assert error_code(refused) == "StagingDistributionInUse"


def test_enabled_distribution_cannot_be_deleted(client: Any) -> None:
    primary = make_primary(client)
    current = client.get_distribution_config(Id=primary["Id"])

    with pytest.raises(ClientError) as refused:
        client.delete_distribution(Id=primary["Id"], IfMatch=current["ETag"])
    assert error_code(refused) == "DistributionNotDisabled"

    disabled = client.update_distribution(
        Id=primary["Id"],
        IfMatch=current["ETag"],
        DistributionConfig={**current["DistributionConfig"], "Enabled": False},
    )
    client.delete_distribution(Id=primary["Id"], IfMatch=disabled["ETag"])
    with pytest.raises(ClientError) as gone:
        client.get_distribution(Id=primary["Id"])
    assert error_code(gone) == "NoSuchDistribution"


def test_a_policy_cannot_be_attached_to_a_staging_distribution(client: Any) -> None:
    primary = make_primary(client)
    staging = make_staging(client, primary["Id"], "staging")
    policy_id = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )["ContinuousDeploymentPolicy"]["Id"]
    current = client.get_distribution_config(Id=staging["Id"])

    with pytest.raises(ClientError) as refused:
        client.update_distribution(
            Id=staging["Id"],
            IfMatch=current["ETag"],
            DistributionConfig={**current["DistributionConfig"], "ContinuousDeploymentPolicyId": policy_id},
        )

    assert error_code(refused) == "InvalidArgument"


def test_every_change_is_in_progress_then_deployed(client: Any) -> None:
    # Given no propagation delay
    created = client.create_distribution(DistributionConfig=distribution_config("p"))

    # Then the change is InProgress in its own response and Deployed right after
    assert created["Distribution"]["Status"] == "InProgress"
    assert client.get_distribution(Id=created["Distribution"]["Id"])["Distribution"]["Status"] == "Deployed"


def test_propagation_delay_keeps_changes_in_progress(client: Any) -> None:
    # Given a propagation delay
    cloudfront.set_propagation_seconds(CHANGE_SECONDS)
    created = client.create_distribution(DistributionConfig=distribution_config("p"))
    distribution_id = created["Distribution"]["Id"]

    # Then the distribution is InProgress until the delay has passed, then Deployed
    assert client.get_distribution(Id=distribution_id)["Distribution"]["Status"] == "InProgress"
    until_deployed(client, distribution_id)
    listed = client.list_distributions()["DistributionList"]["Items"]
    assert [(d["Id"], d["Status"]) for d in listed] == [(distribution_id, "Deployed")]


def test_policy_change_redeploys_the_primary(client: Any) -> None:
    # Given a primary with an attached policy, deployed
    primary = make_primary(client)
    staging = make_staging(client, primary["Id"], "staging")
    policy_id, _ = attach_policy(client, primary["Id"], staging["DomainName"])
    cloudfront.set_propagation_seconds(CHANGE_SECONDS)

    # When the policy is disabled
    current = client.get_continuous_deployment_policy_config(Id=policy_id)
    client.update_continuous_deployment_policy(
        Id=policy_id,
        IfMatch=current["ETag"],
        ContinuousDeploymentPolicyConfig={**current["ContinuousDeploymentPolicyConfig"], "Enabled": False},
    )

    # Then the primary is InProgress until the policy change is deployed
    assert client.get_distribution(Id=primary["Id"])["Distribution"]["Status"] == "InProgress"
    until_deployed(client, primary["Id"])


def test_invalidation_in_progress_then_completed(client: Any) -> None:
    # Given a propagation delay and a distribution
    cloudfront.set_propagation_seconds(CHANGE_SECONDS)
    distribution_id = make_primary(client)["Id"]
    batch = {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "release-2"}

    # When an invalidation is created
    created = client.create_invalidation(DistributionId=distribution_id, InvalidationBatch=batch)
    invalidation_id = created["Invalidation"]["Id"]

    # Then Get and List agree: InProgress, then Completed after the delay
    assert created["Invalidation"]["Status"] == "InProgress"
    assert (
        client.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)["Invalidation"]["Status"]
        == "InProgress"
    )

    def completed() -> bool:
        got = client.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)["Invalidation"]
        listed = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"]["Items"]
        return bool(got["Status"] == "Completed" and [i["Status"] for i in listed] == ["Completed"])

    wait_for(lambda: completed() or None, DEADLINE_SECONDS, "completed invalidation", POLL_SECONDS)
    waiter = client.get_waiter("invalidation_completed")
    waiter.wait(
        DistributionId=distribution_id, Id=invalidation_id, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )


# -- what an attached continuous deployment policy allows ------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-continuous-deployment.html#updating-staging-and-primary-distributions


def with_attached_policy(client: Any) -> tuple[str, str, str]:
    """A primary and its staging copy, a header policy attached; (primary, staging, policy) ids."""
    primary = make_primary(client)
    staging = make_staging(client, primary["Id"], "staging")
    policy_id, _ = attach_policy(client, primary["Id"], staging["DomainName"])
    return primary["Id"], staging["Id"], policy_id


def documented_change(field: str, current: dict[str, Any]) -> dict[str, Any]:
    """A valid change of each field the developer guide lists as updatable (and of what it needs)."""
    origins = copy.deepcopy(current["Origins"])
    if field == "Origins":
        origins["Items"][0]["OriginPath"] = "/2.0.0"
        return {"Origins": origins}
    if field == "OriginGroups":
        origins["Items"].append({**origins["Items"][0], "Id": "failover"})
        origins["Quantity"] = 2
        members = {"Quantity": 2, "Items": [{"OriginId": "site"}, {"OriginId": "failover"}]}
        group = {"Id": "group", "FailoverCriteria": {"StatusCodes": {"Quantity": 1, "Items": [500]}}}
        return {"Origins": origins, "OriginGroups": {"Quantity": 1, "Items": [{**group, "Members": members}]}}
    if field == "DefaultCacheBehavior":
        return {field: {**current[field], "Compress": not current[field]["Compress"]}}
    if field == "CacheBehaviors":
        behavior = {"PathPattern": "/api/*", "TargetOriginId": "site", "ViewerProtocolPolicy": "https-only"}
        return {field: {"Quantity": 1, "Items": [{**behavior, "CachePolicyId": CACHING_DISABLED}]}}
    if field == "CustomErrorResponses":
        response = {"ErrorCode": 404, "ResponsePagePath": "/404.html", "ResponseCode": "404"}
        return {field: {"Quantity": 1, "Items": [response]}}
    if field == "Restrictions":
        return {field: {"GeoRestriction": {"RestrictionType": "blacklist", "Quantity": 1, "Items": ["AQ"]}}}
    if field == "DefaultRootObject":
        return {field: "home.html"}
    if field == "Logging":
        return {
            field: {
                "Enabled": True,
                "IncludeCookies": False,
                "Bucket": "logs.s3.amazonaws.com",
                "Prefix": "cf/",
            }
        }
    assert field == "Comment"
    return {field: "release 2.0.0"}


UPDATABLE = sorted(configs.UPDATABLE_WITH_POLICY)
LOCKED_CHANGES = {
    "PriceClass": "PriceClass_100",
    "IsIPV6Enabled": False,
    "WebACLId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cfcd/1",
    "HttpVersion": "http1.1",
    "ViewerCertificate": {
        "CloudFrontDefaultCertificate": True,
        "SSLSupportMethod": "vip",
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "CertificateSource": "cloudfront",
    },
}


@pytest.mark.parametrize("side", ["primary", "staging"])
@pytest.mark.parametrize("field", UPDATABLE)
def test_documented_fields_change_while_a_policy_is_attached(client: Any, side: str, field: str) -> None:
    primary_id, staging_id, _ = with_attached_policy(client)
    distribution_id = primary_id if side == "primary" else staging_id
    current = client.get_distribution_config(Id=distribution_id)["DistributionConfig"]

    update_config(client, distribution_id, **documented_change(field, current))

    changed = client.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    assert changed[field] != current[field]


@pytest.mark.parametrize("side", ["primary", "staging"])
@pytest.mark.parametrize("field", sorted(LOCKED_CHANGES))
def test_any_other_field_change_while_a_policy_is_attached_is_an_illegal_update(
    client: Any, side: str, field: str
) -> None:
    # Given a primary with a policy attached and the staging distribution it routes to
    primary_id, staging_id, _ = with_attached_policy(client)
    distribution_id = primary_id if side == "primary" else staging_id
    before = client.get_distribution(Id=distribution_id)["ETag"]

    # When a field the developer guide does not list changes
    with pytest.raises(ClientError) as refused:
        update_config(client, distribution_id, **{field: LOCKED_CHANGES[field]})

    # Then CloudFront refuses it (the emulator names the field) and nothing changed
    assert error_code(refused) == "IllegalUpdate"
    message = refused.value.response["Error"]["Message"]
    assert "not supported for continuous deployment" in message
    assert field in message
    assert client.get_distribution(Id=distribution_id)["ETag"] == before


def test_aliases_and_enabled_of_a_primary_with_a_policy_are_locked(client: Any) -> None:
    primary_id, _, _ = with_attached_policy(client)

    for changes in ({"Aliases": {"Quantity": 1, "Items": ["www.example.com"]}}, {"Enabled": False}):
        with pytest.raises(ClientError) as refused:
            update_config(client, primary_id, **changes)
        assert error_code(refused) == "IllegalUpdate"


def test_detaching_the_policy_is_allowed_but_not_together_with_a_locked_change(client: Any) -> None:
    primary_id, _, policy_id = with_attached_policy(client)

    with pytest.raises(ClientError) as refused:
        update_config(client, primary_id, ContinuousDeploymentPolicyId="", PriceClass="PriceClass_100")
    assert error_code(refused) == "IllegalUpdate"

    update_config(client, primary_id, ContinuousDeploymentPolicyId="")
    update_config(client, primary_id, PriceClass="PriceClass_100")
    config = client.get_distribution_config(Id=primary_id)["DistributionConfig"]
    assert (config["ContinuousDeploymentPolicyId"], config["PriceClass"]) == ("", "PriceClass_100")
    assert (
        client.get_continuous_deployment_policy(Id=policy_id)["ContinuousDeploymentPolicy"]["Id"] == policy_id
    )


def test_staging_of_a_policy_no_primary_has_attached_is_not_locked(client: Any) -> None:
    # Known assumption (the developer guide speaks of an attached policy only)
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )

    update_config(client, staging["Id"], PriceClass="PriceClass_100")

    assert (
        client.get_distribution_config(Id=staging["Id"])["DistributionConfig"]["PriceClass"]
        == "PriceClass_100"
    )


def test_a_staging_distribution_a_policy_routes_to_cannot_be_disabled(client: Any) -> None:
    staging = make_staging(client, make_primary(client)["Id"], "staging")
    client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )

    with pytest.raises(ClientError) as refused:
        update_config(client, staging["Id"], Enabled=False)

    assert error_code(refused) == "StagingDistributionInUse"
    assert client.get_distribution_config(Id=staging["Id"])["DistributionConfig"]["Enabled"] is True


def test_promotion_copies_everything_but_aliases_and_the_policy_id(client: Any) -> None:
    # Given a primary with a CNAME and a staging copy whose viewer certificate and price class
    # were changed before the policy was attached
    created = client.create_distribution(
        DistributionConfig=distribution_config("p", aliases=["www.example.com"])
    )
    primary_id = created["Distribution"]["Id"]
    staging = make_staging(client, primary_id, "staging")
    staging_etag = update_config(
        client,
        staging["Id"],
        ViewerCertificate=LOCKED_CHANGES["ViewerCertificate"],
        PriceClass="PriceClass_100",
    )
    policy_id, primary_etag = attach_policy(client, primary_id, staging["DomainName"])

    # When the staging config is promoted
    promoted = client.update_distribution_with_staging_config(
        Id=primary_id, StagingDistributionId=staging["Id"], IfMatch=f"{primary_etag}, {staging_etag}"
    )["Distribution"]["DistributionConfig"]

    # Then the primary has the staging's certificate and price class, its own CNAME, policy
    # id, caller reference and primary flag
    assert promoted["ViewerCertificate"] == LOCKED_CHANGES["ViewerCertificate"]
    assert promoted["PriceClass"] == "PriceClass_100"
    assert promoted["Aliases"] == {"Quantity": 1, "Items": ["www.example.com"]}
    assert promoted["ContinuousDeploymentPolicyId"] == policy_id
    assert (promoted["CallerReference"], promoted["Staging"]) == ("p", False)


@pytest.mark.parametrize("http_version", ["http2and3", "http3"])
def test_a_primary_with_http3_cannot_use_continuous_deployment(client: Any, http_version: str) -> None:
    created = client.create_distribution(
        DistributionConfig={**distribution_config("p"), "HttpVersion": http_version}
    )
    primary_id = created["Distribution"]["Id"]
    # Its staging copy cannot carry HTTP/3 either
    with pytest.raises(ClientError) as copy_refused:
        make_staging(client, primary_id, "staging")
    assert error_code(copy_refused) == "IllegalUpdate"
    update_config(client, primary_id, HttpVersion="http2")
    staging = make_staging(client, primary_id, "staging")
    update_config(client, primary_id, HttpVersion=http_version)
    policy_id = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )["ContinuousDeploymentPolicy"]["Id"]

    with pytest.raises(ClientError) as attach_refused:
        update_config(client, primary_id, ContinuousDeploymentPolicyId=policy_id)

    assert error_code(attach_refused) == "IllegalUpdate"
    assert (
        client.get_distribution_config(Id=primary_id)["DistributionConfig"]["ContinuousDeploymentPolicyId"]
        == ""
    )


# -- invalidations ---------------------------------------------------------------------------------


def invalidate(client: Any, distribution_id: str, paths: list[str], reference: str) -> Any:
    batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": reference}
    return client.create_invalidation(DistributionId=distribution_id, InvalidationBatch=batch)


@pytest.mark.parametrize("path", ["/images/*/logo.png", "/*.png", "index.html", "/" + "a" * 4000])
def test_invalidation_paths_start_with_a_slash_and_end_any_wildcard(client: Any, path: str) -> None:
    distribution_id = make_primary(client)["Id"]

    with pytest.raises(ClientError) as refused:
        invalidate(client, distribution_id, ["/index.html", path], "bad-path")

    assert error_code(refused) == "InvalidArgument"
    listed = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    assert listed["Quantity"] == 0


def test_fifteen_wildcard_paths_in_progress_at_most_independent_of_files(client: Any) -> None:
    # Given invalidations that stay in progress, 15 wildcard paths among them
    cloudfront.set_propagation_seconds(60)
    distribution_id = make_primary(client)["Id"]
    invalidate(client, distribution_id, [f"/{n}/*" for n in range(10)], "first")
    invalidate(client, distribution_id, [*(f"/{n}/*" for n in range(10, 15)), "/index.html"], "second")

    # When a 16th wildcard path is asked for, Then it is refused; a file path alone still goes
    with pytest.raises(ClientError) as refused:
        invalidate(client, distribution_id, ["/*"], "third")
    assert error_code(refused) == "TooManyInvalidationsInProgress"
    invalidate(client, distribution_id, ["/about.html"], "fourth")
    # And the same caller reference again returns the invalidation it made, quota or not
    assert (
        invalidate(client, distribution_id, ["/about.html"], "fourth")["Invalidation"]["Status"]
        == "InProgress"
    )


def test_three_thousand_files_in_progress_at_most(client: Any) -> None:
    cloudfront.set_propagation_seconds(60)
    distribution_id = make_primary(client)["Id"]
    invalidate(client, distribution_id, [f"/{n}.html" for n in range(3000)], "all-files")

    with pytest.raises(ClientError) as refused:
        invalidate(client, distribution_id, ["/one-more.html"], "one-more")

    assert error_code(refused) == "TooManyInvalidationsInProgress"


def test_invalidations_in_progress_free_their_quota_once_completed(client: Any) -> None:
    cloudfront.set_propagation_seconds(CHANGE_SECONDS)
    distribution_id = make_primary(client)["Id"]
    invalidate(client, distribution_id, [f"/{n}/*" for n in range(15)], "full")

    def no_batch_in_progress() -> bool | None:
        distribution = client.get_distribution(Id=distribution_id)["Distribution"]
        return distribution["InProgressInvalidationBatches"] == 0 or None

    wait_for(
        no_batch_in_progress,
        DEADLINE_SECONDS,
        "no invalidation in progress",
        POLL_SECONDS,
    )

    assert invalidate(client, distribution_id, ["/*"], "after")["Invalidation"]["Status"] == "InProgress"


def test_a_batch_larger_than_the_quota_is_too_large(client: Any) -> None:
    distribution_id = make_primary(client)["Id"]

    with pytest.raises(ClientError) as refused:
        invalidate(client, distribution_id, [f"/{n}/*" for n in range(16)], "too-large")

    assert error_code(refused) == "BatchTooLarge"
