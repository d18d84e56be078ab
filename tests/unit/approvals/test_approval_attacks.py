"""Attacks and outages against the approval flow (issue 13): lost Step Functions answers, values
planted in mails and pages, secrets in the diff, oversized and malformed bodies, stale links.

Written against the approval functions' entry points (decide, the page's Lambda handler,
RequestApproval's and NotifyStatus' handlers) so each test also ran, and failed, on the code
before the fix.
"""

from __future__ import annotations

import base64
import json
import time
import unicodedata
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from cfcd_common.approvals import (
    ApprovalStatus,
    Outcome,
    csrf_token,
    find_pending,
    get_request,
    sign,
)
from cfcd_common.config_diff import diff_configs
from tests.unit.approval_support import (
    TASK_TOKEN,
    TIMED_OUT_EVENT,
    StepFunctionsSpy,
    approve,
    create_distribution,
    create_signing_secret,
    get_event,
    post_event,
    store_request,
)
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, load_event, load_template

pytestmark = pytest.mark.unit


# --- a decision Step Functions may not have received (issue 13, item 1) ---------------------------
# boto3's own retries are spent: these are the errors decide() is left with.
ENDPOINT = "https://states.us-east-1.amazonaws.com"


def approved_output(request: Any) -> dict[str, Any]:
    return {
        "type": "TaskSucceeded",
        "taskSucceededEventDetails": {
            "resourceType": "lambda",
            "resource": "invoke.waitForTaskToken",
            "output": json.dumps(
                {"approvalId": request.approval_id, "decidedBy": "Alice", "comment": "looks good"}
            ),
        },
    }


STILL_WAITING = {
    "type": "TaskSubmitted",
    "taskSubmittedEventDetails": {"resourceType": "lambda", "resource": "invoke.waitForTaskToken"},
}


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(EndpointConnectionError(endpoint_url=ENDPOINT), id="connection refused"),
        pytest.param(ConnectTimeoutError(endpoint_url=ENDPOINT), id="connect timeout"),
        pytest.param(NoCredentialsError(), id="no credentials"),
    ],
)
def test_a_send_that_never_left_gives_the_claim_back(
    table: Any, sfn: StepFunctionsSpy, error: Exception
) -> None:
    # Given Step Functions cannot be reached: the SendTaskSuccess surely did not take effect
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_raise("send_task_success", error)

    # When Alice approves, the error surfaces (the page answers "try again")
    with pytest.raises(type(error)):
        approve(table, sfn, request.approval_id, now + 1)

    # Then the request is pending again, nothing recorded, the history not even read
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING and stored.decided_by is None
    assert [name for name, _ in sfn.calls] == ["SendTaskSuccess"]
    # and trying again decides
    sfn.will_accept("send_task_success")
    assert approve(table, sfn, request.approval_id, now + 2).outcome is Outcome.DECIDED


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ReadTimeoutError(endpoint_url=ENDPOINT), id="read timeout"),
        pytest.param(ConnectionClosedError(endpoint_url=ENDPOINT), id="connection closed"),
        pytest.param("InternalFailure", id="5xx after retries"),
    ],
)
def test_a_lost_answer_is_recorded_as_decided_when_the_history_has_the_decision(
    table: Any, sfn: StepFunctionsSpy, error: Any
) -> None:
    # Given Step Functions took the decision but its answer never arrived
    now = int(time.time())
    request = store_request(table, now=now)
    if isinstance(error, str):
        sfn.will_fail_server_side("send_task_success", error)
    else:
        sfn.will_raise("send_task_success", error)
    sfn.will_show_history(approved_output(request), {"type": "TaskStateEntered"})

    # When Alice approves
    decision = approve(table, sfn, request.approval_id, now + 1)

    # Then the history proves it reached the task: recorded as decided, not given back
    assert decision.outcome is Outcome.DECIDED
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.APPROVED and stored.decided_by == "Alice"


