"""Fault matrix, a non-transient error in each task: AccessDenied on a call only that task makes,
every case side by side (each fault matches only its own release's call), in the module's fixture.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cfcd.local.seed import SeededSite
from tests.conftest import TEST_PROPAGATION_SECONDS, LocalCloudHandle
from tests.fault_summary import SUMMARY, CaseResult
from tests.faults.matrix import STACK_TEMPLATE, Injected, Ran, assert_judged, distribution, judge
from tests.faults.support import (
    Release,
    Verdict,
    copy_input,
    side_by_side,
    snapshot,
    stack_input,
)
from tests.sites import SITES, new_site, retire_staging

# Task-fault cases at once: the account stays under its 20 staging distributions.
TASK_FAULTS_SIDE_BY_SIDE = 6
TASK_FAULT_PROPAGATION_SECONDS = 8.0

pytestmark = pytest.mark.faults


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
    # check before it to see InProgress, and the fault registered before the loop ends: with the
    # releases side by side on a busy machine, the check can come more than a second after the
    # change it checks, and the test can see the Wait state more than 4 s late.
    local_cloud.faults.set_propagation_seconds(TASK_FAULT_PROPAGATION_SECONDS)
    try:
        results = side_by_side(
            {fault.task: functools.partial(judged_task_fault, local_cloud, fault) for fault in TASK_FAULTS},
            TASK_FAULTS_SIDE_BY_SIDE,
        )
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
