"""Fault matrix: whatever fails, the primary is intact (or fully promoted), the policy off, the lock free.

Cases that touch no global knob of the shared local cloud (no injected AWS error, no propagation
delay) run concurrently, each on its own freshly seeded site, in the module's first fixture; the
tests then check each one. Cases that inject AWS errors (they hit whichever caller comes first)
or slow propagation run one after the other. See tests/faults/support.py for the invariant.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cfcd.cli import main as cli
from cfcd.local.faults import Fault
from cfcd.local.seed import SeededSite, release_page
from cfcd_common.aws import now
from cfcd_common.release_history import read_history
from tests.conftest import TEST_PROPAGATION_SECONDS, LocalCloudHandle
from tests.e2e.release_support import SEEDED_PRICE_CLASS
from tests.fault_summary import SUMMARY, CaseResult
from tests.faults.support import (
    Release,
    Snapshot,
    Verdict,
    check_invariant,
    copy_input,
    snapshot,
    stack_input,
    wait_for,
)
from tests.sites import SITES, new_site, retire_all_sites, retire_leftover_stagings, retire_staging

pytestmark = pytest.mark.faults

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STACK_TEMPLATE = (EXAMPLES / "staging-header.yaml").read_text()
CLEANUP_DEADLINE_SECONDS = 30.0
# Task-fault cases at once: with the concurrent batch's sites (kept until the module ends) the
# account stays under its 20 staging distributions.
TASK_FAULTS_SIDE_BY_SIDE = 6
TASK_FAULT_PROPAGATION_SECONDS = 4.0


@dataclass
class Ran:
    """An ended release and what the invariant must compare it with."""

    site: SeededSite
    before: Snapshot
    description: dict[str, Any]
    expected_primary: dict[str, Any] | None = None
    lock_holder: str | None = None
    # What the failure's cause must say (a field, a reason), besides the error name.
    cause_mentions: tuple[str, ...] = ()


def record(case: str, ran: Ran, verdict: Verdict, injected: int = 0, consumed: int = 0) -> None:
    ending = verdict.status if verdict.status != "FAILED" else f"FAILED {verdict.error}"
    SUMMARY.cases.append(
        CaseResult(case, ending, not verdict.violations, injected, consumed, orphans=len(verdict.orphans))
    )


def judge(cloud: LocalCloudHandle, ran: Ran) -> Verdict:
    return check_invariant(
        cloud,
        ran.site,
        ran.before,
        ran.description,
        expected_primary=ran.expected_primary,
        lock_expected_holder=ran.lock_holder,
    )


def assert_ended(case: str, ran: Ran, cloud: LocalCloudHandle, expected: str, **counts: int) -> Verdict:
    """Check the invariant and the expected ending (SUCCEEDED, ABORTED or the error name)."""
    return assert_judged(case, ran, judge(cloud, ran), expected, **counts)


def assert_judged(case: str, ran: Ran, verdict: Verdict, expected: str, **counts: int) -> Verdict:
    record(case, ran, verdict, **counts)
    ending = verdict.status if verdict.status != "FAILED" else verdict.error
    assert ending == expected, verdict.explain()
    assert not verdict.violations, verdict.explain()
    for text in ran.cause_mentions:
        assert text in str(verdict.cause), f"the cause does not say {text!r}: {verdict.cause}"
    return verdict


# --- the concurrent cases ---------------------------------------------------------------------------


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


def put_lock(cloud: LocalCloudHandle, site: SeededSite, holder: str, expires_at: int) -> None:
    cloud.resource("dynamodb").Table(cloud.info.table_name).put_item(
        Item={
            "pk": f"lock#{site.primary_distribution_id}",
            "executionArn": holder,
            "acquiredAt": expires_at - 3600,
            "expiresAt": expires_at,
        }
    )


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


def operator_stops_the_release(cloud: LocalCloudHandle) -> Ran:
    # Given a release waiting for its distributions to deploy: policy enabled, lock held
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.wait_until_in("WaitForDeployed")
    # When an operator stops it (Step Functions runs no Catch on abort)
    release.sfn.stop_execution(executionArn=release.arn, error="Operator", cause="stopped by the fault suite")
    description = release.finished()
    # Then the cleanup rule's function rolls back: wait for the lock to go, the invariant checks the rest
    wait_for(lambda: True if lock_of(cloud, site) is None else None, CLEANUP_DEADLINE_SECONDS, "cleanup")
    return Ran(site, before, description)


def lock_of(cloud: LocalCloudHandle, site: SeededSite) -> dict[str, Any] | None:
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    item: dict[str, Any] | None = table.get_item(
        Key={"pk": f"lock#{site.primary_distribution_id}"}, ConsistentRead=True
    ).get("Item")
    return item


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
    results: dict[str, Ran | BaseException] = {}
    with ThreadPoolExecutor(max_workers=len(CONCURRENT)) as pool:
        futures = {name: pool.submit(run, local_cloud) for name, (run, _) in CONCURRENT.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as error:  # reported by that case's test
                results[name] = error
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


# --- the serial cases: injected AWS errors, slow propagation ----------------------------------------

COPY_MODE_OPERATIONS = [
    ("cloudfront", "GetDistribution"),
    ("cloudfront", "GetDistributionConfig"),
    ("cloudfront", "UpdateDistribution"),
    ("cloudfront", "CopyDistribution"),
    ("cloudfront", "CreateContinuousDeploymentPolicy"),
    ("cloudfront", "UpdateDistributionWithStagingConfig"),
    ("cloudfront", "CreateInvalidation"),
    ("cloudfront", "GetInvalidation"),
    ("dynamodb", "PutItem"),
    ("dynamodb", "DeleteItem"),
    ("sns", "Publish"),
    ("secretsmanager", "GetSecretValue"),
]
# The stack makes its policy enabled: EnableContinuousDeployment finds it as wanted and writes
# nothing (UpdateContinuousDeploymentPolicy is not called); CheckStack reads both configs.
STACK_MODE_OPERATIONS = [
    ("cloudformation", "DescribeStacks"),
    ("cloudformation", "CreateStack"),
    ("cloudfront", "GetContinuousDeploymentPolicyConfig"),
    ("cloudfront", "GetDistributionConfig"),
    ("cloudfront", "GetDistribution"),
    ("cloudfront", "UpdateDistribution"),
    ("cloudfront", "UpdateDistributionWithStagingConfig"),
]
ROLLBACK_OPERATIONS = [
    ("cloudfront", "GetDistribution"),
    ("cloudfront", "GetContinuousDeploymentPolicyConfig"),
    ("cloudfront", "UpdateContinuousDeploymentPolicy"),
    ("dynamodb", "DeleteItem"),
]
TRANSIENT = [("Throttling", 400), ("ServiceUnavailable", 503)]


@dataclass
class Injected:
    cloud: LocalCloudHandle
    count: int = 0
    faults: list[Fault] = field(default_factory=list)

    def add(
        self,
        service: str,
        operation: str,
        error: str,
        status: int,
        count: int = 1,
        matching: Sequence[str] = (),
    ) -> None:
        self.faults.append(
            self.cloud.faults.inject(service, operation, error, status, count, matching=matching)
        )
        self.count += count

    def transient_once_each(self, operations: list[tuple[str, str]]) -> None:
        for service, operation in operations:
            for error, status in TRANSIENT:
                self.add(service, operation, error, status)

    def consumed(self) -> int:
        """How many of these faults' uses the AWS calls met (others' faults aside)."""
        mine = {fault.model_dump_json(exclude={"count"}) for fault in self.faults}
        left = sum(
            fault.count
            for fault in self.cloud.faults.pending()
            if fault.model_dump_json(exclude={"count"}) in mine
        )
        return self.count - left


def test_throttling_and_503_once_on_every_copy_mode_call_still_release(cloud: LocalCloudHandle) -> None:
    # Given a site, and every AWS operation of a copy-mode release set to throttle once and then
    # answer 503 once; CreateInvalidation fails 4 more times, past boto3's own retries
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    faults = Injected(cloud)
    faults.transient_once_each(COPY_MODE_OPERATIONS)
    faults.add("cloudfront", "CreateInvalidation", "ServiceUnavailable", 503, count=4)
    # When the release is approved
    release = Release(cloud, copy_input(site))
    release.approve()
    ran = Ran(site, before, release.finished())
    # Then it is promoted all the same
    verdict = assert_ended(
        "throttling+503 on every copy-mode call",
        ran,
        cloud,
        "SUCCEEDED",
        injected=faults.count,
        consumed=faults.consumed(),
    )
    assert verdict.promoted
    assert faults.consumed() >= faults.count - 2  # GetSecretValue is read once per warm worker


def test_throttling_and_503_once_on_every_stack_mode_call_still_release(cloud: LocalCloudHandle) -> None:
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    faults = Injected(cloud)
    faults.transient_once_each(STACK_MODE_OPERATIONS)
    release = Release(cloud, stack_input(site, STACK_TEMPLATE))
    release.approve()
    ran = Ran(site, before, release.finished())
    verdict = assert_ended(
        "throttling+503 on every stack-mode call",
        ran,
        cloud,
        "SUCCEEDED",
        injected=faults.count,
        consumed=faults.consumed(),
    )
    assert verdict.promoted and faults.consumed() == faults.count


def test_throttling_and_503_during_the_rollback_still_roll_back(cloud: LocalCloudHandle) -> None:
    # Given a release waiting for approval, and the rollback's calls set to fail once each
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    faults = Injected(cloud)
    faults.transient_once_each(ROLLBACK_OPERATIONS)
    # When it is rejected
    release.reject()
    ran = Ran(site, before, release.finished())
    # Then the rollback still disables the policy and frees the lock
    assert_ended(
        "throttling+503 on every rollback call",
        ran,
        cloud,
        "DeploymentRejected",
        injected=faults.count,
        consumed=faults.consumed(),
    )
    assert faults.consumed() == faults.count


def test_lambda_service_exception_on_an_invoke_is_retried(cloud: LocalCloudHandle) -> None:
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    faults = Injected(cloud)
    faults.add("lambda", "Invoke", "ServiceException", 500)
    release = Release(cloud, copy_input(site))
    release.approve()
    ran = Ran(site, before, release.finished())
    assert_ended("Lambda.ServiceException on an invoke", ran, cloud, "SUCCEEDED", injected=1, consumed=1)


def test_a_release_stopped_by_an_operator_is_rolled_back_by_the_cleanup_rule(
    cloud: LocalCloudHandle,
) -> None:
    # Propagation long enough that the release sits in WaitForDeployed, its policy enabled
    cloud.faults.set_propagation_seconds(3)
    ran = operator_stops_the_release(cloud)
    assert_ended("operator stops the release (cleanup rule)", ran, cloud, "ABORTED")


def test_a_distribution_that_never_deploys_is_deploy_timeout(cloud: LocalCloudHandle) -> None:
    # Given propagation slower than the release's deployTimeoutSeconds
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    cloud.faults.set_propagation_seconds(8)
    document = copy_input(site)
    document["timing"]["deployTimeoutSeconds"] = 2
    # When the release runs, Then it fails DeployTimeout and rolls back
    ran = Ran(site, before, Release(cloud, document).finished())
    assert_ended("distribution never Deployed", ran, cloud, "DeployTimeout")


def test_a_weight_release_cloudfront_never_routes_to_staging_fails_saying_so(cloud: LocalCloudHandle) -> None:
    # Given the edge sending every request to the primary, whatever the policy says (CloudFront
    # may, under heavy load: continuous-deployment-quotas-considerations.html)
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    cloud.faults.send_all_traffic_to_primary()
    document = copy_input(site, traffic={"type": "SingleWeight", "weight": 0.15})
    document["timing"]["probeTimeoutSeconds"] = 4
    # When a weight release is probed, Then it fails ProbeFailed saying staging was never served,
    # and the primary is untouched
    ran = Ran(site, before, Release(cloud, document).finished(), cause_mentions=("staging was never served",))
    assert_ended("all traffic to the primary (edge fault)", ran, cloud, "ProbeFailed")


def test_a_promotion_waits_out_15_wildcard_invalidations_in_progress(cloud: LocalCloudHandle) -> None:
    # Given a release whose promotion is propagating (slowly enough to be seen doing so)
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    cloud.faults.set_propagation_seconds(3)
    release.approve()
    release.wait_until_in("WaitForPromotion")
    # And meanwhile 15 wildcard invalidations of the primary start, lasting past its deployment:
    # CloudFront's quota of wildcard paths in progress per distribution is full
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html
    cloud.faults.set_propagation_seconds(7)
    cloudfront = cloud.client("cloudfront")
    for index in range(15):
        cloudfront.create_invalidation(
            DistributionId=site.primary_distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": [f"/busy-{index}/*"]},
                "CallerReference": f"busy-{uuid.uuid4().hex}",
            },
        )
    cloud.faults.set_propagation_seconds(1)
    # When the release invalidates its paths, Then it waits and tries again instead of failing,
    # and ends promoted with its own invalidation done
    ran = Ran(site, before, release.finished())
    verdict = assert_ended("15 wildcard invalidations in progress", ran, cloud, "SUCCEEDED")
    assert verdict.promoted
    entered = entered_states(release)
    assert "WaitToInvalidate" in entered and "CheckInvalidation" in entered, entered


def entered_states(release: Release) -> list[str]:
    events = release.sfn.get_execution_history(executionArn=release.arn, maxResults=1000)["events"]
    return [str(e["stateEnteredEventDetails"]["name"]) for e in events if "stateEnteredEventDetails" in e]


def distribution(path: str = "") -> Callable[[SeededSite, dict[str, Any]], list[str]]:
    """A call on the site's primary distribution (its id in the URL), e.g. ``/copy``."""
    return lambda site, document: [f"/distribution/{site.primary_distribution_id}{path}"]


