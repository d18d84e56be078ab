"""Figure 4: each handler's init time in a fresh interpreter, as a ratio to a bare ``import boto3``.

Init is what Lambda does before the first event: import the handler module, which builds its
Powertools objects and module-level boto3 clients. Each sample is a new ``python -I -S`` process
with the function's template environment plus the variables Lambda itself sets
(``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``, credentials...) and the ``sys.path`` Lambda
gives it: CodeUri, the layer (its pip-installed requirements and ``functions/common``), then the
runtime's boto3. Without PyPI the dev venv stands in (it has extras Lambda lacks; the result says
so). The baseline is the same process doing ``import boto3`` instead.

Both wall and CPU time of the import are recorded; the ratio uses CPU time (``process_time``),
which other work on a shared machine disturbs far less, and is the median of per-round ratios
(each round opens and closes with the baseline, handlers in a fresh random order).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from bench.functions import LambdaFunction, layer_requirements
from bench.layer_install import local_install, local_runtime_install
from bench.stats import median

BASELINE = "import boto3"
GOAL_RATIO = 2.5
_REGION = "us-east-1"
_TIMER = """\
import json, sys, time
sys.path[:0] = {path!r}
wall, cpu = time.perf_counter(), time.process_time()
{statement}
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))
"""


@dataclass(frozen=True)
class SearchPath:
    """Where imports come from: Lambda's layout (pip installs) or, without PyPI, the dev venv."""

    layer_packages: Path | None
    runtime_packages: Path | None

    @property
    def lambda_like(self) -> bool:
        return self.layer_packages is not None and self.runtime_packages is not None

    def for_function(self, function: LambdaFunction | None) -> list[str]:
        own = [] if function is None else [str(function.code_dir)]
        if not self.lambda_like:
            return own + ([] if function is None else [str(layer) for layer in function.layer_dirs])
        layers = [] if function is None else [str(layer) for layer in function.layer_dirs]
        return [*own, str(self.layer_packages), *layers, str(self.runtime_packages)]

    def interpreter_flags(self) -> list[str]:
        # -S: no site-packages, so nothing outside the Lambda layout is importable.
        return ["-I", "-S"] if self.lambda_like else ["-I"]


def lambda_search_path(functions: list[LambdaFunction]) -> SearchPath:
    requirements = sorted({path for function in functions for path in layer_requirements(function)})
    if len(requirements) != 1:
        return SearchPath(None, None)  # one shared layer is what the template has today
    return SearchPath(local_install(requirements[0]), local_runtime_install())


class InitSample(BaseModel):
    logical_id: str
    cpu_ms: float
    wall_ms: float
    ratio: float
    cpu_samples_ms: list[float]
    breakdown_ms: dict[str, float]  # median of the -X importtime runs


class ColdStartResult(BaseModel):
    rounds: int
    lambda_like_path: bool
    baseline: str
    baseline_cpu_ms: float
    baseline_wall_ms: float
    boto3_with_client_cpu_ms: float
    functions: list[InitSample]
    worst_ratio: float
    median_ratio: float
    goal_ratio: float

    @property
    def met(self) -> bool:
        return self.worst_ratio <= self.goal_ratio


def lambda_environment(function: LambdaFunction | None) -> dict[str, str]:
    """The variables Lambda sets in a python3.12 sandbox, then the template's.

    ``LAMBDA_TASK_ROOT`` matters: without it the X-Ray SDK believes it runs on a server and
    builds an X-Ray client for centralized sampling, an init cost no Lambda function pays.
    """
    name = function.logical_id if function else "bench-baseline"
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(
        {
            "AWS_REGION": _REGION,
            "AWS_DEFAULT_REGION": _REGION,
            "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb if function else 128),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "LAMBDA_TASK_ROOT": str(function.code_dir if function else Path.cwd()),
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": function.handler if function else "app.lambda_handler",
        }
    )
    if function is not None:
        env.update(function.environment)
    return env


