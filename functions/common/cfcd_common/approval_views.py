"""What the approver reads: the approval email (text + HTML) and the approval pages.

Pure functions from models to strings. Every value that came from outside (release names, probe
details, config values, names and comments typed on the page) goes through `safe_text.one_line`
(no line breaks, control or bidi characters) and is set apart: quoted or after a label, in an
indented line, never where a line starts, so no value can pass for one of the mail's links. In
HTML it also goes through `html.escape`; the pages need no JavaScript and the
Content-Security-Policy forbids it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shlex

from pydantic import BaseModel

from cfcd_common.approvals import (
    Action,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalSummary,
    ConfigChange,
    decider,
    format_utc,
)
from cfcd_common.primary_stack import warning_lines
from cfcd_common.safe_text import one_line, quoted
from cfcd_common.step_charts import step_line, steps_section

MAX_SUBJECT_CHARS = 100  # SNS rejects longer subjects
STICKINESS_COOKIE = "x-amz-continuous-deployment-state"


class ApprovalEmail(BaseModel):
    subject: str
    text: str
    html: str


class SignedFormFields(BaseModel):
    """The hidden fields that carry the signed link into the POST."""

    approval_id: str
    expires_at: int
    signature: str
    csrf: str
    recipient: str | None = None


# --- shared fragments ----------------------------------------------------------------------------


def change_lines(summary: ApprovalSummary) -> list[str]:
    lines = [f"{one_line(change.path)}: {_change(change)}" for change in summary.changes]
    if summary.changes_omitted:
        lines.append(f"... and {summary.changes_omitted} more changes")
    return lines or ["(no difference in the distribution config)"]


def _change(change: ConfigChange) -> str:
    if change.secret:
        return "changed (a secret: the values are not shown)"
    return f"{_value(change.before)} -> {_value(change.after)}"


def _value(value: str | None) -> str:
    return "(absent)" if value is None else quoted(value)


def probe_lines(summary: ApprovalSummary) -> list[str]:
    return [
        f"[{'PASS' if check.passed else 'FAIL'}] {one_line(check.description)}: HTTP {check.status}"
        + (f", {quoted(check.detail)}" if check.detail else "")
        for check in summary.probe.checks
    ]


def manual_test(summary: ApprovalSummary, edge_endpoint: str | None = None) -> tuple[str, list[str]]:
    """How to see staging by hand: an explanation and the commands to run."""
    domain = one_line(summary.primary_domain_name)
    # On the local cloud the edge listens on loopback and picks the distribution by Host header.
    base, host = (
        (f"{edge_endpoint.rstrip('/')}/", ["-H", f"Host: {domain}"])
        if edge_endpoint
        else (f"https://{domain}/", [])
    )
    traffic = summary.traffic
    if traffic is not None and traffic.type == "SingleWeight":
        sticky = traffic.stickiness
        pinned = f" for {sticky.idleTtl} s idle / {sticky.maximumTtl} s at most" if sticky else ""
        explanation = (
            f"CloudFront sends about {round((traffic.weight or 0) * 100)}% of viewers to staging and keeps "
            f"each viewer on one side with the {STICKINESS_COOKIE} cookie{pinned}. Repeat the first "
            "command (it keeps the cookie in a jar) until the staging release answers; the second "
            "command, without cookies, shows the primary."
        )
        commands = [
            shlex.join(["curl", "-s", "-c", "cfcd-jar.txt", "-b", "cfcd-jar.txt", *host, base]),
            shlex.join(["curl", "-s", *host, base]),
        ]
        return explanation, commands
    header = one_line(traffic.header) if traffic and traffic.header else "aws-cf-cd-env"
    value = one_line(traffic.value) if traffic and traffic.value else "staging"
    explanation = (
        "Requests with the header go to staging; requests without it still see the primary, unchanged."
    )
    commands = [
        shlex.join(["curl", "-s", "-H", f"{header}: {value}", *host, base]),
        shlex.join(["curl", "-s", *host, base]),
    ]
    return explanation, commands


def _ascii(text: str) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text)


# --- the email -----------------------------------------------------------------------------------


def mail_subject(summary: ApprovalSummary) -> str:
    release, distribution = one_line(summary.release), one_line(summary.primary_distribution_id)
    subject = (
        f"Approve release {release} on CloudFront {distribution} ({one_line(summary.primary_domain_name)})?"
    )
    if len(subject) > MAX_SUBJECT_CHARS:
        subject = f"Approve release {release} on CloudFront {distribution}?"
    # SNS subjects are printable ASCII on one line, at most 100 characters.
    subject = _ascii(subject)
    return subject if len(subject) <= MAX_SUBJECT_CHARS else subject[: MAX_SUBJECT_CHARS - 3] + "..."


def approval_email(
    request: ApprovalRequest,
    approve_link: str,
    reject_link: str,
    edge_endpoint: str | None = None,
    recipient: str | None = None,
) -> ApprovalEmail:
    """The mail; `recipient` when its links are bound to one approver's address (SES)."""
    summary = request.summary
    explanation, commands = manual_test(summary, edge_endpoint)
    deadline = format_utc(request.deadline)
    release = quoted(summary.release)
    distribution, domain = one_line(summary.primary_distribution_id), one_line(summary.primary_domain_name)
    # Execution names cannot hold whitespace or control characters (StartExecution's `name`,
    # https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html):
    # `Execution: <name>` is how a reader of the mail finds its release.
    execution = one_line(summary.execution_name)
    personal = (
        [
            f"These links are yours alone: they are bound to {one_line(recipient)} and the decision is "
            "recorded as made with them. Do not forward this mail."
        ]
        if recipient
        else []
    )
    text = "\n".join(
        [
            f"cfcd asks you to approve release {release} for CloudFront distribution "
            f"{distribution} ({domain}).",
            "",
            f"Decide before {deadline}. Without a decision by then nothing is promoted and staging "
            "traffic is switched off.",
            "",
            "Each link opens a confirmation page; nothing happens until you press a button there.",
            *personal,
            f"Approve: {approve_link}",
            f"Reject:  {reject_link}",
            "",
            *(f"{one_line(line)}\n" for line in warning_lines([summary.stack_update_warning])),
            f"What will change (staging {one_line(summary.staging_distribution_id)} vs primary):",
            *(f"  {line}" for line in change_lines(summary)),
            "",
            f"What the probe saw: {quoted(summary.probe.summary)}",
            *(f"  {line}" for line in probe_lines(summary)),
            "",
            *(f"{step_line(step, summary.step_count)}" for step in summary.steps),
            *([""] if summary.steps else []),
            "Test it yourself:",
            f"  {explanation}",
            *(f"  {command}" for command in commands),
            "",
            f"Execution: {execution}",
            f"Approval id: {request.approval_id}",
        ]
    )
    body = "".join(
        [
            f"<p>cfcd asks you to approve release <b>{_e(release)}</b> for CloudFront distribution "
            f"<b>{_e(distribution)}</b> ({_e(domain)}).</p>",
            f"<p>Decide before <b>{_e(deadline)}</b>. Without a decision by then nothing is promoted and "
            "staging traffic is switched off.</p>",
            "".join(f"<p><b>{_e(line)}</b></p>" for line in personal),
            f'<p><a href="{_e(approve_link)}">Approve&hellip;</a> &nbsp; '
            f'<a href="{_e(reject_link)}">Reject&hellip;</a><br>'
            "<small>Each link opens a confirmation page; nothing happens until you press a button there."
            "</small></p>",
            _summary_sections(request, explanation, commands),
            f"<p><small>Execution {_e(execution)} &middot; approval id {_e(request.approval_id)}</small></p>",
        ]
    )
    return ApprovalEmail(
        subject=mail_subject(summary),
        text=text,
        html=_document(f"Approve release {release}?", body, with_style=False),
    )


