"""CheckDeployed: have the distributions finished propagating? (WaitForDeployed and WaitForPromotion)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.errors import DeployTimeout
from cfcd_common.models import TaskResult
from cfcd_common.polling import PolledCheck
from cfcd_common.task import task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class CheckDeployedRequest(PolledCheck):
    distributionIds: Annotated[list[str], Field(min_length=1)]


class DeployedStatus(TaskResult):
    done: bool
    statuses: dict[str, str]
    checkedAt: int  # when done: the moment propagation was seen finished (the probe's clock starts)
    nextWaitSeconds: int  # 0 when done


@tracer.capture_method
def check_deployed(client: CloudFrontClient, request: CheckDeployedRequest, at: int) -> DeployedStatus:
    statuses = {
        distribution_id: client.get_distribution(Id=distribution_id)["Distribution"]["Status"]
        for distribution_id in request.distributionIds
    }
    done = all(status == "Deployed" for status in statuses.values())
    if not done and request.timed_out(at):
        raise DeployTimeout(f"not Deployed after timing.deployTimeoutSeconds: {statuses}")
    wait = 0 if done else request.next_wait_seconds(at)
    return DeployedStatus(done=done, statuses=statuses, checkedAt=at, nextWaitSeconds=wait)


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = CheckDeployedRequest.model_validate(event)
    return check_deployed(clients.cloudfront(), request, now()).model_dump()
