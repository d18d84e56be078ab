"""Progressive releases on the local cloud, for the e2e, faults and quota tests: synthetic viewers
that load a page and its script, a release folder of a test's own, and a three-step input.

The edge publishes every distribution's Requests and error rates to the local CloudWatch each
second (cfcd.local.edge.metrics), so a bake of a few seconds has data to judge.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from cfcd.demo.viewer import Site, StickyViewer
from cfcd.local.seed import SCRIPT, SeededSite, release_page, release_script
from tests.conftest import LocalCloudHandle

STEPS = [
    {"weight": 0.05, "bakeSeconds": 3},
    {"weight": 0.10, "bakeSeconds": 3},
    {"weight": 0.15, "bakeSeconds": 3},
]
# Analysed every second; a step needs 3 staging requests within timing.probeTimeoutSeconds (20 s).
ANALYSIS = {"intervalSeconds": 1, "maxErrorRate": 0.05, "minRequests": 3}
PROBE_TIMEOUT_SECONDS = 20
STICKINESS = {"idleTtl": 300, "maximumTtl": 600}
VISIT_PAUSE_SECONDS = 0.02


class Viewers:
    """Browsers visiting the site one after the other until the block ends, each a new viewer (a
    fresh weight draw) that loads the page and then its script (from the same side: the
    stickiness cookie)."""

    def __init__(self, cloud: LocalCloudHandle, site: SeededSite) -> None:
        self._site = Site(cloud.info.edge_endpoint, site.domain_name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._visit, name="viewers", daemon=True)
        self.visits = 0

    def _visit(self) -> None:
        while not self._stop.is_set():
            browser = StickyViewer(self._site)
            browser.get("/")
            browser.get(f"/{SCRIPT}")
            self.visits += 1
            self._stop.wait(VISIT_PAUSE_SECONDS)

    def __enter__(self) -> Viewers:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


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
    # Staging gets 5 % of the viewers at first: enough samples that the probe sees it soon.
    document["probe"]["samples"] = 100
    document["timing"]["probeTimeoutSeconds"] = PROBE_TIMEOUT_SECONDS
    return document
