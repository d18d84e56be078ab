"""Approval rules: the approval record, the signed links and the single-use decision.

One module for both Lambdas (RequestApproval stores and mails, the approval page decides) and for
the CLI (`cfcd approve|reject EXECUTION`), so the rules cannot drift apart. Every AWS client is
passed in; nothing here reads the environment.

Security model, in short:
- the raw task token lives only in DynamoDB; links carry an opaque id (an HMAC of the execution,
  one per release), its expiry and an HMAC over both (never the token, never the action);
- GET never writes (mail scanners prefetch links); the decision is a POST with a CSRF token;
- a decision is single-use: a conditional update moves the record out of PENDING exactly once,
  and only that winner talks to Step Functions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from cfcd_common.aws import error_code, refused_by_service
from cfcd_common.errors import DEPLOYMENT_REJECTED
from cfcd_common.models import ProbeReport, Stickiness

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient

APPROVAL_KEY_PREFIX = "approval#"
EXECUTION_INDEX = "byExecution"
REJECTION_ERROR = DEPLOYMENT_REJECTED
# Bumping the version invalidates every link and form token signed before.
SIGNATURE_VERSION = "v1"
# A decided record outlives the approval deadline so that "who approved release X" stays answerable.
DECISION_RETENTION_SECONDS = 90 * 24 * 3600
MIN_SIGNING_KEY_BYTES = 32
# 18 bytes of an HMAC = 144 bits, 24 url-safe characters.
APPROVAL_ID_BYTES = 18
APPROVAL_ID_PATTERN = r"^[A-Za-z0-9_-]{22,64}$"
_APPROVAL_ID_RE = re.compile(APPROVAL_ID_PATTERN)
MAX_DECIDED_BY_CHARS = 100
MAX_COMMENT_CHARS = 2000
# Step Functions answers these when the task no longer waits for this token (timed out, execution
# stopped or finished): the decision came too late and must say so, not fail.
TASK_GONE_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})

Action = Literal["approve", "reject"]


class MailState(StrEnum):
    """Per channel (sns, ses) in the record's `mails`: the approval mail goes out at most once."""

    # Being sent, or sent with the answer lost: AWS may have delivered it, so it is never resent.
    SENDING = "SENDING"
    SENT = "SENT"


MailChannel = Literal["sns", "ses"]


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    # A decision arrived but Step Functions no longer waited for it.
    TIMED_OUT = "TIMED_OUT"


class Outcome(StrEnum):
    DECIDED = "DECIDED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    EXPIRED = "EXPIRED"
    NOT_FOUND = "NOT_FOUND"
    TASK_GONE = "TASK_GONE"


class LinkCheck(StrEnum):
    VALID = "VALID"
    FORGED = "FORGED"
    EXPIRED = "EXPIRED"


class _CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class ConfigChange(_CamelModel):
    """One leaf of the DistributionConfig that staging would change, e.g. Origins.Items[0].OriginPath."""

    path: str
    before: str | None = None
    after: str | None = None


class TrafficSummary(_CamelModel):
    """The continuous deployment policy's traffic config, as validated by the workflow."""

    type: Literal["SingleHeader", "SingleWeight"]
    header: str | None = None
    value: str | None = None
    weight: float | None = None
    stickiness: Stickiness | None = None


class ApprovalSummary(_CamelModel):
    """What the approver is shown, in the email and on the page (stored as the record's `summary`)."""

    release: str
    execution_name: str
    primary_distribution_id: str
    staging_distribution_id: str
    primary_domain_name: str
    changes: list[ConfigChange] = Field(default_factory=list)
    changes_omitted: int = 0
    probe: ProbeReport
    traffic: TrafficSummary | None = None


class ApprovalRequest(_CamelModel):
    """The DynamoDB approval item (`pk = "approval#<id>"`)."""

    approval_id: str
    execution_arn: str
    # SecretStr keeps the token out of repr(), logs and model_dump(); read it with get_secret_value().
    task_token: SecretStr = Field(repr=False)
    status: ApprovalStatus
    primary_distribution_id: str
    staging_distribution_id: str
    created_at: int
    deadline: int
    expires_at: int
    summary: ApprovalSummary
    mails: dict[MailChannel, MailState] = Field(default_factory=dict)
    decided_by: str | None = None
    decided_at: int | None = None
    comment: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None

    @property
    def action(self) -> Action | None:
        if self.status is ApprovalStatus.APPROVED:
            return "approve"
        if self.status is ApprovalStatus.REJECTED:
            return "reject"
        return None

    def to_item(self) -> dict[str, Any]:
        item = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"task_token"})
        item["pk"] = approval_key(self.approval_id)
        item["taskToken"] = self.task_token.get_secret_value()
        # The DynamoDB resource layer refuses floats (a weight of 0.15): numbers travel as Decimal.
        converted: dict[str, Any] = json.loads(json.dumps(item), parse_float=Decimal)
        return converted

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ApprovalRequest:
        fields = {name: value for name, value in item.items() if name != "pk"}
        return cls.model_validate(_plain_numbers(fields))


