"""Approval rules: the approval record, the signed links and the single-use decision.

One module for both Lambdas (RequestApproval stores and mails, the approval page decides) and for
the CLI (`cfcd approve|reject EXECUTION`), so the rules cannot drift apart. Every AWS client is
passed in; nothing here reads the environment.

Security model, in short:
- the raw task token lives only in DynamoDB; links carry an opaque id (an HMAC of the execution,
  one per release), its expiry and an HMAC over both (never the token, never the action);
- GET never writes (mail scanners prefetch links); the decision is a POST with a CSRF token;
- a decision is single-use: a conditional update moves the record out of PENDING exactly once,
  and only that winner talks to Step Functions;
- a decision Step Functions may not have received is never left claimed: surely not sent, the
  claim is given back; maybe sent, the execution's history says what happened (`decide`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_camel

from cfcd_common.aws import error_code, refused_by_service
from cfcd_common.errors import DEPLOYMENT_REJECTED
from cfcd_common.models import ProbeReport, Stickiness
from cfcd_common.progressive import StepReport
from cfcd_common.safe_text import one_line

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient

APPROVAL_KEY_PREFIX = "approval#"
# executionArn -> pk, status, createdAt (template.yaml): never the task token. A reader that needs
# more gets the item by its key.
EXECUTION_INDEX = "byExecutionStatus"
REJECTION_ERROR = DEPLOYMENT_REJECTED
# Bumping the version invalidates every link and form token signed before.
SIGNATURE_VERSION = "v1"
# A decided record outlives the approval deadline so that "who approved release X" stays answerable.
DECISION_RETENTION_SECONDS = 90 * 24 * 3600
# 18 bytes of an HMAC = 144 bits, 24 url-safe characters.
APPROVAL_ID_BYTES = 18
APPROVAL_ID_PATTERN = r"^[A-Za-z0-9_-]{22,64}$"
_APPROVAL_ID_RE = re.compile(APPROVAL_ID_PATTERN)
MAX_DECIDED_BY_CHARS = 100
MAX_COMMENT_CHARS = 2000
MAX_CALLER_ARN_CHARS = 2048
# The address a personal link is bound to (SES mail): one line, no spaces, at most RFC 5321's 254.
RECIPIENT_PATTERN = r"^[^\s@]{1,64}@[^\s@]{1,189}$"
_RECIPIENT_RE = re.compile(RECIPIENT_PATTERN)
# Step Functions answers these when the task no longer waits for this token (timed out, execution
# stopped or finished): the decision came too late and must say so, not fail.
TASK_GONE_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})

Action = Literal["approve", "reject"]


class MailState(StrEnum):
    """Per channel (sns, ses) in the record's `mails`: the approval mail goes out at most once."""

    # Being sent, or sent with the answer lost: AWS may have delivered it, so it is never resent.
    SENDING = "SENDING"
    SENT = "SENT"


SNS_CHANNEL = "sns"


def ses_channel(recipient: str) -> str:
    """The `mails` key of one approver's SES mail: each personal mail goes out at most once."""
    return f"ses:{recipient}"


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
    # A field AWS treats as a secret (config_diff.is_sensitive): it changed, its values are not kept.
    secret: bool = False


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
    stack_update_warning: str | None = None  # cfcd_common.primary_stack
    # A progressive release's steps, each with its analyses (charted in the mail and page).
    steps: list[StepReport] = Field(default_factory=list)
    step_count: int = 0
    max_error_rate: float | None = None


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
    mails: dict[str, MailState] = Field(default_factory=dict)
    decided_by: str | None = None
    decided_at: int | None = None
    comment: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    # Whose personal link decided (the SES mail's address it was signed for), if one did.
    link_recipient: str | None = None
    # Who ran `cfcd approve|reject`: the caller's identity (sts:GetCallerIdentity ARN).
    caller_arn: str | None = None

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


def is_valid_recipient(recipient: str) -> bool:
    return bool(_RECIPIENT_RE.fullmatch(recipient))


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
        f"REMOVE {_DECISION_ATTRIBUTES}",
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


def send_once(table: Table, approval_id: str, channel: str, send: Callable[[], object]) -> bool:
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
    """The newest PENDING approval of an execution, for the CLI: found on the index (which holds no
    task token), then read by its key."""
    newest = _newest_on_index(table, execution_arn, pending_only=True)
    return get_request(table, newest) if newest else None


