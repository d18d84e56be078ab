"""The invariant every release must leave behind, and the releases the fault suite runs.

Invariant (issue 6): when an execution has ended,
- the primary's DistributionConfig is what it was before the release, or exactly the staging
  config after a promotion (everything but the fields the primary keeps on promotion);
  ``ContinuousDeploymentPolicyId`` is compared apart: a release attaches its policy to the
  primary and leaves it attached (disabled), so that the next release reuses the staging
  distribution instead of copying a new one (20 per account);
- the policy attached to the primary is disabled (or none is attached);
- the primary's lock item is gone;
- the execution SUCCEEDED or FAILED with a name cfcd gives (WORKFLOW_ERROR_NAMES), never
  States.Runtime, States.TaskFailed, Lambda.Unknown or a bare exception class;
- no orphans (issue 11): at most one staging copy cfcd made of the primary, at most one policy
  naming the site's staging distribution (the attached one, when one is attached), every such
  policy disabled, at most one approval record and at most one approval mail per channel (SNS,
  SES) for the execution.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from boto3.dynamodb.conditions import Key

from cfcd.demo.approval import ApprovalMail, Page, find_approval_mail, open_link, submit_decision
from cfcd.local.mail import list_mail, read_mail
from cfcd.local.seed import SeededSite
from cfcd_common.approvals import APPROVAL_KEY_PREFIX, EXECUTION_INDEX
from cfcd_common.cloudfront import PRIMARY_KEEPS_ON_PROMOTION, staging_copies_of
from cfcd_common.errors import WORKFLOW_ERROR_NAMES
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import SEEDED_PRICE_CLASS
from tests.polling import wait_for
from tests.sites import policies_naming_any

EVENTS = Path(__file__).resolve().parent.parent / "events"
EXECUTION_DEADLINE_SECONDS = 90.0
FAST_TIMING = {"pollSeconds": 1, "deployTimeoutSeconds": 30, "probeTimeoutSeconds": 20}
MUTATING_PREFIXES = ("Create", "Update", "Put", "Delete", "Copy")
# cfcd_common.approval_views.mail_subject: "Approve release <release> on CloudFront <id> ...?"
APPROVAL_SUBJECT_START = "Approve release "
R = TypeVar("R")
Config = dict[str, Any]


# Between two polls of the local cloud: releases run side by side, and every poll is served by
# the one process that also runs their state machines.
POLL_SECONDS = 0.5


def copy_input(site: SeededSite, release: str = "2.0.0", **changes: Any) -> dict[str, Any]:
    """A header release of ``release`` onto the site, fast timing; ``changes`` replace top-level keys."""
    document: dict[str, Any] = json.loads((EVENTS / "input_copy_header.json").read_text())
    document["primaryDistributionId"] = site.primary_distribution_id
    document["staging"]["overrides"]["originPath"] = f"/{release}"
    document["probe"]["expect"]["bodyContains"] = f"v{release.split('.')[0]} App"
    document["timing"] = dict(FAST_TIMING)
    document["approval"] = {"timeoutSeconds": 60}
    document.update(changes)
    return document


def stack_input(site: SeededSite, template: str, release: str = "2.0.0", **changes: Any) -> dict[str, Any]:
    document = copy_input(site, release, **changes)
    document["staging"] = {
        "mode": "stack",
        "stackName": f"staging-{uuid.uuid4().hex[:10]}",
        "templateBody": template,
        "parameters": {
            "PrimaryDistributionId": site.primary_distribution_id,
            "StaticResourceBucketName": site.bucket_name,
            "OriginAccessControlId": site.origin_access_control_id,
            "OriginPath": f"/{release}",
            "PriceClass": SEEDED_PRICE_CLASS,
        },
    }
    document.pop("traffic", None)
    return document


@dataclass
class Snapshot:
    config: Config
    etag: str


def snapshot(cloud: LocalCloudHandle, distribution_id: str) -> Snapshot:
    found = cloud.client("cloudfront").get_distribution_config(Id=distribution_id)
    return Snapshot(config=found["DistributionConfig"], etag=found["ETag"])


class Release:
    """One execution of the real state machine on the local cloud."""

    def __init__(
        self, cloud: LocalCloudHandle, document: Any, label: str = "fault", name: str | None = None
    ) -> None:
        self.cloud = cloud
        self.sfn = cloud.client("stepfunctions")
        self.name = name or f"{label}-{uuid.uuid4().hex[:10]}"
        self.started = time.time()
        self.arn: str = self.sfn.start_execution(
            stateMachineArn=cloud.info.state_machine_arn, name=self.name, input=json.dumps(document)
        )["executionArn"]

    def describe(self) -> dict[str, Any]:
        return dict(self.sfn.describe_execution(executionArn=self.arn))

    def pending_approval(self) -> dict[str, Any]:
        table = self.cloud.resource("dynamodb").Table(self.cloud.info.table_name)

        def probe() -> dict[str, Any] | None:
            description = self.describe()
            if description["status"] != "RUNNING":
                raise AssertionError(
                    f"{self.name} ended before its approval: {description['status']} "
                    f"{description.get('error')}: {str(description.get('cause'))[:1500]}"
                )
            items = table.query(
                IndexName=EXECUTION_INDEX, KeyConditionExpression=Key("executionArn").eq(self.arn)
            )["Items"]
            pending = [item for item in items if item.get("status") == "PENDING"]
            # The index holds no task token: the item itself does.
            return (
                table.get_item(Key={"pk": pending[0]["pk"]}, ConsistentRead=True)["Item"] if pending else None
            )

        return wait_for(probe, EXECUTION_DEADLINE_SECONDS, f"pending approval of {self.name}", POLL_SECONDS)

    def approve(self) -> None:
        approval = self.pending_approval()
        self.sfn.send_task_success(
            taskToken=approval["taskToken"],
            output=json.dumps({"approvalId": approval["pk"], "decidedBy": "faults", "comment": ""}),
        )

    def reject(self) -> None:
        approval = self.pending_approval()
        self.sfn.send_task_failure(
            taskToken=approval["taskToken"], error="DeploymentRejected", cause="rejected by the fault suite"
        )

    def last_event(self) -> dict[str, Any]:
        newest = self.sfn.get_execution_history(executionArn=self.arn, maxResults=1, reverseOrder=True)
        return dict(newest["events"][0]) if newest["events"] else {"type": "ExecutionStarting"}

    def wait_until_in(self, state: str) -> None:
        """Until the execution sits in the Wait state ``state`` (its next Task has not run yet)."""

        def probe() -> bool | None:
            event = self.last_event()
            if event["type"] in {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted"}:
                description = self.describe()
                raise AssertionError(
                    f"{self.name} ended before reaching {state}: {description['status']} "
                    f"{description.get('error')}: {str(description.get('cause'))[:1000]}"
                )
            entered = event.get("stateEnteredEventDetails", {}).get("name")
            return True if event["type"] == "WaitStateEntered" and entered == state else None

        # Often enough to see a Wait state of timing.pollSeconds (1 s).
        wait_for(probe, EXECUTION_DEADLINE_SECONDS, f"{self.name} in {state}", interval=0.2)

    def waits_for_a_decision(self) -> None:
        """Until the workflow waits for the approval's task token: the current attempt of
        RequestApproval returned (TaskSubmitted), its record and mail are in place."""

        def probe() -> bool | None:
            event = self.last_event()
            if event["type"] in {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted"}:
                raise AssertionError(f"{self.name} ended before waiting for a decision")
            return True if event["type"] == "TaskSubmitted" else None

        wait_for(probe, EXECUTION_DEADLINE_SECONDS, f"{self.name} waiting for a decision", POLL_SECONDS)

    def decide_by_mail(self, decision: Literal["approve", "reject"]) -> Page:
        """As the approver does: the approval mail's link, the page it opens, its form's POST.
        Returns the page the POST answers with ("Approved", "Rejected", or why not)."""

        def mailed() -> ApprovalMail | None:
            found = find_approval_mail(self.cloud.state_dir, self.name)
            if found is None and (description := self.describe())["status"] != "RUNNING":
                raise AssertionError(
                    f"{self.name} ended before its approval mail: {description['status']} "
                    f"{description.get('error')}: {str(description.get('cause'))[:1500]}"
                )
            return found

        self.waits_for_a_decision()
        mail = wait_for(mailed, EXECUTION_DEADLINE_SECONDS, f"approval mail of {self.name}", POLL_SECONDS)
        # The decider names the release: its rejection's cause does too (SendTaskFailure).
        return submit_decision(open_link(mail.link), decision, decided_by=f"approver of {self.name}")

    def finished(self) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            description = self.describe()
            return None if description["status"] == "RUNNING" else description

        return wait_for(probe, EXECUTION_DEADLINE_SECONDS, f"end of {self.name}", POLL_SECONDS)


def staging_config_of_policy(cloud: LocalCloudHandle, policy_id: str) -> Config | None:
    cloudfront = cloud.client("cloudfront")
    policy = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)[
        "ContinuousDeploymentPolicyConfig"
    ]
    names = set(policy["StagingDistributionDnsNames"].get("Items", []))
    for summary in cloudfront.list_distributions()["DistributionList"].get("Items", []):
        if summary["DomainName"] in names:
            config: Config = cloudfront.get_distribution_config(Id=summary["Id"])["DistributionConfig"]
            return config
    return None


def _promotion_view(config: Config) -> Config:
    return {key: value for key, value in config.items() if key not in PRIMARY_KEEPS_ON_PROMOTION}


def _without_policy_id(config: Config) -> Config:
    view = copy.deepcopy(config)
    view.pop("ContinuousDeploymentPolicyId", None)
    return view


@dataclass
class Verdict:
    """What the invariant check found; ``violations`` empty means it held."""

    status: str
    error: str | None
    cause: str | None
    promoted: bool = False
    violations: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    def explain(self) -> str:
        return f"{self.status} {self.error}: {str(self.cause)[:800]}\n  " + "\n  ".join(self.violations)


def check_invariant(
    cloud: LocalCloudHandle,
    site: SeededSite,
    before: Snapshot,
    description: dict[str, Any],
    *,
    expected_primary: Config | None = None,
    lock_expected_holder: str | None = None,
) -> Verdict:
    """The invariant after ``description``'s execution ended (see the module docstring).

    ``expected_primary``: the primary as someone else legitimately left it (instead of ``before``).
    ``lock_expected_holder``: a lock another execution holds and that must survive this one.
    """
    verdict = Verdict(description["status"], description.get("error"), description.get("cause"))
    cloudfront = cloud.client("cloudfront")
    primary = snapshot(cloud, site.primary_distribution_id).config
    policy_id = primary.get("ContinuousDeploymentPolicyId") or None

    unchanged = _without_policy_id(primary) == _without_policy_id(expected_primary or before.config)
    staging = staging_config_of_policy(cloud, policy_id) if policy_id else None
    verdict.promoted = staging is not None and _promotion_view(primary) == _promotion_view(staging)
    if not (unchanged or verdict.promoted):
        verdict.violations.append("the primary is neither as before nor the promoted staging config")
    if verdict.status == "SUCCEEDED" and not verdict.promoted:
        verdict.violations.append("SUCCEEDED but the primary does not carry the staging config")
    if policy_id:
        policy = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)
        if policy["ContinuousDeploymentPolicyConfig"]["Enabled"]:
            verdict.violations.append(f"policy {policy_id} is still enabled")

    verdict.orphans = orphans(cloud, site, policy_id, description["executionArn"])
    verdict.violations += verdict.orphans

    lock = (
        cloud.resource("dynamodb")
        .Table(cloud.info.table_name)
        .get_item(Key={"pk": f"lock#{site.primary_distribution_id}"}, ConsistentRead=True)
        .get("Item")
    )
    holder = lock.get("executionArn") if lock else None
    if holder != lock_expected_holder:
        verdict.violations.append(f"lock held by {holder}, expected {lock_expected_holder}")

    if verdict.status == "FAILED" and verdict.error not in WORKFLOW_ERROR_NAMES:
        verdict.violations.append(f"failed with an unnamed error {verdict.error!r}")
    if verdict.status not in {"SUCCEEDED", "FAILED", "ABORTED"}:
        verdict.violations.append(f"ended {verdict.status}")
    return verdict


def orphans(cloud: LocalCloudHandle, site: SeededSite, attached: str | None, execution_arn: str) -> list[str]:
    """What a release left twice, or left live: staging copies, policies, approval records."""
    cloudfront = cloud.client("cloudfront")
    found = []
    copies = staging_copies_of(cloudfront, site.primary_distribution_id)
    if len(copies) > 1:
        found.append(f"{len(copies)} staging copies of the primary: {copies}")
    names = {cloudfront.get_distribution(Id=copy_id)["Distribution"]["DomainName"] for copy_id in copies}
    if attached:
        config = cloudfront.get_continuous_deployment_policy_config(Id=attached)[
            "ContinuousDeploymentPolicyConfig"
        ]
        names |= set(config["StagingDistributionDnsNames"].get("Items", []))
    naming = policies_naming_any(cloud, names)
    unattached = [policy_id for policy_id in naming if policy_id != attached]
    if len(naming) > 1 or (attached and unattached):
        found.append(
            f"policies naming the staging distribution besides the attached {attached}: {unattached}"
        )
    enabled = [
        policy_id
        for policy_id in unattached
        if cloudfront.get_continuous_deployment_policy_config(Id=policy_id)[
            "ContinuousDeploymentPolicyConfig"
        ]["Enabled"]
    ]
    if enabled:
        found.append(f"unattached policies still enabled: {enabled}")
    items = (
        cloud.resource("dynamodb")
        .Table(cloud.info.table_name)
        .query(IndexName=EXECUTION_INDEX, KeyConditionExpression=Key("executionArn").eq(execution_arn))[
            "Items"
        ]
    )
    approvals = [item["pk"] for item in items if str(item["pk"]).startswith(APPROVAL_KEY_PREFIX)]
    if len(approvals) > 1:
        found.append(f"{len(approvals)} approval records for the execution")
    mails = approval_mails(cloud, execution_arn)
    for source in sorted(set(mails)):
        if mails.count(source) > 1:
            found.append(f"{mails.count(source)} approval mails through {source} for the execution")
    return found


def approval_mails(cloud: LocalCloudHandle, execution_arn: str) -> list[str]:
    """The channel ("sns", "ses") of every approval mail captured for the execution."""
    name = execution_arn.rsplit(":", 1)[-1]
    return [
        summary.source
        for summary in list_mail(cloud.state_dir)
        if summary.subject.startswith(APPROVAL_SUBJECT_START)
        and f"Execution: {name}" in (read_mail(summary.path)[0] or "").splitlines()
    ]


def mutating_calls(cloud: LocalCloudHandle, since: float, until: float) -> list[str]:
    return [
        f"{call.service}:{call.operation}"
        for call in cloud.faults.calls()
        if since <= call.time <= until and call.operation.startswith(MUTATING_PREFIXES)
    ]


def side_by_side(cases: dict[str, Callable[[], R]], workers: int) -> dict[str, R | BaseException]:
    """Run every case at once (``workers`` at a time); each case's result, or what it raised (for
    that case's test to report), by name."""
    results: dict[str, R | BaseException] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(case) for name, case in cases.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as error:  # reported by that case's test
                results[name] = error
    return results