class Decision(_CamelModel):
    """What `decide` did; `message` is a sentence for a person (page, CLI)."""

    outcome: Outcome
    action: Action
    approval_id: str
    message: str
    request: ApprovalRequest | None = None


def approval_key(approval_id: str) -> str:
    return f"{APPROVAL_KEY_PREFIX}{approval_id}"


def is_valid_approval_id(approval_id: str) -> bool:
    return bool(_APPROVAL_ID_RE.fullmatch(approval_id))


def approval_id_for(signing_key: bytes, execution_arn: str) -> str:
    """The one approval id of an execution: each retried attempt of RequestApproval finds the
    record the first one stored. An HMAC of the execution under the signing key, so without the
    key it is as unguessable as a random id."""
    message = "\n".join(("cfcd-approval-id", SIGNATURE_VERSION, execution_arn)).encode()
    digest = hmac.new(signing_key, message, hashlib.sha256).digest()[:APPROVAL_ID_BYTES]
    return base64.urlsafe_b64encode(digest).decode()


def format_utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- records -------------------------------------------------------------------------------------


def create_request(
    table: Table,
    *,
    task_token: str,
    execution_arn: str,
    timeout_seconds: int,
    summary: ApprovalSummary,
    now: int,
    approval_id: str,
) -> ApprovalRequest:
    """Store a PENDING approval under `approval_id` (approval_id_for the execution); the record
    expires (TTL) at the deadline. An id already stored is ConditionalCheckFailedException."""
    deadline = now + timeout_seconds
    request = ApprovalRequest(
        approval_id=approval_id,
        execution_arn=execution_arn,
        task_token=SecretStr(task_token),
        status=ApprovalStatus.PENDING,
        primary_distribution_id=summary.primary_distribution_id,
        staging_distribution_id=summary.staging_distribution_id,
        created_at=now,
        deadline=deadline,
        expires_at=deadline,
        summary=summary,
    )
    # Never an overwrite: an id already stored is an earlier attempt's record (see reopen_request).
    table.put_item(Item=request.to_item(), ConditionExpression=Attr("pk").not_exists())
    return request


def is_conditional_check_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def reopen_request(table: Table, approval_id: str, task_token: str) -> ApprovalRequest:
    """Hand the record an earlier attempt of RequestApproval stored the task token of this attempt.

    PENDING stays pending; TIMED_OUT (a decision sent with the failed attempt's token, which Step
    Functions refused as closed) is pending again, until the original deadline the mailed links
    carry. A decided record is not reopened: the update's condition fails.
    """
    response = table.update_item(
        Key={"pk": approval_key(approval_id)},
        UpdateExpression="SET taskToken = :token, #status = :pending, expiresAt = deadline "
        "REMOVE decidedBy, decidedAt, #comment, sourceIp, userAgent",
        ConditionExpression="#status IN (:pending, :timed_out)",
        ExpressionAttributeNames={"#status": "status", "#comment": "comment"},
        ExpressionAttributeValues={
            ":token": task_token,
            ":pending": ApprovalStatus.PENDING.value,
            ":timed_out": ApprovalStatus.TIMED_OUT.value,
        },
        ReturnValues="ALL_NEW",
    )
    return ApprovalRequest.from_item(response["Attributes"])


