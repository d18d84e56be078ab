"""The edge's CloudFront metrics: what each distribution served, published to CloudWatch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from cfcd.local.edge import EdgeServer, MotoS3OriginReader
from cfcd.local.edge.metrics import EdgeMetrics, MetricDatum, MotoCloudWatchSink
from cfcd_common.cloudwatch import TrafficSample, traffic_samples
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.edge_fakes import (
    BUCKET,
    FakeClock,
    FakeEdgeView,
    ScriptedRandom,
    Viewer,
    distribution,
    staging_of,
    weight_policy,
    with_policy,
)

pytestmark = pytest.mark.unit

NOW = 1_800_000_030.0


class RecordingSink:
    def __init__(self) -> None:
        self.published: list[tuple[str, list[MetricDatum]]] = []

    def put(self, namespace: str, metric_data: list[MetricDatum]) -> None:
        self.published.append((namespace, metric_data))


def by_metric(data: list[MetricDatum], distribution_id: str) -> dict[str, MetricDatum]:
    return {
        datum["MetricName"]: datum
        for datum in data
        if {"Name": "DistributionId", "Value": distribution_id} in datum["Dimensions"]
    }


def test_each_distribution_publishes_requests_and_error_rates_as_cloudfront_does() -> None:
    # Given a primary that served 3 requests (one 404) and its staging 4 (two 500s)
    sink = RecordingSink()
    metrics = EdgeMetrics(sink, clock=lambda: NOW)
    for status in (200, 404, 200):
        metrics.record("EPRIMARY", status)
    for status in (500, 200, 503, 200):
        metrics.record("ESTAGING", status)

    # When the edge publishes
    metrics.flush()

    # Then one batch in AWS/CloudFront, per distribution Requests (Sum) and rates (percent)
    [(namespace, data)] = sink.published
    assert namespace == "AWS/CloudFront"
    staging = by_metric(data, "ESTAGING")
    assert set(staging) == {"Requests", "4xxErrorRate", "5xxErrorRate", "TotalErrorRate"}
    assert staging["Requests"]["Value"] == 4 and staging["Requests"]["Unit"] == "None"
    assert {"Name": "Region", "Value": "Global"} in staging["Requests"]["Dimensions"]
    five = staging["5xxErrorRate"]
    assert five["Unit"] == "Percent"
    assert five["StatisticValues"]["Sum"] / five["StatisticValues"]["SampleCount"] == 50.0
    four = by_metric(data, "EPRIMARY")["4xxErrorRate"]["StatisticValues"]
    assert four["Sum"] / four["SampleCount"] == pytest.approx(100 / 3)
    assert staging["Requests"]["Timestamp"] == datetime.fromtimestamp(NOW, UTC).replace(tzinfo=None)
    # And the next flush, with nothing served since, publishes nothing
    metrics.flush()
    assert len(sink.published) == 1


@pytest.fixture
def origin() -> Iterator[None]:
    """The S3 origin: both releases' pages in moto's S3."""
    with mocked_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for key in ("1.0.0/index.html", "2.0.0/index.html"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"<h1>App</h1>")
        yield


def test_staging_traffic_counts_under_the_staging_distributions_own_id(origin: None) -> None:
    # Given a primary sending half its viewers to staging; the draws: staging, primary, staging, primary
    primary, staging = distribution(), staging_of()
    view = FakeEdgeView()
    view.publish(with_policy(primary, staging, weight_policy(0.5, sticky=None)), staging)
    clock = FakeClock(NOW)
    metrics = EdgeMetrics(MotoCloudWatchSink(), interval_seconds=3600, clock=clock)
    draws = ScriptedRandom([0.1, 0.9, 0.2, 0.9])
    # When four viewers come, the last asking for a page the origin lacks (S3 answers 403)
    with EdgeServer(view, MotoS3OriginReader(), rng=draws, clock=clock, metrics=metrics) as edge:
        viewer = Viewer(edge.endpoint)
        try:
            statuses = [viewer.request(path).status for path in ("/", "/", "/", "/missing.html")]
        finally:
            viewer.close()
    assert statuses == [200, 200, 200, 403]
    # Then, published when the edge stopped, CloudWatch has each side's requests under its own id
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    ids = [staging.distribution_id, primary.distribution_id]
    samples = traffic_samples(cloudwatch, ids, int(NOW) - 60, int(NOW) + 60)
    assert samples == {
        staging.distribution_id: TrafficSample(requests=2, errorRate=0.0),
        primary.distribution_id: TrafficSample(requests=2, errorRate=0.0),
    }


def test_the_publishing_thread_publishes_every_interval_and_the_rest_when_stopped() -> None:
    sink = RecordingSink()
    metrics = EdgeMetrics(sink, interval_seconds=0.05)
    metrics.start()
    metrics.record("EPRIMARY", 200)
    deadline = time.monotonic() + 5
    while not sink.published and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.published) == 1, "nothing published within 5 s"
    metrics.record("EPRIMARY", 500)
    metrics.stop()
    assert len(sink.published) == 2
