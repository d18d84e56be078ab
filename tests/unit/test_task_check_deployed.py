"""CheckDeployed: done only when every distribution is Deployed; the deadline ends the wait."""

from __future__ import annotations

from typing import Any

import pytest

from cfcd_common.errors import DeployTimeout
from functions.check_deployed import app
from tests.unit.cloudfront_stubs import (
    PRIMARY_ID,
    STAGING_ID,
    distribution,
    distribution_config,
    stubbed_cloudfront,
)
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client

pytestmark = pytest.mark.unit


def event(deadline: int) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "distributionIds": [PRIMARY_ID, STAGING_ID],
        "pollSeconds": 5,
        "timeoutSeconds": 1000,
        "deadline": deadline,
    }


def stub_statuses(stubber: Any, primary: str, staging: str) -> None:
    stubber.add_response(
        "get_distribution", distribution(PRIMARY_ID, distribution_config(), primary), {"Id": PRIMARY_ID}
    )
    stubber.add_response(
        "get_distribution",
        distribution(STAGING_ID, distribution_config(staging=True), staging),
        {"Id": STAGING_ID},
    )


def test_done_only_once_every_distribution_is_deployed() -> None:
    # Given staging still propagating, then both Deployed
    client, stubber = stubbed_cloudfront()
    stub_statuses(stubber, "Deployed", "InProgress")
    stub_statuses(stubber, "Deployed", "Deployed")
    request = app.CheckDeployedRequest.model_validate(event(deadline=1000))
    with stubber:
        first = app.check_deployed(client, request, at=10)
        second = app.check_deployed(client, request, at=20)
    assert (first.done, first.statuses) == (False, {PRIMARY_ID: "Deployed", STAGING_ID: "InProgress"})
    assert (second.done, second.checkedAt) == (True, 20)
    # And the wait before the next check is the loop's stretched interval; none once done
    assert (first.nextWaitSeconds, second.nextWaitSeconds) == (5, 0)


def test_a_long_wait_checks_less_often() -> None:
    # Given a loop that started 400 s ago (deadline 1000 s after its start)
    client, stubber = stubbed_cloudfront()
    stub_statuses(stubber, "InProgress", "InProgress")
    request = app.CheckDeployedRequest.model_validate(event(deadline=1000))
    # When CloudFront is still propagating, Then the next check is a quarter of that time away
    with stubber:
        assert app.check_deployed(client, request, at=400).nextWaitSeconds == 100


def test_past_the_deadline_a_pending_distribution_is_deploy_timeout(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    client, stubber = stubbed_cloudfront()
    stub_statuses(stubber, "InProgress", "Deployed")
    use_client(monkeypatch, "cloudfront", client)
    with stubber, pytest.raises(DeployTimeout, match="InProgress"):
        app.lambda_handler(event(deadline=1), lambda_context)


def test_deployed_at_the_deadline_is_still_done(
    monkeypatch: pytest.MonkeyPatch, lambda_context: FakeLambdaContext
) -> None:
    client, stubber = stubbed_cloudfront()
    stub_statuses(stubber, "Deployed", "Deployed")
    use_client(monkeypatch, "cloudfront", client)
    with stubber:
        assert app.lambda_handler(event(deadline=1), lambda_context)["done"] is True
