"""cfn-lint as its command runs (``cfn-lint <template>``: same rules, same config lookup), in the
test's own process: a subprocess per template paid cfn-lint's import (a few seconds of CPU) each time."""

from __future__ import annotations

from pathlib import Path


def cfn_lint(template: Path) -> list[str]:
    """Every finding, as the command prints it (rule id, message, file and line)."""
    from cfnlint.api import lint_file  # type: ignore[import-untyped]

    return [str(match) for match in lint_file(template)]
