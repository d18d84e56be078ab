"""Lambda Function URLs on loopback, payload format 2.0.

moto answers ``CreateFunctionUrlConfig`` with a made-up ``*.lambda-url.*.on.aws`` URL nothing
serves. Here each function URL gets its own loopback port; a request becomes the version 2.0
event Lambda builds, the function's result is mapped back to HTTP the way Lambda does.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cfcd.local.lambda_runtime import InvokeResult

LOG = logging.getLogger(__name__)

Invoker = Callable[[str, bytes], InvokeResult]

# Bodies of these types reach the function as text; everything else (forms included, as on
# AWS) arrives base64-encoded with isBase64Encoded true.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


def build_event(
    method: str,
    raw_target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    domain: str,
) -> dict[str, Any]:
    """The payload format 2.0 event of one HTTP request."""
    split = urlsplit(raw_target)
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": domain.split(".", 1)[0],
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": split.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        content_type = lowered.get("content-type", "")
        if content_type.startswith(_TEXT_TYPES):
            event["body"] = body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


class HttpResponse:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def map_result(result: InvokeResult) -> HttpResponse:
    """Lambda's response mapping for function URLs (and HTTP APIs, payload 2.0)."""
    if result.function_error:
        return HttpResponse(
            502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        )
    try:
        payload = json.loads(result.payload) if result.payload else None
    except json.JSONDecodeError:
        return HttpResponse(
            502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
        )
    if not isinstance(payload, dict) or "statusCode" not in payload:
        # A plain value: 200 with the value as JSON, as real function URLs answer.
        return HttpResponse(200, [("Content-Type", "application/json")], result.payload)
    headers = [(str(name), str(value)) for name, value in (payload.get("headers") or {}).items()]
    headers.extend(("Set-Cookie", str(cookie)) for cookie in payload.get("cookies") or [])
    raw_body = payload.get("body")
    if raw_body is None:
        body = b""
    elif payload.get("isBase64Encoded"):
        body = base64.b64decode(str(raw_body))
    else:
        body = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode()
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(payload["statusCode"]), headers, body)


class FunctionUrlServer:
    """One function's URL: a threading HTTP server on a loopback port."""

    def __init__(self, function_name: str, invoke: Invoker, host: str = "127.0.0.1", port: int = 0) -> None:
        self.function_name = function_name
        handler = _handler_class(function_name, invoke)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"url-{function_name}", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_class(function_name: str, invoke: Invoker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            event = build_event(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                self.client_address[0],
                self.headers.get("Host", "localhost"),
            )
            result = invoke(function_name, json.dumps(event).encode())
            response = map_result(result)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            LOG.debug("%s: " + format, function_name, *args)

    return Handler


class FunctionUrls:
    """All function URLs of a deployment (implements ``deploy.FunctionUrlHost``)."""

    def __init__(self, invoke: Invoker, host: str = "127.0.0.1") -> None:
        self._invoke = invoke
        self._host = host
        self._servers: dict[str, FunctionUrlServer] = {}

    def serve(self, function_name: str) -> str:
        if function_name not in self._servers:
            server = FunctionUrlServer(function_name, self._invoke, self._host)
            server.start()
            self._servers[function_name] = server
        return self._servers[function_name].url

    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self._servers.items()}

    def stop(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
