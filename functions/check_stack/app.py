"""CheckStack: is the staging stack complete? Its outputs name the staging distribution (and policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.errors import DeployTimeout, StackFailed
from cfcd_common.models import StagingOutcome, TaskRequest
from cfcd_common.task import task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

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


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckStackRequest.model_validate(event)
    return check_stack(clients.cloudformation(), request, now()).model_dump()
