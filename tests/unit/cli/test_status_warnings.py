"""`cfcd status` says what the primary's stack would undo (tests/unit/test_stack_update_warnings.py)."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from tests.unit.cli.conftest import FakeAws
from tests.unit.test_stack_update_warnings import NOT_RECORDED, WARNING

pytestmark = pytest.mark.unit


def test_cfcd_status_shows_the_warning_of_the_validated_input(fake_aws: FakeAws, cli: click.Group) -> None:
    # Given a release whose first state put the warning in the state, still running
    machine = fake_aws.state_machine(
        "cfcd",
        {
            "StartAt": "ValidateInput",
            "States": {
                "ValidateInput": {"Type": "Pass", "Result": {"stackUpdateWarning": WARNING}, "Next": "Wait"},
                "Wait": {"Type": "Wait", "Seconds": 3600, "End": True},
            },
        },
    )
    arn = fake_aws.sfn.start_execution(stateMachineArn=machine, name="release-1", input="{}")["executionArn"]
    fake_aws.wait_until_waiting(arn)

    # When its status is shown
    result = CliRunner().invoke(cli, ["status", "release-1", "--no-follow", "--state-machine-arn", machine])

    # Then the warning is a line of its own
    assert result.exit_code == 0, result.output
    assert f"  WARNING: {WARNING}" in result.stdout.splitlines()


def test_cfcd_status_json_lists_the_warnings(fake_aws: FakeAws, cli: click.Group) -> None:
    machine = fake_aws.state_machine(
        "cfcd",
        {
            "StartAt": "ValidateInput",
            "States": {
                "ValidateInput": {"Type": "Pass", "Result": {"originPathRecord": NOT_RECORDED}, "End": True}
            },
        },
    )
    arn = fake_aws.sfn.start_execution(stateMachineArn=machine, name="release-2", input="{}")["executionArn"]
    fake_aws.wait_until_finished(arn)

    result = CliRunner().invoke(cli, ["status", "release-2", "--json", "--state-machine-arn", machine])

    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.stdout)["warnings"]
    assert warning.startswith("the SSM parameter /cfcd/site/origin-path was not written")
