"""The layer's requirements installed with pip, as ``sam build`` would, cached under a temp dir.

Two installs: one for Lambda's platform (arm64/x86_64, Python 3.12; its size is what ships) and
one for this interpreter (importable here, so cold starts run against the packages Lambda has
rather than the dev venv's extras such as ``requests``, which the X-Ray SDK would then patch).
The Lambda runtime itself provides boto3; the local "runtime" install pins the project's boto3.
PyPI must be reachable; without it both are ``None`` and the figures say so.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

CACHE_ROOT = Path(tempfile.gettempdir()) / "cfcd-bench-cache"
LAMBDA_PYTHON = "3.12"
_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
PIP_TIMEOUT_SECONDS = 300


def _cache_dir(kind: str, lines: str) -> Path:
    digest = hashlib.sha256(f"{kind}\n{sys.version}\n{lines}".encode()).hexdigest()[:16]
    return CACHE_ROOT / f"{kind}-{digest}"


def _pip_install(target: Path, arguments: list[str]) -> Path | None:
    done = target / ".complete"
    if done.exists():
        return target
    partial = target.with_name(target.name + ".partial")
    subprocess.run(["rm", "-rf", str(partial)], check=False)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--target",
            str(partial),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        print(f"  pip install failed (no PyPI?): {completed.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    subprocess.run(["rm", "-rf", str(target)], check=False)
    partial.rename(target)
    done.touch()
    return target


def lambda_platform_install(requirements: Path, architecture: str) -> Path | None:
    """``requirements`` installed for Lambda (Python 3.12 on ``architecture``): what the layer ships."""
    platform = _PLATFORMS.get(architecture, _PLATFORMS["x86_64"])
    target = _cache_dir(f"layer-{architecture}", requirements.read_text())
    return _pip_install(
        target,
        [
            "--platform",
            platform,
            "--python-version",
            LAMBDA_PYTHON,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "-r",
            str(requirements),
        ],
    )


def local_install(requirements: Path) -> Path | None:
    """``requirements`` installed for this interpreter, to import from in cold-start samples."""
    return _pip_install(_cache_dir("layer-local", requirements.read_text()), ["-r", str(requirements)])


def local_runtime_install() -> Path | None:
    """The boto3 the project pins, standing in for the one in Lambda's python3.12 runtime."""
    pin = f"boto3=={metadata.version('boto3')}"
    return _pip_install(_cache_dir("runtime-local", pin), [pin])
