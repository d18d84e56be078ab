"""moto's ``mock_aws`` as every unit test uses it: keeping boto3's default session across tests.

moto resets boto3's default session at every mock, so that a session holding its fake keys never
reaches real AWS (https://docs.getmoto.org/en/latest/docs/configuration/index.html,
``reset_boto3_session``). These tests never reach AWS, and a new session reads every service
model from disk again: that was over half of the unit tests' CPU.

An executing Step Functions mock runs with cfcd's moto patches, as the local cloud does: moto
alone, for one, ignores GetExecutionHistory's ``reverseOrder`` and ``maxResults``.
"""

from __future__ import annotations

from moto import mock_aws
from moto.core.models import MockAWS

from cfcd.local import moto_patches


def mocked_aws(*, execute_state_machine: bool = False) -> MockAWS:
    """``mock_aws``; ``execute_state_machine``: moto runs the ASL (its Step Functions parser)."""
    if execute_state_machine:
        moto_patches.install()
    return mock_aws(
        config={
            "core": {"reset_boto3_session": False},
            "stepfunctions": {"execute_state_machine": execute_state_machine},
        }
    )
