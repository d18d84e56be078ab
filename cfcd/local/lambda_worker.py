"""One warm Lambda sandbox: imports a handler once, then runs invocations sent over a pipe.

Started by :mod:`cfcd.local.lambda_runtime` as ``python -u -I -S lambda_worker.py '<config json>'``.
Only the standard library is imported here so the handler's ``sys.path`` is what Lambda's would
be: the CodeUri, then each layer, then the runtime's SDK, then the standard library; no
site-packages of the interpreter.

``lambda_worker.py --zygote '<config json>'`` is the faster way to the same sandbox: one process
per search path (layers, then runtime) imports the SDK and pydantic once (:data:`PRELOADED`, which
read no function's environment while they import), then forks a sandbox per cold start. The
child takes the function's environment, log and pipes and goes on exactly as a started worker
does. A function whose CodeUri holds a module of that name is started instead, so it imports its own.

Protocol: JSON lines. The runtime writes ``{"requestId", "deadlineMs", "payload"}`` (payload is
the raw event JSON) to the request fd; the worker first answers ``{"ready": true}`` (or an init
error), then one response per request: ``{"ok": true, "result": "<json>"}`` or
``{"ok": false, "errorType", "errorMessage", "stackTrace"}``. stdout/stderr are the function's log.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO


class LambdaContext:
    """The attributes Powertools and handlers read from the real Lambda context object."""

    def __init__(self, config: dict[str, Any], request_id: str, deadline_ms: int) -> None:
        self.function_name: str = config["functionName"]
        self.function_version = "$LATEST"
        self.invoked_function_arn: str = config["functionArn"]
        self.memory_limit_in_mb: int = int(config["memoryMb"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        # Like Lambda: the handler's frames only, not this worker's.
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)[1:]),
    }


def _load_handler(config: dict[str, Any]) -> Callable[[Any, LambdaContext], Any]:
    module_name, _, function_name = str(config["handler"]).rpartition(".")
    module = importlib.import_module(module_name)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


def _send(out: BinaryIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def _invoke(
    handler: Callable[[Any, LambdaContext], Any], config: dict[str, Any], request: dict[str, Any]
) -> dict[str, Any]:
    context = LambdaContext(config, request["requestId"], int(request["deadlineMs"]))
    os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{request['requestId'][:24]}"
    try:
        event = json.loads(request["payload"]) if request["payload"] else {}
        result = handler(event, context)
    except Exception as error:
        traceback.print_exc()
        return _error(error)
    try:
        return {"ok": True, "result": json.dumps(result)}
    except (TypeError, ValueError) as error:
        return {
            "ok": False,
            "errorType": "Runtime.MarshalError",
            "errorMessage": f"Unable to marshal response: {error}",
            "stackTrace": [],
        }
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def run_sandbox(config: dict[str, Any]) -> None:
    """Load the handler (from the CodeUri, ``paths[0]``), then answer invocations until the runtime
    closes the request pipe."""
    requests = os.fdopen(int(config["requestFd"]), "rb")
    responses = os.fdopen(int(config["responseFd"]), "wb")
    for path in reversed(config["paths"]):
        if path not in sys.path:  # a forked sandbox has its layers and runtime already
            sys.path.insert(0, path)
    os.chdir(config["paths"][0])
    try:
        handler = _load_handler(config)
    except Exception as error:
        traceback.print_exc()
        init_error = _error(error)
        init_error["errorType"] = (
            "Runtime.ImportModuleError" if isinstance(error, ImportError) else "Runtime.HandlerNotFound"
        )
        if not isinstance(error, ImportError | AttributeError):
            init_error["errorType"] = type(error).__name__
        _send(responses, init_error)
        return
    _send(responses, {"ready": True})
    for line in requests:
        _send(responses, _invoke(handler, config, json.loads(line)))


# --- the zygote ----------------------------------------------------------------------------------
PRELOADED = ("boto3", "botocore.session", "botocore.client", "pydantic.main", "pydantic.fields")
MAX_MESSAGE = 1 << 20


def _shadowed(code_dir: str, top_level: set[str]) -> list[str]:
    """The preloaded packages a CodeUri holds a module of its own for (that sandbox must import it)."""
    entries = os.listdir(code_dir)
    return sorted(
        name
        for name in top_level
        if name in entries or any(entry.startswith(f"{name}.") for entry in entries)
    )


def _reap_sandboxes(_signal: int, _frame: object) -> None:
    """Wait for every ended sandbox: no zombies, and their CPU time counts as the zygote's children's
    (what ``time`` and ``getrusage`` report for the local cloud)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:  # none left
        pass


def serve_forks(config: dict[str, Any]) -> None:
    """Preload, then fork one sandbox per request received on the socket (with its three fds:
    request pipe, response pipe, log); answer each with ``{"pid"}`` or ``{"shadowed"}``."""
    channel = socket.socket(fileno=int(config["socketFd"]))
    sys.path[:0] = config["paths"]
    top_level: set[str] = set()
    for module in PRELOADED:
        try:
            importlib.import_module(module)
        except ImportError:  # a search path without the SDK: forks still save the interpreter start
            continue
        top_level.add(module.partition(".")[0])
    signal.signal(signal.SIGCHLD, _reap_sandboxes)
    channel.send(json.dumps({"ready": True}).encode())
    while True:
        message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 3)
        if not message:  # the runtime is gone
            return
        request = json.loads(message)
        shadowed = _shadowed(request["config"]["paths"][0], top_level)
        if shadowed or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            channel.send(json.dumps({"shadowed": shadowed}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            channel.close()
            _become_sandbox(request, *fds)
        for fd in fds:
            os.close(fd)
        channel.send(json.dumps({"pid": pid}).encode())


def _become_sandbox(request: dict[str, Any], request_fd: int, response_fd: int, log_fd: int) -> None:
    status = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.environ.clear()
        os.environ.update(request["environment"])
        time.tzset()
        run_sandbox({**request["config"], "requestFd": request_fd, "responseFd": response_fd})
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)  # never back into the zygote's loop


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        serve_forks(json.loads(sys.argv[2]))
    else:
        run_sandbox(json.loads(sys.argv[1]))
