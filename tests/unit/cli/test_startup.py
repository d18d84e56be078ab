"""The CLI starts fast and works without the local cloud: what each command imports, when.

Each case runs ``cfcd`` in a fresh interpreter whose ``sys.meta_path`` refuses some packages, as
if they were not installed: every ``--help`` must work without boto3, pydantic or the local cloud
(what keeps start-up fast), and the AWS-side commands must run without the ``local`` extra (a
user of the CLI against AWS installs no moto).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import click
import pytest

from cfcd.cli import main
from cfcd.cli.local_extra import INSTALL_HINT, LOCAL_EXTRA_MODULES

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_SECONDS = 60.0
# What `--help` must not import: the AWS SDK, pydantic models and the local cloud.
HEAVY = ("boto3", "botocore", "pydantic", "cfcd.local", *sorted(LOCAL_EXTRA_MODULES))
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:cfcd"
README_DEPLOY_FLAGS = [
    *("--distribution-id", "E2QWRUHAPOMQZL", "--origin-path", "/2.0.0"),
    *("--header", "aws-cf-cd-env=staging", "--expect-text", "v2 App", "--poll-seconds", "1"),
]

# Refuses the packages named in argv[1] (comma-separated, with their submodules) as if they were
# not installed, then runs `cfcd` once per argument list of the JSON in argv[2] and prints the
# exit codes as JSON on the last line.
_RUNNER = """
import json, sys

blocked = tuple(sys.argv[1].split(",")) if sys.argv[1] else ()


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if any(name == package or name.startswith(package + ".") for package in blocked):
            raise ModuleNotFoundError(f"No module named {name!r} (refused by the test)", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from cfcd.cli import main

codes = []
for args in json.loads(sys.argv[2]):
    try:
        main(args, prog_name="cfcd")
    except SystemExit as exit:  # how click ends every run
        codes.append(exit.code if isinstance(exit.code, int) else 1)
    except Exception as error:  # what would be a traceback
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        codes.append(-1)
print(json.dumps(codes))
"""


def run_cfcd(
    invocations: list[list[str]], blocked: tuple[str, ...], tmp_path: Path
) -> tuple[list[int], subprocess.CompletedProcess[str]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        # Nothing of the developer's shell: no endpoint, no credentials, no local cloud state.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        # A closed port: the command goes all the way to its AWS call, which fails at once.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
        "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'functions' / 'common'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, ",".join(blocked), json.dumps(invocations)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    codes: list[int] = json.loads(result.stdout.strip().splitlines()[-1])
    return codes, result


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of the CLI, e.g. ("local", "up")."""
    paths: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
    return paths


def test_every_help_works_without_boto3_pydantic_or_the_local_cloud(tmp_path: Path) -> None:
    # Given every command of the CLI, and an interpreter without the heavy packages
    paths = command_paths(main)
    assert {("deploy",), ("status",), ("local", "up"), ("demo",)} <= set(paths)
    invocations = [["--help"], *[[*path, "--help"] for path in paths]]

    # When each one's --help is asked for
    codes, result = run_cfcd(invocations, HEAVY, tmp_path)

    # Then each prints its usage and exits 0
    assert codes == [0] * len(invocations), result.stderr
    for path in paths:
        assert f"Usage: cfcd {' '.join(path)} " in result.stdout


def test_deploy_checks_its_arguments_without_the_local_cloud(tmp_path: Path) -> None:
    # Given an interpreter without the local extra's packages
    # When the README's release is checked, and a bad one
    codes, result = run_cfcd(
        [
            ["deploy", *README_DEPLOY_FLAGS, "--dry-run"],
            ["deploy", *README_DEPLOY_FLAGS, "--weight", "0.1"],
            ["deploy", "--distribution-id", "E2QWRUHAPOMQZL", "--dry-run"],
        ],
        tuple(sorted(LOCAL_EXTRA_MODULES)),
        tmp_path,
    )

    # Then the valid one is printed, the bad ones refused as usage errors
    assert codes == [0, 2, 2], result.stderr
    assert '"primaryDistributionId": "E2QWRUHAPOMQZL"' in result.stdout
    assert "staging: Field required" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["status", "release-1", "--state-machine-arn", STATE_MACHINE_ARN, "--no-follow"],
        ["deploy", *README_DEPLOY_FLAGS, "--state-machine-arn", STATE_MACHINE_ARN],
        ["history", "--state-machine-arn", STATE_MACHINE_ARN],
        [
            "approve",
            "release-1",
            "--by",
            "ops",
            "--state-machine-arn",
            STATE_MACHINE_ARN,
            "--table-name",
            "cfcd",
        ],
        ["cleanup", "E2QWRUHAPOMQZL", "--state-machine-arn", STATE_MACHINE_ARN, "--table-name", "cfcd"],
    ],
    ids=lambda args: args[0],
)
def test_aws_commands_reach_aws_without_the_local_cloud(args: list[str], tmp_path: Path) -> None:
    # Given an interpreter without the local extra's packages, and an AWS endpoint that refuses
    # When the command runs
    codes, result = run_cfcd([args], tuple(sorted(LOCAL_EXTRA_MODULES)), tmp_path)

    # Then it got as far as its AWS call and reports that call's failure, not a missing module
    assert codes == [1], result.stderr
    assert "127.0.0.1:9" in result.stderr
    assert "No module named" not in result.stderr


@pytest.mark.parametrize("args", [["local", "up"], ["local", "down"], ["demo"]], ids=" ".join)
def test_local_cloud_commands_say_what_to_install(args: list[str], tmp_path: Path) -> None:
    # Given an interpreter without moto
    (tmp_path / "template.yaml").write_text("Resources: {}\n")

    # When a command of the local cloud runs
    codes, result = run_cfcd([args], ("moto",), tmp_path)

    # Then it fails with one line saying what to install
    assert codes == [1]
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert INSTALL_HINT in result.stderr


def normalized(distribution: str) -> str:
    """A distribution's name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_the_local_extra_is_what_the_cli_names() -> None:
    # Given the `local` extra of pyproject.toml and the modules its distributions install
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    distributions = {normalized(re.split(r"[\[=<>]", requirement)[0]) for requirement in extra["local"]}
    provided = {
        module
        for module, owners in packages_distributions().items()
        if not module.startswith("_") and any(normalized(owner) in distributions for owner in owners)
    }

    # Then the CLI's list of local-only modules is exactly theirs
    assert provided == LOCAL_EXTRA_MODULES
