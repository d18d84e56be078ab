"""Fixtures shared by every test level.

``local_cloud`` (session) runs ``cfcd local up --seed-site`` as a subprocess, exactly as a user
would, and hands out a :class:`LocalCloudHandle`; ``cloud`` (per test) is the same handle with
faults, origin faults, recorded calls and the propagation delay reset around the test. Only tests
that ask for them start the cloud (statemachine, e2e, faults levels). ``CFCD_TEST_TEMPLATE``
deploys another template instead of the repository's ``template.yaml``.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cfcd.local.cloud import LOCAL_JSON, LocalCloudInfo
from cfcd.local.faults import FaultsClient
from cfcd.local.seed import SeededSite
from cfcd.local.sessions import LocalClients
from tests.fault_summary import SUMMARY
from tests.scheduling import work_order
from tests.sites import new_site, retire_sites_near_the_quota

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_DEADLINE_SECONDS = 90.0
STOP_DEADLINE_SECONDS = 20.0
# Long enough to see InProgress -> Deployed, short enough for quick runs.
TEST_PROPAGATION_SECONDS = 1.0
REGION = "us-east-1"
# What a pytest-xdist worker hands the controller at its end (the fault suite's summary rows).
FAULT_SUMMARY_KEY = "cfcd_fault_summary"


@dataclass
class LocalCloudHandle:
    info: LocalCloudInfo
    state_dir: Path

    @functools.cached_property
    def faults(self) -> FaultsClient:
        return FaultsClient(self.info.faults_endpoint)

    @functools.cached_property
    def clients(self) -> LocalClients:
        return LocalClients(self.info.aws_endpoint, REGION)

    def client(self, service: str, **kwargs: Any) -> Any:
        return self.clients.client(service, **kwargs)

    def resource(self, service: str) -> Any:
        return self.clients.resource(service)

    def reset(self) -> None:
        """No fault pending, a fresh call record, the tests' propagation delay."""
        self.faults.reset()
        self.faults.set_propagation_seconds(TEST_PROPAGATION_SECONDS)

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def mail_dir(self) -> Path:
        return self.state_dir / "mail"


def _start_local_cloud(state_dir: Path, parameters: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """``cfcd local up`` in the background; ``parameters``: more ``Key=Value`` template parameters."""
    log = (state_dir / "local-up.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "cfcd",
        "local",
        "up",
        "--seed-site",
        "--state-dir",
        str(state_dir),
        "--port",
        "0",
        "--propagation-seconds",
        str(TEST_PROPAGATION_SECONDS),
        "--template",
        os.environ.get("CFCD_TEST_TEMPLATE", str(REPO_ROOT / "template.yaml")),
        *("--parameter", "EnableReleaseEvents=true"),  # tests/e2e/test_eventbridge.py
        *(option for parameter in parameters for option in ("--parameter", parameter)),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)


def _wait_for_local_json(process: subprocess.Popen[bytes], state_dir: Path) -> LocalCloudInfo:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    target = state_dir / LOCAL_JSON
    while not target.exists():
        if process.poll() is not None:
            output = (state_dir / "local-up.log").read_text(errors="replace")
            raise RuntimeError(f"cfcd local up exited with {process.returncode}:\n{output[-4000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {target} within {STARTUP_DEADLINE_SECONDS:.0f} s")
        time.sleep(0.05)
    return LocalCloudInfo.model_validate_json(target.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_DEADLINE_SECONDS)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudHandle]:
    state_dir = tmp_path_factory.mktemp("cfcd-state")
    process = _start_local_cloud(state_dir)
    try:
        info = _wait_for_local_json(process, state_dir)
        yield LocalCloudHandle(info=info, state_dir=state_dir)
    finally:
        _stop(process)


@pytest.fixture
def cloud(local_cloud: LocalCloudHandle) -> LocalCloudHandle:
    """The session's local cloud with no faults pending and a fresh call record (after the test,
    ``sites_within_the_quota`` resets it again, as for every test on the local cloud)."""
    local_cloud.reset()
    return local_cloud


@pytest.fixture
def site(cloud: LocalCloudHandle) -> SeededSite:
    """A site of its own on the local cloud: releases of different tests never share state."""
    return new_site(cloud)


@pytest.fixture(autouse=True)
def sites_within_the_quota(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the local cloud: no fault left pending, and the sites seeded so far retired
    once their staging distributions near the account's quota (tests/sites.py)."""
    yield
    if "local_cloud" not in request.fixturenames:
        return
    local_cloud: LocalCloudHandle = request.getfixturevalue("local_cloud")
    local_cloud.reset()
    for problem in retire_sites_near_the_quota(local_cloud):
        warnings.warn(f"could not retire a site: {problem}", stacklevel=1)


# --- running on several workers (pytest-xdist, `make test`) ----------------------------------------
# Each worker is a session of its own, with a local cloud of its own. The tests of a module with a
# module-scoped fixture (a batch of releases run side by side, one module-wide setup) go to one
# worker: the fixture must run once. Every other test goes to whichever worker is free, in the
# order of tests/scheduling.py. (xdist's own `--dist loadgroup` cannot be used: it renames node ids
# through an attribute pytest 9 no longer reads.)
MODULE_SCOPE = re.compile(r"scope\s*=\s*[\"']module[\"']")


@functools.cache
def shares_a_module_fixture(test_file: str) -> bool:
    """Whether the file, or a conftest.py above it in tests/, defines a module-scoped fixture."""
    path = REPO_ROOT / test_file
    candidates = [path] + [
        folder / "conftest.py" for folder in path.parents if folder.is_relative_to(REPO_ROOT / "tests")
    ]
    return any(candidate.is_file() and MODULE_SCOPE.search(candidate.read_text()) for candidate in candidates)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ModuleBatchScheduling(LoadScopeScheduling):  # type: ignore[misc]
        workqueue: OrderedDict[str, dict[str, bool]]  # xdist's, made in its __init__
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            test_file = nodeid.split("::", 1)[0]
            return test_file if shares_a_module_fixture(test_file) else nodeid

        def _assign_work_unit(self, node: Any) -> None:
            # The first assignment comes right after xdist has queued every work unit.
            if not self.ordered:
                units = self.workqueue
                order = work_order(list(units), {scope: len(tests) for scope, tests in units.items()})
                self.workqueue = OrderedDict((scope, units[scope]) for scope in order)
                self.ordered = True
            super()._assign_work_unit(node)

    return ModuleBatchScheduling(config, log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        worker_output[FAULT_SUMMARY_KEY] = SUMMARY.rows()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, on the controller: a worker ended; keep its fault-suite rows."""
    SUMMARY.merge(getattr(node, "workeroutput", {}).get(FAULT_SUMMARY_KEY, {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = SUMMARY.table()
    if lines:
        terminalreporter.section("cfcd fault matrix and bad-input catalogue")
        for line in lines:
            terminalreporter.write_line(line)