def send_once(table: Table, approval_id: str, channel: MailChannel, send: Callable[[], object]) -> bool:
    """Send the approval mail on `channel` at most once per approval; True if sent now.

    At most once, not at least once: SNS Publish (to a standard topic) and SES SendEmail take no
    idempotency token (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html,
    https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html), so a send whose
    answer was lost (a 5xx, a timeout) may have been delivered, and resending would mail the
    approver twice. The record says SENDING before the call; only a 4xx answer (nothing
    was sent: throttled, refused) clears it for the task's retry. `send` must not retry by itself
    (clients.sns_single_attempt): boto3 would resend after a 5xx. A mail lost that way leaves the
    release waiting until approval.timeoutSeconds; `cfcd status` shows it and `cfcd approve`
    decides without the mail.
    """
    key = {"pk": approval_key(approval_id)}
    names = {"#channel": channel}
    # This call's mark: boto3 resends a mark whose answer was lost (a 5xx), and the resent one
    # must find the mark its own first send made, not an earlier attempt's.
    claim = uuid.uuid4().hex
    try:
        table.update_item(
            Key=key,
            UpdateExpression="SET mails.#channel = :sending, #claim = :claim",
            ConditionExpression="attribute_not_exists(mails.#channel) OR #claim = :claim",
            ExpressionAttributeNames={**names, "#claim": f"{channel}MailClaim"},
            ExpressionAttributeValues={":sending": MailState.SENDING.value, ":claim": claim},
        )
    except ClientError as error:
        if not is_conditional_check_failure(error):
            raise
        return False  # an earlier attempt sent it, or may have
    try:
        send()
    except Exception as error:
        if refused_by_service(error):
            table.update_item(
                Key=key, UpdateExpression="REMOVE mails.#channel", ExpressionAttributeNames=names
            )
        raise
    table.update_item(
        Key=key,
        UpdateExpression="SET mails.#channel = :sent",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":sent": MailState.SENT.value},
    )
    return True


def get_request(table: Table, approval_id: str) -> ApprovalRequest | None:
    if not is_valid_approval_id(approval_id):
        return None
    item = table.get_item(Key={"pk": approval_key(approval_id)}, ConsistentRead=True).get("Item")
    return ApprovalRequest.from_item(item) if item else None


def find_pending(table: Table, execution_arn: str) -> ApprovalRequest | None:
    """The newest PENDING approval of an execution (GSI `byExecution`), for the CLI."""
    query: dict[str, Any] = {
        "IndexName": EXECUTION_INDEX,
        "KeyConditionExpression": Key("executionArn").eq(execution_arn),
        "FilterExpression": Attr("status").eq(ApprovalStatus.PENDING.value),
    }
    newest: ApprovalRequest | None = None
    while True:
        page = table.query(**query)
        for item in page.get("Items", []):
            # The lock item shares the index (same executionArn); only approval items count.
            if not str(item.get("pk", "")).startswith(APPROVAL_KEY_PREFIX):
                continue
            candidate = ApprovalRequest.from_item(item)
            if newest is None or candidate.created_at > newest.created_at:
                newest = candidate
        if "LastEvaluatedKey" not in page:
            return newest
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the decision --------------------------------------------------------------------------------


