"""Fault injection and call recording on the local AWS endpoint (the /cfcd-api control API)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cfcd.local import cloudfront, stepfunctions_quotas
from cfcd.local.cloud import LocalCloudInfo
from cfcd.local.faults import STEP_FUNCTIONS_HISTORY_LIMIT, FaultsApiError, FaultsClient

pytestmark = pytest.mark.unit

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
WRITE_PREFIXES = ("Create", "Update", "Delete", "Put", "Copy", "Tag", "Untag", "Associate")


def aws(info: LocalCloudInfo, service: str, config: Config | None = None) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=info.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def test_injected_error_is_answered_count_times(info: LocalCloudInfo, faults: FaultsClient) -> None:
    # Given CloudFront UpdateDistribution throttled twice
    assert info.site is not None
    client = aws(info, "cloudfront", NO_RETRIES)
    current = client.get_distribution_config(Id=info.site.primary_distribution_id)
    faults.inject("cloudfront", "UpdateDistribution", "Throttling", http_status=400, count=2)

    def update() -> Any:
        return client.update_distribution(
            Id=info.site.primary_distribution_id,  # type: ignore[union-attr]
            IfMatch=current["ETag"],
            DistributionConfig=current["DistributionConfig"],
        )

    # When it is called three times, Then the first two get the AWS error and the third goes through
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            update()
        assert raised.value.response["Error"]["Code"] == "Throttling"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert update()["Distribution"]["Id"] == info.site.primary_distribution_id
    assert faults.pending() == []
    # And every attempt was recorded
    updates = [call for call in faults.calls() if call.operation == "UpdateDistribution"]
    assert [call.service for call in updates] == ["cloudfront"] * 3


def test_sdk_retries_absorb_a_throttle(info: LocalCloudInfo, faults: FaultsClient) -> None:
    faults.inject("cloudfront", "ListDistributions", "Throttling", count=1)

    listed = aws(
        info, "cloudfront", Config(retries={"mode": "standard", "total_max_attempts": 3})
    ).list_distributions()

    assert listed["DistributionList"]["Quantity"] == 1
    assert [call.operation for call in faults.calls()].count("ListDistributions") == 2


def test_json_protocol_service_fault_with_5xx(info: LocalCloudInfo, faults: FaultsClient) -> None:
    faults.inject("stepfunctions", "ListStateMachines", "ServiceUnavailable", http_status=503)

    with pytest.raises(ClientError) as raised:
        aws(info, "stepfunctions", NO_RETRIES).list_state_machines()

    assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_recorded_calls_prove_a_read_only_sequence(info: LocalCloudInfo, faults: FaultsClient) -> None:
    assert info.site is not None
    client = aws(info, "cloudfront")

    client.get_distribution(Id=info.site.primary_distribution_id)
    client.list_distributions()

    calls = faults.calls()
    assert [call.operation for call in calls] == ["GetDistribution", "ListDistributions"]
    assert not [call for call in calls if call.operation.startswith(WRITE_PREFIXES)]
    faults.reset_calls()
    assert faults.calls() == []


def test_propagation_delay_is_set_through_the_api(info: LocalCloudInfo, faults: FaultsClient) -> None:
    previous = cloudfront.propagation_seconds()
    try:
        faults.set_propagation_seconds(7.5)
        assert cloudfront.propagation_seconds() == 7.5
    finally:
        faults.set_propagation_seconds(previous)


def test_the_history_limit_is_lowered_through_the_api_and_reset_to_aws_quota(
    info: LocalCloudInfo, faults: FaultsClient
) -> None:
    faults.set_history_limit(600)
    assert (faults.history_limit(), stepfunctions_quotas.history_limit()) == (600, 600)
    faults.reset()
    assert stepfunctions_quotas.history_limit() == STEP_FUNCTIONS_HISTORY_LIMIT


def test_origin_fault_reaches_the_edge(info: LocalCloudInfo, faults: FaultsClient) -> None:
    assert info.site is not None

    def status() -> int:
        request = urllib.request.Request(info.edge_endpoint + "/", headers={"Host": info.site.domain_name})  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert status() == 200
    faults.inject_origin_status("/1.0.0/", 500)
    assert status() == 500
    faults.clear_origin_faults()
    assert status() == 200


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/cfcd-api/faults", {"service": "cloudfront", "operation": "X", "error": "E", "count": 0}),
        ("/cfcd-api/faults", {"service": "cloudfront", "operation": "X", "error": "E", "when": "during"}),
        ("/cfcd-api/edge-faults", {"allTrafficToPrimary": "sometimes"}),
        ("/cfcd-api/history-limit", {"events": 25_001}),  # AWS's quota is the most there is
    ],
)
def test_invalid_fault_is_a_400(
    info: LocalCloudInfo, faults: FaultsClient, path: str, payload: dict[str, Any]
) -> None:
    request = urllib.request.Request(
        info.faults_endpoint + path, data=json.dumps(payload).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 400
    with pytest.raises(FaultsApiError):
        faults._request("GET", "/cfcd-api/nothing-here")


def test_local_json_round_trip(info: LocalCloudInfo) -> None:
    # Without a template only the endpoints and the seeded site are known
    document = json.loads(info.to_json())
    assert set(document) == {"awsEndpoint", "edgeEndpoint", "faultsEndpoint", "site"}
    assert set(document["site"]) == {
        "primaryDistributionId",
        "domainName",
        "bucketName",
        "originAccessControlId",
    }
    assert LocalCloudInfo.model_validate(document) == info
