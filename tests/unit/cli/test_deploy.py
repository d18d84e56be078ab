"""`cfcd deploy`: validated input, an explicit execution name, the ARN on stdout."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cfcd.cli.deploy_cmd import build_input
from cfcd.client.release_input import execution_name, validate_input
from tests.unit.cli.conftest import VALID_INPUT, FakeAws, failing_definition, passing_definition, write_input

pytestmark = pytest.mark.unit

EXECUTION_ARN = re.compile(r"^arn:aws:states:us-east-1:123456789012:execution:cfcd:(\S+)$")


def test_deploy_prints_the_arn_of_a_named_execution(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner, tmp_path: Path
) -> None:
    # Given a state machine and a valid release input
    machine = fake_aws.state_machine("cfcd", passing_definition())
    release = write_input(tmp_path, VALID_INPUT)

    # When the release is deployed
    result = runner.invoke(cli, ["deploy", "--input", str(release), "--state-machine-arn", machine])

    # Then stdout is the execution ARN alone, the execution is named <distribution>-<UTC>-<random>
    assert result.exit_code == 0, result.output
    match = EXECUTION_ARN.match(result.stdout.strip())
    assert match, result.stdout
    assert re.fullmatch(r"E2QWRUHAPOMQZL-\d{8}T\d{6}Z-[0-9a-f]{6}", match[1])
    assert "cfcd status" in result.stderr
    # and the workflow got the input as written
    described = fake_aws.sfn.describe_execution(executionArn=match[0])
    assert json.loads(described["input"]) == VALID_INPUT


def test_two_deploys_get_different_names(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner, tmp_path: Path
) -> None:
    # Given a state machine (on moto, unnamed executions would all be called "None")
    machine = fake_aws.state_machine("cfcd", passing_definition())
    release = write_input(tmp_path, VALID_INPUT)

    # When two releases start
    arns = [
        runner.invoke(cli, ["deploy", "--input", str(release), "--state-machine-arn", machine]).stdout.strip()
        for _ in range(2)
    ]

    # Then both started, under different names
    assert all(EXECUTION_ARN.match(arn) for arn in arns), arns
    assert arns[0] != arns[1]
    listed = fake_aws.sfn.list_executions(stateMachineArn=machine)["executions"]
    assert {execution["executionArn"] for execution in listed} == set(arns)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"traffic": {"type": "SingleHeader", "header": "x-env", "value": "staging"}}, "traffic.header"),
        ({"traffic": {"type": "SingleWeight", "weight": 0.5}}, "traffic.weight"),
        ({"probe": {"path": "index.html", "expect": {"bodyContains": "v2"}}}, "probe.path"),
        ({"primaryDistributionId": "not-an-id"}, "primaryDistributionId"),
    ],
)
def test_invalid_input_names_the_field_and_starts_nothing(
    fake_aws: FakeAws,
    cli: click.Group,
    runner: CliRunner,
    tmp_path: Path,
    change: dict[str, object],
    field: str,
) -> None:
    # Given an input that breaks one rule of the contract
    machine = fake_aws.state_machine("cfcd", passing_definition())
    release = write_input(tmp_path, {**VALID_INPUT, **change})

    # When it is deployed
    result = runner.invoke(cli, ["deploy", "--input", str(release), "--state-machine-arn", machine])

    # Then the CLI exits 2 naming the field, and nothing was started
    assert result.exit_code == 2, result.output
    assert f"{field}:" in result.stderr
    assert fake_aws.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_a_file_that_is_not_json_is_refused_with_its_position(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner, tmp_path: Path
) -> None:
    machine = fake_aws.state_machine("cfcd", passing_definition())
    release = tmp_path / "release.json"
    release.write_text('{"primaryDistributionId": "E2QWRUHAPOMQZL",\n  oops}')

    result = runner.invoke(cli, ["deploy", "--input", str(release), "--state-machine-arn", machine])

    assert result.exit_code == 2
    assert "line 2" in result.stderr
    assert fake_aws.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_flags_build_the_same_input_as_the_file() -> None:
    # Given the common fields as flags
    flags = {
        "distribution_id": "E2QWRUHAPOMQZL",
        "origin_path": "/2.0.0",
        "header": "aws-cf-cd-env=staging",
        "probe_path": "/index.html",
        "expect_text": "v2 App",
        "expect_status": 200,
        "approval_timeout": 600,
        "poll_seconds": 1,
        "deploy_timeout": 60,
        "probe_timeout": 60,
    }

    # When the input is built without a file
    built = build_input(None, flags)

    # Then it is the contract's document
    assert built == VALID_INPUT


def test_a_release_without_probe_path_probes_the_root(cli: click.Group, runner: CliRunner) -> None:
    # Given the README's quick start flags: no --probe-path
    args = ["deploy", "--distribution-id", "E2QWRUHAPOMQZL", "--origin-path", "/2.0.0"]
    args += ["--header", "aws-cf-cd-env=staging", "--expect-text", "v2 App", "--poll-seconds", "1"]

    # When they are checked (nothing is started)
    result = runner.invoke(cli, [*args, "--dry-run"])

    # Then the input is valid and the probe asks for /
    assert result.exit_code == 0, result.output
    probe = validate_input(json.loads(result.stdout)).probe
    assert probe is not None and probe.path == "/"


def test_flags_override_the_file_and_replace_traffic_whole(tmp_path: Path) -> None:
    release = write_input(tmp_path, VALID_INPUT)

    built = build_input(str(release), {"weight": 0.15, "sticky": True, "origin_path": "/3.0.0"})

    assert built["traffic"] == {
        "type": "SingleWeight",
        "weight": 0.15,
        "stickiness": {"idleTtl": 300, "maximumTtl": 600},
    }
    assert built["staging"] == {"mode": "copy", "overrides": {"originPath": "/3.0.0"}}
    assert built["probe"] == VALID_INPUT["probe"]


def test_header_and_weight_together_are_a_usage_error(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    result = runner.invoke(
        cli,
        ["deploy", "--distribution-id", "E2QWRUHAPOMQZL", "--header", "aws-cf-cd-env=x", "--weight", "0.1"],
    )

    assert result.exit_code == 2
    assert "--header and --weight" in result.stderr


def test_execution_name_is_sortable_and_valid() -> None:
    name = execution_name("E2QWRUHAPOMQZL", datetime(2026, 11, 26, 5, 44, 0, tzinfo=UTC))

    assert re.fullmatch(r"E2QWRUHAPOMQZL-20261126T054400Z-[0-9a-f]{6}", name)
    assert len(name) <= 80


def test_wait_exits_zero_when_the_release_succeeds(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner, tmp_path: Path
) -> None:
    machine = fake_aws.state_machine("cfcd", passing_definition())
    release = write_input(tmp_path, VALID_INPUT)

    result = runner.invoke(cli, ["deploy", "--input", str(release), "--state-machine-arn", machine, "--wait"])

    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.stdout
    assert "✓ ReleaseLock" in result.stdout


def test_wait_exits_non_zero_when_the_release_fails(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner, tmp_path: Path
) -> None:
    machine = fake_aws.state_machine("cfcd", failing_definition())
    release = write_input(tmp_path, VALID_INPUT)

    result = runner.invoke(cli, ["deploy", "--input", str(release), "--state-machine-arn", machine, "--wait"])

    assert result.exit_code == 1, result.output
    assert "ProbeFailed" in result.stdout
    assert "staging answered 500" in result.stdout


def test_stack_mode_flags_build_a_valid_stack_input(tmp_path: Path) -> None:
    # Given the seed's staging template and stack-mode flags (the stack brings its own policy)
    template = tmp_path / "staging.yaml"
    template.write_text("Resources: {}\n")
    flags = {
        "distribution_id": "E2QWRUHAPOMQZL",
        "staging_stack": "cfcd-staging",
        "template_file": str(template),
        "stack_parameter": ("PrimaryDistributionId=E2QWRUHAPOMQZL", "OriginPath=/2.0.0"),
        "probe_path": "/index.html",
        "expect_text": "v2 App",
    }

    # When the input is built and validated
    built = build_input(None, flags)
    release = validate_input(built)

    # Then it is a stack-mode release with the template body and parameters
    assert built["staging"] == {
        "mode": "stack",
        "stackName": "cfcd-staging",
        "templateBody": "Resources: {}\n",
        "parameters": {"PrimaryDistributionId": "E2QWRUHAPOMQZL", "OriginPath": "/2.0.0"},
    }
    assert release.traffic is None


def test_copy_and_stack_flags_together_are_a_usage_error() -> None:
    with pytest.raises(click.UsageError, match="exclude each other"):
        build_input(None, {"origin_path": "/2.0.0", "staging_stack": "cfcd-staging"})
