"""What CloudWatch says about a progressive release: CloudFront's traffic and error rates, and alarms.

CloudFront's metrics (docs/design.md §3.8,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html):
namespace `AWS/CloudFront`, dimensions `DistributionId` and `Region` = `Global`, read in us-east-1
(`clients.cloudfront_metrics`); `Requests` is a Sum, `5xxErrorRate` an Average in percent, one
data point per minute. A staging distribution publishes under its own id. cfcd speaks of error
rates as fractions (0.01 = 1 %), as the contract's `analysis.maxErrorRate` does: the percentage is
divided by 100 here, where it leaves CloudWatch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from cfcd_common.errors import TransientAwsError, UnexpectedError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataQueryTypeDef, MetricStatTypeDef

NAMESPACE = "AWS/CloudFront"
REGION_DIMENSION = "Global"
# Standard-resolution metrics: "a period can be as short as one minute (60 seconds) and must be a
# multiple of 60" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html).
PERIOD_SECONDS = 60
ALARM = "ALARM"


class TrafficSample(BaseModel):
    """What one distribution served in a window: requests, and the share of them answered 5xx."""

    model_config = ConfigDict(frozen=True)

    requests: int
    errorRate: float  # a fraction: 5xx responses / requests, 0 without requests


def _queries(distribution_ids: Iterable[str]) -> list[MetricDataQueryTypeDef]:
    queries: list[MetricDataQueryTypeDef] = []
    for index, distribution_id in enumerate(distribution_ids):
        dimensions: list[DimensionTypeDef] = [
            {"Name": "DistributionId", "Value": distribution_id},
            {"Name": "Region", "Value": REGION_DIMENSION},
        ]
        for prefix, metric, stat in (("requests", "Requests", "Sum"), ("errors", "5xxErrorRate", "Average")):
            metric_stat: MetricStatTypeDef = {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": PERIOD_SECONDS,
                "Stat": stat,
            }
            queries.append({"Id": f"{prefix}{index}", "MetricStat": metric_stat})
    return queries


def _series(
    cloudwatch: CloudWatchClient, queries: list[MetricDataQueryTypeDef], start: int, end: int
) -> dict[str, dict[Any, float]]:
    """Each query's data points by timestamp, every page of them."""
    series: dict[str, dict[Any, float]] = {query["Id"]: {} for query in queries}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": queries,
        # CloudWatch rounds a start time of the last 15 days down to the minute
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html):
        # the window begins with the minute the step was deployed in.
        "StartTime": datetime.fromtimestamp(start, UTC),
        "EndTime": datetime.fromtimestamp(end, UTC),
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            # "InternalError indicates that an error occurred. Retry your request"
            # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html).
            status = result.get("StatusCode", "Complete")
            if status == "InternalError":
                raise TransientAwsError(f"GetMetricData answered InternalError for {result.get('Id')}")
            if status == "Forbidden":
                raise UnexpectedError(f"GetMetricData: access to {result.get('Id')} is Forbidden")
            points = series[result["Id"]]
            for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                points[timestamp] = float(value)
        token = page.get("NextToken")
        if not token:
            return series
        kwargs["NextToken"] = token


def traffic_samples(
    cloudwatch: CloudWatchClient, distribution_ids: list[str], start: int, end: int
) -> dict[str, TrafficSample]:
    """Requests and 5xx error rate of each distribution from `start` to `end` (epoch seconds).

    The window's rate weighs each minute's `5xxErrorRate` by that minute's `Requests`, so a busy
    minute counts as much as it served. No data point means no request (CloudFront publishes
    nothing for a minute without traffic).
    """
    if end <= start:
        return {
            distribution_id: TrafficSample(requests=0, errorRate=0.0) for distribution_id in distribution_ids
        }
    queries = _queries(distribution_ids)
    series = _series(cloudwatch, queries, start, end)
    samples = {}
    for index, distribution_id in enumerate(distribution_ids):
        requests, rates = series[f"requests{index}"], series[f"errors{index}"]
        total = sum(requests.values())
        # 5xxErrorRate is a percentage (Unit Percent): errors = rate / 100 x requests.
        errors = sum(rates.get(timestamp, 0.0) / 100 * count for timestamp, count in requests.items())
        samples[distribution_id] = TrafficSample(
            requests=round(total), errorRate=round(errors / total, 6) if total else 0.0
        )
    return samples


class AlarmStates(BaseModel):
    model_config = ConfigDict(frozen=True)

    in_alarm: dict[str, str]  # name -> the state reason
    missing: list[str]


def alarm_states(cloudwatch: CloudWatchClient, names: list[str]) -> AlarmStates:
    """Which of the named alarms are in ALARM, and which do not exist.

    DescribeAlarms returns metric alarms only unless AlarmTypes names composite alarms too, and
    takes at most 100 names
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
    """
    if not names:
        return AlarmStates(in_alarm={}, missing=[])
    found: dict[str, tuple[str, str]] = {}
    kwargs: dict[str, Any] = {"AlarmNames": names, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            found[alarm["AlarmName"]] = (alarm["StateValue"], alarm.get("StateReason", ""))
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return AlarmStates(
        in_alarm={name: reason for name, (state, reason) in found.items() if state == ALARM},
        missing=[name for name in names if name not in found],
    )
