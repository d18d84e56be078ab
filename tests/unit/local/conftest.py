"""Fixtures over a module's in-process ``cloud`` (each module starts the LocalCloud it needs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from cfcd.local.cloud import LocalCloudInfo


@pytest.fixture(scope="module")
def info(cloud: Any) -> LocalCloudInfo:
    assert cloud.info is not None
    return cloud.info  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client(info: LocalCloudInfo) -> Callable[[str], Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return lambda service: session.client(service, endpoint_url=info.aws_endpoint)  # type: ignore[call-overload]
