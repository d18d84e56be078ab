"""LocalClients: one client per service of a local cloud's endpoint."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.config import Config

from cfcd.local.sessions import LocalClients

pytestmark = pytest.mark.unit

ENDPOINT = "http://127.0.0.1:1"  # never called: making a client sends nothing


def test_each_service_has_one_client_whichever_thread_asks() -> None:
    # Given the clients of one endpoint
    clients = LocalClients(ENDPOINT)

    # When eight threads ask for the CloudFront client at once, and one asks for DynamoDB's
    with ThreadPoolExecutor(max_workers=8) as pool:
        cloudfront = set(map(id, pool.map(lambda _: clients.client("cloudfront"), range(8))))
    dynamodb = clients.client("dynamodb")

    # Then all got the same CloudFront client, and DynamoDB's is its own, of the same endpoint
    assert len(cloudfront) == 1
    assert dynamodb.meta.service_model.service_name == "dynamodb"
    assert dynamodb.meta.endpoint_url == clients.client("cloudfront").meta.endpoint_url == ENDPOINT


def test_a_client_with_settings_of_its_own_is_a_new_one() -> None:
    # Given the clients of one endpoint, whose shared CloudFront client exists
    clients = LocalClients(ENDPOINT)
    shared = clients.client("cloudfront")

    # When a caller asks for one with a read timeout of its own
    own = clients.client("cloudfront", config=Config(read_timeout=7))

    # Then it gets a new client with them, and the shared one is unchanged
    assert own is not shared
    assert own.meta.config.read_timeout == 7
    assert shared.meta.config.read_timeout != 7
    assert clients.client("cloudfront") is shared
