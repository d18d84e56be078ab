"""Fault suite fixtures and its summary table (printed at the end of the pytest run)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from tests.conftest import LocalCloudHandle
from tests.faults.support import SUMMARY, retire_all_sites


@pytest.fixture(autouse=True)
def retired_sites(local_cloud: LocalCloudHandle) -> Iterator[None]:
    """After each test, delete the staging distributions and policies its releases made."""
    yield
    local_cloud.faults.reset()
    local_cloud.faults.set_propagation_seconds(1.0)
    for problem in retire_all_sites(local_cloud):
        warnings.warn(f"could not retire a fault-suite site: {problem}", stacklevel=1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = SUMMARY.table()
    if lines:
        terminalreporter.section("cfcd fault matrix and bad-input catalogue")
        for line in lines:
            terminalreporter.write_line(line)