# --- the pages -----------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b;line-height:1.45}"
    "code,pre{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}pre{padding:.6rem;overflow-x:auto}"
    ".banner{padding:.8rem 1rem;border-radius:4px;background:#eef3fb;border:1px solid #b9cbe8}"
    ".ok{background:#e9f7ee;border-color:#a6d8b5}.bad{background:#fdecea;border-color:#f1b0a9}"
    ".pass{color:#17692f}.fail{color:#a4161a}"
    "label{display:block;margin:.8rem 0 .2rem;font-weight:600}"
    "input[type=text],textarea{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}"
    "button{font:inherit;padding:.5rem 1.2rem;margin:1rem .6rem 0 0;border-radius:4px;cursor:pointer}"
    "button.approve{background:#17692f;color:#fff;border:0}button.reject{background:#a4161a;color:#fff;border:0}"
    "table{border-collapse:collapse}td,th{text-align:left;padding:.15rem .8rem .15rem 0;vertical-align:top}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

PAGE_HEADERS: dict[str, str] = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # No script may run; the only style is our own inline block, pinned by its hash.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def confirmation_page(
    request: ApprovalRequest,
    form: SignedFormFields,
    *,
    intent: Action | None = None,
    edge_endpoint: str | None = None,
    error: str | None = None,
    decided_by: str = "",
    comment: str = "",
) -> str:
    summary = request.summary
    explanation, commands = manual_test(summary, edge_endpoint)
    notice = ""
    if error:
        notice = f'<p class="banner bad" role="alert">{_e(error)}</p>'
    elif intent:
        notice = (
            f'<p class="banner">You followed the <b>{_e(intent.capitalize())}</b> link. Check the '
            f"summary, then press <b>{_e(intent.capitalize())}</b> below to decide.</p>"
        )
    buttons = [("approve", "Approve"), ("reject", "Reject")]
    personal = (
        f'<p class="banner">This link was mailed to <b>{_e(form.recipient)}</b>: the decision is '
        "recorded as made with it.</p>"
        if form.recipient
        else ""
    )
    body = "".join(
        [
            notice,
            personal,
            f'<p class="banner">Waiting for a decision until <b>{_e(format_utc(request.deadline))}</b>. '
            "Approve promotes the staging config to the primary distribution; Reject stops the "
            "deployment and switches staging traffic off.</p>",
            _summary_sections(request, explanation, commands),
            '<h2>Your decision</h2><form method="post">',
            _hidden("id", form.approval_id),
            _hidden("exp", str(form.expires_at)),
            _hidden("sig", form.signature),
            _hidden("csrf", form.csrf),
            _hidden("to", form.recipient) if form.recipient else "",
            '<label for="decidedBy">Your name</label>',
            f'<input type="text" id="decidedBy" name="decidedBy" required maxlength="100" '
            f'autocomplete="name" value="{_e(decided_by or form.recipient or "")}">',
            '<label for="comment">Comment</label>',
            f'<textarea id="comment" name="comment" rows="3" maxlength="2000">{_e(comment)}</textarea>',
            *(
                f'<button type="submit" name="decision" value="{value}" class="{value}"'
                f"{' autofocus' if intent == value else ''}>{label}</button>"
                for value, label in buttons
            ),
            "</form>",
        ]
    )
    return _document(f"Approve release {summary.release}?", body)


