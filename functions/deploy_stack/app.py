"""DeployStagingStack (stack mode): create or update the staging stack; CheckStack waits for it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import Field

from cfcd_common import clients
from cfcd_common.aws import deadline_after, error_code, is_transient
from cfcd_common.errors import StackFailed
from cfcd_common.models import UPDATABLE_WHILE_POLICY_ATTACHED, StackStaging, TaskRequest, TaskResult
from cfcd_common.settings import Settings
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient


class DeployStackSettings(Settings):
    # CloudFormation acts with this role (StagingStackRole: CloudFront rights), not the caller's.
    staging_stack_role_arn: str = Field(alias="STAGING_STACK_ROLE_ARN", pattern=r"^arn:[\w-]+:iam::")


class DeployStackRequest(TaskRequest):
    staging: StackStaging
    deployTimeoutSeconds: int


class StackStarted(TaskResult):
    stackName: str
    operation: Literal["create", "update", "unchanged", "in-progress"]
    deadline: int


def stack_status(client: CloudFormationClient, name: str) -> str | None:
    try:
        return client.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except ClientError as error:
        if error_code(error) == "ValidationError" and "does not exist" in str(error):
            return None
        raise


def refused(stack_name: str, error: ClientError) -> StackFailed:
    """A CreateStack/UpdateStack refused at once (ValidationError, a resource the service refuses,
    no permission) ends as a stack that rolls back does. moto's CloudFormation answers a
    resource's refusal from the call itself (AWS rolls the stack back: CheckStack). CloudFront
    refuses to change most fields of a staging distribution while a policy is attached; its
    IllegalUpdate names no field, so the fields it allows are named here.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-continuous-deployment.html#updating-staging-and-primary-distributions
    """
    hint = (
        "; while a continuous deployment policy is attached CloudFront lets staging change only "
        + ", ".join(sorted(UPDATABLE_WHILE_POLICY_ATTACHED))
        if error_code(error) == "IllegalUpdate"
        else ""
    )
    return StackFailed(f"{stack_name}: {error.operation_name} refused: {error_code(error)}: {error}{hint}")


@tracer.capture_method
def start_stack(client: CloudFormationClient, request: DeployStackRequest, role_arn: str) -> StackStarted:
    """Create or update the staging stack with CloudFormation acting as `role_arn`.

    Without a role CloudFormation acts with a session from this function's own credentials, which
    have no CloudFront rights. Passed on update too: a stack made without one (by hand, or by an
    older cfcd) keeps using the caller's credentials until an update names a role.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html (RoleARN)
    """
    staging = request.staging
    # Same token for a retried invocation of the same execution: CloudFormation runs it once.
    token = "cfcd-" + hashlib.sha256(request.executionArn.encode()).hexdigest()[:40]
    args: dict[str, Any] = {
        "StackName": staging.stackName,
        "RoleARN": role_arn,
        "Parameters": [
            {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(staging.parameters.items())
        ],
        "ClientRequestToken": token,
        **(
            {"TemplateURL": staging.templateUrl}
            if staging.templateUrl
            else {"TemplateBody": staging.templateBody}
        ),
    }
    status = stack_status(client, staging.stackName)
    operation: Literal["create", "update", "unchanged", "in-progress"]
    if status is None:
        try:
            client.create_stack(**args)
        except ClientError as error:
            if is_transient(error):
                raise
            raise refused(staging.stackName, error) from None
        operation = "create"
    elif status == "ROLLBACK_COMPLETE":
        raise StackFailed(f"staging.stackName: {staging.stackName} is ROLLBACK_COMPLETE; delete it first")
    elif status.endswith("_IN_PROGRESS"):
        operation = "in-progress"  # our own earlier attempt, or someone else's: CheckStack waits for it
    else:
        try:
            client.update_stack(**args)
            operation = "update"
        except ClientError as error:
            if is_transient(error):
                raise
            if "No updates are to be performed" not in str(error):
                raise refused(staging.stackName, error) from None
            operation = "unchanged"
    logger.info("staging stack started", extra={"stack": staging.stackName, "operation": operation})
    return StackStarted(
        stackName=staging.stackName,
        operation=operation,
        deadline=deadline_after(request.deployTimeoutSeconds),
    )


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = DeployStackRequest.model_validate(event)
    role_arn = DeployStackSettings.from_environment().staging_stack_role_arn
    started = start_stack(clients.cloudformation(), request, role_arn)
    metrics.add_metric(name="StagingStackDeployments", unit=MetricUnit.Count, value=1)
    return started.model_dump()
