"""The local AWS endpoint: moto's server with our extensions, plus the ``/cfcd-api`` control API.

moto's ``ThreadedMotoServer`` builds ``DomainDispatcherApplication(create_backend_app)`` and
serves it with werkzeug; we build the same app ourselves so we can (a) bind port 0 and learn the
real port before serving, (b) wrap the app with the control API on the same endpoint.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from pydantic import BaseModel, ValidationError
from werkzeug.serving import BaseWSGIServer, make_server

from cfcd.local import moto_patches, stepfunctions_quotas
from cfcd.local.faults import (
    REGISTRY,
    EdgeFaults,
    Fault,
    HistoryLimitSetting,
    OriginFault,
    PropagationSetting,
)

LOG = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class EdgeFaultTarget(Protocol):
    def inject_origin_status(self, prefix: str, status: int) -> None: ...

    def clear_origin_faults(self) -> None: ...

    def send_all_traffic_to_primary(self, enabled: bool) -> None: ...


@dataclass
class ControlHooks:
    """What the control API drives besides moto; filled in by whoever owns those parts."""

    set_propagation_seconds: Callable[[float], None] | None = None
    edge: EdgeFaultTarget | None = None


# --- fault injection and call recording ----------------------------------------------------------
# cfcd.local.moto_patches routes every AWS call moto serves through answer_with_faults: moto's
# BaseResponse.call_action (every service but S3) once the request is parsed and the action is
# known, and S3's own bucket and key dispatch. A registered fault then answers instead of the call
# ("before") or after it took effect ("after": a lost response), serialized as AWS would so boto3
# sees a normal AWS error (and retries it, as it would in AWS).

MotoResponse = tuple[int, dict[str, Any], Any]


def answer_with_faults(
    response: Any,
    service: str,
    operation: str,
    call: Callable[[], MotoResponse],
    request_text: Callable[[], str],
) -> MotoResponse:
    """Record one AWS call, then answer it as the registered faults say (by default: ``call()``).

    ``request_text``: the request's URL and body, for faults that match on them."""
    fault = REGISTRY.record_and_match(service, operation, request_text)
    if fault is None:
        return call()
    if fault.when == "after":
        answered = call()
        if int(answered[0]) >= 400:
            # AWS refused the call, so it changed nothing and there is no answer to lose.
            REGISTRY.restore(fault)
            return answered
    LOG.info("injecting %s %s %s:%s", fault.error, fault.when, service, operation)
    if service == "s3":
        return _s3_error(fault)
    # Defined outside moto's package: moto would look up a service model named after the
    # exception's module ("core") and fail.
    injected = type("InjectedFault", (ServiceException,), {"__module__": __name__})
    with warnings.catch_warnings():  # "no error shape for this code": fine, it is made up
        warnings.simplefilter("ignore")
        _, headers, body = response.serialized(ActionResult(injected(fault.error, fault.message)))
    headers["status"] = str(fault.http_status)
    # Real AWS errors carry a request id; moto's Step Functions interpreter needs it to name a
    # Lambda ClientError (Lambda.ServiceException) instead of failing States.Runtime.
    headers["x-amzn-requestid"] = str(uuid.uuid4())
    return fault.http_status, headers, body


def request_text(response: Any) -> str:
    """What a fault's ``matching`` looks in: the URL and the body as sent (JSON, XML); for a
    Query-protocol form (CloudFormation, SNS), whose body moto has parsed, its parameters decoded
    (``StackName=...``)."""
    raw = response.raw_body
    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    if not body:
        body = "\n".join(f"{key}={value}" for key, values in response.querystring.items() for value in values)
    return f"{response.uri}\n{body}"


def _s3_error(fault: Fault) -> MotoResponse:
    # S3's REST-XML error document, written out: moto's serializer needs a request it has parsed.
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(fault.error)}</Code><Message>{escape(fault.message)}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    headers = {"Content-Type": "application/xml", "x-amz-request-id": uuid.uuid4().hex[:16].upper()}
    return fault.http_status, headers, body.encode()