def decide(
    table: Table,
    sfn: SFNClient,
    approval_id: str,
    decision: Action,
    *,
    decided_by: str,
    comment: str,
    source_ip: str | None,
    user_agent: str | None,
    now: int,
) -> Decision:
    """Decide once: claim the PENDING record by a conditional update, then tell Step Functions.

    Only the caller whose update wins sends SendTaskSuccess/SendTaskFailure, so a replayed POST, a
    double click or a race with the CLI can never resume the execution twice.
    """
    if not is_valid_approval_id(approval_id):
        return _refused(Outcome.NOT_FOUND, decision, approval_id, None)
    decided_status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
    values: dict[str, Any] = {
        ":pending": ApprovalStatus.PENDING.value,
        ":decided": decided_status.value,
        ":now": now,
        ":by": decided_by.strip()[:MAX_DECIDED_BY_CHARS],
        ":at": now,
        ":comment": comment.strip()[:MAX_COMMENT_CHARS],
        ":retain": now + DECISION_RETENTION_SECONDS,
        # This decision's claim: boto3 resends a claim whose answer was lost (a 5xx), and the
        # resent one must win again instead of finding the record "already decided".
        ":claim": uuid.uuid4().hex,
    }
    sets = [
        "#status = :decided",
        "decidedBy = :by",
        "decidedAt = :at",
        "#comment = :comment",
        "expiresAt = :retain",
        "claimId = :claim",
    ]
    for attribute, value in (("sourceIp", source_ip), ("userAgent", user_agent)):
        if value:
            sets.append(f"{attribute} = :{attribute}")
            values[f":{attribute}"] = value[:512]
    try:
        response = table.update_item(
            Key={"pk": approval_key(approval_id)},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND "
            "((#status = :pending AND deadline > :now) OR claimId = :claim)",
            ExpressionAttributeNames={"#status": "status", "#comment": "comment"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return _explain_refusal(get_request(table, approval_id), decision, approval_id)

    request = ApprovalRequest.from_item(response["Attributes"])
    try:
        _resume_execution(sfn, request)
    except ClientError as error:
        if error_code(error) in TASK_GONE_ERRORS and not _closed_the_task(sfn, request):
            return _refused(Outcome.TASK_GONE, decision, approval_id, _mark_timed_out(table, request))
        if error_code(error) in TASK_GONE_ERRORS:
            # This very decision closed the task: sent once, its answer lost, sent again.
            return Decision(
                outcome=Outcome.DECIDED,
                action=decision,
                approval_id=approval_id,
                request=request,
                message=_decided_message(request),
            )
        # Step Functions did not take the decision (throttled, unavailable): give the claim back so
        # the approver can simply try again.
        _release_claim(table, request)
        raise
    return Decision(
        outcome=Outcome.DECIDED,
        action=decision,
        approval_id=approval_id,
        request=request,
        message=_decided_message(request),
    )


def _resume_execution(sfn: SFNClient, request: ApprovalRequest) -> None:
    token = request.task_token.get_secret_value()
    if request.status is ApprovalStatus.APPROVED:
        output = {
            "approvalId": request.approval_id,
            "decidedBy": request.decided_by,
            "comment": request.comment,
        }
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    else:
        sfn.send_task_failure(taskToken=token, error=REJECTION_ERROR, cause=_rejection_cause(request))


def _rejection_cause(request: ApprovalRequest) -> str:
    cause = f"Rejected by {request.decided_by}" + (f": {request.comment}" if request.comment else "")
    return cause[:32768]


def _closed_the_task(sfn: SFNClient, request: ApprovalRequest) -> bool:
    """Did this decision close the approval task? Step Functions answers TaskTimedOut to a SendTask*
    for a closed task, also when the SendTask* that closed it was this same decision: applied, its
    answer lost (a 5xx, a timeout), then resent by boto3's own retry or by the approver after the
    claim was given back. The execution's history has the decision's output or cause then.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
    """
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=request.execution_arn, reverseOrder=True
    )
    for page in pages:
        for event in page["events"]:
            if event["type"] == "TaskSucceeded" and request.status is ApprovalStatus.APPROVED:
                output = json.loads(event.get("taskSucceededEventDetails", {}).get("output") or "null")
                if isinstance(output, dict) and output.get("approvalId") == request.approval_id:
                    return True
            if event["type"] == "TaskFailed" and request.status is ApprovalStatus.REJECTED:
                details = event.get("taskFailedEventDetails", {})
                if (details.get("error"), details.get("cause")) == (
                    REJECTION_ERROR,
                    _rejection_cause(request),
                ):
                    return True
    return False


def _mark_timed_out(table: Table, request: ApprovalRequest) -> ApprovalRequest:
    response = table.update_item(
        Key={"pk": approval_key(request.approval_id)},
        UpdateExpression="SET #status = :timed_out",
        ConditionExpression="#status = :claimed AND decidedAt = :at",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":timed_out": ApprovalStatus.TIMED_OUT.value,
            ":claimed": request.status.value,
            ":at": request.decided_at,
        },
        ReturnValues="ALL_NEW",
    )
    return ApprovalRequest.from_item(response["Attributes"])


def _release_claim(table: Table, request: ApprovalRequest) -> None:
    table.update_item(
        Key={"pk": approval_key(request.approval_id)},
        UpdateExpression="SET #status = :pending, expiresAt = deadline "
        "REMOVE decidedBy, decidedAt, #comment, sourceIp, userAgent",
        ConditionExpression="#status = :claimed AND decidedAt = :at",
        ExpressionAttributeNames={"#status": "status", "#comment": "comment"},
        ExpressionAttributeValues={
            ":pending": ApprovalStatus.PENDING.value,
            ":claimed": request.status.value,
            ":at": request.decided_at,
        },
    )


