"""The approval rules (cfcd_common.approvals): records, signed links, the single-use decision."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cfcd.local import moto_patches
from cfcd.local.faults import REGISTRY
from cfcd_common.approvals import (
    APPROVAL_KEY_PREFIX,
    Action,
    ApprovalStatus,
    LinkCheck,
    Outcome,
    SigningKeys,
    approval_id_for,
    approval_link,
    csrf_token,
    decide,
    find_pending,
    get_request,
    sign,
    verify,
    verify_csrf,
)
from cfcd_common.config_diff import diff_configs
from tests.unit.approval_support import (
    TASK_TOKEN,
    TIMED_OUT_EVENT,
    StepFunctionsSpy,
    approve,
    new_approval_id,
    store_request,
)
from tests.unit.conftest import EXECUTION_ARN
from tests.unit.lost_answers import lose_dynamodb_update

pytestmark = pytest.mark.unit

KEY = b"k" * 48
KEYS = SigningKeys(KEY)


# --- signed links --------------------------------------------------------------------------------


def test_a_signed_link_verifies_until_its_expiry() -> None:
    # Given a link signed for an approval that expires in an hour
    approval_id, expires_at, now = new_approval_id(), 1_800_000_000, 1_799_996_400
    signature = sign(KEY, approval_id, expires_at)

    # When it is checked before, at and after the expiry
    # Then it is valid before and expired from the expiry on
    assert verify(KEYS, approval_id, expires_at, signature, now=now) is LinkCheck.VALID
    assert verify(KEYS, approval_id, expires_at, signature, now=expires_at) is LinkCheck.EXPIRED
    assert verify(KEYS, approval_id, expires_at, signature, now=expires_at + 1) is LinkCheck.EXPIRED


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda i, e, s: (new_approval_id(), e, s), id="other id"),
        pytest.param(lambda i, e, s: (i, e + 86400, s), id="later expiry"),
        pytest.param(
            lambda i, e, s: (i, e, s[:-1] + ("0" if s[-1] != "0" else "1")), id="one signature digit"
        ),
        pytest.param(lambda i, e, s: (i, e, s.upper()), id="signature case"),
        pytest.param(lambda i, e, s: (i, e, ""), id="no signature"),
        pytest.param(lambda i, e, s: (i, e, "é" * 64), id="non-ascii signature"),
        pytest.param(lambda i, e, s: (i + "\nx", e, s), id="malformed id"),
    ],
)
def test_a_tampered_link_is_forged_even_when_expired(tamper: Any) -> None:
    # Given a valid link
    approval_id, expires_at = new_approval_id(), 1_800_000_000
    signature = sign(KEY, approval_id, expires_at)

    # When any part of it is changed
    tampered_id, tampered_exp, tampered_sig = tamper(approval_id, expires_at, signature)

    # Then it is forged, before and after the deadline (tampering is never reported as "expired")
    for now in (expires_at - 10, expires_at + 10):
        assert verify(KEYS, tampered_id, tampered_exp, tampered_sig, now=now) is LinkCheck.FORGED


def test_a_link_signed_with_another_key_is_forged() -> None:
    # Given a link signed with a different secret
    approval_id, expires_at = new_approval_id(), 1_800_000_000
    signature = sign(b"x" * 48, approval_id, expires_at)

    # Then our key does not accept it
    assert verify(KEYS, approval_id, expires_at, signature, now=expires_at - 1) is LinkCheck.FORGED


def test_the_form_token_is_not_the_link_signature() -> None:
    # Given the signature and the form token of one approval
    approval_id, expires_at = new_approval_id(), 1_800_000_000
    signature, token = sign(KEY, approval_id, expires_at), csrf_token(KEY, approval_id, expires_at)

    # Then they differ (different purposes) and each verifies only as itself
    assert signature != token
    assert verify_csrf(KEYS, approval_id, expires_at, token)
    assert not verify_csrf(KEYS, approval_id, expires_at, signature)
    assert not verify_csrf(KEYS, approval_id, expires_at, "")
    assert verify(KEYS, approval_id, expires_at, token, now=expires_at - 1) is LinkCheck.FORGED


def test_the_link_carries_id_expiry_signature_and_an_unsigned_intent() -> None:
    # Given an approval id and its deadline
    approval_id, expires_at = new_approval_id(), 1_800_000_000

    # When its approve link is made for a Function URL
    link = approval_link("https://abc.lambda-url.us-east-1.on.aws/", KEY, approval_id, expires_at, "approve")

    # Then it is the URL with id, exp, sig and intent, and nothing else
    signature = sign(KEY, approval_id, expires_at)
    assert link == (
        f"https://abc.lambda-url.us-east-1.on.aws/?id={approval_id}&exp={expires_at}&sig={signature}&intent=approve"
    )


def test_an_approval_id_is_one_per_execution_url_safe_and_unguessable_without_the_key() -> None:
    # When ids are made for many executions, under two keys
    key, other_key = b"k" * 32, b"o" * 32
    ids = {approval_id_for(key, f"{EXECUTION_ARN}-{n}") for n in range(1000)}

    # Then each execution has its own (the same on every attempt), carrying 144 bits, URL-safe
    assert len(ids) == 1000
    assert approval_id_for(key, EXECUTION_ARN) == approval_id_for(key, EXECUTION_ARN)
    assert all(len(i) == 24 and all(c.isalnum() or c in "-_" for c in i) for i in ids)
    # and another key gives another id: without the key the id cannot be derived
    assert approval_id_for(other_key, EXECUTION_ARN) != approval_id_for(key, EXECUTION_ARN)


# --- records -------------------------------------------------------------------------------------


def test_a_request_is_stored_pending_with_the_token_and_a_ttl_at_the_deadline(table: Any) -> None:
    # Given the moment the approval is requested
    now = int(time.time())

    # When the request is stored with a one-hour timeout
    request = store_request(table, now=now, timeout_seconds=3600)

    # Then the item has the plan's schema: random id key, token, PENDING, TTL = deadline
    item = table.get_item(Key={"pk": f"{APPROVAL_KEY_PREFIX}{request.approval_id}"})["Item"]
    assert item["taskToken"] == TASK_TOKEN
    assert item["status"] == "PENDING"
    assert item["executionArn"] == EXECUTION_ARN
    assert item["deadline"] == item["expiresAt"] == now + 3600
    assert item["primaryDistributionId"] == "E2QWRUHAPOMQZL"
    assert item["stagingDistributionId"] == "E3STAGINGCOPY1"
    assert item["summary"]["changes"][0]["after"] == "/2.0.0"
    # and the token stays out of the model's repr (logs)
    assert TASK_TOKEN not in repr(request)
    assert TASK_TOKEN not in request.model_dump_json()


def test_find_pending_returns_the_newest_pending_request_of_the_execution(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given an execution with a decided request and a newer pending one, and a lock item on the index
    now = int(time.time())
    decided = store_request(table, now=now - 100)
    sfn.will_accept("send_task_success")
    approve(table, sfn, decided.approval_id, now - 50)
    pending = store_request(table, now=now)
    table.put_item(Item={"pk": "lock#E2QWRUHAPOMQZL", "executionArn": EXECUTION_ARN, "expiresAt": now + 60})

    # When the CLI looks the execution up
    found = find_pending(table, EXECUTION_ARN)

    # Then it gets the pending request, and nothing for an unknown execution
    assert found is not None and found.approval_id == pending.approval_id
    assert find_pending(table, EXECUTION_ARN + "-other") is None


# --- decisions -----------------------------------------------------------------------------------


def test_approve_records_the_decision_and_sends_task_success_once(table: Any, sfn: StepFunctionsSpy) -> None:
    # Given a pending request
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_accept("send_task_success")

    # When Alice approves it
    decision = approve(table, sfn, request.approval_id, now + 5)

    # Then Step Functions gets the token with the plan's output, once
    assert decision.outcome is Outcome.DECIDED
    assert [name for name, _ in sfn.calls] == ["SendTaskSuccess"]
    params = sfn.calls[0][1]
    assert params["taskToken"] == TASK_TOKEN
    assert json.loads(params["output"]) == {
        "approvalId": request.approval_id,
        "decidedBy": "Alice",
        "comment": "looks good",
    }
    # and who/when/what/where is recorded
    stored = get_request(table, request.approval_id)
    assert stored is not None
    assert stored.status is ApprovalStatus.APPROVED
    assert (stored.decided_by, stored.decided_at, stored.comment) == ("Alice", now + 5, "looks good")
    assert (stored.source_ip, stored.user_agent) == ("203.0.113.7", "Mozilla/5.0")
    assert stored.expires_at > stored.deadline  # the decision outlives the approval window


def test_reject_sends_task_failure_deployment_rejected(table: Any, sfn: StepFunctionsSpy) -> None:
    # Given a pending request
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_accept("send_task_failure")

    # When Bob rejects it with a reason
    decision = decide(
        table,
        sfn.client,
        request.approval_id,
        "reject",
        decided_by="Bob",
        comment="logo is wrong",
        source_ip=None,
        user_agent=None,
        now=now + 1,
    )

    # Then the task fails with DeploymentRejected, naming who and why
    assert decision.outcome is Outcome.DECIDED
    assert [name for name, _ in sfn.calls] == ["SendTaskFailure"]
    params = sfn.calls[0][1]
    assert params["taskToken"] == TASK_TOKEN
    assert params["error"] == "DeploymentRejected"
    assert "Bob" in params["cause"] and "logo is wrong" in params["cause"]
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.REJECTED


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_a_replayed_decision_is_already_decided_and_calls_nothing(
    table: Any, sfn: StepFunctionsSpy, second: Action
) -> None:
    # Given a request Alice approved
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_accept("send_task_success")
    approve(table, sfn, request.approval_id, now + 1)

    # When a second decision arrives (replayed POST, double click, the CLI)
    replay = decide(
        table,
        sfn.client,
        request.approval_id,
        second,
        decided_by="Mallory",
        comment="",
        source_ip=None,
        user_agent=None,
        now=now + 2,
    )

    # Then it is refused, names the first decision, and Step Functions heard only the first
    assert replay.outcome is Outcome.ALREADY_DECIDED
    assert "approved by Alice" in replay.message
    assert len(sfn.calls) == 1
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.decided_by == "Alice"


def test_a_decision_after_the_deadline_is_expired_and_calls_nothing(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given a request whose deadline has passed (DynamoDB's TTL deletes lazily, so it is still there)
    now = int(time.time())
    request = store_request(table, now=now - 7200, timeout_seconds=3600)

    # When someone approves it
    decision = approve(table, sfn, request.approval_id, now)

    # Then nothing is decided or sent
    assert decision.outcome is Outcome.EXPIRED
    assert sfn.calls == []
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING and stored.decided_by is None


@pytest.mark.parametrize("approval_id", [pytest.param(new_approval_id(), id="well-formed"), "not a valid id"])
def test_an_unknown_approval_is_not_found(table: Any, sfn: StepFunctionsSpy, approval_id: str) -> None:
    # When a decision names no stored approval
    decision = approve(table, sfn, approval_id, int(time.time()))

    # Then it is NOT_FOUND and nothing is written or sent
    assert decision.outcome is Outcome.NOT_FOUND
    assert sfn.calls == []
    assert table.scan()["Items"] == []


@pytest.mark.parametrize("error", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_a_task_that_no_longer_waits_is_recorded_as_timed_out(
    table: Any, sfn: StepFunctionsSpy, error: str
) -> None:
    # Given a pending request whose task Step Functions already timed out
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_fail("send_task_success", error)
    sfn.will_show_history(TIMED_OUT_EVENT)

    # When Alice approves it
    decision = approve(table, sfn, request.approval_id, now + 1)

    # Then the outcome says the task is gone and the record keeps the late attempt
    assert decision.outcome is Outcome.TASK_GONE
    stored = get_request(table, request.approval_id)
    assert stored is not None
    assert stored.status is ApprovalStatus.TIMED_OUT and stored.decided_by == "Alice"
    # and a later attempt is answered the same way without calling Step Functions again
    assert approve(table, sfn, request.approval_id, now + 2).outcome is Outcome.TASK_GONE
    assert [name for name, _ in sfn.calls] == ["SendTaskSuccess", "GetExecutionHistory"]


@pytest.mark.parametrize(
    ("action", "operation", "closed"),
    [
        (
            "approve",
            "send_task_success",
            lambda request: {
                "type": "TaskSucceeded",
                "taskSucceededEventDetails": {
                    "resourceType": "lambda",
                    "resource": "invoke.waitForTaskToken",
                    "output": json.dumps(
                        {"approvalId": request.approval_id, "decidedBy": "Alice", "comment": ""}
                    ),
                },
            },
        ),
        (
            "reject",
            "send_task_failure",
            lambda request: {
                "type": "TaskFailed",
                "taskFailedEventDetails": {
                    "resourceType": "lambda",
                    "resource": "invoke.waitForTaskToken",
                    "error": "DeploymentRejected",
                    "cause": "Rejected by Alice",
                },
            },
        ),
    ],
)
def test_a_decision_resent_after_its_answer_was_lost_is_recorded_as_decided(
    table: Any, sfn: StepFunctionsSpy, action: Action, operation: str, closed: Any
) -> None:
    # Given the decision reached the task but its answer was lost, so it was sent again (boto3's
    # own retry, or the approver's) and Step Functions answers the repeat: the task is closed
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_fail(operation, "TaskTimedOut")
    sfn.will_show_history(closed(request), {"type": "TaskStateEntered"})

    # When the decision is made
    decision = decide(
        table,
        sfn.client,
        request.approval_id,
        action,
        decided_by="Alice",
        comment="",
        source_ip=None,
        user_agent=None,
        now=now + 1,
    )

    # Then it is recorded as the decision that closed the task, not as too late
    assert decision.outcome is Outcome.DECIDED
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.action == action and stored.decided_by == "Alice"


def test_a_claim_whose_answer_was_lost_is_still_the_approvers_decision(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given DynamoDB records Alice's claim of a pending request but its answer is lost (a 500),
    # so that boto3 sends the same claim again
    moto_patches.install()
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_accept("send_task_success")
    lose_dynamodb_update(request.approval_id)
    try:
        # When she approves
        decision = approve(table, sfn, request.approval_id, now + 5)
    finally:
        REGISTRY.clear()

    # Then the repeated claim is hers, not "already approved": the execution gets her decision
    assert decision.outcome is Outcome.DECIDED
    assert [name for name, _ in sfn.calls] == ["SendTaskSuccess"]
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.APPROVED


def test_a_throttled_send_gives_the_claim_back_so_the_approver_can_retry(
    table: Any, sfn: StepFunctionsSpy
) -> None:
    # Given Step Functions throttles the first SendTaskSuccess
    now = int(time.time())
    request = store_request(table, now=now)
    sfn.will_fail("send_task_success", "ThrottlingException")

    # When Alice approves, the error surfaces
    with pytest.raises(Exception, match="ThrottlingException"):
        approve(table, sfn, request.approval_id, now + 1)

    # Then the request is pending again with no decision recorded
    stored = get_request(table, request.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.PENDING
    assert stored.decided_by is None and stored.expires_at == stored.deadline
    # and a retry succeeds
    sfn.will_accept("send_task_success")
    assert approve(table, sfn, request.approval_id, now + 2).outcome is Outcome.DECIDED


# --- the config diff -----------------------------------------------------------------------------


def test_the_diff_shows_the_origin_path_and_ignores_fields_that_always_differ() -> None:
    # Given a primary and its staging copy with a new origin path
    primary = {
        "CallerReference": "primary",
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "ContinuousDeploymentPolicyId": "policy-1",
        "Staging": False,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "OriginPath": "/1.0.0"}]},
        "DefaultCacheBehavior": {"AllowedMethods": {"Items": ["GET", "HEAD"]}},
    }
    staging = {
        "CallerReference": "staging-copy",
        "Aliases": {"Quantity": 0},
        "ContinuousDeploymentPolicyId": "",
        "Staging": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "OriginPath": "/2.0.0"}]},
        "DefaultCacheBehavior": {"AllowedMethods": {"Items": ["GET", "HEAD", "OPTIONS"]}},
        "Comment": "new",
    }

    # When they are compared
    changes, omitted = diff_configs(primary, staging)

    # Then only the real changes are listed, origins first, lists of scalars as one value
    assert [(c.path, c.before, c.after) for c in changes] == [
        ("Origins.Items[0].OriginPath", "/1.0.0", "/2.0.0"),
        ("Comment", None, None),  # the CloudFront model marks Comment sensitive: changed, not shown
        ("DefaultCacheBehavior.AllowedMethods.Items", '["GET", "HEAD"]', '["GET", "HEAD", "OPTIONS"]'),
    ]
    assert omitted == 0


def test_a_long_diff_is_cut_and_says_how_much_is_left_out() -> None:
    # Given configs that differ in 60 fields
    primary = {f"Field{i:02d}": "a" for i in range(60)}
    staging = {f"Field{i:02d}": "b" for i in range(60)}

    # When they are compared
    changes, omitted = diff_configs(primary, staging, max_changes=50)

    # Then 50 are shown and 10 counted
    assert (len(changes), omitted) == (50, 10)


# --- rotated keys and personal links (items 4 and 6) -----------------------------------------------


def test_a_link_signed_before_a_rotation_verifies_with_the_previous_key_only() -> None:
    # Given links signed with the key before the last rotation and with the one before that
    approval_id, expires_at = new_approval_id(), 1_800_000_000
    older, previous, current = b"o" * 48, b"p" * 48, b"c" * 48
    keys = SigningKeys(current, lambda: previous)

    # Then the previous key's link is valid until it expires, an older one is forged
    assert (
        verify(keys, approval_id, expires_at, sign(previous, approval_id, expires_at), now=1)
        is LinkCheck.VALID
    )
    assert (
        verify(keys, approval_id, expires_at, sign(older, approval_id, expires_at), now=1) is LinkCheck.FORGED
    )
    # and the previous key is read only when the current one does not verify
    untouched = SigningKeys(current, lambda: pytest.fail("previous key read"))
    assert (
        verify(untouched, approval_id, expires_at, sign(current, approval_id, expires_at), now=1)
        is LinkCheck.VALID
    )


def test_a_personal_link_is_bound_to_its_address() -> None:
    # Given a link signed for alice@example.com
    approval_id, expires_at = new_approval_id(), 1_800_000_000
    link = approval_link("https://x.example/", KEY, approval_id, expires_at, "approve", "alice@example.com")
    signature = sign(KEY, approval_id, expires_at, "alice@example.com")
    assert f"to=alice%40example.com&sig={signature}" in link

    # Then it verifies only with her address: not with another, nor as a link bound to nobody
    assert (
        verify(KEYS, approval_id, expires_at, signature, now=1, recipient="alice@example.com")
        is LinkCheck.VALID
    )
    for recipient in ("mallory@example.com", None, "alice@example.com\nx"):
        assert (
            verify(KEYS, approval_id, expires_at, signature, now=1, recipient=recipient) is LinkCheck.FORGED
        )
    # and a link bound to nobody cannot be claimed for an address
    anyone = sign(KEY, approval_id, expires_at)
    assert (
        verify(KEYS, approval_id, expires_at, anyone, now=1, recipient="alice@example.com")
        is LinkCheck.FORGED
    )
