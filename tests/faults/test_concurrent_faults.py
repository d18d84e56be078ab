"""Fault matrix, the cases that touch no global knob of the local cloud (no injected AWS error, no
propagation delay): they run at once, each on its own freshly seeded site, in the module's fixture;
the tests then check each one. See tests/faults/support.py for the invariant.
"""

from __future__ import annotations

import functools
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest

from cfcd.local.seed import release_page
from cfcd_common.aws import now
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import SEEDED_PRICE_CLASS
from tests.fault_summary import SUMMARY, CaseResult
from tests.faults.matrix import STACK_TEMPLATE, Ran, assert_ended, put_lock
from tests.faults.support import (
    Release,
    copy_input,
    side_by_side,
    snapshot,
    stack_input,
)
from tests.sites import SITES, new_site, retire_all_sites, retire_leftover_stagings

pytestmark = pytest.mark.faults


def probe_sees_wrong_content(cloud: LocalCloudHandle) -> Ran:
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    document = copy_input(
        site, probe={"path": "/index.html", "expect": {"status": 200, "bodyContains": "v9 App"}}
    )
    document["timing"]["probeTimeoutSeconds"] = 3
    return Ran(site, before, Release(cloud, document).finished())


def origin_answers_5xx(cloud: LocalCloudHandle) -> Ran:
    site = new_site(cloud)
    # A release folder of its own, so the origin fault hits no other case's release.
    folder = f"broken-{uuid.uuid4().hex[:8]}"
    cloud.client("s3").put_object(
        Bucket=site.bucket_name, Key=f"{folder}/index.html", Body=release_page("2.0.0").encode()
    )
    cloud.faults.inject_origin_status(f"/{folder}/", 503)
    before = snapshot(cloud, site.primary_distribution_id)
    document = copy_input(site)
    document["staging"]["overrides"]["originPath"] = f"/{folder}"
    document["timing"]["probeTimeoutSeconds"] = 3
    return Ran(site, before, Release(cloud, document).finished())


def approval_times_out(cloud: LocalCloudHandle) -> Ran:
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    document = copy_input(site, approval={"timeoutSeconds": 2})
    return Ran(site, before, Release(cloud, document).finished())


def approver_rejects(cloud: LocalCloudHandle) -> Ran:
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.reject()
    return Ran(site, before, release.finished())


def another_writer_changes_the_primary(cloud: LocalCloudHandle) -> Ran:
    # Given a release waiting for approval, its policy live
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    # When someone else changes the primary (a console edit, another pipeline) and then it is approved
    current = snapshot(cloud, site.primary_distribution_id)
    changed = {
        **current.config,
        "Comment": "edited while the release waited",
        "DefaultRootObject": "home.html",
    }
    cloud.client("cloudfront").update_distribution(
        Id=site.primary_distribution_id, IfMatch=current.etag, DistributionConfig=changed
    )
    release.approve()
    # Then the promotion must not undo that change: the primary stays as the other writer left it
    return Ran(site, before, release.finished(), expected_primary=changed)


# The seed's header template with a policy CloudFront refuses (weight above 0.15).
FAILING_STACK_TEMPLATE = STACK_TEMPLATE.replace(
    "Type: SingleHeader\n          SingleHeaderConfig:\n"
    "            Header: aws-cf-cd-env\n            Value: staging",
    "Type: SingleWeight\n          SingleWeightConfig:\n            Weight: 0.5",
)


def staging_stack_fails(cloud: LocalCloudHandle) -> Ran:
    assert FAILING_STACK_TEMPLATE != STACK_TEMPLATE
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    return Ran(site, before, Release(cloud, stack_input(site, FAILING_STACK_TEMPLATE)).finished())


