"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from bench.functions import REPO_ROOT


class Machine(BaseModel):
    date: str
    cpu_model: str
    cores: int
    python: str
    platform: str
    load_average: list[float]
    commit: str | None
    uncommitted_changes: bool | None


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _git(*arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def describe() -> Machine:
    status = _git("status", "--porcelain")
    return Machine(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        platform=platform.platform(),
        load_average=[round(value, 2) for value in os.getloadavg()],
        commit=_git("rev-parse", "--short", "HEAD"),
        uncommitted_changes=None if status is None else bool(status),
    )
