"""How long a wait loop waits before its next check: the interval stretches as the loop goes on.

Step Functions Standard ends an execution whose history reaches 25,000 events, and no Catch runs
then (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). One poll
writes 9 events (the check Task, its Choice, the Wait), so a fixed `pollSeconds` (down to 1 s)
over a timeout of up to 86,400 s could poll 86,400 times. Instead every wait is at least
`pollSeconds`, at least a quarter of the time the loop has already waited, at most two hours,
and never past the loop's deadline. Any timing the contract allows then fits the history quota
with room for more loops (README "History budget" has the arithmetic), and a change is noticed
within a quarter of the time already waited (one that lands 25 minutes in is seen at most 375 s
later).

Every wait loop's check (CheckStack, CheckDeployed, ProbeStaging, CheckInvalidation) takes a
`PolledCheck` and returns `nextWaitSeconds`; the loop's Wait state reads it with `SecondsPath`.
"""

from __future__ import annotations

from cfcd_common.models import TaskRequest

# Each wait is at least the time already waited divided by this (the lag's share of it).
STRETCH_DIVISOR = 4
# ... and at most this, unless pollSeconds is longer (a wait reaches it 8 hours into a loop).
MAX_INTERVAL_SECONDS = 7200


def next_wait_seconds(poll_seconds: int, timeout_seconds: int, deadline: int, now: int) -> int:
    """Seconds to wait before the next check of a loop that started at `deadline - timeout_seconds`."""
    elapsed = max(0, now - (deadline - timeout_seconds))
    stretched = max(poll_seconds, -(-elapsed // STRETCH_DIVISOR))
    interval = min(stretched, max(poll_seconds, MAX_INTERVAL_SECONDS))
    return max(1, min(interval, deadline - now))


class PolledCheck(TaskRequest):
    """What each check of a wait loop is given: how to pace the loop and when to give up."""

    pollSeconds: int  # the first interval (timing.pollSeconds)
    timeoutSeconds: int  # the loop's whole allowance; it started at deadline - timeoutSeconds
    deadline: int  # epoch seconds; the check at or after it is the last

    def timed_out(self, now: int) -> bool:
        return now >= self.deadline

    def next_wait_seconds(self, now: int) -> int:
        return next_wait_seconds(self.pollSeconds, self.timeoutSeconds, self.deadline, now)
