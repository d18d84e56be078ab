"""Fixtures over a module's in-process ``cloud``.

By default a module's ``cloud`` is a local cloud with the seeded site and no template; a module
that needs another one (a template deployed) defines its own ``cloud`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cfcd.local.cloud import LocalCloud, LocalCloudInfo
from cfcd.local.faults import FaultsClient
from cfcd.local.sessions import LocalClients


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(state_dir=tmp_path_factory.mktemp("state"), template_path=None, seed=True)
    cloud.start()
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def info(cloud: Any) -> LocalCloudInfo:
    assert cloud.info is not None
    return cloud.info  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client(info: LocalCloudInfo) -> Callable[[str], Any]:
    return LocalClients(info.aws_endpoint).client


@pytest.fixture
def faults(info: LocalCloudInfo) -> Iterator[FaultsClient]:
    """The module cloud's fault API, cleared before and after each test."""
    client = FaultsClient(info.faults_endpoint)
    client.reset()
    yield client
    client.reset()
