"""``python -m bench``: run every figure, print the table, write ``bench/results.json``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import (
    cli_startup,
    cold_start,
    cost,
    detection_lag,
    edge_throughput,
    package_size,
    release_overhead,
)
from bench.functions import template_functions
from bench.local_cloud import ReleaseRun, local_cloud
from bench.machine import describe
from bench.report import Results, figures, render

RESULTS = Path(__file__).with_name("results.json")
FIGURES = ("cli", "overhead", "lag", "cost", "coldstart", "size", "edge")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"comma-separated subset of {', '.join(FIGURES)}"
    )
    parser.add_argument(
        "--cli-pairs", type=int, default=15, help="A/B pairs per command for figure 0 (>= 10)"
    )
    parser.add_argument("--release-runs", type=int, default=5, help="warm releases for figure 1 (>= 5)")
    parser.add_argument("--lag-runs", type=int, default=6, help="random-phase releases for figure 2 (>= 5)")
    parser.add_argument("--cold-rounds", type=int, default=7, help="samples per handler for figure 4 (>= 5)")
    parser.add_argument(
        "--no-prewarm",
        dest="prewarm",
        action="store_false",
        help="start each function's worker on its first invoke, not at start-up (figure 1 cold, as before)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    options = _parse(sys.argv[1:] if argv is None else argv)
    wanted = {name.strip() for name in options.only.split(",") if name.strip()}
    unknown = wanted - set(FIGURES)
    if unknown:
        raise SystemExit(f"unknown figures: {', '.join(sorted(unknown))}")
    started = time.monotonic()
    results = Results(machine=describe(), runtime_s=0.0, figures=[])
    functions = template_functions()

    # Subprocess figures first, while nothing else of ours is running.
    if "cli" in wanted:
        _progress(f"CLI start-up: {len(cli_startup.COMMANDS)} commands x {options.cli_pairs} pairs")
        results.cli_startup = cli_startup.measure(options.cli_pairs)
    if "coldstart" in wanted:
        _progress(f"cold start: {len(functions)} handlers x {options.cold_rounds} rounds")
        results.cold_start = cold_start.measure(functions, rounds=options.cold_rounds)
    if "size" in wanted:
        _progress("package size")
        results.package_size = package_size.measure(functions)

    if wanted & {"overhead", "lag", "cost", "edge"}:
        _progress("starting the local cloud")
        with local_cloud(options.prewarm) as cloud:
            happy: list[ReleaseRun] = []
            if wanted & {"overhead", "cost"}:
                _progress(f"release overhead: 1 + {options.release_runs} releases")
                results.release_overhead, runs = release_overhead.measure(cloud, options.release_runs)
                happy += runs
            if "cost" in wanted:
                _progress("cost: releases with 2 s and 4 s propagation")
                happy += cost.extra_runs(cloud)
                _progress("cost: a 3-step progressive release (approval.mode auto)")
                steps_run = cost.progressive_run(cloud)
            if "lag" in wanted:
                _progress(f"detection lag: {options.lag_runs} releases of ~20 s")
                results.detection_lag, lag_runs = detection_lag.measure(cloud, options.lag_runs)
                happy += lag_runs
            if "cost" in wanted:
                results.cost = cost.measure(happy, functions, steps_run)
            if "edge" in wanted:
                _progress("edge throughput")
                results.edge_throughput = edge_throughput.measure(cloud)
        if "overhead" not in wanted:
            results.release_overhead = None

    results.runtime_s = round(time.monotonic() - started, 1)
    results.figures = figures(results)
    print(render(results))
    options.output.write_text(results.model_dump_json(indent=2) + "\n")
    _progress(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
