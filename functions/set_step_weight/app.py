"""SetStepWeight: the continuous deployment policy sends the current step's weight to staging.

Then CheckStepDeployed waits for the primary's Deployed (the policy deploys with it) and
AnalyseStep bakes the step. Safe to run again: a weight already in force is not written again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.cloudfront import set_policy_weight
from cfcd_common.models import TaskRequest, WeightStep
from cfcd_common.progressive import Progress, start_step
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient


class SetStepWeightRequest(TaskRequest):
    policyId: str
    steps: list[WeightStep]
    progress: Progress
    deployTimeoutSeconds: int


@tracer.capture_method
def set_step_weight(client: CloudFrontClient, request: SetStepWeightRequest, at: int) -> Progress:
    progress = start_step(request.progress, request.steps, at, request.deployTimeoutSeconds)
    step = progress.steps[-1]
    written = set_policy_weight(client, request.policyId, step.weight)
    logger.info(
        "step weight set",
        extra={"step": step.number, "of": progress.stepCount, "weight": step.weight, "writtenNow": written},
    )
    return progress


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    progress = set_step_weight(clients.cloudfront(), SetStepWeightRequest.model_validate(event), now())
    metrics.add_metric(name="StepsStarted", unit=MetricUnit.Count, value=1)
    return progress.model_dump(mode="json")
