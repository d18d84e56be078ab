"""`cfcd rollback`: a restore-mode release, automatic by default; `cfcd history` names what it restored."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.unit.cli.conftest import VALID_INPUT, FakeAws, failing_definition, passing_definition

pytestmark = pytest.mark.unit

DISTRIBUTION = "E2QWRUHAPOMQZL"


def started_input(fake_aws: FakeAws, stdout: str) -> dict[str, Any]:
    described = fake_aws.sfn.describe_execution(executionArn=stdout.strip().splitlines()[0])
    document: dict[str, Any] = json.loads(described["input"])
    return document


def test_rollback_starts_an_automatic_restore_of_the_release_before_the_last_promotion(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    machine = fake_aws.state_machine("cfcd", passing_definition())
    # When a rollback names nothing but the distribution
    result = runner.invoke(cli, ["rollback", DISTRIBUTION, "--state-machine-arn", machine])
    # Then the workflow got a restore of the default release, approved automatically
    assert result.exit_code == 0, result.output
    assert started_input(fake_aws, result.stdout) == {
        "primaryDistributionId": DISTRIBUTION,
        "staging": {"mode": "restore"},
        "approval": {"mode": "auto"},
    }


def test_rollback_to_a_named_release_with_manual_approval_and_fast_timing(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    machine = fake_aws.state_machine("cfcd", passing_definition())
    args = ["rollback", DISTRIBUTION, "--to", "2.0.0", "--approval", "manual", "--approval-timeout", "600"]
    result = runner.invoke(cli, [*args, "--poll-seconds", "1", "--state-machine-arn", machine])
    assert result.exit_code == 0, result.output
    assert started_input(fake_aws, result.stdout) == {
        "primaryDistributionId": DISTRIBUTION,
        "staging": {"mode": "restore", "release": "2.0.0"},
        "approval": {"mode": "manual", "timeoutSeconds": 600},
        "timing": {"pollSeconds": 1},
    }


@pytest.mark.parametrize(("definition", "exit_code"), [(passing_definition, 0), (failing_definition, 1)])
def test_rollback_wait_exits_zero_only_when_it_succeeded(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner, definition: Any, exit_code: int
) -> None:
    machine = fake_aws.state_machine("cfcd", definition())
    result = runner.invoke(cli, ["rollback", DISTRIBUTION, "--wait", "--state-machine-arn", machine])
    assert result.exit_code == exit_code, result.output


def test_a_bad_distribution_id_starts_nothing(fake_aws: FakeAws, cli: click.Group, runner: CliRunner) -> None:
    machine = fake_aws.state_machine("cfcd", passing_definition())
    result = runner.invoke(cli, ["rollback", "not-an-id", "--state-machine-arn", machine])
    assert result.exit_code == 2, result.output
    assert "primaryDistributionId: must be a CloudFront distribution id" in result.output
    assert fake_aws.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def resolving_definition() -> dict[str, Any]:
    """A ValidateInput that resolves the restore as the real one does (into $.restoring)."""
    return {
        "StartAt": "ValidateInput",
        "States": {
            "ValidateInput": {
                "Type": "Pass",
                "Result": {"release": "release-v2", "label": "2.0.0", "configRecordedBy": "release-v3"},
                "ResultPath": "$.restoring",
                "End": True,
            }
        },
    }


def test_history_shows_rollbacks_and_what_they_restored(
    fake_aws: FakeAws, cli: click.Group, runner: CliRunner
) -> None:
    # Given a release, a rollback naming its release, and one resolved by the workflow
    machine = fake_aws.state_machine("cfcd", passing_definition())
    resolving = fake_aws.state_machine("cfcd-resolving", resolving_definition())
    restore = {"primaryDistributionId": DISTRIBUTION, "staging": {"mode": "restore"}}
    runs = [
        (machine, "a-release", VALID_INPUT),
        (machine, "b-rollback", {**restore, "staging": {"mode": "restore", "release": "1.0.0"}}),
        (machine, "c-rollback", restore),
        (resolving, "d-rollback", restore),
    ]
    for state_machine, name, document in runs:
        arn = fake_aws.sfn.start_execution(
            stateMachineArn=state_machine, name=name, input=json.dumps(document)
        )
        fake_aws.wait_until_finished(arn["executionArn"])
    # When the history is listed
    listed = {
        run["name"]: run
        for state_machine in (machine, resolving)
        for run in json.loads(
            runner.invoke(cli, ["history", "--json", "--state-machine-arn", state_machine]).stdout
        )
    }
    table = runner.invoke(cli, ["history", "--state-machine-arn", machine]).stdout
    # Then each rollback says what it restored, when known
    assert [(listed[n]["rollback"], listed[n]["restored"]) for n in sorted(listed)] == [
        (False, None),
        (True, "1.0.0"),
        (True, None),
        (True, "2.0.0"),
    ]
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert "rollback to 1.0.0" in rows["b-rollback"]
    assert "rollback to the previous release" in rows["c-rollback"]
    assert " release" in rows["a-release"] and "rollback" not in rows["a-release"]
