"""ValidateInput: contract errors and unknown distributions fail at once; nothing is written."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from cfcd_common.errors import InvalidInput
from functions.validate_input import app
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, load_event, use_client

pytestmark = pytest.mark.unit


def create_primary(cloudfront: Any, http_version: str = "http2", enabled: bool = True) -> dict[str, Any]:
    created = cloudfront.create_distribution(
        DistributionConfig={
            "HttpVersion": http_version,
            "CallerReference": "site",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": "my-site-content.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            # CloudFront requires a cache policy or the legacy ForwardedValues.
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "allow-all",
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "MinTTL": 0,
            },
            "Comment": "site",
            "Enabled": enabled,
        }
    )
    distribution: dict[str, Any] = created["Distribution"]
    return distribution


def event_for(raw: dict[str, Any]) -> dict[str, Any]:
    return {"executionArn": EXECUTION_ARN, "executionName": "release-2-0-0", "input": raw}


def test_a_valid_release_comes_back_normalized_with_the_primarys_domain(
    aws: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an existing primary distribution and the copy+header example aimed at it
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    primary = create_primary(cloudfront)
    use_client(monkeypatch, "cloudfront", cloudfront)
    raw = load_event("input_copy_header.json") | {"primaryDistributionId": primary["Id"]}
    del raw["timing"]
    # When ValidateInput runs
    result = app.lambda_handler(event_for(raw), lambda_context)
    # Then defaults are filled and the domain is known
    assert result["primaryDomainName"] == primary["DomainName"]
    assert result["timing"] == {"pollSeconds": 30, "deployTimeoutSeconds": 1800, "probeTimeoutSeconds": 900}
    assert result["release"] == "2.0.0"
    assert result["staging"]["overrides"]["originPath"] == "/2.0.0"


def test_an_unknown_distribution_is_invalid_input(
    aws: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_client(monkeypatch, "cloudfront", boto3.client("cloudfront", region_name="us-east-1"))
    with pytest.raises(InvalidInput, match="primaryDistributionId: no distribution E2QWRUHAPOMQZL"):
        app.lambda_handler(event_for(load_event("input_copy_header.json")), lambda_context)


@pytest.mark.parametrize("http_version", ["http2and3", "http3"])
def test_a_primary_serving_http3_is_invalid_input(
    aws: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, http_version: str
) -> None:
    # Given a primary that supports HTTP/3 (continuous deployment cannot be used with it)
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    primary = create_primary(cloudfront, http_version)
    use_client(monkeypatch, "cloudfront", cloudfront)
    raw = load_event("input_copy_header.json") | {"primaryDistributionId": primary["Id"]}
    # When ValidateInput runs, Then it refuses the release naming the field
    with pytest.raises(
        InvalidInput, match=f"primaryDistributionId: {primary['Id']} has HttpVersion {http_version}"
    ):
        app.lambda_handler(event_for(raw), lambda_context)


def test_a_disabled_primary_is_invalid_input(
    aws: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a disabled primary: it serves no viewer, so no probe can pass, and its staging copy
    # would be disabled too, which CloudFront refuses while a policy names it
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    primary = create_primary(cloudfront, enabled=False)
    use_client(monkeypatch, "cloudfront", cloudfront)
    raw = load_event("input_copy_header.json") | {"primaryDistributionId": primary["Id"]}
    with pytest.raises(InvalidInput, match=f"primaryDistributionId: {primary['Id']} is disabled"):
        app.lambda_handler(event_for(raw), lambda_context)


def test_a_contract_error_fails_before_any_aws_call(
    lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client that fails the test if it is ever used
    class NoCalls:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"ValidateInput called CloudFront.{name} for a bad input")

    use_client(monkeypatch, "cloudfront", NoCalls())
    raw = load_event("input_copy_weight.json")
    raw["traffic"]["weight"] = 0.5
    with pytest.raises(InvalidInput, match="traffic.weight"):
        app.lambda_handler(event_for(raw), lambda_context)
