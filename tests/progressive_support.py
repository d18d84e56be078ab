"""Progressive releases on the local cloud, for the e2e, faults and quota tests: synthetic viewers
that load a page and its script, a release folder of a test's own, and a three-step input.

The edge publishes every distribution's Requests and error rates to the local CloudWatch each
second (cfcd.local.edge.metrics), so a bake of a few seconds has data to judge.
"""

from __future__ import annotations

import uuid
from typing import Any

from cfcd.demo.context import STICKINESS
from cfcd.demo.progressive import ANALYSIS, PROBE_SAMPLES, STEPS
from cfcd.demo.viewer import Browsers, Site
from cfcd.local.seed import SCRIPT, SeededSite, release_page, release_script
from tests.conftest import LocalCloudHandle

# A step needs analysis.minRequests staging requests within timing.probeTimeoutSeconds.
PROBE_TIMEOUT_SECONDS = 20


def browsing(cloud: LocalCloudHandle, site: SeededSite) -> Browsers:
    """Synthetic viewers of ``site`` loading its page and script until the block ends."""
    return Browsers(Site(cloud.info.edge_endpoint, site.domain_name))


def put_alarm(cloudwatch: Any, name: str, state: str, reason: str) -> None:
    """A CloudWatch alarm of the application, in ``state`` (moto's SetAlarmState, as a test would)."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="Site",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def release_folder(cloud: LocalCloudHandle, site: SeededSite, release: str) -> str:
    """A release folder of the site's bucket of its own (an origin fault on it hits no other test)."""
    folder = f"{release}-{uuid.uuid4().hex[:8]}"
    s3 = cloud.client("s3")
    s3.put_object(Bucket=site.bucket_name, Key=f"{folder}/index.html", Body=release_page(release).encode())
    s3.put_object(Bucket=site.bucket_name, Key=f"{folder}/{SCRIPT}", Body=release_script(release).encode())
    return folder


def make_progressive(document: dict[str, Any], folder: str, **analysis: Any) -> dict[str, Any]:
    """A copy-mode release ``document`` turned into a three-step release of ``folder``."""
    document["staging"]["overrides"]["originPath"] = f"/{folder}"
    document["traffic"] = {"type": "SingleWeight", "steps": STEPS, "stickiness": STICKINESS}
    document["analysis"] = {**ANALYSIS, **analysis}
    document["probe"]["samples"] = PROBE_SAMPLES
    document["timing"]["probeTimeoutSeconds"] = PROBE_TIMEOUT_SECONDS
    return document