@dataclass(frozen=True)
class _S3Route:
    """One S3 operation as its request looks: the query keys and headers it cannot do without."""

    operation: str
    query: Mapping[str, str | None]  # a value when the request URI fixes it ("list-type=2")
    headers: frozenset[str]

    def matches(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        return (
            all(key in query and (value is None or value in query[key]) for key, value in self.query.items())
            and self.headers <= headers.keys()
        )


@functools.cache
def _s3_routes() -> dict[tuple[str, str], list[_S3Route]]:
    """S3's operations by (HTTP method, path shape), most specific first, from botocore's model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    routes: dict[tuple[str, str], list[_S3Route]] = {}
    for name in model.operation_names:
        operation = model.operation_model(name)
        path, _, literal = str(operation.http["requestUri"]).partition("?")
        query: dict[str, str | None] = {}
        for part in filter(None, literal.split("&")):
            key, _, value = part.partition("=")
            query[key] = value or None
        headers: set[str] = set()
        shape = operation.input_shape
        members = shape.members if shape is not None else {}
        for member in shape.required_members if shape is not None else []:
            serialization = members[member].serialization
            location, wire_name = serialization.get("location"), str(serialization.get("name", member))
            if location == "querystring":
                query.setdefault(wire_name, None)
            elif location == "header":
                headers.add(wire_name.lower())
        kind = "key" if "{Key+}" in path else "bucket" if "{Bucket}" in path else "service"
        routes.setdefault((str(operation.http["method"]), kind), []).append(
            _S3Route(name, query, frozenset(headers))
        )
    for candidates in routes.values():
        candidates.sort(key=lambda route: len(route.query) + len(route.headers), reverse=True)
    return routes


def s3_operation(method: str, target: str, full_url: str, headers: Mapping[str, str]) -> str:
    """The S3 API operation a request calls (``PutBucketPolicy``), as boto3 names it.

    ``target`` is what the request's path and host name: ``"service"``, ``"bucket"`` or ``"key"``.
    """
    query = parse_qs(urlsplit(full_url).query, keep_blank_values=True)
    lowered = {name.lower(): value for name, value in headers.items()}
    for route in _s3_routes().get((method.upper(), target), []):
        if route.matches(query, lowered):
            return route.operation
    return method.upper()


# --- the control API ------------------------------------------------------------------------------


class ControlApi:
    """``/cfcd-api/*``: faults, propagation delay, origin and edge faults, recorded calls, and the
    Step Functions history limit."""

    def __init__(self, hooks: ControlHooks) -> None:
        self._hooks = hooks

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        path = str(environ.get("PATH_INFO", "")).rstrip("/")
        try:
            status, body = self._route(method, path, _read_body(environ))
        except ValidationError as error:
            status, body = 400, {"message": str(error)}
        except json.JSONDecodeError as error:
            status, body = 400, {"message": f"invalid JSON: {error}"}
        data = json.dumps(body).encode()
        start_response(
            f"{status} {'OK' if status < 400 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if path == "/cfcd-api/faults":
            if method == "POST":
                REGISTRY.add(Fault.model_validate_json(raw))
                return 201, {"faults": _dump(REGISTRY.pending())}
            if method == "DELETE":
                REGISTRY.clear()
                return 200, {}
            if method == "GET":
                return 200, _dump(REGISTRY.pending())
        elif path == "/cfcd-api/calls":
            if method == "GET":
                return 200, _dump(REGISTRY.calls())
            if method == "DELETE":
                REGISTRY.reset_calls()
                return 200, {}
        elif path == "/cfcd-api/propagation" and method == "POST":
            setting = PropagationSetting.model_validate_json(raw)
            if self._hooks.set_propagation_seconds is None:
                return 503, {"message": "the CloudFront emulator is not running"}
            self._hooks.set_propagation_seconds(setting.seconds)
            return 200, setting.model_dump()
        elif path == "/cfcd-api/history-limit":
            if method == "POST":
                limit = HistoryLimitSetting.model_validate_json(raw)
                stepfunctions_quotas.set_history_limit(limit.events)
                return 200, limit.model_dump()
            if method == "GET":
                return 200, HistoryLimitSetting(events=stepfunctions_quotas.history_limit()).model_dump()
        elif path in ("/cfcd-api/origin-faults", "/cfcd-api/edge-faults"):
            edge = self._hooks.edge
            if edge is None:
                return 503, {"message": "the edge is not running"}
            return self._route_edge(edge, method, path, raw)
        return 404, {"message": f"no route for {method} {path}"}

    @staticmethod
    def _route_edge(edge: EdgeFaultTarget, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if path == "/cfcd-api/origin-faults" and method == "POST":
            origin_fault = OriginFault.model_validate_json(raw)
            edge.inject_origin_status(origin_fault.path_prefix, origin_fault.status)
            return 201, origin_fault.model_dump(by_alias=True)
        if path == "/cfcd-api/origin-faults" and method == "DELETE":
            edge.clear_origin_faults()
            return 200, {}
        if path == "/cfcd-api/edge-faults" and method == "POST":
            edge_faults = EdgeFaults.model_validate_json(raw)
            edge.send_all_traffic_to_primary(edge_faults.all_traffic_to_primary)
            return 201, edge_faults.model_dump(by_alias=True)
        if path == "/cfcd-api/edge-faults" and method == "DELETE":
            edge.send_all_traffic_to_primary(False)
            return 200, {}
        return 404, {"message": f"no route for {method} {path}"}


def _dump(models: list[Any]) -> list[dict[str, Any]]:
    return [model.model_dump(by_alias=True) if isinstance(model, BaseModel) else model for model in models]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


class _EndpointApp:
    def __init__(self, moto_app: WsgiApp, control: ControlApi) -> None:
        self._moto_app = moto_app
        self._control = control

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/cfcd-api/"):
            return self._control(environ, start_response)
        return self._moto_app(environ, start_response)


# --- the endpoint ---------------------------------------------------------------------------------


@dataclass
class AwsEndpoint:
    """moto server on loopback with the cfcd extensions installed."""

    host: str = "127.0.0.1"
    port: int = 0
    hooks: ControlHooks = field(default_factory=ControlHooks)
    _server: BaseWSGIServer | None = field(default=None, init=False)
    _previous_moto_port: str | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the AWS endpoint is not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def bound_port(self) -> int:
        if self._server is None:
            raise RuntimeError("the AWS endpoint is not started")
        return int(self._server.server_port)

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        moto_patches.install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call
        app = _EndpointApp(DomainDispatcherApplication(create_backend_app), ControlApi(self.hooks))
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        # moto's Step Functions interpreter calls Lambda and the SDK integrations at
        # localhost:$MOTO_PORT, read at call time: it must name the port we really got.
        self._previous_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="cfcd-aws", daemon=True)
        self._thread.start()
        # moto's backends are per process: a second endpoint in one process starts from scratch.
        self._post_json("/moto-api/reset", {})
        self._post_json("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        LOG.info("AWS endpoint on %s", self.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._server is not None:
            if self._previous_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._previous_moto_port
        self._server = None
        self._thread = None

    def _post_json(self, path: str, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


__all__ = [
    "AwsEndpoint",
    "ControlHooks",
    "EdgeFaultTarget",
    "answer_with_faults",
    "request_text",
    "s3_operation",
]