def test_a_lost_answer_while_the_task_still_waits_gives_the_claim_back(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given the SendTaskSuccess timed out and the approval task still waits (it never arrived)
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_raise("send_task_success", ReadTimeoutError(endpoint_url=ENDPOINT))
    sfn.will_show_history(STILL_WAITING)

    # When Alice approves, Then she is told to try again and the request is pending again
    with pytest.raises(ReadTimeoutError):
        approve(table, sfn, request.approval_id, now + 1)
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING and stored.decided_by is None


def test_a_lost_answer_after_the_task_timed_out_is_recorded_as_too_late(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given the SendTaskSuccess timed out and the history shows the task timed out without it
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_raise("send_task_success", ReadTimeoutError(endpoint_url=ENDPOINT))
    sfn.will_show_history(TIMED_OUT_EVENT)

    # When Alice approves
    decision = approve(table, sfn, request.approval_id, now + 1)

    # Then the record says the truth: too late, nothing promoted
    assert decision.outcome is Outcome.TASK_GONE
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.TIMED_OUT


def test_a_lost_answer_with_an_unreadable_history_gives_the_claim_back(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given the SendTaskSuccess timed out and the history cannot be read either
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_raise("send_task_success", ReadTimeoutError(endpoint_url=ENDPOINT))
    sfn.will_raise("get_execution_history", EndpointConnectionError(endpoint_url=ENDPOINT))

    # When Alice approves, Then the first error surfaces and the claim is given back
    with pytest.raises(ReadTimeoutError):
        approve(table, sfn, request.approval_id, now + 1)
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING
    # and if the decision had reached the task after all, sending it again finds it in the history
    sfn.will_fail("send_task_success", "TaskTimedOut")
    sfn.will_show_history(approved_output(request))
    assert approve(table, sfn, request.approval_id, now + 2).outcome is Outcome.DECIDED


# --- the index holds no token (item 12) ------------------------------------------------------------


def test_the_execution_index_holds_no_task_token_and_find_pending_reads_the_item(table: Any) -> None:
    # Given a pending request (its item holds the token)
    now = int(time.time())
    request = store_request(table, now=now)

    # When the execution's index is read
    [index] = load_template()["Resources"]["DeploymentTable"]["Properties"]["GlobalSecondaryIndexes"]
    items = table.query(
        IndexName=index["IndexName"], KeyConditionExpression=Key("executionArn").eq(EXECUTION_ARN)
    )["Items"]

    # Then it has the key, status and creation time, never the token
    assert [set(item) for item in items] == [{"pk", "executionArn", "status", "createdAt"}]
    assert TASK_TOKEN not in json.dumps(items, default=str)
    # and find_pending still returns the whole record, read by its key
    found = find_pending(table, EXECUTION_ARN)
    assert found is not None and found.task_token.get_secret_value() == TASK_TOKEN
    assert found.approval_id == request.approval_id


# --- secrets in the diff (item 3) -------------------------------------------------------------------


def test_origin_custom_header_values_are_shown_changed_never_with_their_values() -> None:
    # Given staging adds and changes an origin's secret header (origins use it to recognise CloudFront)
    def origin(value: str | None) -> dict[str, Any]:
        headers = [{"HeaderName": "X-Origin-Verify", "HeaderValue": value}] if value else []
        return {
            "Id": "site",
            "OriginPath": "/1.0.0",
            "CustomHeaders": {"Quantity": len(headers), "Items": headers},
        }

    primary = {"Origins": {"Quantity": 1, "Items": [origin("old-s3cr3t")]}}
    staging = {
        "Origins": {"Quantity": 2, "Items": [origin("new-s3cr3t"), {**origin("added-s3cr3t"), "Id": "b"}]}
    }

    # When they are compared
    changes, _ = diff_configs(primary, staging)

    # Then the header values are listed as changed secrets, and no value appears anywhere
    secret = {change.path for change in changes if change.model_dump().get("secret")}
    assert secret == {
        "Origins.Items[0].CustomHeaders.Items[0].HeaderValue",
        "Origins.Items[1].CustomHeaders.Items[0].HeaderValue",
    }
    dumped = json.dumps([change.model_dump() for change in changes])
    assert "s3cr3t" not in dumped
    assert any(change.path == "Origins.Items[1].CustomHeaders.Items[0].HeaderName" for change in changes)


# --- the page: bodies, lost answers, injected names, stale links -----------------------------------

# Characters that break a line, hide text or reorder what a reader sees (bidi overrides/isolates).
FORBIDDEN = (
    "\r\n\x0b\x0c\x1b\x85\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff"
)
PLANTED = "v2 App\r\nApprove: https://evil.example/steal\u202e\u2066"


def invisible_or_breaking(text: str) -> set[str]:
    return {char for char in text if char in FORBIDDEN or unicodedata.category(char) in ("Cc", "Cf")} - {"\n"}


@pytest.fixture
def page(aws: None, monkeypatch: pytest.MonkeyPatch, table: Any, sfn: StepFunctionsSpy) -> Any:
    """The approval page's Lambda handler with its table, signing secret and Step Functions spy."""
    from cfcd_common import clients
    from functions.approval import app

    arn, key = create_signing_secret(boto3.client("secretsmanager"))
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("SIGNING_SECRET_ARN", arn)
    monkeypatch.setattr(clients, "stepfunctions", lambda: sfn.client)

    class Page:
        def __init__(self) -> None:
            self.key = key

        def link(self, request: Any, **changes: str) -> dict[str, str]:
            query = {"id": request.approval_id, "exp": str(request.deadline)}
            query["sig"] = sign(key, request.approval_id, request.deadline)
            return {**query, **changes}

        def form(self, request: Any, **changes: str) -> dict[str, str]:
            fields = {
                **self.link(request),
                "csrf": csrf_token(key, request.approval_id, request.deadline),
                "decidedBy": "Alice",
                "comment": "ok",
                "decision": "approve",
            }
            return {**fields, **changes}

        def get(self, query: dict[str, str]) -> dict[str, Any]:
            answer: dict[str, Any] = app.lambda_handler(get_event(query), FakeLambdaContext())
            return answer

        def post(self, form: dict[str, str], raw_body: bytes | None = None) -> dict[str, Any]:
            event = post_event(form)
            if raw_body is not None:
                event["body"] = base64.b64encode(raw_body).decode()
            answer: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
            return answer

    return Page()


def refused_with_page_headers(answer: dict[str, Any], status: int) -> None:
    assert answer["statusCode"] == status, answer.get("body", "")[:300]
    assert answer["headers"]["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"&".join(b"f%d=x" % n for n in range(21)), id="21 fields"),
        pytest.param(b"decision=approve&decidedBy=\xff\xfe", id="invalid UTF-8"),
        pytest.param(b"decision=approve&decidedBy=%ff%fe", id="percent-encoded invalid UTF-8"),
    ],
)
def test_an_oversized_or_malformed_body_is_refused_with_400(page: Any, table: Any, body: bytes) -> None:
    # Given a pending request
    request = store_request(table, now=int(time.time()))

    # When a body with too many fields or bytes that are not UTF-8 is posted
    answer = page.post(
        {}, raw_body=body + b"&" + "&".join(f"{k}={v}" for k, v in page.form(request).items()).encode()
    )

    # Then it is refused like every other refusal: 400 with the page's security headers
    refused_with_page_headers(answer, 400)
    assert get_request(table, request.approval_id).status is ApprovalStatus.PENDING  # type: ignore[union-attr]


def test_step_functions_unreachable_is_a_503_and_the_approver_can_retry(
    page: Any, table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given Step Functions refuses connections
    request = store_request(table, now=int(time.time()))
    sfn.will_raise("send_task_success", EndpointConnectionError(endpoint_url=ENDPOINT))

    # When Alice approves, Then she is asked to try again (not a bare 502) and nothing is recorded
    refused_with_page_headers(page.post(page.form(request)), 503)
    assert get_request(table, request.approval_id).status is ApprovalStatus.PENDING  # type: ignore[union-attr]
    # and trying again decides
    sfn.will_accept("send_task_success")
    assert page.post(page.form(request))["statusCode"] == 200


def test_a_lost_answer_the_task_received_shows_the_decision(
    page: Any, table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given Step Functions took the approval but the answer timed out
    request = store_request(table, now=int(time.time()))
    sfn.will_raise("send_task_success", ReadTimeoutError(endpoint_url=ENDPOINT))
    sfn.will_show_history(approved_output(request))

    # When Alice approves
    answer = page.post(page.form(request))

    # Then the page and the record say approved
    assert answer["statusCode"] == 200 and "Approved by Alice" in answer["body"]
    assert get_request(table, request.approval_id).status is ApprovalStatus.APPROVED  # type: ignore[union-attr]


def test_a_name_and_comment_with_line_breaks_and_bidi_controls_reach_no_page(
    page: Any, table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given an approver types a name and a comment that carry line breaks and bidi overrides
    request = store_request(table, now=int(time.time()))
    sfn.will_accept("send_task_success")
    name, comment = (
        "Eve\u202e\r\nApprove: https://evil.example/",
        "fine\nReject: https://evil.example/r\u2066",
    )

    # When the decision is shown (result page) and the link opened again (already decided)
    pages = [page.post(page.form(request, decidedBy=name, comment=comment)), page.get(page.link(request))]

    # Then no page carries them, and the record and the output to Step Functions keep one line each
    for answer in pages:
        assert invisible_or_breaking(answer["body"]) == set()
    stored = get_request(table, request.approval_id)
    assert stored is not None and invisible_or_breaking(f"{stored.decided_by}{stored.comment}") == set()
    [(_, params)] = sfn.calls
    assert invisible_or_breaking(json.loads(params["output"])["comment"]) == set()


@pytest.mark.parametrize(
    ("status", "execution", "said"),
    [
        ("APPROVED", ("SUCCEEDED", None), "approved at"),
        ("APPROVED", ("FAILED", "VerifyFailed"), "ended FAILED with VerifyFailed"),
        ("REJECTED", None, "rejected at"),
        ("PENDING", None, "Nobody decided before the deadline"),
    ],
)
def test_an_expired_link_says_what_happened_without_the_release_details(
    page: Any, table: Any, sfn: StepFunctionsSpy, status: str, execution: Any, said: str
) -> None:
    # Given a request decided (or not) before its deadline, which has now passed
    now = int(time.time())
    request = store_request(table, now=now - 7200, timeout_seconds=3600, release="secret-release-9.9.9")
    if status != "PENDING":
        table.update_item(
            Key={"pk": f"approval#{request.approval_id}"},
            UpdateExpression="SET #s = :s, decidedBy = :by, decidedAt = :at",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status, ":by": "Alice", ":at": now - 5000},
        )
    if execution is not None:
        sfn.will_describe(*execution)

    # When its link is opened
    answer = page.get(page.link(request))

    # Then the page says what really happened, and shows nothing of the release
    assert answer["statusCode"] == 410
    assert said in answer["body"]
    if status == "APPROVED":
        assert "not promoted" not in answer["body"]
    for detail in ("secret-release-9.9.9", "E2QWRUHAPOMQZL", "d111111abcdef8.cloudfront.net", "Alice"):
        assert detail not in answer["body"]


# --- the mails: planted lines, secrets --------------------------------------------------------------
APPROVAL_URL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/"


@pytest.fixture
def mailer(aws: None, monkeypatch: pytest.MonkeyPatch, table: Any) -> Any:
    """RequestApproval's handler with a topic (SQS subscriber), a signing secret and two distributions
    on moto: the primary, and a staging copy whose origin sends a secret custom header."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from functions.request_approval import app

    sns = boto3.client("sns")
    topic = sns.create_topic(Name="cfcd-approvals")["TopicArn"]
    arn, _ = create_signing_secret(boto3.client("secretsmanager"))
    cloudfront = boto3.client("cloudfront")
    primary_id, _ = create_distribution(cloudfront, "/1.0.0", "primary")
    staging_id, _ = create_distribution(cloudfront, "/2.0.0", "staging")
    etag = cloudfront.get_distribution_config(Id=staging_id)["ETag"]
    config = cloudfront.get_distribution_config(Id=staging_id)["DistributionConfig"]
    config["Origins"]["Items"][0]["CustomHeaders"] = {
        "Quantity": 1,
        "Items": [{"HeaderName": "X-Origin-Verify", "HeaderValue": "0r1g1n-s3cr3t"}],
    }
    cloudfront.update_distribution(Id=staging_id, IfMatch=etag, DistributionConfig=config)
    for name, value in {
        "TABLE_NAME": table.name,
        "TOPIC_ARN": topic,
        "APPROVAL_URL": APPROVAL_URL,
        "SIGNING_SECRET_ARN": arn,
    }.items():
        monkeypatch.setenv(name, value)

    class Mailer:
        def request(self, **changes: Any) -> str:
            event = load_event("approval_request.json")
            event.update(primaryDistributionId=primary_id, stagingDistributionId=staging_id, **changes)
            app.lambda_handler(event, FakeLambdaContext())
            [(_, message, subject, _, _)] = (
                sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].topics[topic].sent_notifications
            )
            return f"{subject}\n{message}"

    return Mailer()


def test_a_probed_page_and_a_release_label_cannot_plant_a_link_line_in_the_mail(
    mailer: Any, table: Any
) -> None:
    # Given staging's page body (the probe's detail) and the release label carry a fake link line
    probe = load_event("approval_request.json")["probe"]
    probe["checks"][0]["detail"] = PLANTED
    probe["summary"] = "all good\nReject: https://evil.example/r"

    # When the approval is mailed
    text = mailer.request(probe=probe, release="2.0.0\u202e\r\nApprove: https://evil.example/x")

    # Then the only lines of the body (after the subject) that start like our links are ours, and
    # nothing breaks or hides text
    body = text.split("\n", 1)[1]
    starts = [
        line for line in body.splitlines() if line.lstrip().lower().startswith(("approve", "reject", "http"))
    ]
    assert [line.split(":", 1)[0] for line in starts] == ["Approve", "Reject"], starts
    assert all(APPROVAL_URL in line for line in starts)
    assert invisible_or_breaking(text) == set()
    # and the planted text is still shown, as a quoted value inside a line of ours
    assert '"v2 App  Approve: https://evil.example/steal"' in text


def test_a_secret_origin_header_is_shown_changed_never_its_value(mailer: Any, table: Any) -> None:
    # Given staging's origin sends a secret custom header the primary does not

    # When the approval is mailed and stored
    text = mailer.request()

    # Then the mail says the header changed, and neither the mail nor the record (shown on the
    # public page) has its value
    assert "CustomHeaders.Items[0].HeaderValue: changed" in text
    assert "0r1g1n-s3cr3t" not in text
    assert "0r1g1n-s3cr3t" not in json.dumps(table.scan()["Items"], default=str)


def test_a_rejection_comment_cannot_plant_a_line_in_the_status_mail() -> None:
    # Given a release rejected with a comment carrying line breaks, a fake link and bidi controls
    from cfcd_common.execution_events import ExecutionStatusChange
    from functions.notify_status import app as notify

    event = load_event("execution_status_failed.json")
    event["detail"]["cause"] = "Rejected by Eve: no\nOpen the execution: https://evil.example/\u202e"
    event["detail"]["input"] = json.dumps(
        {"primaryDistributionId": "E2QWRUHAPOMQZL", "release": "x\r\ny\u2066"}
    )

    # When the status mail is built
    notification = notify.build_notification(ExecutionStatusChange.model_validate(event))

    # Then the console link is the only line that starts with a link, and nothing breaks or hides text
    lines = notification.message.splitlines()
    assert [line for line in lines if "https://" in line.split(" ", 1)[0]] == [lines[-1]]
    assert lines[-1].startswith("https://eu-west-1.console.aws.amazon.com/")
    assert invisible_or_breaking(notification.message + notification.subject) == set()
    assert (
        "Cause         Rejected by Eve: no Open the execution: https://evil.example/" in notification.message
    )
