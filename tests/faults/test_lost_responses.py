"""Lost responses (issue 11): every AWS write of a release takes effect, and its answer is lost.

For each write the workflow makes, one release whose call of that write is applied but answered
with a server error (the local cloud's ``when="after"`` fault) must end as it would have without
it: promoted (SUCCEEDED), or, for a write of the rollback, the same failure. Afterwards the
account holds what any release leaves: one staging distribution and one policy for the primary,
one approval record and one approval mail per channel for the release. The invariant of every
fault test (tests/faults/support.py) is checked too.

The errors are those with which AWS says nothing about whether it applied the request: 500
(InternalError, InternalFailure, InternalServerError) and 503 ServiceUnavailable. boto3 retries
them itself (standard mode), so most lost answers meet boto3's own retry of a write already
made; the approval mail's clients make one attempt (at most once), so RequestApproval fails and
Step Functions runs it again. A read timeout, the other way an answer is lost, is not emulated:
boto3 treats it as it treats a 5xx (it retries), and waiting it out would cost a minute a case.

Each fault matches only its own release's request (a distribution id in the URL, a lock key, an
execution name or approval id in the body: ``Fault.matching``), so the cases run side by side,
each on its own seeded site, and each approver decides from the approval mail as a person does.
"""

from __future__ import annotations

import functools
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from cfcd.local.faults import Fault
from cfcd.local.seed import SeededSite, seed_site
from cfcd_common.approvals import APPROVAL_KEY_PREFIX, EXECUTION_INDEX, approval_id_for, find_pending
from cfcd_common.cloudfront import caller_reference_prefix
from tests.conftest import LocalCloudHandle, _start_local_cloud, _stop, _wait_for_local_json
from tests.fault_summary import SUMMARY, CaseResult
from tests.faults.support import (
    Release,
    Verdict,
    approval_mails,
    check_invariant,
    copy_input,
    side_by_side,
    snapshot,
    stack_input,
)
from tests.sites import SITES, new_site, policies_naming_any, retire_all_sites, retire_staging

pytestmark = pytest.mark.faults

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STACK_TEMPLATE = (EXAMPLES / "staging-header.yaml").read_text()
# What AWS answers when it cannot say whether it applied the request (each service's own code):
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/CommonErrors.html and the same page
# of every Query/JSON API; DynamoDB: InternalServerError
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html); S3 and SNS
# Publish: InternalError (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
# https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
LOST_ANSWER = {
    "cloudfront": ("ServiceUnavailable", 503),
    "cloudformation": ("InternalFailure", 500),
    "dynamodb": ("InternalServerError", 500),
    "s3": ("InternalError", 500),
    "sesv2": ("InternalFailure", 500),
    "sns": ("InternalError", 500),
    "stepfunctions": ("ServiceUnavailable", 503),
}
SENDER = "cfcd-releases@example.com"
APPROVER = "approver@example.com"
CONCURRENT_RELEASES = 8


@dataclass
class Scene:
    """What a case's fault can be told apart by."""

    cloud: LocalCloudHandle
    site: SeededSite
    stack_name: str
    # The release under test's name, chosen before it starts.
    execution_name: str = field(default_factory=lambda: f"lost-{uuid.uuid4().hex[:10]}")
    release: Release | None = None
    policy_id: str | None = None

    @property
    def primary(self) -> str:
        return self.site.primary_distribution_id

    @property
    def execution(self) -> Release:
        assert self.release is not None, "the fault needs a running release"
        return self.release

    @property
    def execution_arn(self) -> str:
        """The ARN StartExecution gives an execution of this name (the ARN is the machine's, with
        ``execution`` for ``stateMachine``, and the name appended)."""
        machine = self.cloud.info.state_machine_arn
        assert machine is not None, "the local cloud deployed no state machine"
        return f"{machine.replace(':stateMachine:', ':execution:', 1)}:{self.execution_name}"

    @functools.cached_property
    def approval_id(self) -> str:
        return approval_id_for(signing_key(self.cloud), self.execution_arn)


