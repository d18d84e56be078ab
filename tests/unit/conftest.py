"""Fixtures of the unit tests: fake AWS (moto), a Lambda context, events, the template."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

# Lambda provides a region and the template's Globals provide POWERTOOLS_*; the handlers read them
# when imported (boto3 clients, Metrics), so the test process provides them the same way.
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
    loaded: dict[str, Any] = yaml_parse(TEMPLATE_PATH.read_text())
    return loaded


def load_asl() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ASL_PATH.read_text())
    return loaded


@dataclass
class FakeLambdaContext:
    function_name: str = "cfcd-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cfcd-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/cfcd-test"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call; fake credentials, no endpoint override leaking in from a shell."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def deployment_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The table exactly as template.yaml declares it (key, GSI, TTL), so tests cannot drift."""
    properties = load_template()["Resources"]["DeploymentTable"]["Properties"]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    name = "cfcd-test-deployments"
    dynamodb.create_table(
        TableName=name,
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
    )
    ttl = properties["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
    )
    monkeypatch.setenv("TABLE_NAME", name)
    return name