def latest_request(table: Table, execution_arn: str) -> ApprovalRequest | None:
    """The newest approval of an execution, whatever its status (to explain why nothing is pending)."""
    newest = _newest_on_index(table, execution_arn, pending_only=False)
    return get_request(table, newest) if newest else None


def _newest_on_index(table: Table, execution_arn: str, *, pending_only: bool) -> str | None:
    query: dict[str, Any] = {
        "IndexName": EXECUTION_INDEX,
        "KeyConditionExpression": Key("executionArn").eq(execution_arn),
    }
    if pending_only:
        query["FilterExpression"] = Attr("status").eq(ApprovalStatus.PENDING.value)
    newest: tuple[int, str] | None = None
    while True:
        page = table.query(**query)
        for item in page.get("Items", []):
            key = str(item.get("pk", ""))
            # The lock item shares the index (same executionArn); only approval items count.
            if not key.startswith(APPROVAL_KEY_PREFIX):
                continue
            candidate = (int(str(item.get("createdAt", 0))), key.removeprefix(APPROVAL_KEY_PREFIX))
            if newest is None or candidate > newest:
                newest = candidate
        if "LastEvaluatedKey" not in page:
            return newest[1] if newest else None
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
    link_recipient: str | None = None,
    caller_arn: str | None = None,
) -> Decision:
    """Decide once: claim the PENDING record by a conditional update, then tell Step Functions.

    Only the caller whose update wins sends SendTaskSuccess/SendTaskFailure, so a replayed POST, a
    double click or a race with the CLI can never resume the execution twice. The name and comment
    are stored as one line (`one_line`): they reach the execution's cause and the status mail.
    """
    if not is_valid_approval_id(approval_id):
        return _refused(Outcome.NOT_FOUND, decision, approval_id, None)
    decided_status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
    values: dict[str, Any] = {
        ":pending": ApprovalStatus.PENDING.value,
        ":decided": decided_status.value,
        ":now": now,
        ":by": one_line(decided_by).strip()[:MAX_DECIDED_BY_CHARS],
        ":at": now,
        ":comment": one_line(comment).strip()[:MAX_COMMENT_CHARS],
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
    for attribute, value in (
        ("sourceIp", source_ip),
        ("userAgent", user_agent),
        ("linkRecipient", link_recipient),
        ("callerArn", caller_arn),
    ):
        if value:
            sets.append(f"{attribute} = :{attribute}")
            values[f":{attribute}"] = one_line(value)[:MAX_CALLER_ARN_CHARS]
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
    except (ClientError, BotoCoreError) as error:
        return _settle_unanswered(table, sfn, request, decision, error)
    return _decided(request, decision)


def _settle_unanswered(
    table: Table,
    sfn: SFNClient,
    request: ApprovalRequest,
    decision: Action,
    error: ClientError | BotoCoreError,
) -> Decision:
    """The SendTask* of a claimed decision failed: record what is true, never a decision Step
    Functions did not get.

    - Surely not sent (AWS answered 4xx, or no connection was made): the claim is given back and
      the error raised, so the approver can simply try again.
    - Task closed (TaskTimedOut, ...), or maybe sent (a read timeout, a dropped connection, a 5xx
      after boto3's retries): the execution's history tells whether this decision closed the task
      (DECIDED), the task still waits (the claim is given back, the error raised) or it ended
      otherwise (TIMED_OUT). If the history cannot be read either, the claim is given back: a
      decision sent again is then recognised by the history as the one that closed the task.
    """
    task_gone = isinstance(error, ClientError) and error_code(error) in TASK_GONE_ERRORS
    if not task_gone and _surely_not_sent(error):
        _release_claim(table, request)
        raise error
    try:
        state = approval_task_state(sfn, request)
    except (ClientError, BotoCoreError):
        _release_claim(table, request)
        raise error from None
    if state is ApprovalTaskState.CLOSED_BY_THIS_DECISION:
        # Sent once, its answer lost, maybe sent again: the task took this decision.
        return _decided(request, decision)
    if state is ApprovalTaskState.WAITING and not task_gone:
        _release_claim(table, request)
        raise error
    return _refused(Outcome.TASK_GONE, decision, request.approval_id, _mark_timed_out(table, request))


def _surely_not_sent(error: ClientError | BotoCoreError) -> bool:
    """Did the SendTask* surely not take effect? A 4xx answer means AWS refused it; a botocore error
    raised before or while connecting (EndpointConnectionError, ConnectTimeoutError, no
    credentials, ...) means nothing was sent. An HTTPClientError (ReadTimeoutError,
    ConnectionClosedError, ...) came after the request may have gone out, and a 5xx may have been
    applied before it failed: both are unknown."""
    if isinstance(error, ClientError):
        return refused_by_service(error)
    return not isinstance(error, HTTPClientError)


def _decided(request: ApprovalRequest, decision: Action) -> Decision:
    return Decision(
        outcome=Outcome.DECIDED,
        action=decision,
        approval_id=request.approval_id,
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


class ApprovalTaskState(StrEnum):
    CLOSED_BY_THIS_DECISION = "CLOSED_BY_THIS_DECISION"
    WAITING = "WAITING"
    CLOSED = "CLOSED"


# History events of a task; a .waitForTaskToken task waits from TaskScheduled until it succeeds,
# fails or times out (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html).
_TASK_OPEN_EVENTS = frozenset({"TaskScheduled", "TaskStarted", "TaskSubmitted"})
_TASK_CLOSED_EVENTS = frozenset(
    {
        "TaskSucceeded",
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "ExecutionSucceeded",
        "ExecutionFailed",
        "ExecutionAborted",
        "ExecutionTimedOut",
    }
)


def approval_task_state(sfn: SFNClient, request: ApprovalRequest) -> ApprovalTaskState:
    """How the approval task stands, from the execution's history: closed by this very decision
    (its output or cause is there), still waiting (the newest task event is an open one), or
    closed otherwise (timed out, the execution ended).

    Step Functions answers TaskTimedOut to a SendTask* for a closed task, also when the SendTask*
    that closed it was this same decision: applied, its answer lost, then resent by boto3's own
    retry or by the approver after the claim was given back.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html
    """
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=request.execution_arn, reverseOrder=True
    )
    newest_task_event: str | None = None
    for page in pages:
        for event in page["events"]:
            if _is_this_decision(event, request):
                return ApprovalTaskState.CLOSED_BY_THIS_DECISION
            kind = str(event["type"])
            if newest_task_event is None and kind in _TASK_OPEN_EVENTS | _TASK_CLOSED_EVENTS:
                newest_task_event = kind
    if newest_task_event in _TASK_OPEN_EVENTS:
        return ApprovalTaskState.WAITING
    return ApprovalTaskState.CLOSED


def _is_this_decision(event: Any, request: ApprovalRequest) -> bool:
    if event["type"] == "TaskSucceeded" and request.status is ApprovalStatus.APPROVED:
        output = json.loads(event.get("taskSucceededEventDetails", {}).get("output") or "null")
        return isinstance(output, dict) and output.get("approvalId") == request.approval_id
    if event["type"] == "TaskFailed" and request.status is ApprovalStatus.REJECTED:
        details = event.get("taskFailedEventDetails", {})
        return (details.get("error"), details.get("cause")) == (REJECTION_ERROR, _rejection_cause(request))
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


# What a claim adds to the record; giving it back (or reopening for a retried attempt) removes it.
_DECISION_ATTRIBUTES = "decidedBy, decidedAt, #comment, sourceIp, userAgent, linkRecipient, callerArn"


def _release_claim(table: Table, request: ApprovalRequest) -> None:
    table.update_item(
        Key={"pk": approval_key(request.approval_id)},
        UpdateExpression=f"SET #status = :pending, expiresAt = deadline REMOVE {_DECISION_ATTRIBUTES}",
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


def decider(request: ApprovalRequest) -> str:
    """Who decided, as the record proves it: the name given, and whose link or identity it came with."""
    via = request.link_recipient or request.caller_arn
    return f"{request.decided_by} ({via})" if via else str(request.decided_by)


def _decided_message(request: ApprovalRequest) -> str:
    if request.status is ApprovalStatus.APPROVED:
        return f"Approved by {decider(request)}. The deployment goes on to promotion."
    return f"Rejected by {decider(request)}. The deployment stops and staging traffic is switched off."


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
    return f"This release was already {verb} by {decider(request)} at {when}."


class ExecutionEnd(BaseModel):
    """How an execution stands (DescribeExecution), for an expired link's page."""

    status: str
    error: str | None = None


def describe_expired_link(
    expired_at: int, request: ApprovalRequest | None, execution: ExecutionEnd | None
) -> str:
    """What really happened to the release of an expired link, without its details (no names,
    comments or config: whoever holds an old link learns only the outcome)."""
    head = f"This link expired at {format_utc(expired_at)}."
    if request is None:
        return (
            f"{head} Its approval record is no longer kept, so what was decided cannot be shown here; "
            "`cfcd history` lists past releases."
        )
    when = format_utc(request.decided_at) if request.decided_at is not None else "an unknown time"
    if request.status is ApprovalStatus.PENDING:
        return (
            f"{head} Nobody decided before the deadline: the release was not promoted and staging "
            "traffic was switched off."
        )
    if request.status is ApprovalStatus.REJECTED:
        return f"{head} The release was rejected at {when}: it was not promoted."
    if request.status is ApprovalStatus.TIMED_OUT:
        return (
            f"{head} A decision arrived at {when}, after the workflow had stopped waiting: the release "
            "was not promoted."
        )
    approved = f"{head} The release was approved at {when}"
    if execution is None:
        return f"{approved} and went on to promotion."
    if execution.status == "SUCCEEDED":
        return f"{approved} and promoted: the release succeeded."
    if execution.status == "RUNNING":
        return f"{approved}; the release is still running."
    error = f" with {execution.error}" if execution.error else ""
    return f"{approved}; the release then ended {execution.status}{error}."


# --- signed links --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKeys:
    """The HMAC keys links are checked with: the current one signs; the previous one (the secret's
    AWSPREVIOUS version after a rotation, loaded only when the current one does not verify) keeps
    links signed before the rotation valid until they expire."""

    current: bytes
    load_previous: Callable[[], bytes | None] = lambda: None

    def candidates(self) -> Iterator[bytes]:
        yield self.current
        previous = self.load_previous()
        if previous is not None and previous != self.current:
            yield previous


def _mac(secret: bytes, purpose: str, approval_id: str, expires_at: int, recipient: str | None) -> str:
    # The purpose separates link signatures from form tokens under one key, and links bound to a
    # recipient from links that are not; the recipient comes last and newlines cannot occur in a
    # valid id, so the message is unambiguous.
    fields = ["cfcd-approval", SIGNATURE_VERSION, purpose, approval_id, str(expires_at)]
    if recipient is not None:
        fields[2] = f"personal-{purpose}"
        fields.append(recipient)
    return hmac.new(secret, "\n".join(fields).encode(), hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def sign(secret: bytes, approval_id: str, expires_at: int, recipient: str | None = None) -> str:
    return _mac(secret, "link", approval_id, expires_at, recipient)


def verify(
    keys: SigningKeys,
    approval_id: str,
    expires_at: int,
    signature: str,
    *,
    now: int,
    recipient: str | None = None,
) -> LinkCheck:
    """Signature first (constant time, current key then previous), then expiry: a tampered expiry
    is FORGED, not EXPIRED."""
    if not is_valid_approval_id(approval_id) or (recipient is not None and not is_valid_recipient(recipient)):
        return LinkCheck.FORGED
    if not any(_same(sign(key, approval_id, expires_at, recipient), signature) for key in keys.candidates()):
        return LinkCheck.FORGED
    if now >= expires_at:
        return LinkCheck.EXPIRED
    return LinkCheck.VALID


def csrf_token(secret: bytes, approval_id: str, expires_at: int, recipient: str | None = None) -> str:
    return _mac(secret, "form", approval_id, expires_at, recipient)


def verify_csrf(
    keys: SigningKeys, approval_id: str, expires_at: int, token: str, recipient: str | None = None
) -> bool:
    return any(_same(csrf_token(key, approval_id, expires_at, recipient), token) for key in keys.candidates())


def approval_link(
    base_url: str,
    secret: bytes,
    approval_id: str,
    expires_at: int,
    intent: Action | None = None,
    recipient: str | None = None,
) -> str:
    """`{base}?id=..&exp=..[&to=..]&sig=..[&intent=..]`: `to` binds the link to an approver's address
    (signed with it); `intent` only preselects a button, it is not signed."""
    params = {"id": approval_id, "exp": str(expires_at)}
    if recipient is not None:
        params["to"] = recipient
    params["sig"] = sign(secret, approval_id, expires_at, recipient)
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
