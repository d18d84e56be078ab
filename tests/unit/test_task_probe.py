"""ProbeStaging / VerifyPrimary against a loopback edge server (CFCD_EDGE_ENDPOINT + Host header)."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cfcd_common.errors import ProbeFailed, VerifyFailed
from cfcd_common.probing import http_fetcher
from functions.probe import app
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext

pytestmark = pytest.mark.unit

DOMAIN = "d111111abcdef8.cloudfront.net"
PRIMARY_BODY = "<h1>v1 App</h1>"
STAGING_BODY = "<h1>v2 App</h1>"


@dataclass
class Edge:
    """What the edge serves: `mode` is one of primary-only, header, every-third, broken-staging, promoted."""

    mode: str = "primary-only"
    counter: Iterator[int] = field(default_factory=itertools.count)
    hosts: list[str] = field(default_factory=list)

    def answer(self, headers: Any) -> tuple[int, str]:
        staged = {
            "primary-only": False,
            "header": headers.get("aws-cf-cd-env") == "staging",
            "every-third": next(self.counter) % 3 == 0,
            "broken-staging": headers.get("aws-cf-cd-env") == "staging",
            "promoted": True,
        }[self.mode]
        if staged and self.mode == "broken-staging":
            return 502, "Bad Gateway"
        return 200, STAGING_BODY if staged else PRIMARY_BODY


@pytest.fixture
def edge(monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    state = Edge()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.hosts.append(self.headers.get("Host", ""))
            status, body = state.answer(self.headers)
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CFCD_EDGE_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def staging_event(traffic: dict[str, Any], deadline: int) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "mode": "staging",
        "domainName": DOMAIN,
        "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": "v2 App"}, "samples": 9},
        "traffic": traffic,
        "pollSeconds": 5,
        "timeoutSeconds": max(deadline, 1),  # the probe started at 0
        "deadline": deadline,
    }


HEADER = {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"}
WEIGHT = {"type": "SingleWeight", "weight": 0.15, "stickiness": None}
FAR = 2**40


def test_header_policy_ready_when_the_header_reaches_staging_and_nothing_else_does(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    edge.mode = "header"
    result = app.lambda_handler(staging_event(HEADER, FAR), lambda_context)
    assert (result["ready"], result["ok"], result["nextWaitSeconds"]) == (True, True, 0)
    assert [check["passed"] for check in result["checks"]] == [True, True]
    assert set(edge.hosts) == {DOMAIN}  # the edge was asked for the primary's domain


def test_while_propagating_the_probe_asks_to_wait_and_at_the_deadline_fails(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    # Given an edge that still serves the primary to everyone
    edge.mode = "primary-only"
    # When probed before the deadline, then it asks for another try later
    waiting = app.run_probe(
        http_fetcher(DOMAIN, edge_endpoint()),
        app.parse_request.validate_python(staging_event(HEADER, 500)),
        100,
    )
    assert (waiting.ready, waiting.ok, waiting.nextWaitSeconds) == (
        False,
        False,
        25,
    )  # a quarter of the 100 s spent (cfcd_common.polling)
    assert "1 of 2 checks failed" in waiting.summary
    # And at the deadline it fails with the probe's findings
    with pytest.raises(ProbeFailed, match="with aws-cf-cd-env: staging"):
        app.lambda_handler(staging_event(HEADER, 0), lambda_context)


def edge_endpoint() -> str:
    return os.environ["CFCD_EDGE_ENDPOINT"]


def test_weight_policy_ready_once_some_new_viewers_get_staging(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    edge.mode = "every-third"
    result = app.lambda_handler(staging_event(WEIGHT, FAR), lambda_context)
    assert result["ready"] is True
    assert result["checks"][0]["detail"] == "3 of 9 served the staging release"


def test_the_probe_counts_the_answers_from_staging_over_its_rounds(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    edge.mode = "every-third"
    result = app.lambda_handler({**staging_event(WEIGHT, FAR), "stagingServedBefore": 4}, lambda_context)
    assert result["stagingServed"] == 4 + 3


@pytest.mark.parametrize("traffic", [WEIGHT, HEADER], ids=["weight", "header"])
def test_a_probe_that_never_saw_staging_says_so_at_the_deadline(
    edge: Edge, lambda_context: FakeLambdaContext, traffic: dict[str, Any]
) -> None:
    # Given CloudFront sending every request to the primary, in every round so far
    edge.mode = "primary-only"
    # When the last round fails at the deadline, Then the cause says staging was never served
    with pytest.raises(ProbeFailed, match="staging was never served: no answer to any probe since"):
        app.lambda_handler({**staging_event(traffic, 0), "stagingServedBefore": 0}, lambda_context)


def test_a_probe_that_saw_staging_in_an_earlier_round_does_not_say_never(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    edge.mode = "primary-only"
    with pytest.raises(ProbeFailed) as raised:
        app.lambda_handler({**staging_event(WEIGHT, 0), "stagingServedBefore": 2}, lambda_context)
    assert "never served" not in str(raised.value)
    assert "0 of 9 served the staging release" in str(raised.value)


def test_a_staging_release_answering_errors_is_not_ready(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    edge.mode = "broken-staging"
    result = app.lambda_handler(staging_event(HEADER, FAR), lambda_context)
    assert (result["ready"], result["ok"]) == (False, False)
    assert result["checks"][0]["status"] == 502


def test_verify_primary_passes_after_promotion_and_fails_before(
    edge: Edge, lambda_context: FakeLambdaContext
) -> None:
    verify = {
        "executionArn": EXECUTION_ARN,
        "mode": "primary",
        "domainName": DOMAIN,
        "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": "v2 App"}, "samples": 20},
    }
    edge.mode = "promoted"
    assert app.lambda_handler(verify, lambda_context)["ok"] is True
    edge.mode = "primary-only"
    with pytest.raises(VerifyFailed, match="v1 App"):
        app.lambda_handler(verify, lambda_context)
