"""The approval page (Function URL, payload 2.0): GET shows and changes nothing, POST decides once."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from cfcd_common import approval_keys, task
from cfcd_common.approvals import ApprovalRequest, ApprovalStatus, csrf_token, sign
from functions.approval import app
from tests.unit.approval_support import (
    TASK_TOKEN,
    TIMED_OUT_EVENT,
    StepFunctionsSpy,
    captured_logs,
    create_signing_secret,
    get_event,
    new_approval_id,
    post_event,
    store_request,
    use_fake_aws,
)
from tests.unit.aws_mock import mocked_aws
from tests.unit.conftest import FakeLambdaContext, create_table, use_client

pytestmark = pytest.mark.unit


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class World:
    table: Any
    key: bytes
    sfn: StepFunctionsSpy
    logs: io.StringIO
    secret_arn: str

    def pending(self, **kwargs: Any) -> ApprovalRequest:
        return store_request(self.table, now=kwargs.pop("now", int(time.time())), **kwargs)

    def link(self, request: ApprovalRequest, **changes: str) -> dict[str, str]:
        query = {
            "id": request.approval_id,
            "exp": str(request.deadline),
            "sig": sign(self.key, request.approval_id, request.deadline),
        }
        query.update(changes)
        return query

    def form(self, request: ApprovalRequest, decision: str = "approve", **changes: str) -> dict[str, str]:
        form = {
            **self.link(request),
            "csrf": csrf_token(self.key, request.approval_id, request.deadline),
            "decidedBy": "Alice Approver",
            "comment": "Checked with curl, v2 looks right.",
            "decision": decision,
        }
        form.update(changes)
        return form

    def item(self, request: ApprovalRequest) -> dict[str, Any]:
        item: dict[str, Any] = self.table.get_item(Key={"pk": f"approval#{request.approval_id}"})["Item"]
        return item


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    use_fake_aws(monkeypatch)
    with mocked_aws():
        table = create_table(boto3.resource("dynamodb"))
        secret_arn, key = create_signing_secret(boto3.client("secretsmanager"))
        monkeypatch.setenv("TABLE_NAME", table.name)
        monkeypatch.setenv("SIGNING_SECRET_ARN", secret_arn)
        spy = StepFunctionsSpy(boto3.client("stepfunctions"))
        use_client(monkeypatch, "stepfunctions", spy.client)
        # Each test is a new sandbox: no signing key cached from another test's secret.
        approval_keys._sandbox_source.cache_clear()
        with captured_logs(task.logger) as logs:
            yield World(table, key, spy, logs, secret_arn)
        spy.close()


def call(event: dict[str, Any]) -> Page:
    response = app.lambda_handler(event, FakeLambdaContext())
    assert response["isBase64Encoded"] is False
    return Page(response["statusCode"], response["headers"], response["body"])


def get(query: dict[str, str]) -> Page:
    return call(get_event(query))


def post(form: dict[str, str], **headers: str | None) -> Page:
    return call(post_event(form, **headers))


# --- GET -----------------------------------------------------------------------------------------


def test_get_shows_the_summary_and_a_form_and_changes_nothing(world: World) -> None:
    # Given a pending request and its emailed approve link
    request = world.pending()
    before = world.item(request)

    # When the link is opened (or prefetched by a mail scanner), twice
    page = get(world.link(request, intent="approve"))
    get(world.link(request))

    # Then the page shows the summary and a form carrying the signed link and a form token
    assert page.status == 200
    for text in (
        "2.0.0",
        "E2QWRUHAPOMQZL",
        "d111111abcdef8.cloudfront.net",
        "Origins.Items[0].OriginPath: &quot;/1.0.0&quot; -&gt; &quot;/2.0.0&quot;",
        "staging: all 2 checks passed",
        "curl -s -H &#x27;aws-cf-cd-env: staging&#x27;",
        "PENDING",
        '<form method="post">',
        '<label for="decidedBy">Your name</label>',
        'name="decision" value="approve"',
        'name="decision" value="reject"',
        f'name="csrf" value="{csrf_token(world.key, request.approval_id, request.deadline)}"',
        f'name="sig" value="{sign(world.key, request.approval_id, request.deadline)}"',
    ):
        assert text in page.body, text
    assert "<script" not in page.body
    # and nothing was written or sent
    assert world.item(request) == before
    assert world.sfn.calls == []


def test_every_page_is_uncacheable_unframeable_and_script_free(world: World) -> None:
    # When any page is served (a valid one and a refusal)
    request = world.pending()
    for page in (get(world.link(request)), get({"id": "x"})):
        # Then it carries the security headers
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda q: {**q, "id": new_approval_id()}, id="forged id"),
        pytest.param(lambda q: {**q, "exp": str(int(q["exp"]) + 86400)}, id="tampered exp"),
        pytest.param(lambda q: {**q, "sig": "0" * 64}, id="tampered sig"),
        pytest.param(lambda q: {k: v for k, v in q.items() if k != "sig"}, id="no sig"),
        pytest.param(lambda q: {**q, "exp": "soon"}, id="exp not a number"),
    ],
)
def test_a_forged_or_tampered_link_is_refused_with_403(world: World, tamper: Any) -> None:
    # Given a pending request and a changed link
    request = world.pending()

    # When the changed link is opened
    page = get(tamper(world.link(request)))

    # Then the page refuses it without showing the request
    assert page.status == 403
    assert "This link is not valid" in page.body
    assert "2.0.0" not in page.body and "<form" not in page.body


def test_an_expired_link_is_refused_with_410(world: World) -> None:
    # Given a request whose deadline has passed
    request = world.pending(now=int(time.time()) - 7200, timeout_seconds=3600)

    # When its link is opened
    page = get(world.link(request))

    # Then the page says it expired
    assert page.status == 410
    assert "This approval link has expired" in page.body and "<form" not in page.body


def test_a_valid_link_to_a_removed_request_is_404(world: World) -> None:
    # Given a correctly signed link whose record no longer exists
    request = world.pending()
    world.table.delete_item(Key={"pk": f"approval#{request.approval_id}"})

    # When it is opened
    page = get(world.link(request))

    # Then the page says so
    assert page.status == 404 and "Approval request not found" in page.body


def test_an_unknown_path_is_a_404_page(world: World) -> None:
    event = get_event({})
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/admin"
    page = call(event)
    assert page.status == 404 and page.headers["Content-Type"] == "text/html; charset=utf-8"


# --- POST ----------------------------------------------------------------------------------------


def test_approve_decides_once_and_shows_the_result(world: World) -> None:
    # Given a pending request
    request = world.pending()
    world.sfn.will_accept("send_task_success")

    # When Alice submits the form with Approve
    page = post(world.form(request, "approve"))

    # Then the task succeeds, the decision is recorded with who/when/comment/ip/agent, the page says so
    assert page.status == 200
    assert "Approved by Alice Approver" in page.body
    assert [name for name, _ in world.sfn.calls] == ["SendTaskSuccess"]
    item = world.item(request)
    assert item["status"] == "APPROVED" and item["decidedBy"] == "Alice Approver"
    assert item["comment"] == "Checked with curl, v2 looks right."
    assert item["sourceIp"] == "203.0.113.7" and item["userAgent"].startswith("Mozilla/5.0")
    assert abs(int(item["decidedAt"]) - time.time()) < 60


def test_a_replayed_post_is_409_and_sends_nothing_twice(world: World) -> None:
    # Given a request already approved through the page
    request = world.pending()
    world.sfn.will_accept("send_task_success")
    post(world.form(request, "approve"))

    # When the same form is posted again, or a reject follows
    replay = post(world.form(request, "approve"))
    late_reject = post(world.form(request, "reject", decidedBy="Mallory"))

    # Then both are 409 naming the first decision, and Step Functions heard one call
    assert replay.status == late_reject.status == 409
    assert "already approved by Alice Approver" in late_reject.body
    assert len(world.sfn.calls) == 1
    assert world.item(request)["decidedBy"] == "Alice Approver"
    # and opening the link again shows the decision instead of the form
    again = get(world.link(request))
    assert again.status == 409 and "<form" not in again.body


def test_reject_sends_task_failure_deployment_rejected(world: World) -> None:
    # Given a pending request
    request = world.pending()
    world.sfn.will_accept("send_task_failure")

    # When Bob rejects it
    page = post(world.form(request, "reject", decidedBy="Bob", comment="wrong logo"))

    # Then the task fails with DeploymentRejected and the page says so
    assert page.status == 200 and "Rejected by Bob" in page.body
    [(name, params)] = world.sfn.calls
    assert name == "SendTaskFailure" and params["error"] == "DeploymentRejected"
    assert params["taskToken"] == TASK_TOKEN and "wrong logo" in params["cause"]
    assert world.item(request)["status"] == "REJECTED"


def test_the_action_comes_from_the_button_not_the_link(world: World) -> None:
    # Given the approve link was followed (intent=approve in the URL)
    request = world.pending()
    world.sfn.will_accept("send_task_failure")
    assert 'value="approve" class="approve" autofocus' in get(world.link(request, intent="approve")).body

    # When the approver presses Reject on the page
    post(world.form(request, "reject"))

    # Then it is rejected
    assert world.item(request)["status"] == "REJECTED"


@pytest.mark.parametrize("decision", ["delete", "APPROVE", ""])
def test_an_unknown_action_is_400_and_decides_nothing(world: World, decision: str) -> None:
    # Given a pending request
    request = world.pending()

    # When the form is posted with a made-up decision
    page = post(world.form(request, decision))

    # Then nothing is decided
    assert page.status == 400
    assert world.item(request)["status"] == "PENDING" and world.sfn.calls == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"csrf": ""}, id="missing token"),
        pytest.param({"csrf": "0" * 64}, id="wrong token"),
        pytest.param({"csrf": "SIG"}, id="link signature as token"),
    ],
)
def test_a_post_without_the_pages_form_token_is_403(world: World, change: dict[str, str]) -> None:
    # Given a pending request and a form whose CSRF token is missing or wrong
    request = world.pending()
    form = world.form(request)
    form.update({k: (form["sig"] if v == "SIG" else v) for k, v in change.items()})

    # When it is posted
    page = post(form)

    # Then it is refused and nothing is decided
    assert page.status == 403 and "This form is not valid" in page.body
    assert world.item(request)["status"] == "PENDING" and world.sfn.calls == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"sec_fetch_site": "cross-site"}, id="cross-site fetch"),
        pytest.param({"sec_fetch_site": "same-site"}, id="same-site fetch"),
        pytest.param({"sec_fetch_site": None, "origin": "https://evil.example"}, id="foreign origin"),
    ],
)
def test_a_post_from_another_site_is_403(world: World, headers: dict[str, str | None]) -> None:
    # Given a pending request and a correct form posted from another site
    request = world.pending()

    # When it arrives
    page = post(world.form(request), **headers)

    # Then it is refused and nothing is decided
    assert page.status == 403
    assert world.item(request)["status"] == "PENDING" and world.sfn.calls == []


def test_origin_null_from_the_no_referrer_page_is_accepted(world: World) -> None:
    # Given the page's Referrer-Policy makes browsers send "Origin: null" with the form
    request = world.pending()
    world.sfn.will_accept("send_task_success")

    # When the form is posted that way
    page = post(world.form(request), origin="null")

    # Then it decides
    assert page.status == 200 and world.item(request)["status"] == "APPROVED"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"id": "FORGED"}, id="forged id"),
        pytest.param({"exp": "EXP+1"}, id="tampered exp"),
        pytest.param({"sig": "f" * 64}, id="tampered sig"),
    ],
)
def test_a_post_with_a_tampered_link_is_403(world: World, tamper: dict[str, str]) -> None:
    # Given a pending request and a form whose hidden link fields were changed
    request = world.pending()
    form = world.form(request)
    values = {"FORGED": new_approval_id(), "EXP+1": str(request.deadline + 1)}
    form.update({k: values.get(v, v) for k, v in tamper.items()})

    # When it is posted
    page = post(form)

    # Then it is refused and nothing is decided
    assert page.status == 403 and "This link is not valid" in page.body
    assert world.item(request)["status"] == "PENDING" and world.sfn.calls == []


def test_a_post_after_the_deadline_is_410(world: World) -> None:
    # Given an expired request
    request = world.pending(now=int(time.time()) - 7200, timeout_seconds=3600)

    # When its form is posted
    page = post(world.form(request))

    # Then it is refused as expired
    assert page.status == 410 and world.sfn.calls == []


def test_a_post_for_a_timed_out_task_is_410_and_recorded(world: World) -> None:
    # Given Step Functions already timed the approval task out
    request = world.pending()
    world.sfn.will_fail("send_task_success", "TaskTimedOut")
    world.sfn.will_show_history(TIMED_OUT_EVENT)

    # When Alice approves
    page = post(world.form(request))

    # Then the page says the deployment no longer waits, and the late attempt is recorded
    assert page.status == 410 and "no longer waits for a decision" in page.body
    assert world.item(request)["status"] == ApprovalStatus.TIMED_OUT.value
    assert get(world.link(request)).status == 410


def test_a_post_without_a_name_shows_the_form_again(world: World) -> None:
    # Given a pending request
    request = world.pending()

    # When the form is posted with a blank name
    page = post(world.form(request, decidedBy="   ", comment="keep <this>"))

    # Then the form comes back with a message and the comment kept, nothing decided
    assert page.status == 400 and "Please enter your name." in page.body
    assert "keep &lt;this&gt;</textarea>" in page.body and '<form method="post">' in page.body
    assert world.item(request)["status"] == "PENDING" and world.sfn.calls == []


def test_a_post_that_is_not_a_form_is_415(world: World) -> None:
    request = world.pending()
    page = post(world.form(request), content_type="application/json")
    assert page.status == 415 and world.sfn.calls == []


def test_names_and_comments_are_escaped_on_every_page(world: World) -> None:
    # Given a decision whose name and comment carry HTML
    request = world.pending()
    world.sfn.will_accept("send_task_success")
    name, comment = "<b>Eve</b>", '<script>alert("x")</script>'

    # When it is shown on the result page and on the page of a later visit
    pages = [post(world.form(request, decidedBy=name, comment=comment)), get(world.link(request))]

    # Then the markup is shown as text, never as markup
    for page in pages:
        assert "&lt;b&gt;Eve&lt;/b&gt;" in page.body
        assert "<b>Eve</b>" not in page.body
        assert "<script" not in page.body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in pages[1].body


def test_the_task_token_never_reaches_a_page_or_the_logs(world: World) -> None:
    # Given a request that is shown, decided and shown again
    request = world.pending()
    world.sfn.will_accept("send_task_success")
    pages = [
        get(world.link(request)),
        post(world.form(request)),
        post(world.form(request)),
        get(world.link(request)),
    ]

    # Then no page and no log line holds the raw token, nor the link's signature in the logs
    for page in pages:
        assert TASK_TOKEN not in page.body and TASK_TOKEN not in str(page.headers)
    logs = world.logs.getvalue()
    assert request.approval_id in logs
    assert TASK_TOKEN not in logs and sign(world.key, request.approval_id, request.deadline) not in logs


def test_a_throttled_step_functions_is_a_503_and_the_approver_can_retry(world: World) -> None:
    # Given Step Functions throttles the first SendTaskSuccess
    request = world.pending()
    world.sfn.will_fail("send_task_success", "ThrottlingException")

    # When Alice approves
    page = post(world.form(request))

    # Then she is asked to try again and the request is still pending
    assert page.status == 503 and "nothing was decided" in page.body
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert world.item(request)["status"] == "PENDING"
    # and trying again decides
    world.sfn.will_accept("send_task_success")
    assert post(world.form(request)).status == 200
    assert world.item(request)["status"] == "APPROVED"


# --- personal links (item 4) and a rotated key (item 6) ----------------------------------------------


def test_a_personal_link_records_whose_link_decided_and_cannot_be_reassigned(world: World) -> None:
    # Given the SES mail's link bound to alice@example.com
    request = world.pending()
    world.sfn.will_accept("send_task_success")
    alice = "alice@example.com"
    signature = sign(world.key, request.approval_id, request.deadline, alice)
    link = world.link(request, to=alice, sig=signature)

    # When the link is opened with another address in it, Then it is forged
    assert get({**link, "to": "mallory@example.com"}).status == 403
    # When it is opened as sent, Then the page says whose link it is and the form carries it
    shown = get(link)
    assert shown.status == 200 and "This link was mailed to <b>alice@example.com</b>" in shown.body
    assert 'name="to" value="alice@example.com"' in shown.body

    # When the form is posted, Then the record says whose link decided
    form = {
        **world.form(request, sig=signature, decidedBy="Alice"),
        "to": alice,
        "csrf": csrf_token(world.key, request.approval_id, request.deadline, alice),
    }
    page = post(form)
    assert page.status == 200 and "Approved by Alice (alice@example.com)" in page.body
    assert (world.item(request)["decidedBy"], world.item(request)["linkRecipient"]) == ("Alice", alice)


def test_a_link_mailed_before_a_rotation_stays_valid_until_it_expires(world: World) -> None:
    # Given a mailed link, then the signing key rotated (the new version is AWSCURRENT, the old one
    # AWSPREVIOUS) and the function reads the keys again
    request = world.pending()
    mailed = world.link(request)
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=world.secret_arn, SecretString="n" * 64)
    approval_keys._sandbox_source.cache_clear()

    # When the old link is opened, Then it still shows the form, whose token uses the new key
    page = get(mailed)
    assert page.status == 200
    assert f'name="csrf" value="{csrf_token(b"n" * 64, request.approval_id, request.deadline)}"' in page.body
    # and a link signed with neither key is forged
    assert get(world.link(request, sig=sign(b"x" * 64, request.approval_id, request.deadline))).status == 403
