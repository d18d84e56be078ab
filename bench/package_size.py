"""Figure 4b: deployment package size per function (CodeUri + layer), as Lambda unzips it.

The layer is ``functions/common`` (cfcd_common) plus its ``requirements.txt`` installed for
Lambda's platform; boto3 itself comes with the runtime and is not counted. Lambda's limit is
250 MB unzipped for a function and all its layers.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from pydantic import BaseModel

from bench.functions import LambdaFunction, layer_requirements
from bench.layer_install import lambda_platform_install

UNZIPPED_LIMIT_MB = 250.0
_SKIPPED_PARTS = {"__pycache__", ".complete"}


class FunctionSize(BaseModel):
    logical_id: str
    code_kb: float
    total_mb: float | None


class PackageSizeResult(BaseModel):
    available: bool
    note: str
    layer_source_kb: float
    layer_dependencies_mb: float | None
    layer_zip_mb: float | None
    largest_dependencies_mb: dict[str, float]
    functions: list[FunctionSize]
    limit_mb: float = UNZIPPED_LIMIT_MB


def _files(root: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and not _SKIPPED_PARTS.intersection(path.relative_to(root).parts)
    ]


def tree_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in _files(root))


def zipped_bytes(root: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(root):
            archive.write(path, path.relative_to(root))
    return buffer.tell()


def measure(functions: list[LambdaFunction]) -> PackageSizeResult:
    layer_dirs = sorted({layer for function in functions for layer in function.layer_dirs})
    layer_source = sum(tree_bytes(layer) for layer in layer_dirs)
    requirements = sorted({path for function in functions for path in layer_requirements(function)})
    architecture = functions[0].architecture if functions else "x86_64"
    installs = [lambda_platform_install(path, architecture) for path in requirements]
    available = all(install is not None for install in installs)
    dependencies = (
        sum(tree_bytes(install) for install in installs if install is not None) if available else None
    )
    zipped = (
        sum(zipped_bytes(install) for install in installs if install is not None)
        + sum(zipped_bytes(d) for d in layer_dirs)
        if available
        else None
    )
    largest: dict[str, int] = {}
    for install in installs:
        if install is not None:
            for child in install.iterdir():
                if child.is_dir() and not child.name.endswith((".dist-info", ".partial")):
                    largest[child.name] = tree_bytes(child)
    sizes = []
    for function in functions:
        code = tree_bytes(function.code_dir)
        total = (code + layer_source + dependencies) / 1e6 if dependencies is not None else None
        sizes.append(
            FunctionSize(
                logical_id=function.logical_id,
                code_kb=round(code / 1e3, 1),
                total_mb=round(total, 1) if total is not None else None,
            )
        )
    return PackageSizeResult(
        available=available,
        note=(
            f"layer requirements installed for Lambda python3.12/{architecture} with pip"
            if available
            else "unavailable: pip could not reach PyPI"
        ),
        layer_source_kb=round(layer_source / 1e3, 1),
        layer_dependencies_mb=round(dependencies / 1e6, 1) if dependencies is not None else None,
        layer_zip_mb=round(zipped / 1e6, 1) if zipped is not None else None,
        largest_dependencies_mb={
            name: round(size / 1e6, 1) for name, size in sorted(largest.items(), key=lambda i: -i[1])[:4]
        },
        functions=sizes,
    )
