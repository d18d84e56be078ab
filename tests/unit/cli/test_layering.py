"""One direction between the packages: the CLI builds on the demo and the client, never back.

``cfcd.client`` is plain functions (no click, no CLI, no demo); ``cfcd.demo`` uses the client and
the local cloud, not the CLI's command modules. A cycle here once made the CLI import the demo
lazily to dodge it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CFCD = Path(__file__).resolve().parents[3] / "cfcd"
FORBIDDEN = {
    "client": ("click", "cfcd.cli", "cfcd.demo"),
    "demo": ("click", "cfcd.cli"),
}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_what_builds_on_it(package: str) -> None:
    # Given every module of the package
    files = sorted((CFCD / package).rglob("*.py"))
    assert files

    # Then none imports the packages that build on it
    offending = {
        f"{path.relative_to(CFCD.parent)}: {module}"
        for path in files
        for module in imported_modules(path)
        if any(module == banned or module.startswith(banned + ".") for banned in FORBIDDEN[package])
    }
    assert not offending
