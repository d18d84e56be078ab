"""CheckDeployed: have the distributions finished propagating? (WaitForDeployed and WaitForPromotion)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from cfcd_common.aws import CLIENT_CONFIG, named_task_errors, now
from cfcd_common.errors import DeployTimeout
from cfcd_common.models import TaskRequest, TaskResult

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient

logger = Logger()
tracer = Tracer()
cloudfront = boto3.client("cloudfront", config=CLIENT_CONFIG)


class CheckDeployedRequest(TaskRequest):
    distributionIds: Annotated[list[str], Field(min_length=1)]
    deadline: int


class DeployedStatus(TaskResult):
    done: bool
    statuses: dict[str, str]
    checkedAt: int  # when done: the moment propagation was seen finished (the probe's clock starts)


@tracer.capture_method
def check_deployed(client: CloudFrontClient, request: CheckDeployedRequest, at: int) -> DeployedStatus:
    statuses = {
        distribution_id: client.get_distribution(Id=distribution_id)["Distribution"]["Status"]
        for distribution_id in request.distributionIds
    }
    done = all(status == "Deployed" for status in statuses.values())
    if not done and at > request.deadline:
        raise DeployTimeout(f"not Deployed after timing.deployTimeoutSeconds: {statuses}")
    return DeployedStatus(done=done, statuses=statuses, checkedAt=at)


@logger.inject_lambda_context(correlation_id_path="executionArn")
@tracer.capture_lambda_handler
@named_task_errors
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check_deployed(cloudfront, CheckDeployedRequest.model_validate(event), now()).model_dump()