@dataclass(frozen=True)
class LostResponse:
    case: str
    service: str
    operation: str
    matching: Callable[[Scene], list[str]]
    # When the fault is registered: before the release starts (its execution name, and so its
    # approval id, are chosen before); once it waits for the decision (its policy is attached).
    inject: Literal["before", "deciding"] = "before"
    decision: Literal["approve", "reject"] = "approve"
    expected: str = "SUCCEEDED"
    mode: Literal["copy", "stack"] = "copy"
    # The write happens only from a site's second release on (its policy, its stack exist).
    second_release: bool = False
    # On a local cloud that also mails the approver through SES (the template's SenderEmail).
    ses: bool = False


LOST_RESPONSES = [
    LostResponse(
        "CopyDistribution",
        "cloudfront",
        "CopyDistribution",
        lambda scene: [f"/distribution/{scene.primary}/copy"],
    ),
    LostResponse(
        "UpdateDistribution of staging",
        "cloudfront",
        "UpdateDistribution",
        # The staging copy's body carries its CallerReference, under the primary's cfcd prefix.
        lambda scene: [caller_reference_prefix(scene.primary)],
    ),
    LostResponse(
        "UpdateDistribution attaching the policy",
        "cloudfront",
        "UpdateDistribution",
        lambda scene: [f"/distribution/{scene.primary}/config"],
    ),
    LostResponse(
        "PutBucketPolicy letting staging read",
        "s3",
        "PutBucketPolicy",
        lambda scene: [scene.site.bucket_name],
    ),
    LostResponse(
        "CreateContinuousDeploymentPolicy",
        "cloudfront",
        "CreateContinuousDeploymentPolicy",
        # Each case's header value is its bucket's name (see release_document).
        lambda scene: [scene.site.bucket_name],
    ),
    LostResponse(
        "UpdateContinuousDeploymentPolicy enabling",
        "cloudfront",
        "UpdateContinuousDeploymentPolicy",
        lambda scene: [f"/continuous-deployment-policy/{scene.policy_id}"],
        second_release=True,
    ),
    LostResponse(
        "UpdateContinuousDeploymentPolicy of rollback",
        "cloudfront",
        "UpdateContinuousDeploymentPolicy",
        lambda scene: [f"/continuous-deployment-policy/{scene.policy_id}"],
        inject="deciding",
        decision="reject",
        expected="DeploymentRejected",
    ),
    LostResponse(
        "UpdateDistributionWithStagingConfig",
        "cloudfront",
        "UpdateDistributionWithStagingConfig",
        lambda scene: [f"/distribution/{scene.primary}/promote-staging-config"],
    ),
    LostResponse(
        "CreateInvalidation",
        "cloudfront",
        "CreateInvalidation",
        lambda scene: [f"/distribution/{scene.primary}/invalidation"],
    ),
    LostResponse(
        "CreateStack", "cloudformation", "CreateStack", lambda scene: [scene.stack_name], mode="stack"
    ),
    LostResponse(
        "UpdateStack",
        "cloudformation",
        "UpdateStack",
        lambda scene: [scene.stack_name],
        mode="stack",
        second_release=True,
    ),
    LostResponse("PutItem of the lock", "dynamodb", "PutItem", lambda scene: [f"lock#{scene.primary}"]),
    LostResponse("DeleteItem of the lock", "dynamodb", "DeleteItem", lambda scene: [f"lock#{scene.primary}"]),
    LostResponse(
        "PutItem of the approval record",
        "dynamodb",
        "PutItem",
        lambda scene: [APPROVAL_KEY_PREFIX, scene.execution_arn],
    ),
    LostResponse(
        "UpdateItem marking the mail SENDING",
        "dynamodb",
        "UpdateItem",
        lambda scene: [scene.approval_id, '"SENDING"'],
    ),
    LostResponse(
        "UpdateItem marking the mail SENT",
        "dynamodb",
        "UpdateItem",
        lambda scene: [scene.approval_id, '"SENT"'],
    ),
    LostResponse(
        "Publish of the approval mail (SNS)",
        "sns",
        "Publish",
        lambda scene: [scene.execution_name],
    ),
    LostResponse(
        "SendEmail of the approval mail (SES)",
        "sesv2",
        "SendEmail",
        lambda scene: [scene.execution_name],
        ses=True,
    ),
    LostResponse(
        "UpdateItem claiming the decision",
        "dynamodb",
        "UpdateItem",
        lambda scene: [scene.approval_id, '"APPROVED"'],
        inject="deciding",
    ),
    LostResponse(
        "SendTaskSuccess of the decision",
        "stepfunctions",
        "SendTaskSuccess",
        lambda scene: [scene.approval_id],
        inject="deciding",
    ),
    LostResponse(
        "SendTaskFailure of a rejection",
        "stepfunctions",
        "SendTaskFailure",
        # The rejection's cause names the approver, who names the release (Release.decide_by_mail).
        lambda scene: [scene.execution_name],
        inject="deciding",
        decision="reject",
        expected="DeploymentRejected",
    ),
]


