"""Sites the tests seed on the local cloud, and their retirement.

An account holds at most 20 staging distributions
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html), and
every release leaves its site's staging distribution behind (attached to the primary through a
disabled policy, for the next release to reuse). Every site a test seeds through :func:`new_site`
is registered; once the local cloud holds :data:`RETIRE_AT` staging distributions, the registered
sites are retired between two tests (tests/conftest.py), in parallel.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cfcd.local.seed import SeededSite, seed_site
from cfcd_common.aws import error_code
from cfcd_common.cloudfront import policies_naming

if TYPE_CHECKING:
    from tests.conftest import LocalCloudHandle

# Half the account's 20: a test (or the fault suite's batch of concurrent cases) has room for its
# own staging distributions whatever the tests before it left.
RETIRE_AT = 10

# Every site seeded and not yet retired. A fixture that needs its sites past the current test takes
# them out of this list and retires them itself.
SITES: list[SeededSite] = []


def new_site(cloud: LocalCloudHandle, prefix: str = "site") -> SeededSite:
    """A site of its own (bucket, OAC, primary serving /1.0.0): tests never share state."""
    site = seed_site(cloud.clients, bucket=f"{prefix}-{uuid.uuid4().hex[:12]}")
    SITES.append(site)
    return site


def staging_summaries(cloud: LocalCloudHandle) -> list[dict[str, Any]]:
    cloudfront = cloud.client("cloudfront")
    return [
        summary
        for page in cloudfront.get_paginator("list_distributions").paginate()
        for summary in page["DistributionList"].get("Items", [])
        if summary.get("Staging")
    ]


def retire_staging(
    cloud: LocalCloudHandle, site: SeededSite, stagings: list[dict[str, Any]] | None = None
) -> None:
    """Detach and delete the site's policies, then disable and delete its staging distributions.

    Every policy naming one of them goes first, attached or not (a release that failed before
    attaching its policy leaves one): CloudFront refuses to disable a staging distribution a
    policy names (StagingDistributionInUse). ``stagings``: the cloud's staging summaries, when the
    caller has listed them for several sites at once (read here otherwise).
    """
    cloudfront = cloud.client("cloudfront")
    primary = cloudfront.get_distribution_config(Id=site.primary_distribution_id)
    attached = primary["DistributionConfig"].get("ContinuousDeploymentPolicyId")
    staging_names: set[str] = set()
    if attached:
        cloudfront.update_distribution(
            Id=site.primary_distribution_id,
            IfMatch=primary["ETag"],
            DistributionConfig={**primary["DistributionConfig"], "ContinuousDeploymentPolicyId": ""},
        )
        policy = cloudfront.get_continuous_deployment_policy_config(Id=attached)
        staging_names |= set(
            policy["ContinuousDeploymentPolicyConfig"]["StagingDistributionDnsNames"]["Items"]
        )
    # Staging copies reading the site's bucket (also a release that failed before attaching its policy).
    mine = [
        summary
        for summary in (staging_summaries(cloud) if stagings is None else stagings)
        if summary["DomainName"] in staging_names or bucket_of(summary) == site.bucket_name
    ]
    staging_names |= {summary["DomainName"] for summary in mine}
    for policy_id in policies_naming_any(cloud, staging_names):
        etag = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)["ETag"]
        cloudfront.delete_continuous_deployment_policy(Id=policy_id, IfMatch=etag)
    _delete_distributions(cloudfront, [summary["Id"] for summary in mine])


def policies_naming_any(cloud: LocalCloudHandle, staging_names: set[str]) -> list[str]:
    """Every policy naming one of these staging domains, attached to a primary or not."""
    cloudfront = cloud.client("cloudfront")
    return sorted({found for name in staging_names for found in policies_naming(cloudfront, name)})


def _delete_distributions(cloudfront: Any, distribution_ids: list[str]) -> None:
    """Disable them all, wait until each is deployed, delete them. Sites sharing a bucket are
    retired in parallel: another thread may have deleted one of their staging copies first."""
    disabled = []
    for distribution_id in distribution_ids:
        with _unless_gone():
            config = cloudfront.get_distribution_config(Id=distribution_id)
            cloudfront.update_distribution(
                Id=distribution_id,
                IfMatch=config["ETag"],
                DistributionConfig={**config["DistributionConfig"], "Enabled": False},
            )
            disabled.append(distribution_id)
    for distribution_id in disabled:
        with _unless_gone():
            cloudfront.get_waiter("distribution_deployed").wait(
                Id=distribution_id, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            etag = cloudfront.get_distribution_config(Id=distribution_id)["ETag"]
            cloudfront.delete_distribution(Id=distribution_id, IfMatch=etag)


@contextlib.contextmanager
def _unless_gone() -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error_code(error) != "NoSuchDistribution":
            raise


def retire_all_sites(cloud: LocalCloudHandle, sites: list[SeededSite] | None = None) -> list[str]:
    """Retire the staging side of ``sites`` (default: every registered one), side by side; returns
    what failed."""
    pending = SITES if sites is None else sites
    retiring = list(pending)
    pending.clear()
    stagings = staging_summaries(cloud)  # once for all: retiring them makes no new one

    def retire(site: SeededSite) -> str | None:
        try:
            retire_staging(cloud, site, stagings)
        except Exception as error:  # a teardown: report, keep retiring the others
            return f"{site.primary_distribution_id}: {type(error).__name__}: {error}"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [problem for problem in pool.map(retire, retiring) if problem]


def retire_sites_near_the_quota(cloud: LocalCloudHandle) -> list[str]:
    """Retire every registered site once the cloud holds RETIRE_AT staging distributions."""
    if len(staging_summaries(cloud)) < RETIRE_AT:
        return []
    return retire_all_sites(cloud)


def retire_leftover_stagings(cloud: LocalCloudHandle) -> list[str]:
    """Retire every staging distribution and policy on the local cloud, registered or not: for a
    batch that needs most of the 20 an account may hold. Only called before any of the batch's
    releases runs (a pytest worker runs its tests one after the other)."""
    stagings = staging_summaries(cloud)
    staging_buckets = {bucket_of(summary) for summary in stagings}
    cloudfront = cloud.client("cloudfront")
    owners = [
        SeededSite(
            primary_distribution_id=summary["Id"],
            domain_name=summary["DomainName"],
            bucket_name=bucket_of(summary),
            origin_access_control_id="",
        )
        for page in cloudfront.get_paginator("list_distributions").paginate()
        for summary in page["DistributionList"].get("Items", [])
        # The leftover staging copies read their primary's bucket: found by the origin.
        if not summary.get("Staging") and bucket_of(summary) in staging_buckets
    ]
    problems = retire_all_sites(cloud, owners)
    problems += [f"{summary['Id']}: a staging distribution is left" for summary in staging_summaries(cloud)]
    return problems


def bucket_of(summary: dict[str, Any]) -> str:
    domain: str = summary["Origins"]["Items"][0]["DomainName"]
    return domain.split(".s3.", 1)[0]
