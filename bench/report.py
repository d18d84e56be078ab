"""The table ``make bench`` prints, and ``bench/results.json``."""

from __future__ import annotations

from pydantic import BaseModel

from bench.cold_start import ColdStartResult
from bench.cost import CostResult
from bench.detection_lag import DetectionLagResult
from bench.edge_throughput import EdgeThroughputResult
from bench.machine import Machine
from bench.package_size import PackageSizeResult
from bench.release_overhead import ReleaseOverheadResult


class Figure(BaseModel):
    """One line of the table: what was measured, against which goal, and whether it is met."""

    number: str
    name: str
    measured: str
    goal: str
    met: bool | None  # None: informational, or not measurable here


class Results(BaseModel):
    machine: Machine
    runtime_s: float
    figures: list[Figure]
    release_overhead: ReleaseOverheadResult | None = None
    detection_lag: DetectionLagResult | None = None
    cost: CostResult | None = None
    cold_start: ColdStartResult | None = None
    package_size: PackageSizeResult | None = None
    edge_throughput: EdgeThroughputResult | None = None


def _usd(value: float) -> str:
    return f"${value:.5f}" if value >= 0.00001 else f"${value:.7f}"


def figures(results: Results) -> list[Figure]:
    rows: list[Figure] = []
    overhead = results.release_overhead
    if overhead is not None:
        rows.append(
            Figure(
                number="1",
                name="Release overhead (header, 0 s propagation, 1 s polls)",
                measured=(
                    f"total {overhead.median_total_s:.2f} s, overhead {overhead.median_overhead_s:.2f} s"
                    f" (median of {len(overhead.runs)}; first release {overhead.first_release.total_s:.1f} s)"
                ),
                goal=f"overhead <= {overhead.goal_s:.0f} s",
                met=overhead.met,
            )
        )
    lag = results.detection_lag
    if lag is not None:
        rows.append(
            Figure(
                number="2",
                name=f"Detection lag ({lag.propagation_s:.0f} s propagation, {lag.poll_seconds} s polls)",
                measured=" / ".join(f"{run.lag_s:.2f} s" for run in lag.runs),
                goal=f"<= {lag.poll_seconds} s every run",
                met=lag.met,
            )
        )
    cost = results.cost
    if cost is not None:
        rows.append(
            Figure(
                number="3",
                name="State transitions per happy release",
                measured=(
                    f"{cost.base_transitions:g} + {cost.transitions_per_poll:g}/poll"
                    f" (Lambda: {cost.base_invocations:g} + {cost.invocations_per_poll:g}/poll)"
                ),
                goal=cost.goal,
                met=cost.met,
            )
        )
        rows.append(
            Figure(
                number="3",
                name="Dollars per release (list prices)",
                measured=", ".join(f"{_usd(d.total_usd)} at {d.polls} polls" for d in cost.dollars),
                goal="-",
                met=None,
            )
        )
    cold = results.cold_start
    if cold is not None:
        worst = max(cold.functions, key=lambda f: f.ratio)
        rows.append(
            Figure(
                number="4",
                name=f"Cold start vs `{cold.baseline}` ({cold.baseline_cpu_ms:.0f} ms CPU)",
                measured=f"median {cold.median_ratio:.2f}x, worst {worst.ratio:.2f}x ({worst.logical_id})"
                + ("" if cold.lambda_like_path else " [dev venv, no PyPI]"),
                goal=f"<= {cold.goal_ratio}x each",
                met=cold.met,
            )
        )
    size = results.package_size
    if size is not None:
        largest = max((f.total_mb or 0.0) for f in size.functions) if size.available else None
        rows.append(
            Figure(
                number="4",
                name="Package size per function (code + layer, unzipped)",
                measured=(
                    f"{largest:.1f} MB (layer zip {size.layer_zip_mb:.1f} MB)"
                    if largest is not None and size.layer_zip_mb is not None
                    else size.note
                ),
                goal=f"< {size.limit_mb:.0f} MB (Lambda limit)",
                met=(largest < size.limit_mb) if largest is not None else None,
            )
        )
    edge = results.edge_throughput
    if edge is not None:
        rows.append(
            Figure(
                number="5",
                name=f"Edge throughput, weight {edge.weight:g} policy, keep-alive",
                measured=", ".join(
                    f"{s.requests_per_second:.0f} req/s ({s.connections} conn)" for s in edge.samples
                ),
                goal=f">= {edge.goal_rps:.0f} req/s",
                met=edge.met,
            )
        )
    return rows


