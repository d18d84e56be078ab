"""SetStepWeight and AnalyseStep, and ValidateInput's part in a progressive release.

CloudFront is the local cloud's emulator in process, CloudWatch is moto's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cfcd_common.cloudwatch import TrafficSample, traffic_samples
from cfcd_common.errors import AnalysisFailed, InvalidInput, TransientAwsError
from functions.analyse_step import app as analyse_step
from functions.deploy_staging import app as deploy_staging
from functions.enable_policy import app as enable_policy
from functions.set_step_weight import app as set_step_weight
from functions.validate_input import app as validate_input
from tests.progressive_support import put_alarm
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, load_event, use_client
from tests.unit.lost_answers import create_primary, lose_answer

pytestmark = pytest.mark.unit

STEPS = [{"weight": 0.01, "bakeSeconds": 60}, {"weight": 0.05, "bakeSeconds": 60}]
TRAFFIC = {"type": "SingleWeight", "steps": STEPS}
MINUTE = 1_800_000_000 - 1_800_000_000 % 60  # a whole minute, as CloudWatch's data points are
ANALYSIS = {"intervalSeconds": 60, "maxErrorRate": 0.01, "minRequests": 100, "alarmNames": []}


def policy_config(cloudfront: Any, policy_id: str) -> tuple[str, dict[str, Any]]:
    found = cloudfront.get_continuous_deployment_policy_config(Id=policy_id)
    return found["ETag"], found["ContinuousDeploymentPolicyConfig"]


@pytest.fixture
def live(emulated_cloudfront: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A progressive release whose policy went live at its first step's weight."""
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    use_client(monkeypatch, "s3", boto3.client("s3", region_name="us-east-1"))
    primary = create_primary(emulated_cloudfront)
    staging_id = deploy_staging.lambda_handler(
        {
            "executionArn": EXECUTION_ARN,
            "primaryDistributionId": primary["Id"],
            "overrides": {"originPath": "/2.0.0"},
        },
        FakeLambdaContext(),
    )["stagingDistributionId"]
    return enable_policy.lambda_handler(
        {
            "executionArn": EXECUTION_ARN,
            "primaryDistributionId": primary["Id"],
            "stagingDistributionId": staging_id,
            "policyId": None,
            "traffic": TRAFFIC,
            "deployTimeoutSeconds": 60,
        },
        FakeLambdaContext(),
    )


def step_event(policy_id: str, progress: dict[str, Any]) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "policyId": policy_id,
        "steps": STEPS,
        "progress": progress,
        "deployTimeoutSeconds": 600,
    }


def test_the_policy_starts_at_the_first_step_and_setting_it_again_writes_nothing(
    emulated_cloudfront: Any, live: dict[str, Any]
) -> None:
    # Given a policy enabled at the first step's weight
    etag, config = policy_config(emulated_cloudfront, live["policyId"])
    assert config["TrafficConfig"]["SingleWeightConfig"]["Weight"] == 0.01
    # When the first step sets its weight
    progress = set_step_weight.lambda_handler(
        step_event(live["policyId"], {"stepCount": 2, "done": False}), FakeLambdaContext()
    )
    # Then nothing is written (nothing to redeploy), and the step is under way
    assert policy_config(emulated_cloudfront, live["policyId"])[0] == etag
    assert [(step["number"], step["weight"]) for step in progress["steps"]] == [(1, 0.01)]
    assert progress["deadline"] >= progress["steps"][0]["startedAt"] + 600


def test_the_next_step_retried_after_a_lost_answer_sets_its_weight_once(
    emulated_cloudfront: Any, live: dict[str, Any]
) -> None:
    # Given the first step passed
    first = {
        "number": 1,
        "weight": 0.01,
        "bakeSeconds": 60,
        "startedAt": 1,
        "bakeStartedAt": 2,
        "passedAt": 70,
    }
    progress = {"stepCount": 2, "current": 1, "done": False, "stepPassed": True, "steps": [first]}
    # When the second step's weight is set and its answer lost, and the task retried
    lose_answer(emulated_cloudfront, "UpdateContinuousDeploymentPolicy")
    event = step_event(live["policyId"], progress)
    with pytest.raises(TransientAwsError):
        set_step_weight.lambda_handler(event, FakeLambdaContext())
    etag, _ = policy_config(emulated_cloudfront, live["policyId"])
    retried = set_step_weight.lambda_handler(event, FakeLambdaContext())
    # Then the policy sends 5 % to staging, written once (the retry found it done), still enabled
    etag_after, config = policy_config(emulated_cloudfront, live["policyId"])
    assert etag_after == etag
    assert config["TrafficConfig"]["SingleWeightConfig"]["Weight"] == 0.05 and config["Enabled"] is True
    assert [step["weight"] for step in retried["steps"]] == [0.01, 0.05]
    assert (retried["current"], retried["stepPassed"]) == (1, False)


def publish(cloudwatch: Any, distribution_id: str, at: int, requests: int, errors: int) -> None:
    """One minute of CloudFront's metrics for a distribution, as CloudFront publishes them."""
    dimensions = [{"Name": "DistributionId", "Value": distribution_id}, {"Name": "Region", "Value": "Global"}]
    when = datetime.fromtimestamp(at, UTC)
    cloudwatch.put_metric_data(
        Namespace="AWS/CloudFront",
        MetricData=[
            {
                "MetricName": "Requests",
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": requests,
                "Unit": "None",
            },
            {
                "MetricName": "5xxErrorRate",
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": 100 * errors / requests,
                "Unit": "Percent",
            },
        ],
    )


