"""The approval page's flow: GET shows (never writes), POST decides. HTTP-shaped but framework-free.

The approval Lambda only adapts a Function URL event to `show` / `submit`; every rule about links,
form tokens and outcomes lives here and in `approvals`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cfcd_common.approval_views import SignedFormFields, confirmation_page, result_page
from cfcd_common.approvals import (
    APPROVAL_ID_PATTERN,
    MAX_COMMENT_CHARS,
    MAX_DECIDED_BY_CHARS,
    RECIPIENT_PATTERN,
    Action,
    ApprovalRequest,
    ApprovalStatus,
    ExecutionEnd,
    LinkCheck,
    Outcome,
    SigningKeys,
    csrf_token,
    decide,
    describe_expired_link,
    describe_refusal,
    get_request,
    verify,
    verify_csrf,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# The form has at most 8 fields (id, exp, to, sig, csrf, decidedBy, comment, decision); a body with
# more, or that is not UTF-8 (percent-escapes included), is refused with 400.
MAX_FORM_FIELDS = 20
# Browsers send these for a form posted from our own page (or typed/bookmarked: "none").
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})


@dataclass(frozen=True)
class PageDependencies:
    table: Table
    sfn: SFNClient
    signing_keys: SigningKeys
    edge_endpoint: str | None = None


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    approval_id: str | None = None
    outcome: str = ""


class SignedLink(BaseModel):
    """The query of an emailed link (GET) or the hidden fields of the form (POST)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=APPROVAL_ID_PATTERN)
    exp: int = Field(gt=0)
    sig: str = Field(pattern=r"^[0-9a-f]{64}$")
    # A personal link's approver (signed with the link): whose link decided.
    to: str | None = Field(default=None, pattern=RECIPIENT_PATTERN)


class DecisionForm(SignedLink):
    csrf: str = ""
    decision: Action
    decided_by: str = Field(default="", alias="decidedBy", max_length=MAX_DECIDED_BY_CHARS)
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


@dataclass(frozen=True)
class Viewer:
    """Who posts: recorded with the decision and used for the cross-site check."""

    headers: Mapping[str, str]
    source_ip: str | None
    user_agent: str | None
    host: str | None


def show(deps: PageDependencies, query: Mapping[str, str], *, now: int) -> Page:
    """GET: verify the link and render the confirmation page. Reads only."""
    link = _checked_link(deps, query, now=now)
    if isinstance(link, Page):
        return link
    request = get_request(deps.table, link.id)
    if request is None or request.status is not ApprovalStatus.PENDING or request.deadline <= now:
        return _closed(request, link.id)
    intent = query.get("intent")
    return Page(200, _confirmation(deps, request, link, intent=_action_or_none(intent)), link.id, "SHOWN")


