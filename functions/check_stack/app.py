"""CheckStack: is the staging stack complete? Its outputs name the staging distribution (and policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common.aws import CLIENT_CONFIG, named_task_errors, now
from cfcd_common.errors import DeployTimeout, StackFailed
from cfcd_common.models import StagingOutcome, TaskRequest

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

logger = Logger()
tracer = Tracer()
cloudformation = boto3.client("cloudformation", config=CLIENT_CONFIG)
# The update is applied; the cleanup of replaced resources does not concern the new distribution.
COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"})


class CheckStackRequest(TaskRequest):
    stackName: str
    deadline: int


@tracer.capture_method
def check_stack(client: CloudFormationClient, request: CheckStackRequest, at: int) -> StagingOutcome:
    stack = client.describe_stacks(StackName=request.stackName)["Stacks"][0]
    status = stack["StackStatus"]
    if status in COMPLETE:
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        if not outputs.get("StagingDistributionId"):
            raise StackFailed(f"{request.stackName}: the stack has no StagingDistributionId output")
        return StagingOutcome(
            done=True,
            status=status,
            stagingDistributionId=outputs["StagingDistributionId"],
            policyId=outputs.get("ContinuousDeploymentPolicyId") or None,
        )
    if "FAILED" in status or "ROLLBACK" in status or status.startswith("DELETE"):
        reason = stack.get("StackStatusReason", "see the stack events")
        raise StackFailed(f"{request.stackName}: {status}: {reason}")
    if at > request.deadline:
        raise DeployTimeout(f"{request.stackName}: still {status} after timing.deployTimeoutSeconds")
    return StagingOutcome(done=False, status=status)


@logger.inject_lambda_context(correlation_id_path="executionArn")
@tracer.capture_lambda_handler
@named_task_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check_stack(cloudformation, CheckStackRequest.model_validate(event), now()).model_dump()