def test_the_window_rate_weighs_each_minute_by_its_requests(aws: None) -> None:
    # Given staging's two minutes: 100 requests at 4 % 5xx, then 300 at 0 %
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    publish(cloudwatch, "ESTAGING", MINUTE, 100, 4)
    publish(cloudwatch, "ESTAGING", MINUTE + 60, 300, 0)
    publish(cloudwatch, "EPRIMARY", MINUTE, 1000, 1)
    # When both are read over the two minutes
    samples = traffic_samples(cloudwatch, ["ESTAGING", "EPRIMARY"], MINUTE, MINUTE + 120)
    # Then staging served 400 requests, 4 of them 5xx: 1 % (a fraction), not the minutes' mean 2 %
    assert samples == {
        "ESTAGING": TrafficSample(requests=400, errorRate=0.01),
        "EPRIMARY": TrafficSample(requests=1000, errorRate=0.001),
    }
    # And an empty window (the first analysis, at the bake's start) asks nothing
    assert traffic_samples(cloudwatch, ["ESTAGING"], MINUTE, MINUTE)["ESTAGING"].requests == 0


def test_every_page_is_read_and_an_internal_error_is_transient() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    stubber = Stubber(cloudwatch)
    page = {
        "Id": "requests0",
        "Timestamps": [datetime.fromtimestamp(MINUTE, UTC)],
        "Values": [10.0],
        "StatusCode": "PartialData",
    }
    stubber.add_response("get_metric_data", {"MetricDataResults": [page], "NextToken": "more"})
    rest = {
        **page,
        "Timestamps": [datetime.fromtimestamp(MINUTE + 60, UTC)],
        "Values": [5.0],
        "StatusCode": "Complete",
    }
    stubber.add_response("get_metric_data", {"MetricDataResults": [rest]})
    stubber.add_response(
        "get_metric_data", {"MetricDataResults": [{"Id": "errors0", "StatusCode": "InternalError"}]}
    )
    with stubber:
        assert traffic_samples(cloudwatch, ["E1"], MINUTE, MINUTE + 120)["E1"].requests == 15
        with pytest.raises(TransientAwsError, match="InternalError"):
            traffic_samples(cloudwatch, ["E1"], MINUTE, MINUTE + 120)


def analyse_event(progress: dict[str, Any], **analysis: Any) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "primaryDistributionId": "EPRIMARY",
        "stagingDistributionId": "ESTAGING",
        "analysis": {**ANALYSIS, **analysis},
        "probeTimeoutSeconds": 900,
        "deployedAt": MINUTE,
        "progress": progress,
    }


BAKING = {
    "stepCount": 2,
    "done": False,
    "steps": [{"number": 1, "weight": 0.01, "bakeSeconds": 60, "startedAt": MINUTE - 5}],
}


@pytest.fixture
def cloudwatch(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    use_client(monkeypatch, "cloudfront_metrics", client)
    use_client(monkeypatch, "cloudwatch", client)
    monkeypatch.setattr(analyse_step, "now", lambda: MINUTE + 120)
    return client


def test_a_healthy_step_passes_once_baked_with_both_rates_recorded(cloudwatch: Any) -> None:
    publish(cloudwatch, "ESTAGING", MINUTE, 150, 1)
    publish(cloudwatch, "EPRIMARY", MINUTE, 15_000, 30)
    progress = analyse_step.lambda_handler(analyse_event(BAKING), FakeLambdaContext())
    assert (progress["stepPassed"], progress["current"]) == (True, 1)
    [step] = progress["steps"]
    assert step["analyses"] == [
        {
            "at": 120,
            "stagingRequests": 150,
            "stagingErrorRate": pytest.approx(1 / 150, abs=1e-6),  # kept to 6 decimals
            "primaryRequests": 15_000,
            "primaryErrorRate": pytest.approx(0.002),
        }
    ]


def test_a_step_whose_alarm_went_off_fails_the_release(cloudwatch: Any) -> None:
    publish(cloudwatch, "ESTAGING", MINUTE, 150, 0)
    put_alarm(cloudwatch, "checkout-latency", "ALARM", "too slow")
    event = analyse_event(BAKING, alarmNames=["checkout-latency"])
    with pytest.raises(AnalysisFailed, match=r"checkout-latency: too slow"):
        analyse_step.lambda_handler(event, FakeLambdaContext())


def test_validation_refuses_an_alarm_that_does_not_exist_and_starts_the_steps(
    emulated_cloudfront: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the progressive example aimed at an existing primary, its alarm not created
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    use_client(monkeypatch, "cloudwatch", boto3.client("cloudwatch", region_name="us-east-1"))
    raw = load_event("input_copy_steps.json") | {
        "primaryDistributionId": create_primary(emulated_cloudfront)["Id"]
    }
    event = {"executionArn": EXECUTION_ARN, "executionName": "release-2-0-0", "input": raw}
    # Then ValidateInput names the missing alarm
    with pytest.raises(InvalidInput, match="analysis.alarmNames: no CloudWatch alarm checkout-latency"):
        validate_input.lambda_handler(event, FakeLambdaContext())
    # And without it, the release carries its steps, none begun
    raw["analysis"]["alarmNames"] = []
    validated = validate_input.lambda_handler(event, FakeLambdaContext())
    assert validated["progress"] == {
        "stepCount": 3,
        "current": 0,
        "done": False,
        "stepPassed": False,
        "deadline": 0,
        "nextWaitSeconds": 0,
        "steps": [],
    }
    assert validated["analysis"]["alarmNames"] == []