@dataclass(frozen=True)
class TaskFault:
    """A non-transient error (AccessDenied) on a call only this task makes at that moment."""

    task: str
    service: str
    operation: str
    expected: str
    # What only this release's call holds (site, input -> texts): the cases run side by side.
    matching: Callable[[SeededSite, dict[str, Any]], list[str]]
    mode: str = "copy"
    when: str = "start"  # start | approval (once approval is pending) | the Wait state before the task
    decision: str | None = None  # approve | reject


TASK_FAULTS = [
    TaskFault("ValidateInput", "cloudfront", "GetDistribution", "UnexpectedError", distribution()),
    TaskFault(
        "AcquireLock",
        "dynamodb",
        "PutItem",
        "UnexpectedError",
        lambda site, document: [f"lock#{site.primary_distribution_id}"],
    ),
    TaskFault("DeployStaging", "cloudfront", "CopyDistribution", "UnexpectedError", distribution("/copy")),
    TaskFault(
        "DeployStagingStack",
        "cloudformation",
        "CreateStack",
        "StackFailed",
        lambda site, document: [f"StackName={document['staging']['stackName']}"],
        mode="stack",
    ),
    TaskFault(
        "EnableContinuousDeployment",
        "cloudfront",
        "CreateContinuousDeploymentPolicy",
        "UnexpectedError",
        # The header value is the site's bucket name (run_with_task_fault).
        lambda site, document: [site.bucket_name],
    ),
    TaskFault(
        "CheckDeployed",
        "cloudfront",
        "GetDistribution",
        "UnexpectedError",
        distribution(),
        when="WaitForDeployed",
    ),
    # The approval mail names the primary distribution.
    TaskFault(
        "RequestApproval",
        "sns",
        "Publish",
        "UnexpectedError",
        lambda site, document: [site.primary_distribution_id],
    ),
    TaskFault(
        "Promote",
        "cloudfront",
        "UpdateDistributionWithStagingConfig",
        "PromotionFailed",
        distribution("/promote-staging-config"),
        when="approval",
        decision="approve",
    ),
    TaskFault(
        "CheckPromotion",
        "cloudfront",
        "GetDistribution",
        "UnexpectedError",
        distribution(),
        when="WaitForPromotion",
        decision="approve",
    ),
    TaskFault(
        "InvalidateCache",
        "cloudfront",
        "CreateInvalidation",
        "UnexpectedError",
        distribution("/invalidation"),
        decision="approve",
    ),
    TaskFault(
        "CheckInvalidation",
        "cloudfront",
        "GetInvalidation",
        "UnexpectedError",
        distribution("/invalidation/"),
        decision="approve",
    ),
]


