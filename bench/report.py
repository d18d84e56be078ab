"""The table ``make bench`` prints, and ``bench/results.json``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from bench.cli_startup import CliStartupResult
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
    cli_startup: CliStartupResult | None = None
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
    startup = results.cli_startup
    if startup is not None:
        rows += [
            Figure(
                number="0",
                name=f"CLI start-up: `{command.command}` vs `{startup.baseline}`",
                measured=(
                    f"{command.wall_ratio:.2f}x wall, {command.cpu_ratio:.2f}x CPU"
                    f" ({command.wall_ms:.0f} ms vs {command.baseline_wall_ms:.0f} ms;"
                    f" median of {command.pairs} pairs)"
                ),
                goal=f"<= {startup.goal_ratio}x",
                met=max(command.wall_ratio, command.cpu_ratio) <= startup.goal_ratio,
            )
            for command in startup.commands
        ]
    overhead = results.release_overhead
    if overhead is not None:
        name = "Release overhead of the local emulator"
        rows += [
            Figure(
                number="1",
                name=f"{name}, first release after `local up`"
                + ("" if overhead.prewarmed else " (--no-prewarm)"),
                measured=(
                    f"overhead {overhead.first_release.overhead_s:.2f} s"
                    f" (total {overhead.first_release.total_s:.2f} s)"
                ),
                goal=f"overhead <= {overhead.goal_s:.0f} s",
                met=overhead.cold_met,
            ),
            Figure(
                number="1",
                name=f"{name}, warm releases",
                measured=(
                    f"overhead {overhead.median_overhead_s:.2f} s, total {overhead.median_total_s:.2f} s"
                    f" (median of {len(overhead.runs)})"
                ),
                goal=f"overhead <= {overhead.goal_s:.0f} s",
                met=overhead.warm_met,
            ),
        ]
    lag = results.detection_lag
    if lag is not None:
        low, high = lag.propagation_range_s
        rows.append(
            Figure(
                number="2",
                name=f"Detection lag ({low:.0f}-{high:.0f} s random propagation, {lag.poll_seconds} s polls)",
                measured=f"mean {lag.mean_lag_s:.2f} s, p95 {lag.p95_lag_s:.2f} s ({len(lag.runs)} runs)",
                goal=(
                    f"mean ~ {lag.poll_seconds}/2 + check = {lag.expected_mean_s:.2f} s"
                    f" (+{lag.mean_tolerance_s:.2f} s at 2 SE); p95 <= {lag.p95_bound_s:.2f} s"
                ),
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
                name="Dollars per typical AWS release (us-east-1 list prices)",
                measured=(
                    f"{_usd(cost.typical.total_usd)} ({cost.typical.polls} polls,"
                    f" {cost.billed_seconds_per_invocation:g} s billed per Lambda call)"
                ),
                goal="-",
                met=None,
            )
        )
        steps = cost.progressive
        rows.append(
            Figure(
                number="3",
                name=f"State transitions of a {steps.steps}-step progressive release",
                measured=(
                    f"{steps.transitions} measured locally ({steps.waits} waits);"
                    f" AWS example ({Path(steps.example).name}, {steps.example_poll_seconds} s polls,"
                    " auto approval):"
                    f" ~{steps.aws.transitions:g} transitions, {_usd(steps.aws.total_usd)}"
                ),
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


def _progressive_details(cost: CostResult) -> list[str]:
    steps, aws = cost.progressive, cost.progressive.aws
    waits = ", ".join(f"{name} {count}" for name, count in steps.waits_by_state.items())
    arithmetic = " + ".join(
        f"({s.bake_seconds}/{s.interval_seconds} + {s.deploy_polls})" for s in steps.example_steps
    )
    return [
        "",
        f"{steps.steps}-step progressive release (approval.mode auto, no human; manual adds"
        f" {steps.manual_approval_transitions} transition, RequestApproval, and"
        f" {steps.manual_approval_invocations} Lambda calls with the emailed link's):",
        f"  local: {steps.transitions} transitions, {steps.waits} waits ({waits or 'none'}),"
        f" {steps.lambda_invocations} Lambda invocations, {steps.retries} retries, {steps.wall_s:g} s",
        f"  fixed part F = {steps.transitions} - 3x{steps.waits} = {steps.fixed_transitions} transitions"
        f" ({steps.fixed_invocations} Lambda invocations)",
        f"  AWS, {steps.example} at {steps.example_poll_seconds} s polls: waits = {cost.typical.polls}"
        " (the typical release's) + per step bakeSeconds/intervalSeconds analyses + polls for its"
        " weight to deploy:",
        f"    {cost.typical.polls} + {arithmetic}"
        f" = {cost.typical.polls} + {' + '.join(str(s.waits) for s in steps.example_steps)} = {aws.polls}",
        f"  transitions = F + 3 x waits = {steps.fixed_transitions} + 3x{aws.polls} = {aws.transitions:g}"
        f" = {_usd(aws.step_functions_usd)}; {aws.invocations:g} Lambda calls"
        f" = {_usd(aws.lambda_requests_usd)} requests + {_usd(aws.lambda_compute_usd)} compute;"
        f" total {_usd(aws.total_usd)}",
    ]


def _details(results: Results) -> list[str]:
    lines: list[str] = []
    startup = results.cli_startup
    if startup is not None:
        lines += ["", f"CLI start-up (median ms of the runs; `{startup.baseline}` beside each):"]
        lines += [
            f"  {c.command:<22} wall {c.wall_ms:6.1f} vs {c.baseline_wall_ms:6.1f},"
            f" CPU {c.cpu_ms:6.1f} vs {c.baseline_cpu_ms:6.1f}"
            for c in startup.commands
        ]
    overhead = results.release_overhead
    if overhead is not None:
        for title, by_state in (
            ("the first release after `local up`", overhead.cold_seconds_by_state),
            ("median over the warm releases", overhead.seconds_by_state),
        ):
            lines += ["", f"Release overhead, where the time goes ({title}, seconds per state):"]
            lines += [f"  {state:<28} {seconds:6.3f}" for state, seconds in list(by_state.items())[:10]]
    lag = results.detection_lag
    if lag is not None:
        lines += [
            "",
            "Detection lag runs (deployed = seconds after StartExecution; check = the CheckDeployed"
            " and Choice that noticed):",
        ]
        lines += [
            f"  {run.release}: propagation {run.propagation_s:5.2f} s,"
            f" deployed +{run.deployed_after_start_s:.2f} s, noticed {run.lag_s:.2f} s later,"
            f" {run.polls} polls, check {run.check_s:.3f} s"
            for run in lag.runs
        ]
    cost = results.cost
    if cost is not None:
        lines += ["", "Cost points (propagation s, polls, transitions, Lambda invocations):"]
        lines += [
            f"  {p.propagation_s:5.1f} s prop, {p.poll_seconds} s polls: {p.polls:3d} polls,"
            f" {p.transitions:3d} transitions, {p.lambda_invocations:3d} invocations"
            for p in cost.points
        ]
        lines += [
            f"  {d.polls:3d} polls: {d.transitions:g} transitions = {_usd(d.step_functions_usd)}"
            " Step Functions;"
            f" {d.invocations:g} Lambda calls = {_usd(d.lambda_requests_usd)} requests"
            f" + {_usd(d.lambda_compute_usd)} compute at {cost.billed_seconds_per_invocation:g} s each"
            f" ({cost.memory_mb} MB {cost.architecture}); total {_usd(d.total_usd)}"
            for d in (cost.no_polls, cost.typical)
        ]
        lines.append(
            f"  The local duration, {cost.median_lambda_ms:.0f} ms per call, is a lower bound of AWS's:"
            " at it the typical release's compute would be"
            f" {_usd(cost.typical.lambda_compute_at_local_duration_usd)}."
        )
        lines += _progressive_details(cost)
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
