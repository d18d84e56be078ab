"""How cfcd writes values for people: the CLI, the status mail and the approval page share it."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """0.4s, 12s, 3m 05s, 2h 01m."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# After a rollback the state machine appends this and how the rollback ended to the failed
# release's cause (states RollbackComplete and RollbackNotConfirmed): the one place an execution's
# ending carries it, for the status mail and `cfcd status`.
ROLLBACK_NOTE = " | Rollback: "


def split_rollback_note(cause: str | None) -> tuple[str | None, str | None]:
    """A failed release's cause without the rollback note, and the note (None when there is none)."""
    if not cause or ROLLBACK_NOTE not in cause:
        return cause, None
    release_cause, note = cause.rsplit(ROLLBACK_NOTE, 1)
    return release_cause, note
