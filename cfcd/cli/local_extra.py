"""The local cloud is an extra (``pip install 'cfcd[local]'``): its commands say so when it is missing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

# Top-level modules only the `local` extra of pyproject.toml installs.
LOCAL_EXTRA_MODULES = frozenset({"moto", "samtranslator", "aws_lambda_powertools", "aws_xray_sdk"})
INSTALL_HINT = "pip install 'cfcd[local]'"


@contextmanager
def local_extra_required(command: str) -> Iterator[None]:
    """Turn the ImportError of a missing local-extra package into one line saying what to install."""
    try:
        yield
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in LOCAL_EXTRA_MODULES:
            raise
        raise click.ClickException(
            f"`{command}` needs the local cloud, which is not installed (no module {missing!r}): "
            f"{INSTALL_HINT}"
        ) from None
