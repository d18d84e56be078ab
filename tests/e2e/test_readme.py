"""The README's local cloud section, run as a reader would: every ``sh`` block, in order, in one shell.

The blocks start their own local cloud (``cfcd local up ... &``) and stop it again; the test only
moves its state directory (``CFCD_STATE_DIR``) to a temporary one, so a developer's own
``.cfcd`` is left alone. Whatever the blocks leave running is ended with their process group.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
SECTION = "## The local cloud"
SNIPPETS_DEADLINE_SECONDS = 300.0
STOP_DEADLINE_SECONDS = 20.0
_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M)


def section(markdown: str, heading: str) -> str:
    """From ``heading`` to the next heading of the same level (its subsections included)."""
    start = markdown.index(f"\n{heading}\n")
    level = heading.split(" ", 1)[0]
    end = markdown.find(f"\n{level} ", start + len(heading) + 1)
    return markdown[start : end if end != -1 else None]


def shell_snippets(markdown: str) -> list[str]:
    return [match.group(1) for match in _SH_BLOCK.finditer(section(markdown, SECTION))]


def end_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to everything the snippets started (the cloud stops its workers), then SIGKILL."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)


def test_the_readme_local_cloud_snippets_run(tmp_path: Path) -> None:
    # Given the shell blocks of the README's local cloud section
    snippets = shell_snippets(README.read_text())
    assert snippets, f"no ```sh block under {SECTION!r} in {README}"
    script = "set -euo pipefail -x\n" + "\n".join(snippets)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CFCD_"))}
    env["CFCD_STATE_DIR"] = str(tmp_path / "state")
    log_path = tmp_path / "snippets.log"

    # When they run in one shell from the repository root, as a reader pastes them
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the background cloud included
        )
        try:
            code = process.wait(timeout=SNIPPETS_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            end_process_group(process)
    output = log_path.read_text(errors="replace")

    # Then every command succeeded, the site went from v1 to v2, and the cloud was stopped
    assert code == 0, f"the README's snippets ended with {code}:\n{output[-6000:]}"
    assert "<h1>v1 App</h1>" in output and "<h1>v2 App</h1>" in output, output[-6000:]
    assert not (tmp_path / "state" / "local.json").exists(), "`cfcd local down` left the cloud running"
