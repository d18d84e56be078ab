"""Figure 0: how long ``cfcd`` takes to start, side by side with ``python -c "import boto3"``.

The CLI imports click and its command modules at start-up and nothing else: boto3, pydantic models
and the local cloud load in the command that runs (``cfcd/cli/__init__.py``). Every command
against AWS pays at least ``import boto3``, so that is the yardstick.

Each round runs the baseline and the command alternately (A B A B ...), each a fresh process,
and the ratio is taken pair by pair; the figure is the median over the pairs. Both the wall time
(``time.perf_counter`` around the process) and its CPU time (user + system, from
``getrusage(RUSAGE_CHILDREN)``) are measured; the goal is judged on both, since a person waits
the wall time and CPU time is what the shared machine's load disturbs least.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from bench.functions import REPO_ROOT
from bench.stats import median

GOAL_RATIO = 1.5
BASELINE = 'python -c "import boto3"'
COMMANDS = (("cfcd --help", ("--help",)), ("cfcd status --help", ("status", "--help")))
TIMEOUT_SECONDS = 60.0


class CommandStartup(BaseModel):
    command: str
    pairs: int
    wall_ms: float  # medians over the runs
    cpu_ms: float
    baseline_wall_ms: float
    baseline_cpu_ms: float
    wall_ratio: float  # median of the pairwise ratios
    cpu_ratio: float


class CliStartupResult(BaseModel):
    baseline: str = BASELINE
    goal_ratio: float = GOAL_RATIO
    commands: list[CommandStartup]

    @property
    def met(self) -> bool:
        return all(max(c.wall_ratio, c.cpu_ratio) <= self.goal_ratio for c in self.commands)


def cfcd_command() -> list[str]:
    """The installed console script next to this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("cfcd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cfcd"]


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``argv`` to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        argv,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=TIMEOUT_SECONDS,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure_command(name: str, argv: list[str], baseline: list[str], pairs: int) -> CommandStartup:
    timed(baseline), timed(argv)  # warm the page cache: every measured run starts alike
    samples = [(timed(baseline), timed(argv)) for _ in range(pairs)]
    return CommandStartup(
        command=name,
        pairs=pairs,
        wall_ms=round(median([run[0] for _, run in samples]) * 1000, 1),
        cpu_ms=round(median([run[1] for _, run in samples]) * 1000, 1),
        baseline_wall_ms=round(median([base[0] for base, _ in samples]) * 1000, 1),
        baseline_cpu_ms=round(median([base[1] for base, _ in samples]) * 1000, 1),
        wall_ratio=round(median([run[0] / base[0] for base, run in samples]), 2),
        cpu_ratio=round(median([run[1] / base[1] for base, run in samples]), 2),
    )


def measure(pairs: int = 15) -> CliStartupResult:
    baseline = [sys.executable, "-c", "import boto3"]
    return CliStartupResult(
        commands=[measure_command(name, [*cfcd_command(), *args], baseline, pairs) for name, args in COMMANDS]
    )
