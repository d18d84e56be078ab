"""``cfcd local up`` / ``cfcd local down``: the local cloud on this machine."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import click

from cfcd.cli.local_extra import local_extra_required
from cfcd.client.local_state import DEFAULT_STATE_DIR, read_local_state, value_at, wait_for_local_state

DOWN_TIMEOUT_SECONDS = 30.0


def _state_dir_option() -> click.Option:
    return click.Option(
        ["--state-dir"],
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("CFCD_STATE_DIR", DEFAULT_STATE_DIR),
        show_default=".cfcd or $CFCD_STATE_DIR",
        help="Where local.json, logs/ and mail/ go.",
    )


@click.group("local")
def local() -> None:
    """Run AWS and CloudFront on this machine: no account, no Docker."""


def _parse_overrides(values: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected Name=Value, got {value!r}", param_hint="--parameter")
        overrides[name] = setting
    return overrides


@local.command("up")
@click.option("--seed-site", is_flag=True, help="Create the seed article's site and primary distribution.")
@click.option(
    "--propagation-seconds",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="How long a CloudFront change stays InProgress.",
)
@click.option(
    "--metrics-seconds",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="How often the edge publishes CloudFront's metrics (Requests, error rates) to CloudWatch.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="AWS endpoint port (0: any free port)."
)
@click.option("--edge-port", type=click.IntRange(0, 65535), default=0, help="Edge port (0: any free port).")
@click.option(
    "--template",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default="template.yaml",
    show_default=True,
    help="The SAM template to deploy.",
)
@click.option(
    "--parameter", "parameters", multiple=True, metavar="NAME=VALUE", help="Template parameter override."
)
@click.option("-v", "--verbose", is_flag=True, help="Log every step.")
def up(
    seed_site: bool,
    propagation_seconds: float,
    metrics_seconds: float,
    port: int,
    edge_port: int,
    template: Path,
    parameters: tuple[str, ...],
    verbose: bool,
    state_dir: Path,
) -> None:
    """Start the local cloud, deploy the template and run until interrupted (Ctrl-C or SIGTERM)."""
    with local_extra_required("cfcd local up"):
        from cfcd.local.cloud import LOCAL_JSON, LocalCloud, describe, stop_on_signal

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    stop_requested = stop_on_signal()
    cloud = LocalCloud(
        state_dir=state_dir,
        template_path=template,
        propagation_seconds=propagation_seconds,
        metrics_seconds=metrics_seconds,
        seed=seed_site,
        aws_port=port,
        edge_port=edge_port,
        parameter_overrides=_parse_overrides(parameters),
        prewarm_workers=True,
    )
    try:
        info = cloud.start()
        click.echo(describe(info, cloud.startup_seconds))
        click.echo(
            f"\nstate: {state_dir / LOCAL_JSON}; logs: {state_dir / 'logs'}; mail: {state_dir / 'mail'}"
        )
        click.echo("Ctrl-C to stop.", err=True)
        cloud.write_state()  # last: whoever waits for local.json may use everything at once
        stop_requested.wait()
    finally:
        cloud.remove_state()
        cloud.stop()
    click.echo("local cloud stopped", err=True)


@local.command("down")
def down(state_dir: Path) -> None:
    """Stop the local cloud started with this state dir."""
    with local_extra_required("cfcd local down"):
        from cfcd.local.cloud import LOCAL_JSON, PID_FILE

    pid_file = state_dir / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(f"no local cloud recorded in {state_dir}") from error
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        (state_dir / LOCAL_JSON).unlink(missing_ok=True)
        click.echo(f"process {pid} was already gone; state cleared")
        return
    deadline = time.monotonic() + DOWN_TIMEOUT_SECONDS
    while pid_file.exists():
        if time.monotonic() > deadline:
            raise click.ClickException(f"process {pid} did not stop within {DOWN_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.1)
    click.echo(f"local cloud (pid {pid}) stopped")


@local.command("info")
@click.argument("key", required=False)
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Wait up to SECONDS for the local cloud to come up (for scripts that just started it).",
)
def info(key: str | None, wait_seconds: float, state_dir: Path) -> None:
    """Print the running local cloud's endpoints and names (its local.json), or only the value at
    KEY, e.g. `cfcd local info site.primaryDistributionId`."""
    state = wait_for_local_state(state_dir, wait_seconds) if wait_seconds else read_local_state(state_dir)
    value = state if key is None else value_at(state, key)
    click.echo(value if isinstance(value, str) else json.dumps(value, indent=2))


for _command in (up, down, info):
    _command.params.append(_state_dir_option())
