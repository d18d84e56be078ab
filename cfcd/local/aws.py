"""The local AWS endpoint: moto's server with our extensions, plus the ``/cfcd-api`` control API.

moto's ``ThreadedMotoServer`` builds ``DomainDispatcherApplication(create_backend_app)`` and
serves it with werkzeug; we build the same app ourselves so we can (a) bind port 0 and learn the
real port before serving, (b) wrap the app with the control API on the same endpoint.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from werkzeug.serving import BaseWSGIServer, make_server

from cfcd.local.faults import REGISTRY, Fault, OriginFault, PropagationSetting

LOG = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class OriginFaultTarget(Protocol):
    def inject_origin_status(self, prefix: str, status: int) -> None: ...

    def clear_origin_faults(self) -> None: ...


@dataclass
class ControlHooks:
    """What the control API drives besides moto; filled in by whoever owns those parts."""

    set_propagation_seconds: Callable[[float], None] | None = None
    origin_faults: OriginFaultTarget | None = None


# --- moto patch #1: fault injection and call recording ------------------------------------------
# Every AWS operation moto serves (except S3, which has its own dispatch) goes through
# BaseResponse.call_action after the request is parsed and the action is known. Wrapping it is
# the one place where a registered fault can answer instead of the backend, serialized by moto's
# own error serializer so boto3 sees a normal AWS error (and retries it, as it would in AWS).

_dispatch_patched = False


def install_fault_dispatch() -> None:
    global _dispatch_patched
    if _dispatch_patched:
        return
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, BaseResponse

    original_call_action = BaseResponse.call_action

    # Defined outside moto's package: moto would look up a service model named after the
    # exception's module ("core") and fail.
    def call_action_with_faults(self: Any) -> Any:
        try:
            service = str(self.boto3_service_name or "")
            operation = str(self._get_action() or "")
        except Exception:  # an unroutable request: let moto answer it as it would
            return original_call_action(self)
        fault = REGISTRY.record_and_match(service, operation)
        if fault is None:
            return original_call_action(self)
        LOG.info("injecting %s into %s:%s", fault.error, service, operation)
        injected = type("InjectedFault", (ServiceException,), {"__module__": __name__})
        with warnings.catch_warnings():  # "no error shape for this code": fine, it is made up
            warnings.simplefilter("ignore")
            _, headers, body = self.serialized(ActionResult(injected(fault.error, fault.message)))
        headers["status"] = str(fault.http_status)
        # Real AWS errors carry a request id; moto's Step Functions interpreter needs it to name a
        # Lambda ClientError (Lambda.ServiceException) instead of failing States.Runtime.
        headers["x-amzn-requestid"] = str(uuid.uuid4())
        return fault.http_status, headers, body

    BaseResponse.call_action = call_action_with_faults  # type: ignore[method-assign]
    _dispatch_patched = True


# --- moto patch #2: SendTaskFailure keeps its cause -----------------------------------------------
# moto's handler passes only `error` to the backend, so a rejection's "Rejected by X: comment"
# never reached the execution's cause. The backend itself takes the cause.


def install_task_failure_cause() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def install_extensions() -> None:
    """Patch moto before its server builds any app (CloudFront URL paths are read at that time)."""
    from cfcd.local import cloudfront, events, lambda_runtime

    cloudfront.install()
    lambda_runtime.install()
    events.install()
    install_fault_dispatch()
    install_task_failure_cause()


# --- the control API ------------------------------------------------------------------------------


class ControlApi:
    """``/cfcd-api/*``: faults, propagation delay, origin faults, recorded calls."""

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
        elif path == "/cfcd-api/origin-faults":
            target = self._hooks.origin_faults
            if target is None:
                return 503, {"message": "the edge is not running"}
            if method == "POST":
                origin_fault = OriginFault.model_validate_json(raw)
                target.inject_origin_status(origin_fault.path_prefix, origin_fault.status)
                return 201, origin_fault.model_dump(by_alias=True)
            if method == "DELETE":
                target.clear_origin_faults()
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

        install_extensions()
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


__all__ = ["AwsEndpoint", "ControlHooks", "OriginFaultTarget", "install_extensions"]