def _run(
    search: SearchPath, function: LambdaFunction | None, statement: str, extra_flags: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    script = _TIMER.format(
        path=search.for_function(function), statement=f"import {function.module}" if function else statement
    )
    completed = subprocess.run(
        [sys.executable, *search.interpreter_flags(), *(extra_flags or []), "-c", script],
        env=lambda_environment(function),
        cwd=function.code_dir if function else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        who = function.logical_id if function else statement
        raise RuntimeError(f"{who}: {completed.stderr[-2000:]}")
    return completed


def time_import(
    search: SearchPath, function: LambdaFunction | None, statement: str = BASELINE
) -> tuple[float, float]:
    """(wall, cpu) seconds of the import in a fresh interpreter (its own start-up excluded)."""
    wall, cpu = json.loads(_run(search, function, statement).stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)


def import_breakdown(search: SearchPath, function: LambdaFunction) -> dict[str, float]:
    """Where one init goes (``-X importtime``): ms per direct import of the handler, by package.

    ``<module body>`` is the handler module's own code: Powertools objects and boto3 clients.
    A package shows up under the first import that pulls it in (``boto3`` often via cfcd_common).
    """
    lines = _run(search, function, BASELINE, ["-X", "importtime"]).stderr.splitlines()
    parsed = []
    for line in lines:
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        name_field = parts[2]
        depth = (len(name_field) - len(name_field.lstrip()) - 1) // 2
        parsed.append((depth, name_field.strip(), int(parts[0]), int(parts[1])))
    handler_index = max(i for i, entry in enumerate(parsed) if entry[0] == 0 and entry[1] == function.module)
    totals: dict[str, float] = defaultdict(float)
    totals["<module body>"] = parsed[handler_index][2] / 1000
    for depth, name, _, cumulative in reversed(parsed[:handler_index]):
        if depth == 0:
            break  # the previous top-level import: the handler's children end here
        if depth == 1:
            totals[name.split(".")[0]] += cumulative / 1000
    return dict(totals)


def median_breakdown(search: SearchPath, function: LambdaFunction, runs: int) -> dict[str, float]:
    samples = [import_breakdown(search, function) for _ in range(runs)]
    names = {name for sample in samples for name in sample}
    medians = {name: median([sample.get(name, 0.0) for sample in samples]) for name in names}
    ranked = sorted(medians.items(), key=lambda item: -item[1])
    return {name: round(ms, 1) for name, ms in ranked if ms >= 1.0}


def measure(
    functions: list[LambdaFunction], rounds: int = 7, breakdown_runs: int = 3, seed: int | None = None
) -> ColdStartResult:
    search = lambda_search_path(functions)
    # The breakdown runs first: they also warm the page cache and write bytecode before timing.
    breakdowns = {
        function.logical_id: median_breakdown(search, function, breakdown_runs) for function in functions
    }
    time_import(search, None)
    shuffler = random.Random(seed)
    baseline_cpu: list[float] = []
    baseline_wall: list[float] = []
    with_client: list[float] = []
    cpu: dict[str, list[float]] = defaultdict(list)
    wall: dict[str, list[float]] = defaultdict(list)
    ratios: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        # The baseline opens and closes each round, so a handler's ratio does not depend on
        # where in the round the shuffle put it while load on the machine drifts.
        opening = time_import(search, None)
        with_client.append(time_import(search, None, 'import boto3; boto3.client("s3")')[1])
        order = list(functions)
        shuffler.shuffle(order)
        round_samples = {function.logical_id: time_import(search, function) for function in order}
        closing = time_import(search, None)
        round_wall, round_cpu = ((opening[i] + closing[i]) / 2 for i in (0, 1))
        baseline_wall.append(round_wall)
        baseline_cpu.append(round_cpu)
        for logical_id, (sample_wall, sample_cpu) in round_samples.items():
            wall[logical_id].append(sample_wall)
            cpu[logical_id].append(sample_cpu)
            ratios[logical_id].append(sample_cpu / round_cpu)
    results = [
        InitSample(
            logical_id=function.logical_id,
            cpu_ms=round(median(cpu[function.logical_id]) * 1000, 1),
            wall_ms=round(median(wall[function.logical_id]) * 1000, 1),
            ratio=round(median(ratios[function.logical_id]), 2),
            cpu_samples_ms=[round(s * 1000, 1) for s in cpu[function.logical_id]],
            breakdown_ms=breakdowns[function.logical_id],
        )
        for function in functions
    ]
    return ColdStartResult(
        rounds=rounds,
        lambda_like_path=search.lambda_like,
        baseline=BASELINE,
        baseline_cpu_ms=round(median(baseline_cpu) * 1000, 1),
        baseline_wall_ms=round(median(baseline_wall) * 1000, 1),
        boto3_with_client_cpu_ms=round(median(with_client) * 1000, 1),
        functions=results,
        worst_ratio=max(sample.ratio for sample in results),
        median_ratio=round(median([sample.ratio for sample in results]), 2),
        goal_ratio=GOAL_RATIO,
    )