def result_page(
    title: str, message: str, request: ApprovalRequest | None = None, *, good: bool = False
) -> str:
    body = f'<p class="banner {"ok" if good else "bad"}" role="status">{_e(message)}</p>'
    if request is not None:
        body += _decision_record(request)
        body += _facts_table(request)
    return _document(title, body)


# --- helpers -------------------------------------------------------------------------------------


def _e(value: object) -> str:
    """A value in HTML: one line (no control or bidi characters), escaped."""
    return html.escape(one_line(value), quote=True)


def _pre(lines: list[str]) -> str:
    return "<pre>" + "\n".join(_e(line) for line in lines) + "</pre>"


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{_e(value)}">'


def _list(items: list[str], css_classes: list[str]) -> str:
    rows = (f'<li class="{css}">{_e(item)}</li>' for item, css in zip(items, css_classes, strict=True))
    return "<ul>" + "".join(rows) + "</ul>"


def _facts_table(request: ApprovalRequest) -> str:
    summary = request.summary
    facts = [
        ("Release", summary.release),
        ("Primary distribution", f"{summary.primary_distribution_id} ({summary.primary_domain_name})"),
        ("Staging distribution", summary.staging_distribution_id),
        ("Execution", summary.execution_name),
        ("Deadline", format_utc(request.deadline)),
        ("Status", request.status.value),
    ]
    if summary.traffic is not None:
        traffic = summary.traffic
        facts.append(
            (
                "Traffic",
                f"header {traffic.header}: {traffic.value}"
                if traffic.type == "SingleHeader"
                else f"weight {traffic.weight}",
            )
        )
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts) + "</table>"


def _decision_record(request: ApprovalRequest) -> str:
    if request.decided_by is None or request.status is ApprovalStatus.PENDING:
        return ""
    when = format_utc(request.decided_at) if request.decided_at is not None else "?"
    comment = f"<p>Comment: <q>{_e(request.comment)}</q></p>" if request.comment else ""
    return f"<p>Decision by <b>{_e(decider(request))}</b> at {_e(when)}.</p>{comment}"


def _summary_sections(request: ApprovalRequest, explanation: str, commands: list[str]) -> str:
    summary = request.summary
    probe_css = ["pass" if check.passed else "fail" for check in summary.probe.checks]
    return "".join(
        [
            *(f"<p><b>{_e(line)}</b></p>" for line in warning_lines([summary.stack_update_warning])),
            _facts_table(request),
            f"<h2>What will change</h2><p>Staging {_e(summary.staging_distribution_id)} compared with the "
            "primary's config:</p>",
            _pre(change_lines(summary)),
            f"<h2>What the probe saw</h2><p>{_e(summary.probe.summary)}</p>",
            _list(probe_lines(summary), probe_css),
            steps_section(summary.steps, summary.step_count, summary.max_error_rate),
            f"<h2>Test it yourself</h2><p>{_e(explanation)}</p>",
            _pre(commands),
        ]
    )


def _document(title: str, body: str, *, with_style: bool = True) -> str:
    style = f"<style>{_STYLE}</style>" if with_style else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{_e(title)}</title>{style}</head>'
        f"<body><h1>{_e(title)}</h1>{body}</body></html>"
    )
