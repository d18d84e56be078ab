"""The Python packages a local Lambda worker imports, installed with pip as Lambda would have them.

On Lambda a function imports its ``CodeUri``, then its layers (``sam build`` pip-installs a
layer's ``requirements.txt`` next to its code), then the python runtime's own boto3 and botocore;
nothing of a developer's virtualenv. The local runtime does the same with two kinds of install:

- :func:`layer_requirements`: a layer's ``requirements.txt``, as ``sam build`` installs it;
- :func:`runtime_sdk`: boto3 and botocore at the project's pins, standing in for the runtime's.

Each is ``pip install --target`` into a directory of :data:`CACHE_ROOT` named after a hash of
what was asked and of this interpreter, reused across runs and processes (the first run needs
PyPI). When uv sits beside this interpreter (``make install`` puts it in ``.venv/bin``), its
``uv pip install`` does the same in a few seconds instead of half a minute: the first local cloud
of a new machine waits for it. ``bench`` installs the layer for Lambda's own platform through
:func:`pip_install` too, with pip's own options.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

CACHE_ROOT = Path(
    os.environ.get("CFCD_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cfcd" / "lambda-packages"
)
PIP_TIMEOUT_SECONDS = 600
_COMPLETE = ".complete"


class PipInstallFailed(RuntimeError):
    """pip could not install what a local Lambda function needs (no PyPI, a bad pin, ...)."""


def cache_dir(kind: str, key: str) -> Path:
    """Where ``kind`` installed for ``key`` (with this interpreter and machine) lives."""
    material = f"{kind}\n{sys.version}\n{platform.machine()}\n{key}"
    return CACHE_ROOT / f"{kind}-{hashlib.sha256(material.encode()).hexdigest()[:16]}"


def uv_beside_interpreter() -> Path | None:
    """The uv installed with this interpreter's packages, if any."""
    uv = Path(sys.executable).with_name("uv")
    return uv if os.access(uv, os.X_OK) else None


def installer(target: Path, *, pip_options: bool = False) -> list[str]:
    """The command that installs into ``target`` for this interpreter: uv's pip when it is there
    and the arguments are ones uv takes too, otherwise pip (which compiles bytecode; uv is told to)."""
    uv = None if pip_options else uv_beside_interpreter()
    if uv is not None:
        command = [str(uv), "pip", "install", "--python", sys.executable, "--compile-bytecode"]
    else:
        command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    return [*command, "--quiet", "--target", str(target)]


def pip_install(kind: str, arguments: Sequence[str], key: str, *, pip_options: bool = False) -> Path:
    """``pip install --target <cached dir> *arguments``, once per ``(kind, key)``; the directory.

    ``key`` is what makes two installs the same (e.g. the requirements' text). Concurrent
    callers wait for one another; a failed install leaves nothing behind. ``pip_options``: the
    arguments are pip's own (``--platform``, ...), so pip installs them even where uv is.
    """
    target = cache_dir(kind, key)
    if (target / _COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.with_name(target.name + ".lock")):
        if (target / _COMPLETE).exists():
            return target
        partial = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
        try:
            completed = subprocess.run(
                [*installer(partial, pip_options=pip_options), *arguments],
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_SECONDS,
                check=False,
            )
            if completed.returncode != 0:
                asked, reason = " ".join(arguments), completed.stderr.strip()[-800:]
                raise PipInstallFailed(f"pip install {asked} failed (is PyPI reachable?): {reason}")
            (partial / _COMPLETE).touch()
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return target


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def layer_requirements(requirements: Path) -> Path:
    """A layer's ``requirements.txt`` installed for this interpreter, as ``sam build`` installs it."""
    return pip_install("layer", ["-r", str(requirements)], key=requirements.read_text())


def runtime_sdk() -> Path:
    """boto3 and botocore at the project's versions, standing in for those of Lambda's runtime."""
    pins = [f"{name}=={metadata.version(name)}" for name in ("boto3", "botocore")]
    return pip_install("runtime", pins, key="\n".join(pins))
