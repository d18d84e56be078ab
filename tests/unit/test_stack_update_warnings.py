"""What a stack update would undo, said in the approval mail and the status mail (`cfcd status`:
tests/unit/cli/test_status_warnings.py)."""

from __future__ import annotations

import json

import pytest

from cfcd_common.execution_events import ExecutionStatusChange
from cfcd_common.primary_stack import PrimaryStack, release_warnings, stack_update_warning
from functions.notify_status import app as notify_app
from functions.request_approval import app as request_app
from tests.unit.conftest import FakeLambdaContext
from tests.unit.test_notify_status import status_event
from tests.unit.test_request_approval import World, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.unit

STACK = PrimaryStack(
    stackName="site",
    stackId="arn:aws:cloudformation:us-east-1:123456789012:stack/site/8a2f0e30-0000-4000-8000-000000000000",
    logicalResourceId="PrimaryDistribution",
)
WARNING = stack_update_warning("E2QWRUHAPOMQZL", STACK, origin_path_parameter=None)
LAMBDA_ERROR = json.dumps(
    {
        "errorType": "UnexpectedError",
        "errorMessage": "ClientError AccessDeniedException: not authorized to perform ssm:PutParameter",
        "stackTrace": ["..."],
    }
)
NOT_RECORDED = {
    "recorded": False,
    "parameterName": "/cfcd/site/origin-path",
    "error": "UnexpectedError",
    "cause": LAMBDA_ERROR,
}


def test_only_a_stack_made_primary_released_without_the_parameter_is_warned_about() -> None:
    assert WARNING is not None
    assert WARNING.startswith("E2QWRUHAPOMQZL belongs to CloudFormation stack site: its next update puts")
    assert "undoes this promotion" in WARNING
    assert stack_update_warning("E2QWRUHAPOMQZL", STACK, "/cfcd/site/origin-path") is None
    assert stack_update_warning("E2QWRUHAPOMQZL", None, None) is None


def test_a_release_state_names_both_warnings_the_write_failure_by_its_message() -> None:
    # Given the state of a release whose primary a stack made and whose SSM write failed
    state = {"stackUpdateWarning": WARNING, "originPathRecord": NOT_RECORDED}

    # When its warnings are read
    first, second = release_warnings(state)

    # Then the stack's comes first, then the write's, with the error's message (not its trace)
    assert first == WARNING
    assert second.startswith(
        "the SSM parameter /cfcd/site/origin-path was not written (UnexpectedError: ClientError "
        "AccessDeniedException: not authorized to perform ssm:PutParameter). The primary is promoted"
    )
    assert "stackTrace" not in second
    assert release_warnings({"originPathRecord": {**NOT_RECORDED, "recorded": True}}) == []


def test_the_approval_mail_says_what_the_stack_update_would_undo(
    world: World,  # noqa: F811 - the fixture
    lambda_context: FakeLambdaContext,
) -> None:
    # Given the workflow passing ValidateInput's warning to RequestApproval
    request_app.lambda_handler(world.event(stackUpdateWarning=WARNING), lambda_context)

    # Then the text mail (SNS) and the HTML mail (SES) both carry it
    (text_mail,) = world.sns_mails()
    (html_mail,) = world.ses_mails()
    assert f"WARNING: {WARNING}" in text_mail.text
    assert (
        html_mail.html is not None and "WARNING: E2QWRUHAPOMQZL belongs to CloudFormation" in html_mail.html
    )


def test_the_status_mail_carries_the_warnings_of_the_releases_output() -> None:
    # Given a release that SUCCEEDED with both warnings in its output
    output = json.dumps({"stackUpdateWarning": WARNING, "originPathRecord": NOT_RECORDED})
    event = status_event(status="SUCCEEDED", error=None, cause=None, output=output)

    # When the status mail is built
    message = notify_app.build_notification(ExecutionStatusChange.model_validate(event)).message

    # Then both warnings follow the first line
    first_line, stack_line, record_line = message.splitlines()[:3]
    assert first_line == 'The cfcd release "2.0.0" ended: SUCCEEDED.'
    assert stack_line == f"WARNING: {WARNING}"
    assert record_line.startswith("WARNING: the SSM parameter /cfcd/site/origin-path was not written")
