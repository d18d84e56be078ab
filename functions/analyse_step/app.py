"""AnalyseStep: is the running step of a progressive release healthy? (the bake loop's check)

Reads staging's and the primary's CloudFront metrics since the step was deployed and the named
alarms (read-only), then passes the step, waits `analysis.intervalSeconds` for the next look, or
fails the release with AnalysisFailed (cfcd_common.progressive).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common import clients
from cfcd_common.aws import now
from cfcd_common.cloudwatch import alarm_states, traffic_samples
from cfcd_common.models import Analysis, TaskRequest
from cfcd_common.progressive import Progress, analyse, bake_began
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


class AnalyseStepRequest(TaskRequest):
    primaryDistributionId: str
    stagingDistributionId: str
    analysis: Analysis
    probeTimeoutSeconds: int
    deployedAt: int  # when CheckStepDeployed saw the step's weight deployed: the bake's start
    progress: Progress


@tracer.capture_method
def analyse_step(
    metrics_client: CloudWatchClient, alarms_client: CloudWatchClient, request: AnalyseStepRequest, at: int
) -> Progress:
    ids = (request.stagingDistributionId, request.primaryDistributionId)
    samples = traffic_samples(metrics_client, list(ids), bake_began(request.progress, request.deployedAt), at)
    progress = analyse(
        request.progress,
        request.analysis,
        request.probeTimeoutSeconds,
        request.deployedAt,
        at,
        (samples[ids[0]], samples[ids[1]]),
        alarm_states(alarms_client, request.analysis.alarmNames),
        ids,
    )
    step = progress.steps[-1]
    logger.info(
        "step analysed",
        extra={"step": step.number, "passed": progress.stepPassed, "latest": step.analyses[-1].model_dump()},
    )
    return progress


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = AnalyseStepRequest.model_validate(event)
    progress = analyse_step(clients.cloudfront_metrics(), clients.cloudwatch(), request, now())
    metrics.add_metric(name="StepAnalyses", unit=MetricUnit.Count, value=1)
    return progress.model_dump(mode="json")
