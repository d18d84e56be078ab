"""The layer's requirements and the runtime's SDK, installed once into a cache (by uv or pip) and reused."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from cfcd.local import lambda_packages
from cfcd.local.lambda_packages import PipInstallFailed

pytestmark = pytest.mark.unit

LAYER_REQUIREMENTS = Path(__file__).resolve().parents[3] / "functions" / "common" / "requirements.txt"


class FakePip:
    """Stands in for ``python -m pip install --target``: records each run, writes one file."""

    def __init__(self, returncode: int = 0) -> None:
        self.returncode = returncode
        self.runs: list[list[str]] = []

    def __call__(self, command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.runs.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "installed.txt").write_text(" ".join(command[command.index("--target") + 2 :]))
        return subprocess.CompletedProcess(command, self.returncode, "", "ERROR: No matching distribution")


@pytest.fixture
def pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePip:
    monkeypatch.setattr(lambda_packages, "CACHE_ROOT", tmp_path / "cache")
    fake = FakePip()
    monkeypatch.setattr("cfcd.local.lambda_packages.subprocess.run", fake)
    return fake


def test_an_install_is_made_once_and_reused(pip: FakePip) -> None:
    first = lambda_packages.pip_install("layer", ["-r", "requirements.txt"], key="pydantic==2.13.5")
    again = lambda_packages.pip_install("layer", ["-r", "requirements.txt"], key="pydantic==2.13.5")

    assert first == again
    assert len(pip.runs) == 1
    assert (first / "installed.txt").read_text() == "-r requirements.txt"


def test_other_requirements_get_an_install_of_their_own(pip: FakePip) -> None:
    old = lambda_packages.pip_install("layer", ["-r", "requirements.txt"], key="pydantic==2.13.5")
    new = lambda_packages.pip_install("layer", ["-r", "requirements.txt"], key="pydantic==2.13.6")

    assert old != new
    assert len(pip.runs) == 2


def test_a_failed_install_says_why_and_leaves_nothing_to_reuse(pip: FakePip) -> None:
    pip.returncode = 1

    with pytest.raises(PipInstallFailed) as failed:
        lambda_packages.pip_install("runtime", ["boto3==0.0.0"], key="boto3==0.0.0")

    assert "boto3==0.0.0" in str(failed.value)
    assert "No matching distribution" in str(failed.value)
    assert not lambda_packages.cache_dir("runtime", "boto3==0.0.0").exists()
    pip.returncode = 0
    lambda_packages.pip_install("runtime", ["boto3==0.0.0"], key="boto3==0.0.0")
    assert len(pip.runs) == 2


def test_the_runtime_sdk_is_boto3_and_botocore_at_the_project_pins(pip: FakePip) -> None:
    installed = lambda_packages.runtime_sdk()

    wanted = f"boto3=={metadata.version('boto3')} botocore=={metadata.version('botocore')}"
    assert (installed / "installed.txt").read_text() == wanted


def test_the_layer_pins_boto3_together_with_botocore_at_the_project_versions() -> None:
    # The layer ships botocore (the X-Ray SDK needs it); it shadows the runtime's, so boto3 must
    # come along at the matching version rather than stay the runtime's.
    pins = dict(line.split("==", 1) for line in LAYER_REQUIREMENTS.read_text().splitlines() if "==" in line)

    assert pins["boto3"] == metadata.version("boto3")
    assert pins["botocore"] == metadata.version("botocore")


@pytest.fixture
def interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A venv's bin directory whose python is this process's interpreter."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    monkeypatch.setattr("cfcd.local.lambda_packages.sys.executable", str(bin_dir / "python"))
    return bin_dir


def test_uv_beside_the_interpreter_installs_for_it_and_compiles_as_pip_does(
    interpreter: Path, tmp_path: Path
) -> None:
    # Given uv installed in the interpreter's venv
    uv = interpreter / "uv"
    uv.write_text("#!/bin/sh\n")
    uv.chmod(0o755)

    # When a local install is asked for
    command = lambda_packages.installer(tmp_path / "target")

    # Then uv's pip installs it, for this interpreter, with bytecode, into the target
    assert command[:3] == [str(uv), "pip", "install"]
    assert command[command.index("--python") + 1] == str(interpreter / "python")
    assert "--compile-bytecode" in command
    assert command[command.index("--target") + 1] == str(tmp_path / "target")


def test_pip_installs_where_there_is_no_uv_or_the_arguments_are_pip_s_own(
    interpreter: Path, tmp_path: Path
) -> None:
    # Given a venv without uv, Then pip installs
    assert lambda_packages.installer(tmp_path)[:4] == [str(interpreter / "python"), "-m", "pip", "install"]

    # Given uv there too, When the arguments are pip's own (the bench's --platform), Then pip still
    uv = interpreter / "uv"
    uv.write_text("#!/bin/sh\n")
    uv.chmod(0o755)
    assert lambda_packages.installer(tmp_path, pip_options=True)[1:4] == ["-m", "pip", "install"]