def signing_key(cloud: LocalCloudHandle) -> bytes:
    """The local cloud's HMAC key of the approval links: approval ids derive from it."""
    for function in cloud.client("lambda").list_functions()["Functions"]:
        secret = function.get("Environment", {}).get("Variables", {}).get("SIGNING_SECRET_ARN")
        if secret:
            return str(
                cloud.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
            ).encode()
    raise AssertionError("no function holds SIGNING_SECRET_ARN")


@dataclass
class LostRan:
    """A finished case: the invariant's verdict, and what must exist exactly once."""

    verdict: Verdict
    decided: str  # the title of the page the approver's POST answered with
    not_exactly_once: list[str] = field(default_factory=list)
    faults_consumed: int = 0


def release_document(case: LostResponse, scene: Scene, release: str) -> dict[str, Any]:
    if case.mode == "stack":
        document = stack_input(scene.site, STACK_TEMPLATE, release)
        document["staging"]["stackName"] = scene.stack_name
        return document
    document = copy_input(scene.site, release)
    document["traffic"]["value"] = scene.site.bucket_name
    return document


def lose(scene: Scene, case: LostResponse) -> Fault:
    error, status = LOST_ANSWER[case.service]
    return scene.cloud.faults.inject(
        case.service, case.operation, error, status, when="after", matching=case.matching(scene)
    )


def attached_policy(cloud: LocalCloudHandle, site: SeededSite) -> str | None:
    return snapshot(cloud, site.primary_distribution_id).config.get("ContinuousDeploymentPolicyId") or None


def run_case(cloud: LocalCloudHandle, case: LostResponse, site: SeededSite) -> LostRan:
    scene = Scene(cloud, site, stack_name=f"staging-{uuid.uuid4().hex[:10]}")
    release = "2.0.0"
    if case.second_release:
        first = Release(cloud, release_document(case, scene, release), label="lost")
        first.approve()
        ended = first.finished()
        assert ended["status"] == "SUCCEEDED", (
            f"the first release ended {ended['status']}: {ended.get('cause')}"
        )
        scene.policy_id = attached_policy(cloud, site)
        release = "3.0.0"
    before = snapshot(cloud, site.primary_distribution_id)
    faults = [lose(scene, case)] if case.inject == "before" else []
    scene.release = Release(cloud, release_document(case, scene, release), name=scene.execution_name)
    assert scene.release.arn == scene.execution_arn, "the faults registered matched another ARN"
    if case.inject == "deciding":
        scene.release.waits_for_a_decision()
        scene.policy_id = attached_policy(cloud, site)
        faults.append(lose(scene, case))
    page = scene.release.decide_by_mail(case.decision)
    description = scene.release.finished()
    verdict = check_invariant(cloud, site, before, description)
    pending = cloud.faults.pending()
    return LostRan(
        verdict=verdict,
        decided=page.title,
        not_exactly_once=not_exactly_once(scene, channels=["ses", "sns"] if case.ses else ["sns"]),
        faults_consumed=sum(fault not in pending for fault in faults),
    )


def not_exactly_once(scene: Scene, channels: list[str]) -> list[str]:
    """What the release left other than one staging distribution and one policy for the primary,
    one approval record and one approval mail per channel."""
    cloud, site = scene.cloud, scene.site
    cloudfront = cloud.client("cloudfront")
    stagings = [
        summary["DomainName"]
        for summary in cloudfront.list_distributions()["DistributionList"].get("Items", [])
        if summary.get("Staging")
        and summary["Origins"]["Items"][0]["DomainName"].startswith(f"{site.bucket_name}.")
    ]
    problems = [] if len(stagings) == 1 else [f"{len(stagings)} staging distributions: {stagings}"]
    policies = policies_naming_any(cloud, set(stagings))
    attached = attached_policy(cloud, site)
    if policies != [attached] or attached is None:
        problems.append(f"policies naming staging {policies}, attached to the primary {attached}")
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    records = [
        item
        for item in table.query(
            IndexName=EXECUTION_INDEX,
            KeyConditionExpression="executionArn = :arn",
            ExpressionAttributeValues={":arn": scene.execution_arn},
        )["Items"]
        if str(item["pk"]).startswith(APPROVAL_KEY_PREFIX)
    ]
    if len(records) != 1:
        problems.append(f"{len(records)} approval records")
    if find_pending(table, scene.execution_arn) is not None:
        problems.append("the approval record is still PENDING")
    mails = sorted(approval_mails(cloud, scene.execution_arn))
    if mails != channels:
        problems.append(f"approval mails through {mails}, expected one through each of {channels}")
    return problems


