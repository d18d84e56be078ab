"""CloudFront continuous deployment, done once for every task that needs it.

The rules that shape this module (docs/design.md §3): every update sends the latest ETag; a
primary with a policy must keep sending its ContinuousDeploymentPolicyId and detaching needs ""
(omitting the field is ignored); policy updates replace the whole config; promotion takes
`IfMatch: "<primary ETag>, <staging ETag>"`; with OAC the bucket policy must also allow the
staging distribution.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from botocore.exceptions import ClientError

from cfcd_common.aws import error_code, is_transient
from cfcd_common.errors import InvalidInput, PromotionFailed
from cfcd_common.models import (
    UPDATABLE_WHILE_POLICY_ATTACHED,
    HeaderTraffic,
    Overrides,
    Stickiness,
    Traffic,
    WeightTraffic,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import (
        ContinuousDeploymentPolicyConfigUnionTypeDef,
        DistributionConfigUnionTypeDef,
    )
    from mypy_boto3_s3 import S3Client

Config = dict[str, Any]
# Someone else updated between our read and write: read the new ETag and try again.
STALE_ETAG_ERRORS = frozenset({"PreconditionFailed", "InvalidIfMatchVersion"})
UPDATE_ATTEMPTS = 3
R = TypeVar("R")
_S3_ORIGIN = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3[.-]")


@dataclass(frozen=True)
class Distribution:
    id: str
    arn: str
    domain_name: str
    status: str
    etag: str
    config: Config


def get_distribution(cloudfront: CloudFrontClient, distribution_id: str) -> Distribution:
    response = cloudfront.get_distribution(Id=distribution_id)
    found = response["Distribution"]
    return Distribution(
        id=found["Id"],
        arn=found["ARN"],
        domain_name=found["DomainName"],
        status=found["Status"],
        etag=response["ETag"],
        config=cast(Config, found["DistributionConfig"]),
    )


def deep_merge(base: Config, patch: Config) -> Config:
    """Objects merged key by key, lists and scalars replaced (a CloudFront list is a whole value)."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _default_origin_id(config: Config) -> str:
    return str(config["DefaultCacheBehavior"]["TargetOriginId"])


def _origin(config: Config, origin_id: str | None = None) -> Config:
    """The origin `origin_id` names, by default the target of the default cache behavior."""
    target = origin_id or _default_origin_id(config)
    matching = [origin for origin in config["Origins"].get("Items", []) if origin["Id"] == target]
    if not matching:
        raise InvalidInput(f"staging.overrides.originId: no origin {target!r} in the distribution")
    return cast(Config, matching[0])


def set_origin_path(config: Config, origin_path: str, origin_id: str | None = None) -> Config:
    updated = copy.deepcopy(config)
    _origin(updated, origin_id)["OriginPath"] = origin_path
    return updated


def origin_path_of(config: Config, origin_id: str | None = None) -> str:
    """The OriginPath of an origin ("" for none), by default of the default behavior's origin."""
    return str(_origin(config, origin_id).get("OriginPath", ""))


def apply_overrides(config: Config, overrides: Overrides) -> Config:
    updated = deep_merge(config, overrides.distributionConfig or {})
    if overrides.originPath is not None:
        updated = set_origin_path(updated, overrides.originPath, overrides.originId)
    return updated


def staging_config_from(primary: Config, staging: Config, overrides: Overrides) -> Config:
    """The primary's config as a staging distribution can hold it, then the release's overrides.

    Every run starts from the primary (what is live), so overrides of earlier releases never leak.
    """
    config = copy.deepcopy(primary)
    config["CallerReference"] = staging["CallerReference"]
    config["Aliases"] = {"Quantity": 0}
    config["Staging"] = True
    config.pop("ContinuousDeploymentPolicyId", None)
    return apply_overrides(config, overrides)


def restored_staging_config(primary: Config, staging: Config, restored: Config) -> Config:
    """The primary's config as staging holds it, with the fields continuous deployment may change
    taken from `restored` (a config the primary had before); every other field stays the
    primary's, since CloudFront would refuse to change it (docs/design.md §3.2)."""
    config = staging_config_from(primary, staging, Overrides())
    for key in UPDATABLE_WHILE_POLICY_ATTACHED:
        if key in restored:
            config[key] = copy.deepcopy(restored[key])
        else:
            config.pop(key, None)
    return config


