"""`cfcd history`: past releases, newest first."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from tests.unit.cli.conftest import VALID_INPUT, FakeAws, failing_definition

pytestmark = pytest.mark.unit


def test_history_lists_releases_newest_first_with_their_error(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    # Given two finished releases of two distributions
    machine = fake_aws.state_machine("cfcd", failing_definition())
    for name, distribution in (("first", "E1AAAAAAAAAAAA"), ("second", "E2BBBBBBBBBBBB")):
        arn = fake_aws.sfn.start_execution(
            stateMachineArn=machine,
            name=name,
            input=json.dumps({**VALID_INPUT, "primaryDistributionId": distribution}),
        )["executionArn"]
        fake_aws.wait_until_finished(arn)

    # When the history is listed
    result = runner.invoke(cli, ["history", "--state-machine-arn", machine])

    # Then both show, newest first, with status, distribution and error
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "STATUS",
        "DISTRIBUTION",
        "STARTED",
        "(UTC)",
        "DURATION",
        "KIND",
        "ERROR",
    ]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["second", "FAILED", "E2BBBBBBBBBBBB"],
        ["first", "FAILED", "E1AAAAAAAAAAAA"],
    ]
    assert all(line.endswith("ProbeFailed") for line in lines[1:])


def test_history_filters_by_distribution_and_limits(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    machine = fake_aws.state_machine("cfcd", failing_definition())
    for name, distribution in (("a1", "E1AAAAAAAAAAAA"), ("b1", "E2BBBBBBBBBBBB"), ("a2", "E1AAAAAAAAAAAA")):
        arn = fake_aws.sfn.start_execution(
            stateMachineArn=machine,
            name=name,
            input=json.dumps({**VALID_INPUT, "primaryDistributionId": distribution}),
        )["executionArn"]
        fake_aws.wait_until_finished(arn)

    result = runner.invoke(
        cli,
        [
            "history",
            "--distribution",
            "E1AAAAAAAAAAAA",
            "--limit",
            "5",
            "--json",
            "--state-machine-arn",
            machine,
        ],
    )

    assert result.exit_code == 0, result.output
    releases = json.loads(result.stdout)
    assert [(r["name"], r["status"], r["error"]) for r in releases] == [
        ("a2", "FAILED", "ProbeFailed"),
        ("a1", "FAILED", "ProbeFailed"),
    ]
    assert all(r["duration_seconds"] >= 0 for r in releases)

    limited = runner.invoke(cli, ["history", "--limit", "1", "--json", "--state-machine-arn", machine])
    assert [r["name"] for r in json.loads(limited.stdout)] == ["a2"]


def test_history_without_releases_says_so(fake_aws: FakeAws, cli: click.Group, runner: CliRunner) -> None:
    machine = fake_aws.state_machine("cfcd", failing_definition())

    result = runner.invoke(cli, ["history", "--state-machine-arn", machine])

    assert result.exit_code == 0
    assert result.stdout.strip() == "No releases yet."
