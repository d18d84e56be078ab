"""The layer's requirements installed with pip, as ``sam build`` would, cached by cfcd.local.

Two installs: one for Lambda's platform (arm64/x86_64, Python 3.12; its size is what ships) and
one for this interpreter (importable here, so cold starts run against the packages Lambda has
rather than the dev venv's extras such as ``requests``, which the X-Ray SDK would then patch).
The local "runtime" install is the project's boto3 and botocore, standing in for Lambda's.
PyPI must be reachable; without it each is ``None`` and the figures say so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from cfcd.local.lambda_packages import PipInstallFailed, layer_requirements, pip_install, runtime_sdk

LAMBDA_PYTHON = "3.12"
_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def _or_none(install: Callable[[], Path]) -> Path | None:
    try:
        return install()
    except PipInstallFailed as error:
        print(f"  {error}", file=sys.stderr)
        return None


def lambda_platform_install(requirements: Path, architecture: str) -> Path | None:
    """``requirements`` installed for Lambda (Python 3.12 on ``architecture``): what the layer ships."""
    platform = _PLATFORMS.get(architecture, _PLATFORMS["x86_64"])
    arguments = ["--platform", platform, "--python-version", LAMBDA_PYTHON, "--implementation", "cp"]
    arguments += ["--only-binary=:all:", "-r", str(requirements)]
    return _or_none(
        lambda: pip_install(
            f"layer-{architecture}", arguments, key=requirements.read_text(), pip_options=True
        )
    )


def local_install(requirements: Path) -> Path | None:
    """``requirements`` installed for this interpreter, to import from in cold-start samples."""
    return _or_none(lambda: layer_requirements(requirements))


def local_runtime_install() -> Path | None:
    """The boto3 and botocore the project pins, standing in for those of Lambda's python3.12 runtime."""
    return _or_none(runtime_sdk)
