"""Fault matrix: whatever fails, the primary is intact (or fully promoted), the policy off, the lock free.

The cases here inject AWS errors (they hit whichever caller comes first) or slow propagation, so
they run one after the other on their worker's local cloud; the side-by-side batches are
test_concurrent_faults.py and test_task_faults.py. See tests/faults/support.py for the invariant.
"""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from cfcd.cli import main as cli
from cfcd.local.seed import SeededSite
from cfcd_common.release_history import read_history
from tests.conftest import LocalCloudHandle
from tests.faults.matrix import (
    CLEANUP_DEADLINE_SECONDS,
    STACK_TEMPLATE,
    Injected,
    Ran,
    assert_ended,
    entered_states,
    lock_of,
    release_waiting_for_approval,
)
from tests.faults.support import (
    POLL_SECONDS,
    Release,
    check_invariant,
    copy_input,
    snapshot,
    stack_input,
)
from tests.polling import wait_for
from tests.sites import new_site

pytestmark = pytest.mark.faults


def until_cleanup_frees_the_lock(cloud: LocalCloudHandle, site: SeededSite) -> None:
    """Until the cleanup rule's function (CleanupRelease) has freed the primary's release lock."""
    wait_for(
        lambda: True if lock_of(cloud, site) is None else None,
        CLEANUP_DEADLINE_SECONDS,
        "cleanup",
        POLL_SECONDS,
    )


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
    until_cleanup_frees_the_lock(cloud, site)
    return Ran(site, before, description)


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
    site, before, release = release_waiting_for_approval(cloud)
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
    site, before, release = release_waiting_for_approval(cloud)
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
    site, before, release = release_waiting_for_approval(cloud)
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
    until_cleanup_frees_the_lock(cloud, site)
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
    site, _, release = release_waiting_for_approval(cloud)
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
    site, before, release = release_waiting_for_approval(cloud)
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
