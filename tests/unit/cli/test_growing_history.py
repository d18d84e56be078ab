"""Following a release reads only what its history added since the last poll."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cfcd.client.execution_view import GrowingHistory

pytestmark = pytest.mark.unit

ARN = "arn:aws:states:us-east-1:123456789012:execution:cfcd:r1"
AT = datetime(2026, 11, 30, tzinfo=UTC)


def events(*ids: int) -> list[dict[str, Any]]:
    return [{"id": event_id, "type": "PassStateEntered", "timestamp": AT} for event_id in ids]


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(sfn) as stubber:
        yield sfn, stubber
        stubber.assert_no_pending_responses()


def newest_first(
    stubber: Stubber, ids: list[int], page: int, token: str | None = None, next_token: str | None = None
) -> None:
    expected: dict[str, Any] = {"executionArn": ARN, "reverseOrder": True, "maxResults": page}
    if token is not None:
        expected["nextToken"] = token
    answer: dict[str, Any] = {"events": events(*ids)}
    if next_token is not None:
        answer["nextToken"] = next_token
    stubber.add_response("get_execution_history", answer, expected)


def test_the_first_read_takes_every_page_and_later_reads_only_what_is_new(
    stubbed: tuple[Any, Stubber],
) -> None:
    sfn, stubber = stubbed
    history = GrowingHistory(sfn, ARN)
    # Given a history of two pages, newest first
    newest_first(stubber, [5, 4, 3], 1000, next_token="page-2")
    newest_first(stubber, [2, 1], 1000, token="page-2")

    # When it is read the first time, Then it holds every event, oldest first
    assert [event["id"] for event in history.read()] == [1, 2, 3, 4, 5]

    # Given two more events, and a page that goes on into events already held
    newest_first(stubber, [7, 6, 5, 4], 100, next_token="more-old-events")

    # When it is read again, Then it gets the two, in order, with one call of AWS's default page size
    # (a poll finds a few new events): no older page is asked for
    assert [event["id"] for event in history.read()] == [6, 7]
    assert [event["id"] for event in history.events] == [1, 2, 3, 4, 5, 6, 7]

    # Given nothing new, When it is read, Then nothing is added
    newest_first(stubber, [7, 6], 100, next_token="older")
    assert history.read() == []
    assert len(history.events) == 7
