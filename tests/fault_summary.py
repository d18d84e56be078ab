"""The fault suite's summary table: every fault case and bad input, how it ended, orphans left."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CaseResult:
    case: str
    outcome: str  # "SUCCEEDED", "FAILED DeployTimeout", ...
    held: bool
    faults_injected: int = 0
    faults_consumed: int = 0
    orphans: int = 0


@dataclass
class BadInputResult:
    case: str
    error: str | None
    rejected: bool
    writes: list[str]


@dataclass
class Summary:
    """Filled by the tests, printed by the terminal summary hook of tests/conftest.py (with
    pytest-xdist, each worker sends its rows to the controller, which prints them all)."""

    cases: list[CaseResult] = field(default_factory=list)
    bad_inputs: list[BadInputResult] = field(default_factory=list)

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "cases": [asdict(case) for case in self.cases],
            "bad_inputs": [asdict(result) for result in self.bad_inputs],
        }

    def merge(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.cases += [CaseResult(**case) for case in rows.get("cases", [])]
        self.bad_inputs += [BadInputResult(**result) for result in rows.get("bad_inputs", [])]

    def table(self) -> list[str]:
        if not self.cases and not self.bad_inputs:
            return []
        width = max([44, *(len(case.case) for case in self.cases)])
        lines = [f"{'fault case':<{width}} {'ending':<34} {'faults':>7} {'orphans':>7}  invariant"]
        for case in self.cases:
            faults = f"{case.faults_consumed}/{case.faults_injected}" if case.faults_injected else "-"
            lines.append(
                f"{case.case:<{width}} {case.outcome:<34} {faults:>7} {case.orphans:>7}  "
                f"{'held' if case.held else 'BROKEN'}"
            )
        held = sum(case.held for case in self.cases)
        injected = sum(case.faults_injected for case in self.cases)
        consumed = sum(case.faults_consumed for case in self.cases)
        rejected = sum(result.rejected for result in self.bad_inputs)
        writes = sum(len(result.writes) for result in self.bad_inputs)
        lines += [
            "",
            f"{'faults tried':<28} {len(self.cases)} cases, {consumed} of {injected} injected AWS errors hit",
            f"{'invariant held':<28} {held} of {len(self.cases)}",
            f"{'orphans':<28} {sum(case.orphans for case in self.cases)}",
            f"{'inputs rejected':<28} {rejected} of {len(self.bad_inputs)}",
            f"{'writes seen':<28} {writes}",
        ]
        for result in self.bad_inputs:
            if not result.rejected or result.writes:
                lines.append(f"  bad input {result.case}: {result.error} writes={result.writes}")
        return lines


SUMMARY = Summary()
