"""CloudFront's default metrics, as the edge publishes them to the local CloudWatch.

Like CloudFront (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html):
namespace `AWS/CloudFront`, dimensions `DistributionId` (a staging distribution under its own id)
and `Region` = `Global`, in us-east-1; `Requests` (Sum, Unit None) and `4xxErrorRate`,
`5xxErrorRate`, `TotalErrorRate` (Average, Unit Percent). Unlike CloudFront, which publishes a data
point a minute and about a minute late, the edge publishes what it served every
`interval_seconds` (1 s by default: a local bake of a few seconds has data), and nothing for a
distribution that served nothing. An error rate goes out as a statistic set (SampleCount =
requests, Sum = 100 x errors), so CloudWatch's Average over any period is the share of that
period's requests, whatever the publishing interval.

The edge runs in moto's process and writes to moto's CloudWatch backend directly: its calls would
otherwise show among the AWS calls tests record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

NAMESPACE = "AWS/CloudFront"
METRICS_REGION = "us-east-1"
DEFAULT_INTERVAL_SECONDS = 1.0
MetricDatum = dict[str, Any]


class MetricsSink(Protocol):
    def put(self, namespace: str, metric_data: list[MetricDatum]) -> None: ...


class MotoCloudWatchSink:
    """moto's in-process CloudWatch backend of the default account, us-east-1."""

    def put(self, namespace: str, metric_data: list[MetricDatum]) -> None:
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.core.models import DEFAULT_ACCOUNT_ID

        cloudwatch_backends[DEFAULT_ACCOUNT_ID][METRICS_REGION].put_metric_data(namespace, metric_data)


@dataclass
class _Served:
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0


def _rate(
    name: str, dimensions: list[dict[str, str]], at: datetime, errors: int, requests: int
) -> MetricDatum:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": at,
        "StatisticValues": {
            "SampleCount": float(requests),
            "Sum": 100.0 * errors,
            "Minimum": 100.0 if errors == requests else 0.0,
            "Maximum": 100.0 if errors else 0.0,
        },
        "Unit": "Percent",
    }


def metric_data(distribution_id: str, served: _Served, at: datetime) -> list[MetricDatum]:
    dimensions = [{"Name": "DistributionId", "Value": distribution_id}, {"Name": "Region", "Value": "Global"}]
    errors = served.client_errors + served.server_errors
    return [
        {
            "MetricName": "Requests",
            "Dimensions": dimensions,
            "Timestamp": at,
            "Value": float(served.requests),
            "Unit": "None",
        },
        _rate("4xxErrorRate", dimensions, at, served.client_errors, served.requests),
        _rate("5xxErrorRate", dimensions, at, served.server_errors, served.requests),
        _rate("TotalErrorRate", dimensions, at, errors, served.requests),
    ]


class EdgeMetrics:
    """Counts what each distribution served; :meth:`flush` publishes and starts counting anew.

    :meth:`start` flushes every ``interval_seconds`` on a thread of its own until :meth:`stop`.
    ``clock`` (epoch seconds) stamps the data points.
    """

    def __init__(
        self,
        sink: MetricsSink,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"metrics interval must be positive, not {interval_seconds}")
        self._sink = sink
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._served: dict[str, _Served] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, distribution_id: str, status: int) -> None:
        with self._lock:
            served = self._served.setdefault(distribution_id, _Served())
            served.requests += 1
            served.client_errors += 400 <= status < 500
            served.server_errors += 500 <= status < 600

    def flush(self) -> None:
        with self._lock:
            served, self._served = self._served, {}
        if not served:
            return
        at = datetime.fromtimestamp(self._clock(), UTC) if self._clock else datetime.now(UTC)
        # moto keeps and compares naive UTC times.
        at = at.replace(tzinfo=None)
        data = [
            datum
            for distribution_id, counts in served.items()
            for datum in metric_data(distribution_id, counts, at)
        ]
        self._sink.put(NAMESPACE, data)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("edge metrics already started")
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="cfcd-edge-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.flush()
            except Exception:  # a failed publish must not end the publishing
                LOG.exception("publishing the edge's metrics failed")
