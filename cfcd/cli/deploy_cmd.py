"""`cfcd deploy`: validate a release input and start the workflow."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from cfcd.cli.options import target_from_kwargs, target_options
from cfcd.cli.status_cmd import DEFAULT_FOLLOW_TIMEOUT

DEFAULT_STICKINESS = {"idleTtl": 300, "maximumTtl": 600}
F = TypeVar("F", bound=Callable[..., Any])


def _parse_pair(pair: str, option: str, usage: str) -> tuple[str, str]:
    name, sep, value = pair.partition("=")
    if not sep:
        raise click.BadParameter(f"use {usage}", param_hint=option)
    return name.strip(), value.strip()


def _read_text(path: str, option: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise click.BadParameter(error.strerror or str(error), param_hint=f"{option} {path}") from error


def input_from_flags(flags: Mapping[str, Any]) -> dict[str, Any]:
    """The input fields the flags set (None = flag not given), in the contract's shape."""
    data: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        if value is None:
            return
        *parents, leaf = path.split(".")
        node = data
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value

    put("primaryDistributionId", flags.get("distribution_id"))
    if flags.get("origin_path") is not None and flags.get("staging_stack") is not None:
        raise click.UsageError(
            "--origin-path (copy mode) and --staging-stack (stack mode) exclude each other"
        )
    if flags.get("origin_path") is not None:
        put("staging.mode", "copy")
        put("staging.overrides.originPath", flags["origin_path"])
    if flags.get("staging_stack") is not None:
        data["staging"] = {"mode": "stack", "stackName": flags["staging_stack"]}
        put("staging.templateUrl", flags.get("template_url"))
        if flags.get("template_file") is not None:
            put("staging.templateBody", _read_text(flags["template_file"], "--template-file"))
        if flags.get("stack_parameter"):
            data["staging"]["parameters"] = dict(
                _parse_pair(
                    pair, "--stack-parameter", "NAME=VALUE, e.g. PrimaryDistributionId=E2QWRUHAPOMQZL"
                )
                for pair in flags["stack_parameter"]
            )
    elif any(flags.get(name) for name in ("template_url", "template_file", "stack_parameter")):
        raise click.UsageError("--template-url, --template-file and --stack-parameter need --staging-stack")
    if flags.get("header") is not None and flags.get("weight") is not None:
        raise click.UsageError("--header and --weight choose different traffic types: give one")
    if flags.get("header") is not None:
        name, value = _parse_pair(flags["header"], "--header", "NAME=VALUE, e.g. aws-cf-cd-env=staging")
        data["traffic"] = {"type": "SingleHeader", "header": name, "value": value}
    if flags.get("weight") is not None:
        data["traffic"] = {"type": "SingleWeight", "weight": flags["weight"]}
        if flags.get("sticky"):
            data["traffic"]["stickiness"] = dict(DEFAULT_STICKINESS)
    elif flags.get("sticky"):
        raise click.UsageError("--sticky applies to --weight only")
    put("probe.path", flags.get("probe_path"))
    put("probe.expect.bodyContains", flags.get("expect_text"))
    put("probe.expect.status", flags.get("expect_status"))
    put("approval.mode", flags.get("approval"))
    put("approval.timeoutSeconds", flags.get("approval_timeout"))
    if flags.get("invalidate"):
        put("promotion.invalidatePaths", list(flags["invalidate"]))
    put("timing.pollSeconds", flags.get("poll_seconds"))
    put("timing.deployTimeoutSeconds", flags.get("deploy_timeout"))
    put("timing.probeTimeoutSeconds", flags.get("probe_timeout"))
    put("release", flags.get("release"))
    return data


def build_input(input_file: str | None, flags: Mapping[str, Any]) -> dict[str, Any]:
    """The file (if any) with the flags on top."""
    from cfcd.client.release_input import merge_input, read_input_file

    return merge_input(read_input_file(input_file) if input_file else {}, input_from_flags(flags))