def with_fresh_etag(attempt: Callable[[], R]) -> R:
    """Run a read-ETag, change, write(IfMatch) `attempt` again, from a new read, while CloudFront
    answers that the ETag it sent is stale (another writer came in between); at most
    UPDATE_ATTEMPTS times, the last one's error raised as it is."""
    for _ in range(UPDATE_ATTEMPTS - 1):
        try:
            return attempt()
        except ClientError as error:
            if error_code(error) not in STALE_ETAG_ERRORS:
                raise
    return attempt()


def update_distribution(
    cloudfront: CloudFrontClient, distribution_id: str, change: Callable[[Config], Config]
) -> Distribution:
    """GetDistributionConfig → change → UpdateDistribution(IfMatch), again on a stale ETag."""

    def attempt() -> None:
        current = cloudfront.get_distribution_config(Id=distribution_id)
        cloudfront.update_distribution(
            Id=distribution_id,
            IfMatch=current["ETag"],
            DistributionConfig=cast(
                "DistributionConfigUnionTypeDef", change(cast(Config, current["DistributionConfig"]))
            ),
        )

    with_fresh_etag(attempt)
    return get_distribution(cloudfront, distribution_id)


def update_policy(
    cloudfront: CloudFrontClient, policy_id: str, change: Callable[[Config], Config | None]
) -> tuple[Config, bool]:
    """GetContinuousDeploymentPolicyConfig → change → UpdateContinuousDeploymentPolicy(IfMatch),
    again on a stale ETag. `change` answers None when the policy already is as it should be:
    nothing is written. Returns the config in force and whether this call wrote it."""

    def attempt() -> tuple[Config, bool]:
        current = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)
        config = cast(Config, current["ContinuousDeploymentPolicyConfig"])
        wanted = change(config)
        if wanted is None:
            return config, False
        cloudfront.update_continuous_deployment_policy(
            Id=policy_id,
            IfMatch=current["ETag"],
            ContinuousDeploymentPolicyConfig=cast("ContinuousDeploymentPolicyConfigUnionTypeDef", wanted),
        )
        return wanted, True

    return with_fresh_etag(attempt)


def caller_reference_prefix(primary_id: str) -> str:
    """What every CallerReference cfcd gives a staging copy of this primary starts with: how cfcd
    tells its own copies from other tools' (distribution ids hold no "-")."""
    return f"cfcd-{primary_id}-"


def caller_reference(primary_id: str, execution_arn: str) -> str:
    """Stable per execution (the same for a retried call), under the primary's prefix."""
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:16]
    return caller_reference_prefix(primary_id) + digest


def staging_copies_of(cloudfront: CloudFrontClient, primary_id: str) -> list[str]:
    """The staging distributions cfcd copied from this primary, by their CallerReference prefix.

    ListDistributions' summaries carry no CallerReference: each staging distribution's config is
    read (an account holds at most 20 staging distributions). One deleted since it was listed (its
    owner, another site's release, retired it) is no copy of this primary.
    """
    prefix = caller_reference_prefix(primary_id)
    copies = []
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for summary in page["DistributionList"].get("Items", []):
            if not summary.get("Staging", False):
                continue
            try:
                config = cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
            except ClientError as error:
                if error_code(error) == "NoSuchDistribution":
                    continue
                raise
            if config["CallerReference"].startswith(prefix):
                copies.append(summary["Id"])
    return copies


def copy_primary_once(
    cloudfront: CloudFrontClient, primary: Distribution, execution_arn: str
) -> tuple[str, bool]:
    """The staging copy of `primary` cfcd already made, else a new one. Returns (id, copied now).

    Adopting covers a CopyDistribution applied with its answer lost (the task's retry: the caller
    reference is per execution, so copying again fails DistributionAlreadyExists) and the copy of
    an earlier release that failed before attaching its policy (no policy names the copy).
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DistributionConfig.html
    (CallerReference: a value already used gives DistributionAlreadyExists).
    """
    adoptable = staging_copies_of(cloudfront, primary.id)
    if adoptable:
        return adoptable[0], False
    try:
        copied = cloudfront.copy_distribution(
            PrimaryDistributionId=primary.id,
            Staging=True,
            IfMatch=primary.etag,
            CallerReference=caller_reference(primary.id, execution_arn),
        )
    except ClientError as error:
        # boto3's own retry of a copy CloudFront applied but answered with a 5xx: it exists now.
        adoptable = (
            staging_copies_of(cloudfront, primary.id)
            if error_code(error) == "DistributionAlreadyExists"
            else []
        )
        if not adoptable:
            raise
        return adoptable[0], False
    return copied["Distribution"]["Id"], True


