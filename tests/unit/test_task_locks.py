"""AcquireLock / ReleaseLock on the table as template.yaml declares it."""

from __future__ import annotations

import time

import boto3
import pytest

from cfcd_common.errors import DeploymentInProgress
from cfcd_common.locks import acquire_lock, lock_key
from functions.acquire_lock import app as acquire_app
from functions.release_lock import app as release_app
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client

pytestmark = pytest.mark.unit

OTHER_EXECUTION = EXECUTION_ARN.replace("release-2-0-0", "release-3-0-0")
TIMING = {"pollSeconds": 1, "deployTimeoutSeconds": 60, "probeTimeoutSeconds": 30}


def acquire_event(execution: str) -> dict[str, object]:
    return {
        "executionArn": execution,
        "primaryDistributionId": "E2QWRUHAPOMQZL",
        "timing": TIMING,
        "approval": {"timeoutSeconds": 600},
    }


def release_event(execution: str) -> dict[str, object]:
    return {"executionArn": execution, "primaryDistributionId": "E2QWRUHAPOMQZL"}


@pytest.fixture
def dynamodb(deployment_table: str, monkeypatch: pytest.MonkeyPatch) -> object:
    client = boto3.client("dynamodb", region_name="us-east-1")
    use_client(monkeypatch, "dynamodb", client)
    return client


def test_a_second_release_of_the_same_primary_fails_fast(
    dynamodb: object, lambda_context: FakeLambdaContext
) -> None:
    # Given a release holding the lock
    held = acquire_app.lambda_handler(acquire_event(EXECUTION_ARN), lambda_context)
    # Then the lock outlives every wait of the release
    assert held["expiresAt"] - held["acquiredAt"] == 4 * 60 + 30 + 600 + acquire_app.LOCK_MARGIN_SECONDS
    # When another execution tries
    with pytest.raises(DeploymentInProgress) as raised:
        acquire_app.lambda_handler(acquire_event(OTHER_EXECUTION), lambda_context)
    # Then it is refused, naming the holder
    assert EXECUTION_ARN in str(raised.value)


def test_a_retried_acquire_of_the_same_execution_succeeds(
    dynamodb: object, lambda_context: FakeLambdaContext
) -> None:
    acquire_app.lambda_handler(acquire_event(EXECUTION_ARN), lambda_context)
    acquire_app.lambda_handler(acquire_event(EXECUTION_ARN), lambda_context)


def test_an_expired_lock_is_taken_over(dynamodb: object, deployment_table: str) -> None:
    now = int(time.time())
    acquire_lock(dynamodb, deployment_table, "E2QWRUHAPOMQZL", EXECUTION_ARN, now - 100, now - 1)  # type: ignore[arg-type]
    acquire_lock(dynamodb, deployment_table, "E2QWRUHAPOMQZL", OTHER_EXECUTION, now, now + 60)  # type: ignore[arg-type]
    item = dynamodb.get_item(TableName=deployment_table, Key={"pk": {"S": lock_key("E2QWRUHAPOMQZL")}})  # type: ignore[attr-defined]
    assert item["Item"]["executionArn"]["S"] == OTHER_EXECUTION


def test_release_frees_the_lock_for_the_next_release(
    dynamodb: object, lambda_context: FakeLambdaContext
) -> None:
    acquire_app.lambda_handler(acquire_event(EXECUTION_ARN), lambda_context)
    assert release_app.lambda_handler(release_event(EXECUTION_ARN), lambda_context) == {"released": True}
    acquire_app.lambda_handler(acquire_event(OTHER_EXECUTION), lambda_context)


def test_release_never_deletes_another_executions_lock(
    dynamodb: object, lambda_context: FakeLambdaContext
) -> None:
    acquire_app.lambda_handler(acquire_event(OTHER_EXECUTION), lambda_context)
    assert release_app.lambda_handler(release_event(EXECUTION_ARN), lambda_context) == {"released": False}
    with pytest.raises(DeploymentInProgress):
        acquire_app.lambda_handler(acquire_event(EXECUTION_ARN), lambda_context)
