"""`cfcd local info`: the running local cloud's local.json, whole or one value, for scripts."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cfcd.cli import main

pytestmark = pytest.mark.unit

LOCAL_STATE = {
    "awsEndpoint": "http://127.0.0.1:45001",
    "edgeEndpoint": "http://127.0.0.1:45002",
    "site": {"primaryDistributionId": "E2QWRUHAPOMQZL", "domainName": "d111111abcdef8.cloudfront.net"},
}


def info(state_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["local", "info", *args, "--state-dir", str(state_dir)])
    return result.exit_code, result.stdout, result.stderr


def test_a_key_prints_its_value_alone(tmp_path: Path) -> None:
    # Given a running local cloud's state
    (tmp_path / "local.json").write_text(json.dumps(LOCAL_STATE))

    # When a script asks for one value, a group of them, and all
    # Then it gets the value as is, JSON for an object
    assert info(tmp_path, "site.primaryDistributionId") == (0, "E2QWRUHAPOMQZL\n", "")
    assert json.loads(info(tmp_path, "site")[1]) == LOCAL_STATE["site"]
    assert json.loads(info(tmp_path)[1]) == LOCAL_STATE


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "local.json").write_text(json.dumps(LOCAL_STATE))

    code, _, stderr = info(tmp_path, "site.bucket")

    assert code == 1
    assert "has no 'site.bucket'" in stderr


def test_no_local_cloud_is_explained(tmp_path: Path) -> None:
    code, _, stderr = info(tmp_path, "edgeEndpoint")

    assert code == 1
    assert "is the local cloud running (`cfcd local up`)?" in stderr


def test_wait_returns_once_the_local_cloud_is_up(tmp_path: Path) -> None:
    # Given a local cloud that writes its local.json a moment later
    writer = threading.Timer(0.3, lambda: (tmp_path / "local.json").write_text(json.dumps(LOCAL_STATE)))
    writer.start()

    # When a script waits for it
    try:
        result = info(tmp_path, "edgeEndpoint", "--wait", "10")
    finally:
        writer.join()

    # Then it gets the value once it is there
    assert result == (0, "http://127.0.0.1:45002\n", "")


def test_wait_gives_up_at_its_deadline(tmp_path: Path) -> None:
    code, _, stderr = info(tmp_path, "--wait", "0.3")

    assert code == 1
    assert "no " in stderr and "local.json" in stderr