def staging_distribution_of_policy(cloudfront: CloudFrontClient, policy_id: str) -> str | None:
    """The staging distribution a policy points at (the policy names DNS names, not ids)."""
    policy = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)
    names = set(policy["ContinuousDeploymentPolicyConfig"]["StagingDistributionDnsNames"].get("Items", []))
    for page in cloudfront.get_paginator("list_distributions").paginate():
        for summary in page["DistributionList"].get("Items", []):
            if summary["DomainName"] in names and summary.get("Staging", False):
                return summary["Id"]
    return None


def ensure_staging_distribution(
    cloudfront: CloudFrontClient,
    primary_id: str,
    stage: Callable[[Config, Config], Config],
    execution_arn: str,
) -> tuple[Distribution, bool]:
    """Reuse the staging distribution of the primary's policy, else cfcd's copy of the primary,
    else CopyDistribution (once); then give it `stage(primary config, staging config)`.

    Returns the staging distribution and whether it was created now.
    An account holds at most 20 staging distributions, so a copy per release is not an option.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/continuous-deployment-quotas-considerations.html
    """
    primary = get_distribution(cloudfront, primary_id)
    policy_id = primary.config.get("ContinuousDeploymentPolicyId") or None
    staging_id = staging_distribution_of_policy(cloudfront, policy_id) if policy_id else None
    created = False
    if staging_id is None:
        staging_id, created = copy_primary_once(cloudfront, primary, execution_arn)
    staging = update_distribution(cloudfront, staging_id, lambda current: stage(primary.config, current))
    return staging, created


def traffic_config(traffic: Traffic) -> Config:
    if isinstance(traffic, HeaderTraffic):
        return {
            "Type": "SingleHeader",
            "SingleHeaderConfig": {"Header": traffic.header, "Value": traffic.value},
        }
    # A progressive release starts at its first step (SetStepWeight moves it on).
    weight: Config = {"Weight": traffic.first_weight}
    if traffic.stickiness is not None:
        weight["SessionStickinessConfig"] = {
            "IdleTTL": traffic.stickiness.idleTtl,
            "MaximumTTL": traffic.stickiness.maximumTtl,
        }
    return {"Type": "SingleWeight", "SingleWeightConfig": weight}


def traffic_from_config(config: Config) -> Traffic:
    """The policy's TrafficConfig in the input contract's terms (for probe and approval mail)."""
    if config["Type"] == "SingleHeader":
        header = config["SingleHeaderConfig"]
        return HeaderTraffic(type="SingleHeader", header=header["Header"], value=header["Value"])
    weight = config["SingleWeightConfig"]
    sticky = weight.get("SessionStickinessConfig")
    stickiness = Stickiness(idleTtl=sticky["IdleTTL"], maximumTtl=sticky["MaximumTTL"]) if sticky else None
    return WeightTraffic(type="SingleWeight", weight=float(weight["Weight"]), stickiness=stickiness)


def _policy_config(staging_domain: str, traffic: Config, enabled: bool) -> Config:
    return {
        "StagingDistributionDnsNames": {"Quantity": 1, "Items": [staging_domain]},
        "Enabled": enabled,
        "TrafficConfig": traffic,
    }


def policies_naming(cloudfront: CloudFrontClient, staging_domain: str) -> list[str]:
    """The policies that send traffic to this staging domain, attached to a primary or not.
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ListContinuousDeploymentPolicies.html
    """
    found: list[str] = []
    marker: str | None = None
    while True:
        page = cloudfront.list_continuous_deployment_policies(**({"Marker": marker} if marker else {}))
        listed = page["ContinuousDeploymentPolicyList"]
        for item in listed.get("Items", []):
            policy = item["ContinuousDeploymentPolicy"]
            names = policy["ContinuousDeploymentPolicyConfig"]["StagingDistributionDnsNames"].get("Items", [])
            if staging_domain in names:
                found.append(policy["Id"])
        marker = listed.get("NextMarker") or None
        if marker is None:
            return found


# CreateContinuousDeploymentPolicy's answers when a policy already names the staging distribution
# (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateContinuousDeploymentPolicy.html).
POLICY_EXISTS_ERRORS = frozenset({"StagingDistributionInUse", "ContinuousDeploymentPolicyAlreadyExists"})