def submit(
    deps: PageDependencies, content_type: str | None, body: bytes, viewer: Viewer, *, now: int
) -> Page:
    """POST: verify link, form token and origin, then decide once."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_CONTENT_TYPE:
        return _page(415, "Unsupported form", "The decision must be sent by the page's form.")
    fields = _form_fields(body)
    if fields is None:
        return _page(
            400,
            "This form is not valid",
            "The form could not be read; nothing was decided.",
            outcome="BAD_BODY",
        )
    link = _checked_link(deps, fields, now=now)
    if isinstance(link, Page):
        return link
    csrf = fields.get("csrf", "")
    if not verify_csrf(deps.signing_keys, link.id, link.exp, csrf, link.to) or _cross_site(viewer):
        return _page(
            403,
            "This form is not valid",
            "The form did not come from the approval page (missing or wrong security token). "
            "Open the link from the email again; nothing was decided.",
            link.id,
            "CSRF",
        )
    try:
        form = DecisionForm.model_validate(fields)
    except ValidationError:
        return _page(
            400,
            "Choose Approve or Reject",
            "The form was incomplete. Open the link from the email again.",
            link.id,
            "BAD_FORM",
        )
    if not form.decided_by.strip():
        request = get_request(deps.table, link.id)
        if request is not None and request.status is ApprovalStatus.PENDING and request.deadline > now:
            html = _confirmation(
                deps,
                request,
                link,
                intent=form.decision,
                error="Please enter your name.",
                comment=form.comment,
            )
            return Page(400, html, link.id, "NAME_MISSING")
        return _closed(request, link.id)
    decision = decide(
        deps.table,
        deps.sfn,
        link.id,
        form.decision,
        decided_by=form.decided_by,
        comment=form.comment,
        source_ip=viewer.source_ip,
        user_agent=viewer.user_agent,
        now=now,
        link_recipient=link.to,
    )
    if decision.outcome is Outcome.DECIDED:
        title = "Approved" if form.decision == "approve" else "Rejected"
        return Page(
            200, result_page(title, decision.message, decision.request, good=True), link.id, "DECIDED"
        )
    return _refusal_page(decision.outcome, decision.request, link.id)


# --- helpers -------------------------------------------------------------------------------------


def _form_fields(body: bytes) -> dict[str, str] | None:
    """The form's fields (the first value of each), or None for a body that is not a form of ours:
    not UTF-8, or more fields than it has."""
    try:
        parsed = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None
    return {name: values[0] for name, values in parsed.items()}


def _checked_link(deps: PageDependencies, fields: Mapping[str, str], *, now: int) -> SignedLink | Page:
    """The verified link, or the page that refuses it (forged: 403, expired: 410)."""
    forged = _page(
        403,
        "This link is not valid",
        "The link is incomplete or was changed. Open it again from the approval email; nothing was decided.",
        outcome="FORGED",
    )
    try:
        link = SignedLink.model_validate(dict(fields))
    except ValidationError:
        return forged
    check = verify(deps.signing_keys, link.id, link.exp, link.sig, now=now, recipient=link.to)
    if check is LinkCheck.FORGED:
        return forged
    if check is LinkCheck.EXPIRED:
        return _expired(deps, link)
    return link


def _expired(deps: PageDependencies, link: SignedLink) -> Page:
    """What happened to the release of an expired link, read from its record and its execution;
    no release details (the link is stale, whoever holds it)."""
    request = get_request(deps.table, link.id)
    execution: ExecutionEnd | None = None
    if request is not None and request.status is ApprovalStatus.APPROVED:
        try:
            described = deps.sfn.describe_execution(executionArn=request.execution_arn)
            execution = ExecutionEnd(status=described["status"], error=described.get("error"))
        except (ClientError, BotoCoreError):  # the record alone still tells most of it
            execution = None
    status, title = _REFUSALS[Outcome.EXPIRED]
    message = describe_expired_link(link.exp, request, execution)
    return _page(status, title, message, link.id, Outcome.EXPIRED.value)


def _closed(request: ApprovalRequest | None, approval_id: str) -> Page:
    if request is None:
        return _refusal_page(Outcome.NOT_FOUND, None, approval_id)
    if request.status is ApprovalStatus.TIMED_OUT:
        return _refusal_page(Outcome.TASK_GONE, request, approval_id)
    if request.status is ApprovalStatus.PENDING:
        return _refusal_page(Outcome.EXPIRED, request, approval_id)
    return _refusal_page(Outcome.ALREADY_DECIDED, request, approval_id)


_REFUSALS: dict[Outcome, tuple[int, str]] = {
    Outcome.NOT_FOUND: (404, "Approval request not found"),
    Outcome.EXPIRED: (410, "This approval link has expired"),
    Outcome.TASK_GONE: (410, "The deployment no longer waits for a decision"),
    Outcome.ALREADY_DECIDED: (409, "Already decided"),
}


def _refusal_page(outcome: Outcome, request: ApprovalRequest | None, approval_id: str) -> Page:
    status, title = _REFUSALS[outcome]
    # Past its deadline a request shows no details: its links are stale, whoever holds them.
    details = None if outcome is Outcome.EXPIRED else request
    return Page(
        status, result_page(title, describe_refusal(outcome, request), details), approval_id, outcome.value
    )


def _page(status: int, title: str, message: str, approval_id: str | None = None, outcome: str = "") -> Page:
    return Page(status, result_page(title, message), approval_id, outcome)


def _confirmation(
    deps: PageDependencies,
    request: ApprovalRequest,
    link: SignedLink,
    *,
    intent: Action | None,
    error: str | None = None,
    comment: str = "",
) -> str:
    form = SignedFormFields(
        approval_id=link.id,
        expires_at=link.exp,
        signature=link.sig,
        csrf=csrf_token(deps.signing_keys.current, link.id, link.exp, link.to),
        recipient=link.to,
    )
    return confirmation_page(
        request, form, intent=intent, edge_endpoint=deps.edge_endpoint, error=error, comment=comment
    )


def _action_or_none(value: str | None) -> Action | None:
    # The link's intent is a convenience (which button has focus); it decides nothing.
    if value == "approve":
        return "approve"
    if value == "reject":
        return "reject"
    return None


def _cross_site(viewer: Viewer) -> bool:
    fetch_site = viewer.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in TRUSTED_FETCH_SITES:
        return True
    origin = viewer.headers.get("origin")
    # `Origin: null` is what browsers send for a form on a page with `Referrer-Policy: no-referrer`,
    # so it proves nothing either way; the form token still has to match.
    if origin and origin != "null" and viewer.host:
        return urlsplit(origin).netloc.lower() != viewer.host.lower()
    return False