def stack_update_cloudfront_refuses(cloud: LocalCloudHandle) -> Ran:
    # Given a site released once through its staging stack: the stack's policy stays attached
    site = new_site(cloud)
    stack = stack_input(site, STACK_TEMPLATE)
    first = Release(cloud, stack)
    first.approve()
    assert first.finished()["status"] == "SUCCEEDED"
    before = snapshot(cloud, site.primary_distribution_id)
    # When the next release's stack changes a field CloudFront refuses to change while a policy
    # is attached (moto's CloudFormation answers the resource's refusal from UpdateStack itself)
    document = stack_input(site, STACK_TEMPLATE, release="3.0.0")
    document["staging"]["stackName"] = stack["staging"]["stackName"]
    document["staging"]["parameters"]["PriceClass"] = "PriceClass_200"
    assert document["staging"]["parameters"]["PriceClass"] != SEEDED_PRICE_CLASS
    # Then it fails StackFailed naming the field, the primary as the first release left it
    return Ran(site, before, Release(cloud, document).finished(), cause_mentions=("PriceClass",))


def crashed_runs_lock_expired(cloud: LocalCloudHandle) -> Ran:
    site = new_site(cloud)
    put_lock(cloud, site, "arn:aws:states:us-east-1:123456789012:execution:cfcd:crashed", now() - 60)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.approve()
    return Ran(site, before, release.finished())


def lock_held_by_a_live_release(cloud: LocalCloudHandle) -> Ran:
    site = new_site(cloud)
    holder = "arn:aws:states:us-east-1:123456789012:execution:cfcd:still-running"
    put_lock(cloud, site, holder, now() + 3600)
    before = snapshot(cloud, site.primary_distribution_id)
    # The holder's lock must survive the refused release: release deletes only its own lock.
    return Ran(site, before, Release(cloud, copy_input(site)).finished(), lock_holder=holder)


CONCURRENT: dict[str, tuple[Callable[[LocalCloudHandle], Ran], str]] = {
    "probe sees wrong content": (probe_sees_wrong_content, "ProbeFailed"),
    "origin answers 503": (origin_answers_5xx, "ProbeFailed"),
    "approval times out": (approval_times_out, "ApprovalTimedOut"),
    "approver rejects": (approver_rejects, "DeploymentRejected"),
    "another writer changes the primary": (another_writer_changes_the_primary, "PromotionFailed"),
    "staging stack fails to create": (staging_stack_fails, "StackFailed"),
    "stack update CloudFront refuses (2nd release)": (stack_update_cloudfront_refuses, "StackFailed"),
    "crashed run's lock expired": (crashed_runs_lock_expired, "SUCCEEDED"),
    "lock held by a live release": (lock_held_by_a_live_release, "DeploymentInProgress"),
}


@pytest.fixture(scope="module")
def concurrent_runs(local_cloud: LocalCloudHandle) -> Iterator[dict[str, Ran | BaseException]]:
    """Run every concurrent case at once and wait for all, before any serial case injects faults."""
    local_cloud.faults.reset()
    for problem in retire_leftover_stagings(local_cloud):
        warnings.warn(f"staging distributions left by earlier suites: {problem}", stacklevel=1)
    results = side_by_side(
        {name: functools.partial(run, local_cloud) for name, (run, _) in CONCURRENT.items()}, len(CONCURRENT)
    )
    local_cloud.faults.reset()
    # Kept until the module ends (the per-test retirement would take them from the later checks).
    batch_sites = list(SITES)
    SITES.clear()
    yield results
    for problem in retire_all_sites(local_cloud, batch_sites):
        warnings.warn(f"could not retire a fault-suite site: {problem}", stacklevel=1)


@pytest.mark.parametrize("case", list(CONCURRENT))
def test_concurrent_case_keeps_the_invariant(
    case: str, concurrent_runs: dict[str, Ran | BaseException], local_cloud: LocalCloudHandle
) -> None:
    ran = concurrent_runs[case]
    if isinstance(ran, BaseException):
        SUMMARY.cases.append(CaseResult(case, f"test error {type(ran).__name__}", False))
        raise ran
    assert_ended(case, ran, local_cloud, CONCURRENT[case][1])
