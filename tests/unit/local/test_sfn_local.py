"""make sfn-local: refuses clearly without Docker, and runs the image against the local cloud."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from cfcd.local import sfn_local

pytestmark = pytest.mark.unit


def test_without_a_docker_engine_it_says_so_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a docker client whose engine does not answer
    calls: list[list[str]] = []

    def docker(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "Cannot connect to the Docker daemon")

    monkeypatch.setattr("cfcd.local.sfn_local.shutil.which", lambda _: "/usr/bin/docker")
    monkeypatch.setattr("cfcd.local.sfn_local.subprocess.run", docker)

    # When make sfn-local runs
    code = sfn_local.main([])

    # Then it exits 2 naming the missing engine, having only asked `docker info`
    assert code == 2
    assert "running Docker engine" in capsys.readouterr().err
    assert calls == [["docker", "info"]]


def test_the_image_calls_lambda_on_the_local_cloud_over_host_networking() -> None:
    command = sfn_local.docker_run_command("http://127.0.0.1:4566", "eu-west-1")

    assert command[:2] == ["docker", "run"]
    assert command[-1] == sfn_local.IMAGE
    assert "LAMBDA_ENDPOINT=http://127.0.0.1:4566" in command
    assert "AWS_DEFAULT_REGION=eu-west-1" in command
    assert command[command.index("--network") + 1] == "host"
