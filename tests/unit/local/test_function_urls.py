"""Function URLs on loopback: payload format 2.0 in, Lambda's response mapping out."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from cfcd.local.function_urls import FunctionUrls, build_event, map_result
from cfcd.local.lambda_runtime import FunctionSpec, InvokeResult, LambdaRuntime

pytestmark = pytest.mark.unit

WEB_DIR = Path(__file__).parent / "fixtures" / "functions" / "web"


@pytest.fixture
def web_url(tmp_path: Path) -> Iterator[str]:
    runtime = LambdaRuntime(tmp_path / "logs", {})
    runtime.register(
        FunctionSpec(
            name="web",
            arn="arn:aws:lambda:us-east-1:123456789012:function:web",
            handler="app.lambda_handler",
            code_dir=WEB_DIR,
        )
    )
    urls = FunctionUrls(runtime.invoke)
    yield urls.serve("web")
    urls.stop()
    runtime.stop()


def fetch(request: urllib.request.Request) -> tuple[int, dict[str, list[str]], bytes]:
    with urllib.request.urlopen(request, timeout=20) as response:
        headers: dict[str, list[str]] = {}
        for name, value in response.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        return response.status, headers, response.read()


def test_form_post_round_trip(web_url: str) -> None:
    # Given a browser posting a form with a cookie and a query string
    form = urlencode({"decision": "approve", "comment": "ship it"}).encode()
    request = urllib.request.Request(
        web_url + "approve?id=abc&lang=en&lang=fr",
        data=form,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "a=1; b=2",
            "User-Agent": "pytest-browser",
            "X-Custom": "yes",
        },
    )

    # When it reaches the function URL
    status, headers, body = fetch(request)

    # Then the function saw a payload 2.0 event
    answer = json.loads(body)
    event = answer["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/approve"
    assert event["rawQueryString"] == "id=abc&lang=en&lang=fr"
    assert event["queryStringParameters"] == {"id": "abc", "lang": "en,fr"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-custom"] == "yes"
    assert "cookie" not in event["headers"]
    assert event["requestContext"]["http"] == {
        "method": "POST",
        "path": "/approve",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest-browser",
    }
    assert event["isBase64Encoded"] is True
    assert answer["decodedBody"] == "decision=approve&comment=ship+it"
    # And its response was mapped to HTTP: status, headers, cookies, body
    assert status == 201
    assert headers["content-type"] == ["text/html; charset=utf-8"]
    assert headers["x-seen-method"] == ["POST"]
    assert headers["set-cookie"] == ["session=abc; Path=/; HttpOnly"]


def test_plain_result_becomes_json_200(web_url: str) -> None:
    status, headers, body = fetch(urllib.request.Request(web_url + "plain"))

    assert status == 200
    assert headers["content-type"] == ["application/json"]
    assert json.loads(body) == {"just": "a dict"}


def test_base64_response_body_is_decoded(web_url: str) -> None:
    status, headers, body = fetch(urllib.request.Request(web_url + "binary"))

    assert status == 200
    assert headers["content-type"] == ["image/png"]
    assert body == base64.b64decode("iVBORw==")


def test_json_body_arrives_as_text() -> None:
    event = build_event(
        "PUT", "/x", [("Content-Type", "application/json")], b'{"a": 1}', "10.0.0.1", "h.example"
    )

    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event


def test_function_error_is_a_502() -> None:
    response = map_result(InvokeResult(b'{"errorType": "KeyError"}', "Unhandled"))

    assert response.status == 502
    assert b"Internal Server Error" in response.body
