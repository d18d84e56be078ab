"""The seed article's story, one small function per step, each proving what it claims.

v1 live → header release of v2 → the approval email → its link → Approve → v2 promoted →
weight release of v3 (15 %, sticky) → rejected → policy off, primary still v2 → the progressive
acts (:mod:`cfcd.demo.progressive`): v4 stopped at its first step, v3 promoted through every step
with no human, ``cfcd rollback`` back to v2.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from cfcd.client.execution_view import readable_cause
from cfcd.demo import progressive
from cfcd.demo.approval import (
    ApprovalMail,
    Page,
    approval_id_of,
    find_approval_mail,
    open_link,
    submit_decision,
)
from cfcd.demo.context import STICKINESS, DemoContext, Release, origin_path
from cfcd.demo.viewer import (
    STAGING_HEADER,
    STAGING_HEADER_VALUE,
    Answer,
    StickyViewer,
    cookie_pair,
    shares,
    tally,
)
from cfcd_common.approvals import ApprovalRequest, ApprovalStatus, Outcome, decide, find_pending, get_request
from cfcd_common.locks import lock_key

EXECUTION_DEADLINE_SECONDS = 90.0
MAIL_DEADLINE_SECONDS = 30.0
PROPAGATION_DEADLINE_SECONDS = 30.0
WEIGHT = 0.15
SAMPLE_SIZE = 400
STICKY_REQUESTS = 20
DECIDED_BY = "demo"
# The share of v3 in the sample may stray this many standard deviations from the weight:
# a false alarm once in ~15 000 runs, while a policy that ignored the weight fails at once.
SHARE_TOLERANCE_SIGMAS = 4.0


@dataclass(frozen=True)
class PrimarySnapshot:
    etag: str
    config: dict[str, Any]

    @property
    def origin_path(self) -> str:
        return origin_path(self.config)


def v1_is_live(ctx: DemoContext) -> PrimarySnapshot:
    ctx.report.step("v1 is live")
    etag, config = ctx.primary_config()
    answer = ctx.viewers.get("/")
    ctx.report.check(
        answer.status == 200 and answer.release == "v1",
        "viewers get v1 through the edge",
        f"GET http://{ctx.site.domain_name}/ (via the local edge {ctx.info.edge_endpoint}) → "
        f"{answer.describe()}",
    )
    ctx.report.info(
        f"primary {ctx.site.primary_distribution_id}: OriginPath {origin_path(config)}, ETag {etag}"
    )
    return PrimarySnapshot(etag, config)


def start_header_release(ctx: DemoContext) -> Release:
    ctx.report.step(f"Header release of v2 (cfcd deploy, copy mode, header {STAGING_HEADER}: staging)")
    document = ctx.copy_release(
        "2.0.0", {"type": "SingleHeader", "header": STAGING_HEADER, "value": STAGING_HEADER_VALUE}
    )
    return ctx.start(document)


def start_weight_release(ctx: DemoContext) -> Release:
    ctx.report.step(
        f"Weight release of v3 ({WEIGHT:.0%} of viewers, sticky {STICKINESS['idleTtl']}/"
        f"{STICKINESS['maximumTtl']} s)"
    )
    document = ctx.copy_release("3.0.0", {"type": "SingleWeight", "weight": WEIGHT, "stickiness": STICKINESS})
    return ctx.start(document)


def wait_for_approval_request(ctx: DemoContext, release: Release) -> ApprovalRequest:
    """Follow the execution until it has deployed, probed staging and asked for approval."""
    found: list[ApprovalRequest] = []

    def asked(_: dict[str, Any]) -> bool:
        pending = find_pending(ctx.table, release.arn)
        if pending is not None:
            found.append(pending)
        return pending is not None

    release.follower.until(asked, what="the approval request", timeout=EXECUTION_DEADLINE_SECONDS)
    request = found[0]
    ctx.report.check(
        request.summary.probe.ok,
        "staging deployed and probed; the workflow waits for approval",
        f"approval {request.approval_id}: {request.status}; probe: {request.summary.probe.summary}",
    )
    return request


def header_routes_to_staging(ctx: DemoContext) -> None:
    ctx.report.step("Only viewers with the header see v2")
    with_header = ctx.viewers.with_header()
    ctx.report.check(
        with_header.status == 200 and with_header.release == "v2",
        f"with the header {STAGING_HEADER}: {STAGING_HEADER_VALUE} → v2 (staging)",
        f"GET / -H '{STAGING_HEADER}: {STAGING_HEADER_VALUE}' → {with_header.describe()}",
    )
    without = ctx.viewers.get()
    ctx.report.check(
        without.status == 200 and without.release == "v1",
        "without it → v1 (primary, unchanged)",
        f"GET / → {without.describe()}",
    )


def approval_email_arrives(ctx: DemoContext, release: Release) -> ApprovalMail:
    ctx.report.step("The approval email arrives")
    mail = ctx.report.wait_for(
        lambda: find_approval_mail(ctx.state_dir, release.name),
        what="the approval email",
        timeout=MAIL_DEADLINE_SECONDS,
    )
    base = ctx.info.approval_base_url or ""
    ctx.report.check(
        bool(base) and mail.link.startswith(base),
        "the email links to the approval page",
        f"{mail.summary.path.name}\nSubject: {mail.summary.subject}\nLink: {mail.link}",
    )
    return mail


def open_approval_link(ctx: DemoContext, mail: ApprovalMail) -> Page:
    ctx.report.step("The approver opens the link")
    page = open_link(mail.link)
    ctx.report.check(
        page.status == 200 and {"csrf", "id", "sig"} <= set(page.hidden_fields) and "approve" in page.buttons,
        "the link shows the confirmation page with its form",
        f"GET → HTTP {page.status}, title {page.title!r}; hidden fields {sorted(page.hidden_fields)}; "
        f"buttons {page.buttons}",
    )
    record = get_request(ctx.table, approval_id_of(mail.link))
    status = record.status if record is not None else "missing"
    ctx.report.check(
        record is not None and record.status is ApprovalStatus.PENDING,
        "opening the link decided nothing",
        f"approval record {approval_id_of(mail.link)}: status {status}",
    )
    return page


def approve_with_the_form(ctx: DemoContext, page: Page) -> None:
    ctx.report.step("The approver presses Approve")
    result = submit_decision(page, "approve", DECIDED_BY, comment="v2 looks good")
    ctx.report.check(
        result.status == 200 and result.title == "Approved",
        "the form's POST approved the release",
        f"POST decision=approve decidedBy={DECIDED_BY} (+ id, exp, sig, csrf) → HTTP {result.status}, "
        f"{result.title!r}\n{result.banner()}",
    )


def v2_is_promoted(ctx: DemoContext, release: Release, before: PrimarySnapshot) -> PrimarySnapshot:
    ctx.report.step("The workflow promotes v2 to the primary")
    description = release.follower.until_finished(EXECUTION_DEADLINE_SECONDS)
    ctx.report.check(
        description["status"] == "SUCCEEDED",
        "the execution SUCCEEDED",
        f"{release.name}: {description['status']}",
    )
    after = PrimarySnapshot(*ctx.primary_config())
    ctx.report.check(
        after.origin_path == "/2.0.0" and after.etag != before.etag,
        "the primary took staging's config (UpdateDistributionWithStagingConfig)",
        f"OriginPath {before.origin_path} → {after.origin_path}; ETag {before.etag} → {after.etag}",
    )
    answer = ctx.viewers.get()
    ctx.report.check(
        answer.status == 200 and answer.release == "v2",
        "viewers without the header now get v2",
        f"GET / → {answer.describe()}",
    )
    policy = ctx.attached_policy(after.config)
    ctx.report.check(
        policy["Enabled"] is False,
        "promotion disabled the continuous deployment policy",
        f"policy {after.config.get('ContinuousDeploymentPolicyId')}: Enabled {policy['Enabled']}",
    )
    return after


def weight_sends_a_share_to_staging(ctx: DemoContext) -> dict[str, str]:
    """Sample new viewers; return one stickiness cookie per release seen, for the next step."""
    ctx.report.step(f"About {WEIGHT:.0%} of new viewers get v3")
    ctx.report.info(f"{SAMPLE_SIZE} requests without a cookie (each a new viewer)...")
    answers = ctx.viewers.sample(SAMPLE_SIZE)
    counts = shares(answers)
    statuses = {answer.status for answer in answers}
    ctx.report.check(
        statuses == {200} and set(counts) <= {"v2", "v3"},
        "every response is healthy and serves v2 or v3",
        f"HTTP statuses {sorted(statuses)}; " + tally(counts),
    )
    share = counts["v3"] / SAMPLE_SIZE
    margin = SHARE_TOLERANCE_SIGMAS * math.sqrt(WEIGHT * (1 - WEIGHT) / SAMPLE_SIZE)
    ctx.report.check(
        abs(share - WEIGHT) <= margin,
        f"the share of v3 matches the weight {WEIGHT}",
        f"v3 {counts['v3']}/{SAMPLE_SIZE} = {share:.1%} (expected {WEIGHT:.0%} ± {margin:.1%})",
    )
    cookies: dict[str, str] = {}
    for answer in answers:
        cookie = cookie_pair(answer.set_cookie)
        if cookie and answer.release not in cookies:
            cookies[answer.release] = cookie
    return cookies


def cookie_keeps_a_viewer_on_one_side(ctx: DemoContext, cookies: dict[str, str]) -> StickyViewer:
    """Returns the viewer pinned to v3, to watch it come back to v2 after the rejection."""
    ctx.report.step("The stickiness cookie keeps a viewer on one side")
    viewers: dict[str, StickyViewer] = {}
    for release in ("v3", "v2"):
        viewer = StickyViewer(ctx.viewers, cookie=cookies.get(release))
        for _ in range(STICKY_REQUESTS):
            viewer.get()
        ctx.report.check(
            release in cookies and viewer.seen == {release: STICKY_REQUESTS},
            f"a viewer first sent to {release} stays on {release}",
            f"{STICKY_REQUESTS} requests with its x-amz-continuous-deployment-state cookie: "
            + tally(viewer.seen),
        )
        viewers[release] = viewer
    return viewers["v3"]


def reject_the_release(ctx: DemoContext, release: Release) -> None:
    ctx.report.step("The release is rejected (cfcd reject)")
    pending = find_pending(ctx.table, release.arn)
    if pending is None:
        ctx.report.fail("a pending approval to reject", f"none for {release.name}")
    decision = decide(
        ctx.table,
        ctx.sfn,
        pending.approval_id,
        "reject",
        decided_by=DECIDED_BY,
        comment="v3 is not ready",
        source_ip=None,
        user_agent="cfcd-demo",
        now=int(time.time()),
    )
    record = decision.request
    ctx.report.check(
        decision.outcome is Outcome.DECIDED
        and record is not None
        and record.status is ApprovalStatus.REJECTED,
        "the rejection was recorded once and sent to the workflow",
        f"{decision.message}\napproval {pending.approval_id}: status {record.status if record else '?'}, "
        f"decidedBy {record.decided_by if record else '?'}, comment {record.comment if record else '?'!r}",
    )


def rollback_keeps_v2(
    ctx: DemoContext, release: Release, before: PrimarySnapshot, pinned: StickyViewer
) -> None:
    ctx.report.step("Rollback: the policy is off, the primary still serves v2")
    description = release.follower.until_finished(EXECUTION_DEADLINE_SECONDS)
    ctx.report.check(
        description["status"] == "FAILED" and description.get("error") == "DeploymentRejected",
        "the execution FAILED with DeploymentRejected",
        f"{release.name}: {description['status']}, error {description.get('error')}"
        + (f", cause {readable_cause(description['cause'])!r}" if description.get("cause") else ""),
    )
    after = PrimarySnapshot(*ctx.primary_config())
    policy = ctx.attached_policy(after.config)
    ctx.report.check(
        policy["Enabled"] is False,
        "the continuous deployment policy is disabled",
        f"GetContinuousDeploymentPolicy {after.config.get('ContinuousDeploymentPolicyId')}: "
        f"Enabled {policy['Enabled']}, {policy['TrafficConfig']['Type']}",
    )
    ctx.report.check(
        after.config == before.config and after.etag == before.etag,
        "the primary is untouched: same DistributionConfig, same ETag, still v2",
        f"OriginPath {after.origin_path}; ETag {after.etag} (before the v3 release: {before.etag})",
    )
    key = lock_key(ctx.site.primary_distribution_id)
    lock = ctx.table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
    ctx.report.check(
        lock is None,
        "the release lock is free",
        f"GetItem {key}: " + ("no item" if lock is None else f"held by {lock.get('executionArn')!s}"),
    )

    def pinned_viewer_on_v2() -> Answer | None:
        answer = pinned.get()
        return answer if answer.release == "v2" else None

    answer = ctx.report.wait_for(
        pinned_viewer_on_v2,
        what="the disabled policy to reach the edge",
        timeout=PROPAGATION_DEADLINE_SECONDS,
    )
    ctx.report.check(
        answer.status == 200 and answer.release == "v2",
        "the viewer pinned to v3 is back on v2",
        f"GET / with its cookie → {answer.describe()}",
    )
    sample = shares(ctx.viewers.sample(100))
    ctx.report.check(
        sample == {"v2": 100},
        "every new viewer gets v2",
        "100 requests: " + tally(sample),
    )


class StoryReleases(NamedTuple):
    header: Release  # v2, approved through the emailed link and promoted
    weight: Release  # v3, rejected and rolled back
    broken: Release  # v4 in steps, stopped at the first by its failing script
    progressive: Release  # v3 in steps, promoted with no human
    rollback: Release  # `cfcd rollback`: v2 back


def tell(ctx: DemoContext) -> StoryReleases:
    """The whole story; every step raises DemoFailed when its check fails."""
    v1 = v1_is_live(ctx)
    header_release = start_header_release(ctx)
    wait_for_approval_request(ctx, header_release)
    header_routes_to_staging(ctx)
    mail = approval_email_arrives(ctx, header_release)
    page = open_approval_link(ctx, mail)
    approve_with_the_form(ctx, page)
    v2 = v2_is_promoted(ctx, header_release, v1)

    weight_release = start_weight_release(ctx)
    wait_for_approval_request(ctx, weight_release)
    cookies = weight_sends_a_share_to_staging(ctx)
    pinned = cookie_keeps_a_viewer_on_one_side(ctx, cookies)
    reject_the_release(ctx, weight_release)
    rollback_keeps_v2(ctx, weight_release, v2, pinned)

    broken = progressive.broken_script_is_stopped_at_the_first_step(ctx)
    good = progressive.good_release_is_promoted_through_every_step(ctx)
    rollback = progressive.rollback_brings_v2_back(ctx)
    return StoryReleases(header_release, weight_release, broken, good, rollback)
