"""NotifyStatus: tell the topic how a release ended (SUCCEEDED, FAILED, TIMED_OUT or ABORTED).

An EventBridge rule on the default bus sends this function the "Step Functions Execution Status
Change" events of the deployment state machine. The mail is short plain text: which release of
which distribution, how it ended and why, how long it took, and the console link to the graph.
A release the workflow refused at ValidateInput gets its mail too, so the input is read leniently.

Every value from the execution (the release label and input, the error, the cause with a
rejection comment typed on the approval page) goes into the mail as one line after its label
(`safe_text.one_line`): none can start a line that passes for the console link.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cfcd_common import clients
from cfcd_common.execution_events import ExecutionStatusChange
from cfcd_common.formatting import format_duration, split_rollback_note
from cfcd_common.primary_stack import release_warnings_in, warning_lines
from cfcd_common.safe_text import one_line, quoted
from cfcd_common.settings import TopicSettings
from cfcd_common.task import STATUS_CHANGE_EXECUTION_ARN, logger, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# SNS subjects: ASCII, no line breaks, fewer than 100 characters.
SUBJECT_LIMIT = 99
# A Lambda error's cause is a JSON document with a stack trace; the mail keeps it readable.
CAUSE_LIMIT = 1000
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


class ReleaseInput(BaseModel):
    """The parts of the execution input a notification names; anything else is ignored."""

    model_config = ConfigDict(extra="ignore")

    primaryDistributionId: str | None = None
    release: str | None = None
    staging: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def read(cls, text: str | None) -> ReleaseInput:
        try:
            return cls.model_validate_json(text or "{}")
        except ValidationError:  # not the contract's shape: the mail still names the execution
            return cls()

    def label(self, execution_name: str) -> str:
        """The release's name as the approval mail shows it (DeploymentInput.with_release_label)."""
        if self.release:
            return self.release
        if self.staging.get("mode") == "restore":  # ValidateInput names it after what it restores
            restored = self.staging.get("release")
            return f"rollback to {restored if isinstance(restored, str) else 'the previous release'}"
        overrides = self.staging.get("overrides")
        origin_path = overrides.get("originPath") if isinstance(overrides, dict) else None
        stack_name = self.staging.get("stackName")
        for candidate in (str(origin_path or "").strip("/"), stack_name):
            if isinstance(candidate, str) and candidate:
                return candidate
        return execution_name


class Notification(BaseModel):
    subject: str
    message: str


class Notified(BaseModel):
    messageId: str
    subject: str


def console_url(region: str, execution_arn: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def readable_cause(cause: str) -> str:
    """A Lambda error's cause is JSON (errorMessage, errorType, stackTrace): keep the message."""
    try:
        document = json.loads(cause)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        cause = document["errorMessage"]
    return one_line(cause, CAUSE_LIMIT)


def subject_for(label: str, status: str, distribution: str | None) -> str:
    tail = f" {status}" + (f" ({distribution})" if distribution else "")
    label = _NOT_PRINTABLE_ASCII.sub("?", one_line(label))
    room = SUBJECT_LIMIT - len("cfcd: release ") - len(tail)
    if len(label) > room:
        label = label[: max(room - 3, 1)] + "..."
    return _NOT_PRINTABLE_ASCII.sub("?", f"cfcd: release {label}{tail}")[:SUBJECT_LIMIT]


def build_notification(event: ExecutionStatusChange) -> Notification:
    change = event.detail
    release = ReleaseInput.read(change.input)
    label = release.label(change.name)
    started = datetime.fromtimestamp(change.startDate / 1000, UTC)
    stopped = datetime.fromtimestamp(change.stopDate / 1000, UTC) if change.stopDate else event.time
    rows = [
        ("Release", label),
        ("Distribution", release.primaryDistributionId or "(not in the input)"),
        ("Status", change.status),
    ]
    if change.error:
        rows.append(("Error", change.error))
    cause, rollback = split_rollback_note(change.cause)
    if cause:
        rows.append(("Cause", readable_cause(cause)))
    if rollback:
        rows.append(("Rollback", rollback))
    rows += [
        ("Started", started.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Duration", format_duration((stopped - started).total_seconds())),
        ("Execution", change.name),
    ]
    width = max(len(key) for key, _ in rows) + 2
    lines = [
        f"The cfcd release {quoted(label)} ended: {one_line(change.status)}.",
        *(one_line(line) for line in warning_lines(release_warnings_in(change.output))),
        "",
    ]
    lines += [f"{key.ljust(width)}{one_line(value)}" for key, value in rows]
    lines += [
        "",
        "Open the execution in the Step Functions console:",
        console_url(event.region, change.executionArn),
    ]
    return Notification(
        subject=subject_for(label, change.status, release.primaryDistributionId),
        message="\n".join(lines) + "\n",
    )


@tracer.capture_method
def notify(client: SNSClient, topic_arn: str, event: ExecutionStatusChange) -> Notified:
    notification = build_notification(event)
    response = client.publish(TopicArn=topic_arn, Subject=notification.subject, Message=notification.message)
    return Notified(messageId=response["MessageId"], subject=notification.subject)


@task_handler(STATUS_CHANGE_EXECUTION_ARN)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = ExecutionStatusChange.model_validate(event)
    result = notify(clients.sns(), TopicSettings.from_environment().topic_arn, change)
    logger.info("Release status sent", extra={"status": change.detail.status, "subject": result.subject})
    return result.model_dump()
