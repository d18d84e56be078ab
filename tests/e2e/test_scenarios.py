"""Whole releases on the local cloud, each on a site of its own, judged by their final state.

Each scenario asserts what an operator would check afterwards: the execution's status and error,
the primary's DistributionConfig (promoted, or unchanged), the policy (disabled after every
ending) and the release lock (free, or still held by its owner).
"""

from __future__ import annotations

import getpass
import threading

import pytest
from click.testing import CliRunner

from cfcd.cli import main as cli
from cfcd.local.seed import SeededSite
from cfcd_common.approvals import Outcome, latest_request
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import (
    HEADER_TRAFFIC,
    WEIGHT_TRAFFIC,
    Release,
    attached_policy,
    copy_input,
    lock_holder,
    origin_path,
    policy_config,
    primary_config,
    served,
    stack_input,
    viewers,
    without_policy_id,
)
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

NEW_VIEWERS = 200

# Every CloudFront operation a copy-mode release calls: the first release of a site (copy the
# primary, create the policy, promote, invalidate) and the next one (reuse staging, update the
# policy). Each is throttled once below; the pending-fault check proves each was really called.
WORKFLOW_CLOUDFRONT_OPERATIONS = frozenset(
    {
        "GetDistribution",
        "GetDistributionConfig",
        "ListDistributions",
        "CopyDistribution",
        "UpdateDistribution",
        "CreateContinuousDeploymentPolicy",
        "GetContinuousDeploymentPolicyConfig",
        "UpdateContinuousDeploymentPolicy",
        "UpdateDistributionWithStagingConfig",
        "CreateInvalidation",
        "GetInvalidation",
    }
)


def assert_rolled_back(cloud: LocalCloudHandle, site: SeededSite, config_before: dict[str, object]) -> None:
    """Policy disabled, primary serving what it served before, lock free."""
    _, config_after = primary_config(cloud, site)
    assert without_policy_id(config_after) == without_policy_id(config_before)
    assert attached_policy(cloud, site)["Enabled"] is False
    assert lock_holder(cloud, site) is None
    assert served(cloud, site).release == "v1"


@pytest.mark.parametrize(
    ("template", "release", "traffic_type"),
    [("staging-header.yaml", "2.0.0", "SingleHeader"), ("staging-weight.yaml", "3.0.0", "SingleWeight")],
)
def test_stack_mode_with_the_seed_template_ends_in_promotion(
    cloud: LocalCloudHandle, site: SeededSite, template: str, release: str, traffic_type: str
) -> None:
    # Given a release whose staging distribution and policy come from the seed's staging stack
    document = stack_input(site, template, release)
    run = Release.start(cloud, document)

    # When it is approved
    assert run.decide("approve").outcome is Outcome.DECIDED

    # Then it is promoted: the primary serves the release, and the policy the stack made (the
    # one attached to the primary) is disabled again
    assert run.finished()["status"] == "SUCCEEDED"
    _, config = primary_config(cloud, site)
    assert origin_path(config) == f"/{release}"
    assert served(cloud, site).release == f"v{release[0]}"
    stack = cloud.client("cloudformation").describe_stacks(StackName=document["staging"]["stackName"])
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Stacks"][0]["Outputs"]}
    # CloudFormation acted with the template's StagingStackRole, not with the function's own role
    roles = cloud.client("iam").list_roles()["Roles"]
    [staging_stack_role] = [role["Arn"] for role in roles if "-StagingStackRole-" in role["RoleName"]]
    assert stack["Stacks"][0].get("RoleARN") == staging_stack_role
    assert config["ContinuousDeploymentPolicyId"] == outputs["ContinuousDeploymentPolicyId"]
    policy = policy_config(cloud, outputs["ContinuousDeploymentPolicyId"])
    assert policy["TrafficConfig"]["Type"] == traffic_type
    assert policy["Enabled"] is False
    assert lock_holder(cloud, site) is None


