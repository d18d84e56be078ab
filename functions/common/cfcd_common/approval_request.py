"""RequestApproval's work: summarise the release, store the approval, mail the approver.

Runs as the `.waitForTaskToken` task: the state machine waits until the approval page (or the CLI)
sends the token back, or until the task's TimeoutSeconds. The token is stored, never mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cfcd_common.approval_views import ApprovalEmail, approval_email
from cfcd_common.approvals import (
    ApprovalRequest,
    ApprovalSummary,
    TrafficSummary,
    approval_id_for,
    approval_link,
    create_request,
    is_conditional_check_failure,
    reopen_request,
    send_once,
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
    # Both empty unless the template's SenderEmail is set: then the HTML mail goes through SES too.
    sender_email: str | None = Field(default=None, alias="SENDER_EMAIL")
    recipient_email: str | None = Field(default=None, alias="RECIPIENT_EMAIL")


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
    signing_key: bytes


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
    approval_id = approval_id_for(deps.signing_key, task.execution_arn)
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
    approve_link, reject_link = (
        approval_link(
            deps.settings.approval_url, deps.signing_key, approval.approval_id, approval.deadline, intent
        )
        for intent in ("approve", "reject")
    )
    email = approval_email(approval, approve_link, reject_link, edge_endpoint=deps.settings.edge_endpoint)
    send_email(deps, approval.approval_id, email)
    return approval


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
        steps=task.progress.steps if task.progress else [],
        step_count=task.progress.stepCount if task.progress else 0,
        max_error_rate=task.analysis.maxErrorRate if task.analysis else None,
    )


def send_email(deps: RequestApprovalDependencies, approval_id: str, email: ApprovalEmail) -> None:
    """SNS always (the topic's subscribers); SES HTML mail as well when a sender is configured.
    Each at most once per approval (send_once)."""
    settings = deps.settings
    send_once(
        deps.table,
        approval_id,
        "sns",
        lambda: deps.sns.publish(TopicArn=settings.topic_arn, Subject=email.subject, Message=email.text),
    )
    if settings.sender_email and settings.recipient_email:
        sender, recipient = settings.sender_email, settings.recipient_email
        send_once(
            deps.table,
            approval_id,
            "ses",
            lambda: deps.sesv2.send_email(
                FromEmailAddress=sender,
                Destination={"ToAddresses": [recipient]},
                Content={
                    "Simple": {
                        "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": email.text, "Charset": "UTF-8"},
                            "Html": {"Data": email.html, "Charset": "UTF-8"},
                        },
                    }
                },
            ),
        )


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
