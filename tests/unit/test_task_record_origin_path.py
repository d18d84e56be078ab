"""RecordOriginPath: the origin path live after a promotion goes to the SSM parameter, once."""

from __future__ import annotations

import copy
from typing import Any, Literal

import boto3
import pytest

from cfcd_common.errors import InvalidInput, OriginPathNotRecorded
from functions.record_origin_path import app
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client
from tests.unit.local.test_cloudfront_policies import distribution_config

pytestmark = pytest.mark.unit

PARAMETER = "/cfcd/site/origin-path"
COPY: dict[str, Any] = {
    "mode": "copy",
    "overrides": {"originPath": "/2.0.0", "originId": None, "distributionConfig": None},
}


@pytest.fixture
def ssm(emulated_cloudfront: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("ssm", region_name="us-east-1")
    use_client(monkeypatch, "ssm", client)
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    return client


def promoted_primary(cloudfront: Any, origin_path: str = "/2.0.0", second_origin: bool = False) -> str:
    """A primary serving `origin_path` on its default origin (as after a promotion)."""
    config = distribution_config("primary")
    config["Origins"]["Items"][0]["OriginPath"] = origin_path
    if second_origin:
        assets = copy.deepcopy(config["Origins"]["Items"][0]) | {"Id": "assets", "OriginPath": "/assets-7"}
        config["Origins"] = {"Quantity": 2, "Items": [*config["Origins"]["Items"], assets]}
    return str(cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"])


def record(
    lambda_context: FakeLambdaContext, primary_id: str, staging: dict[str, Any] = COPY
) -> dict[str, Any]:
    event = {
        "executionArn": EXECUTION_ARN,
        "primaryDistributionId": primary_id,
        "parameterName": PARAMETER,
        "staging": staging,
    }
    result: dict[str, Any] = app.lambda_handler(event, lambda_context)
    return result


def test_the_promoted_origin_path_creates_the_parameter(
    ssm: Any, emulated_cloudfront: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a promoted primary and no parameter yet
    primary_id = promoted_primary(emulated_cloudfront)

    # When RecordOriginPath runs
    result = record(lambda_context, primary_id)

    # Then the parameter is a String holding the live origin path
    assert result == {"parameterName": PARAMETER, "originPath": "/2.0.0", "version": 1, "written": True}
    parameter = ssm.get_parameter(Name=PARAMETER)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("String", "/2.0.0")


def test_a_retried_attempt_writes_nothing_and_a_new_release_overwrites(
    ssm: Any, emulated_cloudfront: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given the parameter already holding an older release
    ssm.put_parameter(Name=PARAMETER, Value="/1.0.0", Type="String")
    primary_id = promoted_primary(emulated_cloudfront)

    # When the task runs, then runs again (a retry after a lost answer)
    first = record(lambda_context, primary_id)
    again = record(lambda_context, primary_id)

    # Then the first overwrote it, the retry found it done: one new version only
    assert (first["written"], first["version"]) == (True, 2)
    assert (again["written"], again["version"]) == (False, 2)
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "/2.0.0"


def test_the_origin_the_release_named_is_the_one_recorded(
    ssm: Any, emulated_cloudfront: Any, lambda_context: FakeLambdaContext
) -> None:
    primary_id = promoted_primary(emulated_cloudfront, second_origin=True)
    staging = copy.deepcopy(COPY)
    staging["overrides"]["originId"] = "assets"

    assert record(lambda_context, primary_id, staging)["originPath"] == "/assets-7"


def test_a_stack_release_records_the_default_behaviors_origin(
    ssm: Any, emulated_cloudfront: Any, lambda_context: FakeLambdaContext
) -> None:
    primary_id = promoted_primary(emulated_cloudfront, second_origin=True)
    staging = {"mode": "stack", "stackName": "site-staging", "templateBody": "{}", "parameters": {}}

    assert record(lambda_context, primary_id, staging)["originPath"] == "/2.0.0"


@pytest.mark.parametrize(
    ("origin_path", "existing", "refusal"),
    [
        ("", None, r"the origin path live on \w+ is empty"),
        ("/2.0.0", "StringList", f"{PARAMETER} is a StringList parameter, not a String"),
    ],
    ids=["empty origin path", "not a String"],
)
def test_what_the_parameter_cannot_hold_is_refused_and_nothing_written(
    ssm: Any,
    emulated_cloudfront: Any,
    lambda_context: FakeLambdaContext,
    origin_path: str,
    existing: Literal["StringList"] | None,
    refusal: str,
) -> None:
    if existing:
        ssm.put_parameter(Name=PARAMETER, Value="/1.0.0", Type=existing)
    primary_id = promoted_primary(emulated_cloudfront, origin_path)

    with pytest.raises(OriginPathNotRecorded, match=refusal):
        record(lambda_context, primary_id)

    versions = ssm.get_parameter_history(Name=PARAMETER)["Parameters"] if existing else []
    assert len(versions) == (1 if existing else 0)


def test_an_origin_gone_from_the_primary_is_named(
    ssm: Any, emulated_cloudfront: Any, lambda_context: FakeLambdaContext
) -> None:
    staging = copy.deepcopy(COPY)
    staging["overrides"]["originId"] = "gone"

    with pytest.raises(InvalidInput, match="no origin 'gone'"):
        record(lambda_context, promoted_primary(emulated_cloudfront), staging)
