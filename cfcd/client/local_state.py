"""A running local cloud's ``local.json`` (its endpoints and names), as its clients read it.

``cfcd local up`` writes it last and atomically (``cfcd.local.cloud``), so a reader may wait for
it to appear and then use everything it names at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfcd.client.errors import CfcdError

LOCAL_JSON = "local.json"
DEFAULT_STATE_DIR = ".cfcd"
POLL_SECONDS = 0.2


class LocalStateError(CfcdError):
    """No running local cloud in the state directory, or its local.json is not one."""


def state_dir_from(option: str | None, environ: Mapping[str, str]) -> Path:
    """The local cloud's state directory: the option, ``$CFCD_STATE_DIR`` or ``.cfcd``."""
    return Path(option or environ.get("CFCD_STATE_DIR") or DEFAULT_STATE_DIR)


def read_local_state(state_dir: Path) -> dict[str, Any]:
    path = state_dir / LOCAL_JSON
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise LocalStateError(f"no {path}: is the local cloud running (`cfcd local up`)?") from None
    except (OSError, ValueError) as error:
        raise LocalStateError(f"cannot read {path}: {error}") from error
    if not isinstance(state, dict) or not isinstance(state.get("awsEndpoint"), str):
        raise LocalStateError(f"{path} has no 'awsEndpoint': is the local cloud running (`cfcd local up`)?")
    return state


def wait_for_local_state(state_dir: Path, timeout: float) -> dict[str, Any]:
    """:func:`read_local_state` once the local cloud is up, waiting up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read_local_state(state_dir)
        except LocalStateError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(POLL_SECONDS)


def value_at(state: Mapping[str, Any], key: str) -> Any:
    """The value at a dotted key, e.g. ``site.primaryDistributionId``."""
    value: Any = state
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise LocalStateError(f"the local cloud's {LOCAL_JSON} has no {key!r}")
        value = value[part]
    return value