def test_probe_failure_rolls_back(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given the new release's files answer 500 at the origin
    _, config_before = primary_config(cloud, site)
    cloud.faults.inject_origin_status("/2.0.0/", 500)
    document = copy_input(site, "2.0.0", HEADER_TRAFFIC)
    document["timing"]["probeTimeoutSeconds"] = 4

    # When the release runs
    run = Release.start(cloud, document)
    description = run.finished()

    # Then the probe stops it before anyone is asked, and everything is rolled back
    assert (description["status"], description.get("error")) == ("FAILED", "ProbeFailed")
    assert "RequestApproval" not in run.entered_states()
    assert_rolled_back(cloud, site, config_before)


def test_a_rejected_weight_release_sends_no_new_viewer_to_staging_once_it_has_ended(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given a weight release (15 % of new viewers on staging) waiting for approval
    _, config_before = primary_config(cloud, site)
    run = Release.start(cloud, copy_input(site, "2.0.0", WEIGHT_TRAFFIC))
    run.pending_approval()

    # When a pipeline rejects it the way the contract says, `cfcd reject ARN` (no --by: on the
    # local cloud the login name is recorded), and the execution has ended
    rejected = CliRunner().invoke(cli, ["reject", run.arn, "--state-dir", str(cloud.state_dir)])
    assert rejected.exit_code == 0, rejected.output
    description = run.finished()
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    decision = latest_request(table, run.arn)
    assert decision is not None and decision.decided_by == getpass.getuser()

    # Then not one of 200 new viewers (no stickiness cookie) reaches staging any more
    releases = [answer.release for answer in viewers(cloud, site).sample(NEW_VIEWERS)]
    assert releases.count("v2") == 0, f"{releases.count('v2')} of {NEW_VIEWERS} new viewers got staging"
    assert releases.count("v1") == NEW_VIEWERS
    # And the release failed as rejected, the cause saying when the rollback was complete
    assert (description["status"], description.get("error")) == ("FAILED", "DeploymentRejected")
    assert "Rollback: complete at" in str(description.get("cause")), description.get("cause")
    assert "CheckRollback" in run.entered_states()
    assert_rolled_back(cloud, site, config_before)


def test_deploy_timeout_rolls_back(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given CloudFront takes longer to propagate than the release may wait
    _, config_before = primary_config(cloud, site)
    cloud.faults.set_propagation_seconds(30)
    document = copy_input(site, "2.0.0", HEADER_TRAFFIC)
    document["timing"]["deployTimeoutSeconds"] = 3

    # When the release runs
    run = Release.start(cloud, document)
    description = run.finished()

    # Then it gives up with DeployTimeout and rolls back
    assert (description["status"], description.get("error")) == ("FAILED", "DeployTimeout")
    assert "ProbeStaging" not in run.entered_states()
    assert_rolled_back(cloud, site, config_before)


def test_approval_timeout_rolls_back(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given a release that waits at most 3 s for a decision
    _, config_before = primary_config(cloud, site)
    document = copy_input(site, "2.0.0", HEADER_TRAFFIC, approval={"timeoutSeconds": 3})

    # When nobody decides in time
    run = Release.start(cloud, document)
    run.pending_approval()
    description = run.finished()

    # Then it fails with ApprovalTimedOut and rolls back
    assert (description["status"], description.get("error")) == ("FAILED", "ApprovalTimedOut")
    assert_rolled_back(cloud, site, config_before)
    # And an approval arriving now is refused as too late and changes nothing
    late = run.decide("approve")
    assert late.outcome in (Outcome.EXPIRED, Outcome.TASK_GONE), late.message
    assert run.describe()["status"] == "FAILED"
    assert origin_path(primary_config(cloud, site)[1]) == "/1.0.0"


def test_second_release_at_once_fails_fast_and_leaves_the_first_alone(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    # Given two releases of the same distribution started at the same moment
    documents = [copy_input(site, "2.0.0", HEADER_TRAFFIC), copy_input(site, "3.0.0", HEADER_TRAFFIC)]
    runs: list[Release] = []
    barrier = threading.Barrier(len(documents))

    def start(document: dict[str, object]) -> None:
        barrier.wait()
        runs.append(Release.start(cloud, dict(document)))

    threads = [threading.Thread(target=start, args=(document,)) for document in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(runs) == 2

    # When the first of them ends (the one that lost the lock; the other waits for approval)
    def one_ended() -> Release | None:
        return next((run for run in runs if run.describe()["status"] != "RUNNING"), None)

    loser = wait_for(one_ended, 120, "one of the two releases to end")
    winner = next(run for run in runs if run is not loser)

    # Then it failed fast with DeploymentInProgress, before touching anything
    description = loser.describe()
    assert (description["status"], description.get("error")) == ("FAILED", "DeploymentInProgress")
    assert "DeployStaging" not in loser.entered_states()
    # And the first release still holds its lock and goes on to promotion
    winner.pending_approval()
    assert lock_holder(cloud, site) == winner.arn
    assert winner.decide("approve").outcome is Outcome.DECIDED
    assert winner.finished()["status"] == "SUCCEEDED"
    _, config = primary_config(cloud, site)
    assert origin_path(config) == winner.document["staging"]["overrides"]["originPath"]
    assert lock_holder(cloud, site) is None


def test_one_throttle_on_every_cloudfront_operation_still_releases(
    cloud: LocalCloudHandle, site: SeededSite
) -> None:
    throttled: set[str] = set()
    for release, traffic in (("2.0.0", HEADER_TRAFFIC), ("3.0.0", WEIGHT_TRAFFIC)):
        # Given every CloudFront operation the workflow uses answers Throttling once
        for operation in sorted(WORKFLOW_CLOUDFRONT_OPERATIONS):
            cloud.faults.inject(
                service="cloudfront", operation=operation, error="Throttling", http_status=400, count=1
            )

        # When a release runs and is approved
        run = Release.start(cloud, copy_input(site, release, traffic))
        assert run.decide("approve").outcome is Outcome.DECIDED
        description = run.finished()

        # Then it succeeds anyway
        assert description["status"] == "SUCCEEDED", description
        untouched = {fault.operation for fault in cloud.faults.pending()}
        throttled |= WORKFLOW_CLOUDFRONT_OPERATIONS - untouched
        cloud.faults.clear()
        _, config = primary_config(cloud, site)
        assert origin_path(config) == f"/{release}"
        assert lock_holder(cloud, site) is None

    # And over both releases every listed operation was called and throttled once
    assert throttled == WORKFLOW_CLOUDFRONT_OPERATIONS
    calls = [call.operation for call in cloud.faults.calls() if call.service.lower() == "cloudfront"]
    assert all(calls.count(operation) >= 2 for operation in WORKFLOW_CLOUDFRONT_OPERATIONS)
