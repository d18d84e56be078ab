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
    # Answers carrying the staging release (probe.expect.bodyContains) in the earlier rounds of
    # this probe (ValidateInput's output starts the tally at 0).
    stagingServedBefore: int = Field(default=0, ge=0)


class PrimaryProbeRequest(TaskRequest):
    mode: Literal["primary"]
    domainName: str
    probe: Probe


ProbeRequest = Annotated[StagingProbeRequest | PrimaryProbeRequest, Field(discriminator="mode")]
parse_request: TypeAdapter[StagingProbeRequest | PrimaryProbeRequest] = TypeAdapter(ProbeRequest)


class ProbeOutcome(ProbeReport):
    ready: bool
    nextWaitSeconds: int
    # Answers carrying the staging release, over every round so far (staging mode).
    stagingServed: int = 0


def never_served(marker: str) -> str:
    """Why a probe that never saw the staging release failed: CloudFront "sends all requests to the
    primary distribution, regardless of what's specified in the continuous deployment policy"
    under high resource utilization or at peak traffic hours.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/continuous-deployment-quotas-considerations.html
    """
    return (
        f"staging was never served: no answer to any probe since the policy was deployed contained "
        f"{marker!r} (CloudFront sends every request to the primary under heavy load; or staging "
        "serves another release)"
    )


@tracer.capture_method
def run_probe(fetch: Fetch, request: StagingProbeRequest | PrimaryProbeRequest, at: int) -> ProbeOutcome:
    if isinstance(request, PrimaryProbeRequest):
        report = verify_primary(fetch, request.probe)
        if not report.ok:
            raise VerifyFailed(f"{report.summary} ({report.checks[0].detail})")
        return ProbeOutcome(**dict(report), ready=True, nextWaitSeconds=0)
    report, served_now = probe_staging(fetch, request.probe, request.traffic)
    served = request.stagingServedBefore + served_now
    if report.ok:
        return ProbeOutcome(**dict(report), ready=True, nextWaitSeconds=0, stagingServed=served)
    if request.timed_out(at):
        details = "; ".join(f"{c.description}: {c.detail}" for c in report.checks if not c.passed)
        never = f": {never_served(request.probe.expect.bodyContains)}" if served == 0 else ""
        raise ProbeFailed(f"{report.summary} after timing.probeTimeoutSeconds ({details}){never}")
    return ProbeOutcome(
        **dict(report), ready=False, nextWaitSeconds=request.next_wait_seconds(at), stagingServed=served
    )


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_request.validate_python(event)
    fetch = http_fetcher(request.domainName, EdgeSettings.from_environment().edge_endpoint)
    outcome = run_probe(fetch, request, now())
    metrics.add_metric(name=f"{request.mode.capitalize()}Probes", unit=MetricUnit.Count, value=1)
    logger.info(outcome.summary, extra={"ready": outcome.ready, "nextWaitSeconds": outcome.nextWaitSeconds})
    return outcome.model_dump()