def start_options(command: F) -> F:
    """How a release is started and followed: the options `deploy` and `rollback` share."""
    options = [
        click.option(
            "--name",
            metavar="NAME",
            help="Execution name (default: <distribution>-<UTC time>-<random>). 1-80 of A-Z a-z 0-9 - _.",
        ),
        click.option(
            "--wait", is_flag=True, help="Follow the release to its end; exit 0 only if it SUCCEEDED."
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0),
            metavar="SECONDS",
            default=DEFAULT_FOLLOW_TIMEOUT,
            show_default=True,
            help="With --wait: stop following after this many seconds (exit 3).",
        ),
        click.option("--dry-run", is_flag=True, help="Validate and print the input; start nothing."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def timing_options(command: F) -> F:
    """The input's `timing` fields as flags."""
    options = [
        click.option(
            "--poll-seconds",
            type=int,
            metavar="SECONDS",
            help="timing.pollSeconds: the first wait between checks (later ones stretch).",
        ),
        click.option("--deploy-timeout", type=int, metavar="SECONDS", help="timing.deployTimeoutSeconds."),
        click.option("--probe-timeout", type=int, metavar="SECONDS", help="timing.probeTimeoutSeconds."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def start_release(
    data: dict[str, Any],
    *,
    name: str | None,
    wait: bool,
    timeout: float,
    dry_run: bool,
    target_kwargs: Mapping[str, Any],
) -> None:
    """Check `data` with the workflow's own model, then start it (and with `wait` follow it, the
    exit code saying how it ended)."""
    # Imported here, not at start-up: pydantic models and boto3 (`--help` stays fast).
    from botocore.exceptions import BotoCoreError, ClientError

    from cfcd.cli.watch import exit_code_for, show_execution
    from cfcd.client.release_input import EXECUTION_NAME, InvalidInputError, execution_name, validate_input

    release = validate_input(data)
    if name is not None and not EXECUTION_NAME.match(name):
        raise InvalidInputError(f"--name {name!r}: 1-80 characters of letters, digits, '-' and '_'")
    if dry_run:
        click.echo(json.dumps(data, indent=2))
        return
    target = target_from_kwargs(target_kwargs)
    state_machine = target.require_state_machine()
    run_name = name or execution_name(release.primaryDistributionId)
    try:
        # The input as given (not re-serialised): the workflow validates the same document.
        started = target.sfn().start_execution(
            stateMachineArn=state_machine, name=run_name, input=json.dumps(data)
        )
    except (ClientError, BotoCoreError) as error:
        raise click.ClickException(f"cannot start the release on {target.description}: {error}") from error
    execution_arn = started["executionArn"]
    click.echo(execution_arn)
    # A name resolves against the local cloud's state machine without flags; elsewhere the ARN does.
    handle = run_name if target.source == "local" else execution_arn
    click.echo(
        f"Started release {run_name} on {target.description}. Follow it: cfcd status {handle}", err=True
    )
    if not wait:
        return
    view = show_execution(
        target,
        execution_arn,
        follow=True,
        as_json=False,
        interval=3.0 if target.is_aws else 1.0,
        timeout=timeout,
    )
    click.get_current_context().exit(exit_code_for(view))


@click.command("deploy")
@click.option(
    "--input",
    "input_file",
    metavar="FILE",
    help="Release input JSON (the state machine's input contract); '-' reads stdin.",
)
@start_options
@click.option("--distribution-id", metavar="ID", help="primaryDistributionId: the live distribution.")
@click.option(
    "--origin-path",
    metavar="PATH",
    help="Copy mode: staging.overrides.originPath of the new release, e.g. /2.0.0.",
)
@click.option(
    "--staging-stack",
    metavar="NAME",
    help="Stack mode: staging.stackName, the stack holding the staging distribution.",
)
@click.option("--template-url", metavar="URL", help="Stack mode: staging.templateUrl (https://, S3).")
@click.option(
    "--template-file",
    metavar="FILE",
    help="Stack mode: staging.templateBody read from FILE (e.g. examples' staging templates).",
)
@click.option(
    "--stack-parameter",
    multiple=True,
    metavar="NAME=VALUE",
    help="Stack mode: staging.parameters entry (repeatable).",
)
@click.option(
    "--header",
    metavar="NAME=VALUE",
    help="Header traffic: requests with this header go to staging (name starts aws-cf-cd-).",
)
@click.option(
    "--weight", type=float, metavar="FRACTION", help="Weight traffic: share sent to staging, 0-0.15."
)
@click.option(
    "--sticky", is_flag=True, help="With --weight: keep a viewer on one side (idle 300 s, max 600 s)."
)
@click.option("--probe-path", metavar="PATH", help="probe.path, e.g. /index.html.")
@click.option(
    "--expect-text", metavar="TEXT", help="probe.expect.bodyContains: a marker only the new release serves."
)
@click.option("--expect-status", type=int, metavar="CODE", help="probe.expect.status (default 200).")
@click.option(
    "--approval",
    type=click.Choice(["manual", "auto"]),
    help="approval.mode: manual (default) emails the approver; auto promotes once the checks pass.",
)
@click.option(
    "--approval-timeout", type=int, metavar="SECONDS", help="approval.timeoutSeconds (default 86400)."
)
@click.option(
    "--invalidate",
    multiple=True,
    metavar="PATH",
    help="promotion.invalidatePaths after promotion (repeatable; default /*).",
)
@timing_options
@click.option("--release", metavar="LABEL", help="A label for humans (mail, logs), e.g. v2.0.0.")
@target_options
def deploy_command(
    input_file: str | None,
    name: str | None,
    wait: bool,
    timeout: float,
    dry_run: bool,
    stack: str | None,
    state_machine_arn: str | None,
    table_name: str | None,
    region: str | None,
    state_dir: str | None,
    **flags: Any,
) -> None:
    """Start a release: validate the input, start the workflow, print the execution ARN.

    The input comes from --input FILE, from the flags, or both (flags override the file). It is
    checked with the workflow's own input model first: a bad input names the field and the rule
    and starts nothing.

    \b
    Exit codes:
      0  started (with --wait: the release SUCCEEDED)
      1  AWS refused to start it, or with --wait: FAILED, TIMED_OUT or ABORTED
      2  bad command line or invalid input (nothing was started)
      3  --wait stopped at --timeout while the release still runs
    """
    start_release(
        build_input(input_file, flags),
        name=name,
        wait=wait,
        timeout=timeout,
        dry_run=dry_run,
        target_kwargs={
            "stack": stack,
            "state_machine_arn": state_machine_arn,
            "table_name": table_name,
            "region": region,
            "state_dir": state_dir,
        },
    )


def register(group: click.Group) -> None:
    group.add_command(deploy_command)
