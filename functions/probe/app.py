"""ProbeStaging and VerifyPrimary: HTTP checks through the primary's domain.

Staging mode answers "ready" or "wait N seconds" (CloudFront may take minutes to propagate and
may send all traffic to the primary under load) and fails with ProbeFailed at the deadline.
Primary mode runs once, after promotion is Deployed and the cache invalidated: VerifyFailed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, TypeAdapter

from cfcd_common.aws import now
from cfcd_common.errors import ProbeFailed, VerifyFailed
from cfcd_common.models import Probe, ProbeReport, TaskRequest, Traffic
from cfcd_common.polling import PolledCheck
from cfcd_common.probing import Fetch, http_fetcher, probe_staging, verify_primary
from cfcd_common.settings import EdgeSettings
from cfcd_common.task import logger, metrics, task_handler, tracer


class StagingProbeRequest(PolledCheck):
    mode: Literal["staging"]
    domainName: str
    probe: Probe
    traffic: Traffic


class PrimaryProbeRequest(TaskRequest):
    mode: Literal["primary"]
    domainName: str
    probe: Probe


ProbeRequest = Annotated[StagingProbeRequest | PrimaryProbeRequest, Field(discriminator="mode")]
parse_request: TypeAdapter[StagingProbeRequest | PrimaryProbeRequest] = TypeAdapter(ProbeRequest)


class ProbeOutcome(ProbeReport):
    ready: bool
    nextWaitSeconds: int


@tracer.capture_method
def run_probe(fetch: Fetch, request: StagingProbeRequest | PrimaryProbeRequest, at: int) -> ProbeOutcome:
    if isinstance(request, PrimaryProbeRequest):
        report = verify_primary(fetch, request.probe)
        if not report.ok:
            raise VerifyFailed(f"{report.summary} ({report.checks[0].detail})")
        return ProbeOutcome(**dict(report), ready=True, nextWaitSeconds=0)
    report = probe_staging(fetch, request.probe, request.traffic)
    if report.ok:
        return ProbeOutcome(**dict(report), ready=True, nextWaitSeconds=0)
    if request.timed_out(at):
        details = "; ".join(f"{c.description}: {c.detail}" for c in report.checks if not c.passed)
        raise ProbeFailed(f"{report.summary} after timing.probeTimeoutSeconds ({details})")
    return ProbeOutcome(**dict(report), ready=False, nextWaitSeconds=request.next_wait_seconds(at))


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request.validate_python(event)
    fetch = http_fetcher(request.domainName, EdgeSettings.from_environment().edge_endpoint)
    outcome = run_probe(fetch, request, now())
    metrics.add_metric(name=f"{request.mode.capitalize()}Probes", unit=MetricUnit.Count, value=1)
    logger.info(outcome.summary, extra={"ready": outcome.ready, "nextWaitSeconds": outcome.nextWaitSeconds})
    return outcome.model_dump()
