"""How the demo speaks: numbered steps, ✓/✗ checks with their evidence, progress while it waits.

Every line carries the time since the demo started, so the reader sees where the seconds go. A
failed check prints ✗ with its evidence and raises :class:`DemoFailed`: the demo stops there.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, TextIO, TypeVar

T = TypeVar("T")

# Nothing may stay silent longer than this while the demo waits for something.
QUIET_SECONDS = 3.0
POLL_SECONDS = 0.25


class DemoFailed(Exception):
    """A check failed or something did not happen in time; the message says which."""


@dataclass
class Report:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    started: float = field(default_factory=time.monotonic)
    checks_passed: int = 0
    titles: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _write(self, text: str) -> None:
        stamp = f"[{self.elapsed():6.1f}s]"
        lines = text.split("\n")
        with self._lock:
            self.out.write(f"{stamp} {lines[0]}\n")
            for line in lines[1:]:
                self.out.write(f"{' ' * len(stamp)} {line}\n")
            self.out.flush()

    def blank(self) -> None:
        with self._lock:
            self.out.write("\n")

    def step(self, title: str) -> None:
        self.titles.append(title)
        self.blank()
        self._write(f"▶ {len(self.titles)}. {title}")

    def info(self, text: str) -> None:
        self._write(f"  {text}")

    def progress(self, text: str) -> None:
        self._write(f"    · {text}")

    def check(self, ok: bool, claim: str, evidence: str) -> None:
        """Print ✓ or ✗ with the evidence; a failed check ends the demo."""
        if not ok:
            self.fail(claim, evidence)
        self._verdict("✓", claim, evidence)
        self.checks_passed += 1

    def fail(self, claim: str, evidence: str) -> NoReturn:
        self._verdict("✗", claim, evidence)
        raise DemoFailed(f"{claim}: {evidence}")

    def _verdict(self, mark: str, claim: str, evidence: str) -> None:
        self._write("\n".join([f"  {mark} {claim}", *(f"      {line}" for line in evidence.splitlines())]))

    def wait_for(
        self,
        probe: Callable[[], T | None],
        *,
        what: str,
        timeout: float,
        interval: float = POLL_SECONDS,
    ) -> T:
        """Call ``probe`` until it returns a value; say so every few seconds; ✗ at the deadline."""
        started = time.monotonic()
        deadline = started + timeout
        last_said = started
        while True:
            value = probe()
            if value is not None:
                return value
            now = time.monotonic()
            if now >= deadline:
                self.fail(f"{what} within {timeout:.0f} s", "it did not happen in time")
            if now - last_said >= QUIET_SECONDS:
                self.progress(f"still waiting for {what} ({now - started:.0f} s)")
                last_said = now
            time.sleep(min(interval, max(0.0, deadline - now)))

    def while_running(self, work: Callable[[], T], *, what: str, timeout: float) -> T:
        """Run blocking ``work`` in a thread and print progress until it ends (or the deadline)."""
        result: list[T] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                result.append(work())
            except BaseException as error:  # handed to the caller's thread below
                errors.append(error)

        worker = threading.Thread(target=run, name=f"demo: {what}", daemon=True)
        worker.start()
        self.wait_for(lambda: True if not worker.is_alive() else None, what=what, timeout=timeout)
        if errors:
            raise errors[0]
        return result[0]
