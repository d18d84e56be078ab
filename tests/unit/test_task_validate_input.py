"""ValidateInput: contract errors and unknown distributions fail at once; nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import boto3
import pytest

from cfcd_common.errors import InvalidInput
from functions.validate_input import app
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, load_event, use_client

pytestmark = pytest.mark.unit

PRIMARY_TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "primary.yaml"
PARAMETER = "/cfcd/site/origin-path"


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


@pytest.fixture
def stack_made_primary(emulated_cloudfront: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The seed's primary site deployed from examples/primary.yaml as stack "site"."""
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=PARAMETER, Value="/1.0.0", Type="String")
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(
        StackName="site",
        TemplateBody=PRIMARY_TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "OriginPath", "ParameterValue": PARAMETER}],
    )
    outputs = cloudformation.describe_stacks(StackName="site")["Stacks"][0]["Outputs"]
    for service, client in (
        ("cloudfront", emulated_cloudfront),
        ("ssm", ssm),
        ("cloudformation", cloudformation),
    ):
        use_client(monkeypatch, service, client)
    return next(str(output["OutputValue"]) for output in outputs if output["OutputKey"] == "DistributionId")


def release_of(primary_id: str, origin_path_parameter: str | None = None) -> dict[str, Any]:
    raw = load_event("input_copy_header.json") | {"primaryDistributionId": primary_id}
    if origin_path_parameter:
        raw["promotion"]["originPathParameter"] = origin_path_parameter
    return raw


def test_a_stack_made_primary_is_recorded_and_warned_about_without_an_origin_path_parameter(
    stack_made_primary: str, lambda_context: FakeLambdaContext
) -> None:
    # Given the primary of stack "site", and a release that does not record its origin path
    # When ValidateInput runs
    result = app.lambda_handler(event_for(release_of(stack_made_primary)), lambda_context)

    # Then the stack is recorded, and the warning says its next update undoes the promotion
    assert result["primaryStack"]["stackName"] == "site"
    assert result["primaryStack"]["logicalResourceId"] == "PrimaryDistribution"
    warning = result["stackUpdateWarning"]
    assert f"{stack_made_primary} belongs to CloudFormation stack site" in warning
    assert "undoes this promotion" in warning and "promotion.originPathParameter" in warning


def test_a_release_recording_its_origin_path_is_not_warned_about(
    stack_made_primary: str, lambda_context: FakeLambdaContext
) -> None:
    result = app.lambda_handler(event_for(release_of(stack_made_primary, PARAMETER)), lambda_context)

    assert result["primaryStack"]["stackName"] == "site"
    assert result["stackUpdateWarning"] is None
    assert result["promotion"]["originPathParameter"] == PARAMETER


def test_a_primary_no_stack_made_has_neither_stack_nor_warning(
    emulated_cloudfront: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    use_client(monkeypatch, "cloudformation", boto3.client("cloudformation", region_name="us-east-1"))
    primary = create_primary(emulated_cloudfront)

    result = app.lambda_handler(event_for(release_of(primary["Id"])), lambda_context)

    assert (result["primaryStack"], result["stackUpdateWarning"]) == (None, None)


@pytest.mark.parametrize(
    ("parameter", "existing_type", "refusal"),
    [
        (
            "/other/site/origin-path",
            None,
            "promotion.originPathParameter: /other/site/origin-path is not below /cfcd/",
        ),
        (
            PARAMETER,
            "SecureString",
            f"promotion.originPathParameter: {PARAMETER} is a SecureString parameter",
        ),
    ],
    ids=["outside the prefix", "not a String"],
)
def test_an_origin_path_parameter_cfcd_may_not_or_cannot_write_is_invalid_input(
    stack_made_primary: str,
    lambda_context: FakeLambdaContext,
    parameter: str,
    existing_type: Literal["SecureString"] | None,
    refusal: str,
) -> None:
    if existing_type:
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name=parameter, Value="/1.0.0", Type=existing_type, Overwrite=True
        )

    with pytest.raises(InvalidInput, match=refusal):
        app.lambda_handler(event_for(release_of(stack_made_primary, parameter)), lambda_context)


def test_a_copy_release_promoting_an_empty_origin_path_cannot_record_it(
    stack_made_primary: str, lambda_context: FakeLambdaContext
) -> None:
    # SSM holds no empty value
    raw = release_of(stack_made_primary, PARAMETER)
    raw["staging"]["overrides"]["originPath"] = ""

    with pytest.raises(
        InvalidInput, match="promotion.originPathParameter: the promoted origin path would be empty"
    ):
        app.lambda_handler(event_for(raw), lambda_context)