def enable_policy(
    cloudfront: CloudFrontClient, policy_id: str | None, staging_domain: str, traffic: Traffic | None
) -> tuple[str, Traffic]:
    """Create or update the policy so it sends `traffic` to the staging domain, and enable it.

    Enabled on every run: promotion disables the policy and CloudFormation never notices.
    Without `traffic` an existing policy (e.g. made by the staging stack) keeps its own.
    Without a known policy, one already naming the staging domain is adopted: made by an earlier
    attempt whose answer was lost, or by a release that failed before attaching it. A staging
    distribution can be named by one policy only (StagingDistributionInUse).
    """
    if policy_id is None:
        named = policies_naming(cloudfront, staging_domain)
        policy_id = named[0] if named else None
    if policy_id is None:
        if traffic is None:
            raise InvalidInput("traffic: required when no continuous deployment policy exists yet")
        try:
            created = cloudfront.create_continuous_deployment_policy(
                ContinuousDeploymentPolicyConfig=cast(
                    "ContinuousDeploymentPolicyConfigUnionTypeDef",
                    _policy_config(staging_domain, traffic_config(traffic), enabled=True),
                )
            )
            return created["ContinuousDeploymentPolicy"]["Id"], traffic
        except ClientError as error:
            # boto3's own retry of a create CloudFront applied but answered with a 5xx.
            named = (
                policies_naming(cloudfront, staging_domain)
                if error_code(error) in POLICY_EXISTS_ERRORS
                else []
            )
            if not named:
                raise
            policy_id = named[0]

    def enabled(old: Config) -> Config | None:
        wanted = traffic_config(traffic) if traffic is not None else old["TrafficConfig"]
        config = _policy_config(staging_domain, wanted, enabled=True)
        return None if config == old else config

    config, _ = update_policy(cloudfront, policy_id, enabled)
    return policy_id, traffic_from_config(config["TrafficConfig"])


def set_policy_weight(cloudfront: CloudFrontClient, policy_id: str, weight: float) -> bool:
    """Send `weight` of the viewers to staging (a SingleWeight policy), leaving everything else of the
    policy as it is. Returns False when the weight already was `weight` (nothing written, so
    nothing to redeploy: a retried step finds its own update done)."""

    def weighted(config: Config) -> Config | None:
        traffic = config["TrafficConfig"]
        if traffic["Type"] != "SingleWeight":
            raise InvalidInput(f"traffic.steps: policy {policy_id} is {traffic['Type']}, not SingleWeight")
        if float(traffic["SingleWeightConfig"]["Weight"]) == weight:
            return None
        single = {**traffic["SingleWeightConfig"], "Weight": weight}
        return {**config, "TrafficConfig": {**traffic, "SingleWeightConfig": single}}

    _, written = update_policy(cloudfront, policy_id, weighted)
    return written


def disable_policy(cloudfront: CloudFrontClient, policy_id: str) -> bool:
    """Stop sending viewers to staging. Returns False when it was already disabled."""
    _, written = update_policy(
        cloudfront, policy_id, lambda config: {**config, "Enabled": False} if config["Enabled"] else None
    )
    return written


def attach_policy(cloudfront: CloudFrontClient, primary_id: str, policy_id: str) -> bool:
    """Point the primary at the policy. Returns False when it already was (no update, no redeploy)."""
    primary = get_distribution(cloudfront, primary_id)
    if primary.config.get("ContinuousDeploymentPolicyId") == policy_id:
        return False
    update_distribution(
        cloudfront, primary_id, lambda config: {**config, "ContinuousDeploymentPolicyId": policy_id}
    )
    return True


def detach_policy(cloudfront: CloudFrontClient, primary_id: str) -> None:
    # "" detaches; leaving the field out would keep the policy attached.
    update_distribution(cloudfront, primary_id, lambda config: {**config, "ContinuousDeploymentPolicyId": ""})


# What a promotion leaves on the primary instead of taking it from the staging distribution:
# "The primary distribution retains its Aliases [...] and ContinuousDeploymentPolicyId value, but
# otherwise its configuration is overwritten to match the staging distribution."
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistributionWithStagingConfig.html
# CallerReference and Staging are the distribution's identity, never copied (known assumption:
# the reference is silent; a CallerReference cannot be changed, a primary cannot become staging).
# Everything else, ViewerCertificate included, comes from staging.
PRIMARY_KEEPS_ON_PROMOTION = frozenset(
    {"Aliases", "ContinuousDeploymentPolicyId", "CallerReference", "Staging"}
)


