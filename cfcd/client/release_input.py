"""A release's input before it starts: read, merged, checked with the workflow's own model, named."""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cfcd.client.errors import CfcdError
from cfcd_common.cloudfront import deep_merge
from cfcd_common.models import DeploymentInput, describe_errors

# Step Functions execution names: 1-80 characters out of these.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class InvalidInputError(CfcdError):
    """The release input breaks the contract; exits 2 like a usage error: nothing was started."""

    exit_code = 2


def execution_name(distribution_id: str, now: datetime | None = None) -> str:
    """`<distribution>-<UTC timestamp>-<random>`: unique, sortable, and says what it releases.

    Always explicit: moto names every unnamed execution `None` (docs/design.md §7).
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    prefix = re.sub(r"[^A-Za-z0-9_-]", "", distribution_id)[:56] or "release"
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def read_input_file(path: str) -> dict[str, Any]:
    """A release input JSON object from a file, or from stdin for ``-``."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise InvalidInputError(f"cannot read {path}: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path}: the input must be a JSON object")
    return data


def merge_input(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` on top of ``base``; `traffic` is replaced whole, never mixed."""
    merged = deep_merge(dict(base), {key: value for key, value in overlay.items() if key != "traffic"})
    if "traffic" in overlay:
        merged["traffic"] = overlay["traffic"]
    return merged


def validate_input(data: Mapping[str, Any]) -> DeploymentInput:
    """The same model ValidateInput uses; every broken rule is reported, nothing is started."""
    try:
        return DeploymentInput.model_validate(data)
    except ValidationError as error:
        problems = "\n".join(f"  {line}" for line in describe_errors(error).split("; "))
        raise InvalidInputError(f"the release input is invalid:\n{problems}") from None
