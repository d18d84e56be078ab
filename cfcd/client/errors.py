"""The one error type the client raises for a person to read: the CLI prints it on one line."""

from __future__ import annotations


class CfcdError(Exception):
    """A refusal or failure to report as its message and an exit code, without a traceback."""

    exit_code = 1