def run_with_task_fault(cloud: LocalCloudHandle, fault: TaskFault) -> tuple[Ran, Injected]:
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    if fault.mode == "stack":
        document = stack_input(site, STACK_TEMPLATE)
    else:
        document = copy_input(site)
        document["traffic"]["value"] = site.bucket_name
    faults = Injected(cloud)

    def inject() -> None:
        faults.add(
            fault.service, fault.operation, "AccessDenied", 403, matching=fault.matching(site, document)
        )

    if fault.when == "start":
        inject()
    release = Release(cloud, document)
    if fault.when not in {"start", "approval"} and fault.decision is None:
        release.wait_until_in(fault.when)
        inject()
    if fault.decision is not None:
        release.pending_approval()
        if fault.when == "approval":
            inject()
        if fault.decision == "approve":
            release.approve()
        else:
            release.reject()
        if fault.when not in {"start", "approval"}:
            release.wait_until_in(fault.when)
            inject()
    return Ran(site, before, release.finished()), faults


@dataclass
class TaskFaultRun:
    ran: Ran
    verdict: Verdict
    injected: int
    consumed: int


def judged_task_fault(cloud: LocalCloudHandle, fault: TaskFault) -> TaskFaultRun:
    """Run the case, judge it at once, retire its site (the batch must stay under 20 staging
    distributions while the concurrent batch's sites wait for their checks)."""
    ran, faults = run_with_task_fault(cloud, fault)
    try:
        return TaskFaultRun(ran, judge(cloud, ran), faults.count, faults.consumed())
    finally:
        retire_staging(cloud, ran.site)


