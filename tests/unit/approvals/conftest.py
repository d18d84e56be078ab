"""The approval decision's tests: moto behind a fresh approvals table, and Step Functions as a spy
whose every SendTask* answer a test queues (tests/unit/approval_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.unit.approval_support import StepFunctionsSpy, use_fake_aws
from tests.unit.aws_mock import mocked_aws
from tests.unit.conftest import create_table


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_fake_aws(monkeypatch)
    with mocked_aws():
        yield


@pytest.fixture
def table(aws: None) -> Any:
    return create_table(boto3.resource("dynamodb"))


@pytest.fixture
def sfn(aws: None) -> Iterator[StepFunctionsSpy]:
    spy = StepFunctionsSpy(boto3.client("stepfunctions"))
    yield spy
    spy.close()