@dataclass
class SesCloud:
    """A second local cloud whose template mails the approver through SES as well (SenderEmail)."""

    state_dir: Path
    process: Any

    @functools.cached_property
    def handle(self) -> LocalCloudHandle:
        info = _wait_for_local_json(self.process, self.state_dir)
        handle = LocalCloudHandle(info=info, state_dir=self.state_dir)
        # SenderEmail must be an identity SES has verified; the operator does that once.
        handle.client("ses").verify_email_identity(EmailAddress=SENDER)
        return handle


def run(cloud: LocalCloudHandle, ses: SesCloud, case: LostResponse) -> LostRan:
    on = ses.handle if case.ses else cloud
    site = new_site(cloud) if not case.ses else seed_site(on.clients, bucket=f"lost-{uuid.uuid4().hex[:12]}")
    try:
        return run_case(on, case, site)
    finally:
        retire_staging(on, site)


@pytest.fixture(scope="module")
def lost_response_runs(
    local_cloud: LocalCloudHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, LostRan | BaseException]]:
    """Every case at once (at most CONCURRENT_RELEASES side by side), the SES cloud starting meanwhile."""
    local_cloud.faults.reset()
    state_dir = tmp_path_factory.mktemp("cfcd-ses-state")
    ses = SesCloud(
        state_dir, _start_local_cloud(state_dir, [f"SenderEmail={SENDER}", f"ApprovalEmail={APPROVER}"])
    )
    try:
        # The SES case first: it waits for its cloud to start while the others run.
        ordered = sorted(LOST_RESPONSES, key=lambda case: not case.ses)
        results = side_by_side(
            {case.case: functools.partial(run, local_cloud, ses, case) for case in ordered},
            CONCURRENT_RELEASES,
        )
    finally:
        _stop(ses.process)
    batch_sites = list(SITES)
    SITES.clear()
    yield results
    for problem in retire_all_sites(local_cloud, batch_sites):
        warnings.warn(f"could not retire a lost-response site: {problem}", stacklevel=1)


@pytest.mark.parametrize("case", LOST_RESPONSES, ids=[case.case for case in LOST_RESPONSES])
def test_a_lost_response_changes_nothing_in_how_the_release_ends(
    case: LostResponse, lost_response_runs: dict[str, LostRan | BaseException]
) -> None:
    # Given one write of the release applied with its answer lost (a 5xx)
    ran = lost_response_runs[case.case]
    name = f"lost answer: {case.case}"
    if isinstance(ran, BaseException):
        SUMMARY.cases.append(CaseResult(name, f"test error {type(ran).__name__}", False))
        raise ran
    # Then the release ends as it would have without it, the invariant holds
    verdict = ran.verdict
    ending = verdict.status if verdict.status != "FAILED" else verdict.error
    decided = "Approved" if case.decision == "approve" else "Rejected"
    held = (
        ending == case.expected
        and not verdict.violations
        and not ran.not_exactly_once
        and ran.decided == decided
        and ran.faults_consumed == 1
    )
    SUMMARY.cases.append(
        CaseResult(
            name,
            verdict.status if verdict.status != "FAILED" else f"FAILED {verdict.error}",
            held,
            faults_injected=1,
            faults_consumed=ran.faults_consumed,
            orphans=len(verdict.orphans),
        )
    )
    assert ending == case.expected, verdict.explain()
    assert not verdict.violations, verdict.explain()
    assert ran.faults_consumed == 1, "the lost response was never met: the case proves nothing"
    # And the approver's POST was taken, and the account holds each thing exactly once
    assert ran.decided == decided, ran.decided
    assert not ran.not_exactly_once, ran.not_exactly_once
    if case.expected == "SUCCEEDED":
        assert verdict.promoted