def locked_differences(primary: Config, staging: Config) -> list[str]:
    """Fields in which staging differs from the primary but may not: CloudFront refuses to change
    them while a policy is attached (IllegalUpdate), and promotion would copy them onto the primary.
    Only the fields listed in UPDATABLE_WHILE_POLICY_ATTACHED may differ, besides what the primary
    keeps on promotion."""
    free = UPDATABLE_WHILE_POLICY_ATTACHED | PRIMARY_KEEPS_ON_PROMOTION
    return sorted(
        key
        for key in primary.keys() | staging.keys()
        if key not in free and primary.get(key) != staging.get(key)
    )


def is_promoted(primary: Config, staging: Config) -> bool:
    """Does the primary already carry the staging config (everything promotion copies)?"""

    def copied(config: Config) -> Config:
        return {key: value for key, value in config.items() if key not in PRIMARY_KEEPS_ON_PROMOTION}

    return copied(primary) == copied(staging)


def promote(
    cloudfront: CloudFrontClient,
    primary_id: str,
    staging_id: str,
    probed_etags: tuple[str, str] | None = None,
) -> None:
    """Copy the staging config onto the primary (CloudFront then disables the policy).

    `probed_etags` are the (primary, staging) ETags when the policy went live: the staging config
    was derived from that primary and probed as that staging. If either changed since, another
    writer changed them mid-release and promoting would silently undo that change (or ship what
    nobody probed), so it is a PromotionFailed, the primary left as the other writer left it;
    unless the change is this very promotion, done by an earlier attempt of a retried task.
    Both ETags are re-read when CloudFront says one is stale; any other refusal
    (IllegalUpdate, unsupported field changes) is a PromotionFailed.
    """

    def attempt() -> None:
        primary = cloudfront.get_distribution_config(Id=primary_id)
        staging = cloudfront.get_distribution_config(Id=staging_id)
        current = (primary["ETag"], staging["ETag"])
        if probed_etags is not None and current != probed_etags:
            if is_promoted(
                cast(Config, primary["DistributionConfig"]), cast(Config, staging["DistributionConfig"])
            ):
                return
            raise PromotionFailed(
                f"{primary_id} or its staging distribution {staging_id} changed since the release was "
                f"probed (ETags {probed_etags[0]}, {probed_etags[1]} then, {current[0]}, {current[1]} now): "
                "not promoting over another writer's change"
            )
        cloudfront.update_distribution_with_staging_config(
            Id=primary_id, StagingDistributionId=staging_id, IfMatch=f"{current[0]}, {current[1]}"
        )

    try:
        with_fresh_etag(attempt)
    except ClientError as error:
        # Only CloudFront's refusal of the promotion itself (a stale ETag to the last attempt
        # included) is a PromotionFailed; a failed read, or throttling, stays what it is.
        if error.operation_name != "UpdateDistributionWithStagingConfig" or is_transient(error):
            raise
        code = error_code(error)
        raise PromotionFailed(f"{code}: {error.response.get('Error', {}).get('Message', '')}") from error


def s3_buckets_behind_oac(config: Config) -> list[str]:
    """Buckets the distribution reads through Origin Access Control (they need a bucket policy)."""
    buckets = []
    for origin in config["Origins"].get("Items", []):
        match = _S3_ORIGIN.match(origin["DomainName"])
        if match and origin.get("OriginAccessControlId"):
            buckets.append(match.group("bucket"))
    return buckets


def staging_read_statement(bucket: str, distribution_arn: str) -> Config:
    partition = distribution_arn.split(":")[1]
    return {
        "Sid": "CfcdStaging" + distribution_arn.rsplit("/", 1)[-1],
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"arn:{partition}:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def allow_distribution_in_bucket_policy(s3: S3Client, bucket: str, distribution_arn: str) -> bool:
    """Add a statement letting the distribution read the bucket via OAC. False if already allowed."""
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error_code(error) != "NoSuchBucketPolicy":
            raise
        policy = {"Version": "2012-10-17", "Statement": []}
    statements = policy.setdefault("Statement", [])
    if distribution_arn in json.dumps(statements):
        return False
    statements.append(staging_read_statement(bucket, distribution_arn))
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return True
