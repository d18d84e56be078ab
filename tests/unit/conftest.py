"""Fixtures of the unit tests: fake AWS (moto), a Lambda context, events, the template."""

from __future__ import annotations

import copy
import functools
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from samtranslator.yaml_helper import yaml_parse

from cfcd.local import cloudfront as cloudfront_emulator
from cfcd.local import moto_patches
from cfcd_common import clients
from tests.unit.aws_mock import mocked_aws

# Lambda provides a region and the template's Globals provide POWERTOOLS_*; cfcd_common.task reads
# them when imported (Logger, Metrics), so the test process provides them the same way.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cfcd-test")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "cfcd-test")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "deployment.asl.json"
REGION = "us-east-1"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:cfcd-deployment:release-2-0-0"


def load_event(name: str) -> dict[str, Any]:
    """A sample event or input from tests/events (the README shows the input_*.json ones)."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def load_template() -> dict[str, Any]:
    """template.yaml, parsed once per process (every table a test creates reads it): a copy each
    caller may change."""
    return copy.deepcopy(_parsed_template())


@functools.cache
def _parsed_template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml_parse(TEMPLATE_PATH.read_text())
    return loaded


@functools.cache
def template_default(parameter: str) -> str:
    default: str = load_template()["Parameters"][parameter]["Default"]
    return default


def load_asl() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL_PATH.read_text())
    return loaded


class FakeLambdaContext(LambdaContext):
    """What Lambda passes a handler as its context; a new request id each time."""

    def __init__(self) -> None:
        self._function_name = "cfcd-test"
        self._function_version = "$LATEST"
        self._invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cfcd-test"
        self._memory_limit_in_mb = 256
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = "/aws/lambda/cfcd-test"
        self._log_stream_name = "test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def use_client(monkeypatch: pytest.MonkeyPatch, service: str, client: Any) -> None:
    """Hand `client` to every handler that asks `cfcd_common.clients` for `service`."""
    monkeypatch.setattr(clients, service, lambda: client)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def function_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' environment as template.yaml sets it by default."""
    monkeypatch.setenv("ORIGIN_PATH_PARAMETER_PREFIX", template_default("OriginPathParameterPrefix"))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call; fake credentials, no endpoint override leaking in from a shell."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mocked_aws():
        yield


def create_table(dynamodb: Any, name: str = "cfcd-test") -> Any:
    """The table exactly as template.yaml declares it (key, GSI and its projection, TTL), so tests
    cannot drift; ``dynamodb`` is a boto3 DynamoDB resource."""
    properties = load_template()["Resources"]["DeploymentTable"]["Properties"]
    table = dynamodb.create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
    )
    ttl = properties["TimeToLiveSpecification"]
    table.meta.client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
    )
    return table


@pytest.fixture
def deployment_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "cfcd-test-deployments"
    create_table(boto3.resource("dynamodb", region_name=REGION), name)
    monkeypatch.setenv("TABLE_NAME", name)
    return name


@pytest.fixture
def emulated_cloudfront(aws: None) -> Any:
    """A boto3 CloudFront client answered by the local cloud's emulator (CloudFront's documented
    rules, continuous deployment included, which moto lacks); changes deploy at once."""
    moto_patches.install()
    cloudfront_emulator.set_propagation_seconds(0)
    return boto3.client("cloudfront", region_name="us-east-1")
