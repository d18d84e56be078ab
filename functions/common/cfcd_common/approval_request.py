"""RequestApproval's work: summarise the release, store the approval, mail the approver.

Runs as the `.waitForTaskToken` task: the state machine waits until the approval page (or the CLI)
sends the token back, or until the task's TimeoutSeconds. The token is stored, never mailed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from cfcd_common.approval_views import ApprovalEmail, approval_email
from cfcd_common.approvals import (
    SNS_CHANNEL,
    ApprovalRequest,
    ApprovalSummary,
    SigningKeys,
    TrafficSummary,
    approval_id_for,
    approval_link,
    create_request,
    get_request,
    is_conditional_check_failure,
    is_valid_recipient,
    reopen_request,
    send_once,
    ses_channel,
)
from cfcd_common.cloudfront import get_distribution, traffic_from_config
from cfcd_common.config_diff import diff_configs
from cfcd_common.errors import InvalidInput
from cfcd_common.models import Analysis, ProbeReport, describe_errors
from cfcd_common.progressive import Progress
from cfcd_common.settings import ApprovalSettings, TopicSettings

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient


class RequestApprovalSettings(ApprovalSettings, TopicSettings):
    """The function's environment (template.yaml)."""

    approval_url: str = Field(alias="APPROVAL_URL", pattern=r"^https?://")
    # Both empty unless the template's SenderEmail is set: then each approver (ApprovalEmail, one
    # or more addresses separated by commas) gets the HTML mail through SES, with personal links.
    sender_email: str | None = Field(default=None, alias="SENDER_EMAIL")
    recipient_emails: tuple[str, ...] = Field(default=(), alias="RECIPIENT_EMAIL")

    @field_validator("recipient_emails", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(address.strip() for address in value.split(",") if address.strip())
        return value

    @field_validator("recipient_emails")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [address for address in value if not is_valid_recipient(address)]
        if wrong:
            raise ValueError(f"not an email address: {', '.join(wrong)}")
        return value


class RequestApprovalInput(BaseModel):
    """The task payload the ASL builds (Parameters of RequestApproval)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    task_token: SecretStr = Field(alias="taskToken", min_length=1)
    execution_arn: str = Field(alias="executionArn", min_length=1)
    execution_name: str = Field(alias="executionName", min_length=1)
    primary_distribution_id: str = Field(alias="primaryDistributionId", min_length=1)
    staging_distribution_id: str = Field(alias="stagingDistributionId", min_length=1)
    approval_timeout_seconds: int = Field(alias="approvalTimeoutSeconds", gt=0)
    traffic: TrafficSummary | None = None
    probe: ProbeReport
    progress: Progress | None = None
    analysis: Analysis | None = None
    release: str = Field(min_length=1)
    stack_update_warning: str | None = Field(default=None, alias="stackUpdateWarning")


def parse_task(event: Any) -> RequestApprovalInput:
    """Validate the payload. pydantic's own message quotes the input (task token included), so the
    error names only fields and rules."""
    try:
        return RequestApprovalInput.model_validate(event)
    except ValidationError as error:
        raise InvalidInput(f"RequestApproval payload: {describe_errors(error)}") from None


@dataclass(frozen=True)
class RequestApprovalDependencies:
    settings: RequestApprovalSettings
    table: Table
    cloudfront: CloudFrontClient
    sns: SNSClient
    sesv2: SESV2Client
    signing_keys: SigningKeys


def request_approval(
    deps: RequestApprovalDependencies, task: RequestApprovalInput, *, now: int
) -> ApprovalRequest:
    """One approval record and one mail per release, however often the task runs.

    Step Functions runs the task again after a failed attempt (Retry), with a new task token
    (known assumption: the docs are silent; each attempt is a new TaskScheduled). The
    record's id comes from the execution, so a retried attempt finds the record the first one
    stored (its PutItem applied, its answer lost, included) and hands it the new token; the links
    already mailed stay valid, and the mail is not sent again (send_once).
    """
    summary = build_summary(deps.cloudfront, task)
    token = task.task_token.get_secret_value()
    approval_id = _stored_approval_id(deps, task.execution_arn)
    try:
        approval = create_request(
            deps.table,
            approval_id=approval_id,
            task_token=token,
            execution_arn=task.execution_arn,
            timeout_seconds=task.approval_timeout_seconds,
            summary=summary,
            now=now,
        )
    except ClientError as error:
        if not is_conditional_check_failure(error):
            raise
        approval = reopen_request(deps.table, approval_id, token)
    send_email(deps, approval)
    return approval


def _stored_approval_id(deps: RequestApprovalDependencies, execution_arn: str) -> str:
    """The execution's approval id under the current key, unless an earlier attempt stored its
    record under the key before a rotation: that record (and its mailed links) stays the one."""
    keys = list(deps.signing_keys.candidates())
    ids = [approval_id_for(key, execution_arn) for key in keys]
    return next((found for found in ids[1:] if get_request(deps.table, found) is not None), ids[0])


def _links(
    deps: RequestApprovalDependencies, approval: ApprovalRequest, recipient: str | None
) -> tuple[str, str]:
    approve, reject = (
        approval_link(
            deps.settings.approval_url,
            deps.signing_keys.current,
            approval.approval_id,
            approval.deadline,
            intent,
            recipient,
        )
        for intent in ("approve", "reject")
    )
    return approve, reject


def build_summary(cloudfront: CloudFrontClient, task: RequestApprovalInput) -> ApprovalSummary:
    """What changes (staging vs primary config) and how traffic reaches staging."""
    primary = get_distribution(cloudfront, task.primary_distribution_id)
    staging_config = cloudfront.get_distribution_config(Id=task.staging_distribution_id)["DistributionConfig"]
    changes, omitted = diff_configs(primary.config, dict(staging_config))
    traffic = task.traffic or policy_traffic(cloudfront, primary.config.get("ContinuousDeploymentPolicyId"))
    if traffic is not None and task.progress and task.progress.steps:
        # The policy was enabled at the first step's weight; the last step's is in force now.
        traffic = traffic.model_copy(update={"weight": task.progress.steps[-1].weight})
    return ApprovalSummary(
        release=task.release,
        execution_name=task.execution_name,
        primary_distribution_id=task.primary_distribution_id,
        staging_distribution_id=task.staging_distribution_id,
        primary_domain_name=primary.domain_name,
        changes=changes,
        changes_omitted=omitted,
        probe=task.probe,
        traffic=traffic,
        stack_update_warning=task.stack_update_warning,
        steps=task.progress.steps if task.progress else [],
        step_count=task.progress.stepCount if task.progress else 0,
        max_error_rate=task.analysis.maxErrorRate if task.analysis else None,
    )


def send_email(deps: RequestApprovalDependencies, approval: ApprovalRequest) -> None:
    """SNS always (the topic's subscribers, links bound to nobody); with a sender configured, each
    approver's own SES HTML mail too, its links bound to their address (the record then says whose
    link decided). Each mail at most once per approval (send_once)."""
    settings = deps.settings
    edge = settings.edge_endpoint
    topic_mail = approval_email(approval, *_links(deps, approval, None), edge_endpoint=edge)
    send_once(
        deps.table,
        approval.approval_id,
        SNS_CHANNEL,
        lambda: deps.sns.publish(
            TopicArn=settings.topic_arn, Subject=topic_mail.subject, Message=topic_mail.text
        ),
    )
    if not settings.sender_email:
        return
    for recipient in settings.recipient_emails:
        mail = approval_email(
            approval, *_links(deps, approval, recipient), edge_endpoint=edge, recipient=recipient
        )
        send_once(
            deps.table,
            approval.approval_id,
            ses_channel(recipient),
            _ses_sender(deps.sesv2, settings.sender_email, recipient, mail),
        )


def _ses_sender(sesv2: SESV2Client, sender: str, recipient: str, mail: ApprovalEmail) -> Callable[[], object]:
    def send() -> object:
        return sesv2.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={
                "Simple": {
                    "Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": mail.text, "Charset": "UTF-8"},
                        "Html": {"Data": mail.html, "Charset": "UTF-8"},
                    },
                }
            },
        )

    return send


def policy_traffic(cloudfront: CloudFrontClient, policy_id: Any) -> TrafficSummary | None:
    """Stack mode may leave `traffic` out (the stack made the policy): read it from the policy."""
    if not policy_id:
        return None
    try:
        policy = cloudfront.get_continuous_deployment_policy(Id=str(policy_id))
    except ClientError:
        return None  # the mail still goes out, just without the traffic line
    config = policy["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]
    traffic = traffic_from_config(dict(config["TrafficConfig"]))
    return TrafficSummary.model_validate(traffic.model_dump())