@pytest.fixture(scope="module")
def task_fault_runs(local_cloud: LocalCloudHandle) -> dict[str, TaskFaultRun | BaseException]:
    """Every task-fault case side by side: each fault matches only its own release's call."""
    local_cloud.faults.reset()
    # A case whose fault waits for a Wait state (WaitForDeployed, WaitForPromotion) needs the
    # check before it to see InProgress: with the releases side by side on a busy machine, a check
    # can come more than a second after the change it checks.
    local_cloud.faults.set_propagation_seconds(TASK_FAULT_PROPAGATION_SECONDS)
    results: dict[str, TaskFaultRun | BaseException] = {}
    try:
        with ThreadPoolExecutor(max_workers=TASK_FAULTS_SIDE_BY_SIDE) as pool:
            futures = {
                fault.task: pool.submit(judged_task_fault, local_cloud, fault) for fault in TASK_FAULTS
            }
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except Exception as error:  # reported by that case's test
                    results[name] = error
    finally:
        local_cloud.faults.set_propagation_seconds(TEST_PROPAGATION_SECONDS)
    SITES.clear()  # each retired by its worker
    return results


@pytest.mark.parametrize("fault", TASK_FAULTS, ids=[fault.task for fault in TASK_FAULTS])
def test_an_unhandled_error_in_a_task_rolls_back_with_a_named_error(
    task_fault_runs: dict[str, TaskFaultRun | BaseException], fault: TaskFault
) -> None:
    # Given AccessDenied on the first call of `fault.operation` the task makes
    case = f"AccessDenied in {fault.task}"
    run = task_fault_runs[fault.task]
    if isinstance(run, BaseException):
        SUMMARY.cases.append(CaseResult(case, f"test error {type(run).__name__}", False))
        raise run
    # Then the release fails with a cfcd error name, the original error in the cause, and rolls back
    assert_judged(case, run.ran, run.verdict, fault.expected, injected=run.injected, consumed=run.consumed)
    assert run.consumed == run.injected
    if fault.expected == "UnexpectedError":
        assert "AccessDenied" in str(run.ran.description.get("cause")), run.ran.description.get("cause")