def _explain_refusal(request: ApprovalRequest | None, decision: Action, approval_id: str) -> Decision:
    if request is None:
        return _refused(Outcome.NOT_FOUND, decision, approval_id, None)
    if request.status is ApprovalStatus.PENDING:
        return _refused(Outcome.EXPIRED, decision, approval_id, request)
    if request.status is ApprovalStatus.TIMED_OUT:
        return _refused(Outcome.TASK_GONE, decision, approval_id, request)
    return _refused(Outcome.ALREADY_DECIDED, decision, approval_id, request)


def _refused(
    outcome: Outcome, decision: Action, approval_id: str, request: ApprovalRequest | None
) -> Decision:
    return Decision(
        outcome=outcome,
        action=decision,
        approval_id=approval_id,
        request=request,
        message=describe_refusal(outcome, request),
    )


def _decided_message(request: ApprovalRequest) -> str:
    if request.status is ApprovalStatus.APPROVED:
        return f"Approved by {request.decided_by}. The deployment goes on to promotion."
    return f"Rejected by {request.decided_by}. The deployment stops and staging traffic is switched off."


def describe_refusal(outcome: Outcome, request: ApprovalRequest | None) -> str:
    """A sentence explaining why nothing was decided (also used for GET of a closed request)."""
    if outcome is Outcome.NOT_FOUND or request is None:
        return "There is no such approval request (it may have been removed after its deadline)."
    if outcome is Outcome.EXPIRED:
        return (
            f"The approval deadline ({format_utc(request.deadline)}) has passed; "
            "the release was not promoted."
        )
    if outcome is Outcome.TASK_GONE:
        return (
            "The deployment is no longer waiting for a decision: its approval step timed out "
            "or the execution ended. Nothing was promoted by this decision."
        )
    verb = "approved" if request.status is ApprovalStatus.APPROVED else "rejected"
    when = format_utc(request.decided_at) if request.decided_at is not None else "an earlier time"
    return f"This release was already {verb} by {request.decided_by} at {when}."


# --- signed links --------------------------------------------------------------------------------


@cache
def load_signing_key(secrets_manager: SecretsManagerClient, secret_arn: str) -> bytes:
    """The HMAC key (the secret's string, e.g. GenerateSecretString of the template).

    Read once per client and secret: a Lambda sandbox reads it on its first request only.
    """
    key = secrets_manager.get_secret_value(SecretId=secret_arn)["SecretString"].encode()
    if len(key) < MIN_SIGNING_KEY_BYTES:
        raise ValueError(f"signing secret must hold at least {MIN_SIGNING_KEY_BYTES} bytes")
    return key


def _mac(secret: bytes, purpose: str, approval_id: str, expires_at: int) -> str:
    # The purpose separates link signatures from form tokens under one key; newlines cannot occur
    # in a valid id, so the message is unambiguous.
    message = "\n".join(("cfcd-approval", SIGNATURE_VERSION, purpose, approval_id, str(expires_at)))
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def sign(secret: bytes, approval_id: str, expires_at: int) -> str:
    return _mac(secret, "link", approval_id, expires_at)


def verify(secret: bytes, approval_id: str, expires_at: int, signature: str, *, now: int) -> LinkCheck:
    """Signature first (constant time), then expiry: a tampered expiry is FORGED, not EXPIRED."""
    if not is_valid_approval_id(approval_id) or not _same(sign(secret, approval_id, expires_at), signature):
        return LinkCheck.FORGED
    if now >= expires_at:
        return LinkCheck.EXPIRED
    return LinkCheck.VALID


def csrf_token(secret: bytes, approval_id: str, expires_at: int) -> str:
    return _mac(secret, "form", approval_id, expires_at)


def verify_csrf(secret: bytes, approval_id: str, expires_at: int, token: str) -> bool:
    return _same(csrf_token(secret, approval_id, expires_at), token)


def approval_link(
    base_url: str, secret: bytes, approval_id: str, expires_at: int, intent: Action | None = None
) -> str:
    """`{base}?id=..&exp=..&sig=..[&intent=..]`; `intent` only preselects a button, it is not signed."""
    params = {"id": approval_id, "exp": str(expires_at), "sig": sign(secret, approval_id, expires_at)}
    if intent is not None:
        params["intent"] = intent
    scheme, netloc, path, _, _ = urlsplit(base_url)
    return urlunsplit((scheme, netloc, path or "/", urlencode(params), ""))


# --- helpers -------------------------------------------------------------------------------------


def _plain_numbers(value: Any) -> Any:
    """DynamoDB returns Decimal; give pydantic ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    return value