def _status(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[met]


def render(results: Results) -> str:
    m = results.machine
    lines = [
        f"cfcd benchmarks, {m.date}: {m.cpu_model}, {m.cores} cores, Python {m.python}, {m.platform}",
        f"load average at start {m.load_average}; commit {m.commit}"
        f"{' + uncommitted changes' if m.uncommitted_changes else ''};"
        f" bench took {results.runtime_s:.0f} s",
        "",
    ]
    headers = ("#", "figure", "measured", "goal", "")
    rows = [(f.number, f.name, f.measured, f.goal, _status(f.met)) for f in results.figures]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    lines += _details(results)
    return "\n".join(lines)


def _details(results: Results) -> list[str]:
    lines: list[str] = []
    overhead = results.release_overhead
    if overhead is not None:
        lines += ["", "Release overhead, where the time goes (median seconds per state over the warm runs):"]
        lines += [f"  {state:<28} {seconds:6.3f}" for state, seconds in overhead.seconds_by_state.items()]
    lag = results.detection_lag
    if lag is not None:
        lines += [
            "",
            "Detection lag runs (deployed = seconds after StartExecution; polls = WaitForDeployed entries):",
        ]
        lines += [
            f"  {run.release}: deployed +{run.deployed_after_start_s:.2f} s, noticed {run.lag_s:.2f} s later,"
            f" {run.polls} polls"
            for run in lag.runs
        ]
    cost = results.cost
    if cost is not None:
        lines += ["", "Cost points (propagation s, polls, transitions, Lambda invocations):"]
        lines += [
            f"  {p.propagation_s:4.0f} s prop, {p.poll_seconds} s polls: {p.polls:3d} polls,"
            f" {p.transitions:3d} transitions, {p.lambda_invocations:3d} invocations"
            for p in cost.points
        ]
        lines += [
            f"  {d.polls:3d} polls: {d.transitions:g} transitions = {_usd(d.step_functions_usd)}"
            f" Step Functions + {_usd(d.lambda_usd)} Lambda ({cost.memory_mb} MB {cost.architecture},"
            f" {cost.median_lambda_ms:.0f} ms/invocation)"
            for d in cost.dollars
        ]
    cold = results.cold_start
    if cold is not None:
        lines += [
            "",
            f"Cold start per handler (median of {cold.rounds}; CPU ms, wall ms, ratio to `{cold.baseline}`"
            f" = {cold.baseline_cpu_ms:.0f} ms CPU;"
            f" boto3 + one client = {cold.boto3_with_client_cpu_ms:.0f} ms):",
        ]
        for f in cold.functions:
            top = ", ".join(f"{name} {ms:.0f}" for name, ms in list(f.breakdown_ms.items())[:4])
            lines.append(f"  {f.logical_id:<26} {f.cpu_ms:6.0f} {f.wall_ms:6.0f}  {f.ratio:4.2f}x  [{top}]")
    size = results.package_size
    if size is not None and size.available:
        code_kb = [f.code_kb for f in size.functions]
        biggest = ", ".join(f"{name} {mb:.1f}" for name, mb in size.largest_dependencies_mb.items())
        lines += [
            "",
            f"Package: code {min(code_kb):.1f}-{max(code_kb):.1f} kB"
            f" per function + layer {size.layer_source_kb:.0f} kB source + {size.layer_dependencies_mb} MB"
            f" dependencies (largest MB: {biggest})",
        ]
    edge = results.edge_throughput
    if edge is not None:
        lines += ["", "Edge throughput samples:"]
        lines += [
            f"  {s.connections} conn: {s.requests} requests in {s.seconds:.2f} s, {s.non_200} non-200,"
            f" staging share {s.staging_share:.1%}"
            for s in edge.samples
        ]
    return lines