def cfcd_cleanup(cloud: LocalCloudHandle, distribution_id: str) -> str:
    result = CliRunner().invoke(
        cli, ["cleanup", distribution_id, "--state-dir", str(cloud.state_dir)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_a_refused_rollback_fails_as_rollback_failed_and_cfcd_cleanup_finishes_it(
    cloud: LocalCloudHandle,
) -> None:
    # Given a release waiting for approval, and CloudFront refusing the policy update of the rollback
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    faults = Injected(cloud)
    faults.add("cloudfront", "UpdateContinuousDeploymentPolicy", "AccessDenied", 403)
    # When it is rejected
    release.reject()
    ran = Ran(site, before, release.finished())
    # Then it fails as RollbackFailed, naming both errors (the invariant cannot hold: AWS refused)
    verdict = check_invariant(cloud, site, before, ran.description)
    assert (verdict.status, verdict.error) == ("FAILED", "RollbackFailed"), verdict.explain()
    assert "DeploymentRejected" in str(verdict.cause) and "AccessDenied" in str(verdict.cause)
    assert [v for v in verdict.violations if "still enabled" in v], verdict.explain()
    # And `cfcd cleanup` by an operator restores the invariant
    assert "disabled" in cfcd_cleanup(cloud, site.primary_distribution_id)
    assert_ended(
        "AccessDenied on the rollback, then cfcd cleanup",
        ran,
        cloud,
        "RollbackFailed",
        injected=faults.count,
        consumed=faults.consumed(),
    )


def test_a_lock_aws_refuses_to_delete_fails_named_and_the_cleanup_rule_frees_it(
    cloud: LocalCloudHandle,
) -> None:
    # Given DynamoDB refusing the lock's DeleteItem once, at the end of an approved release
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    faults = Injected(cloud)
    faults.add("dynamodb", "DeleteItem", "AccessDenied", 403)
    release = Release(cloud, copy_input(site))
    release.approve()
    ran = Ran(site, before, release.finished())
    # Then the release is promoted but fails UnexpectedError naming the refused DeleteItem
    assert (ran.description["status"], ran.description.get("error")) == ("FAILED", "UnexpectedError")
    assert "AccessDenied" in str(ran.description.get("cause"))
    # And the cleanup rule (the execution ended FAILED still holding its lock) frees the lock
    wait_for(lambda: True if lock_of(cloud, site) is None else None, CLEANUP_DEADLINE_SECONDS, "cleanup")
    verdict = assert_ended(
        "AccessDenied on ReleaseLock (cleanup rule)",
        ran,
        cloud,
        "UnexpectedError",
        injected=faults.count,
        consumed=faults.consumed(),
    )
    assert verdict.promoted


def test_cfcd_cleanup_refuses_while_the_release_still_runs(cloud: LocalCloudHandle) -> None:
    site = new_site(cloud)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    result = CliRunner().invoke(
        cli, ["cleanup", site.primary_distribution_id, "--state-dir", str(cloud.state_dir)]
    )
    assert result.exit_code == 3, result.output
    assert release.arn in result.output
    release.reject()
    assert release.finished()["error"] == "DeploymentRejected"


def test_a_lost_answer_to_the_release_history_write_records_the_promotion_once(
    cloud: LocalCloudHandle,
) -> None:
    # Given a release waiting for approval, and DynamoDB losing its answer to the next PutItem
    # once it took effect: Promote's release history record (the lock is already held)
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    cloud.faults.inject("dynamodb", "PutItem", "ServiceUnavailable", 503, when="after")
    # When it is approved
    release.approve()
    ran = Ran(site, before, release.finished())
    # Then it is promoted, and the history holds one record of it, marked promoted
    consumed = 1 - sum(fault.count for fault in cloud.faults.pending())
    verdict = assert_ended(
        "lost answer to the release history write", ran, cloud, "SUCCEEDED", injected=1, consumed=consumed
    )
    assert verdict.promoted and consumed == 1
    assert cloud.info.table_name is not None
    history = read_history(cloud.client("dynamodb"), cloud.info.table_name, site.primary_distribution_id)
    assert [(record.executionArn, record.promotedAt is not None) for record in history.records] == [
        (release.arn, True)
    ]
