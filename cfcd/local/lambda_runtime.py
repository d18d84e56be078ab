"""A Lambda runtime without Docker: each function's real handler in warm worker processes.

moto only runs Lambda code in Docker. :mod:`cfcd.local.moto_patches` routes ``LambdaFunction.invoke``
to :func:`invoke_registered` so an invoke of a registered function runs its handler in a worker subprocess
(:mod:`cfcd.local.lambda_worker`) started with the template's environment. Like Lambda, a busy
function scales out to more workers (up to a cap), an unhandled exception becomes a
``FunctionError`` with the exception class as ``errorType``, and the template's ``Timeout`` is
enforced (the worker is killed and ``Sandbox.Timedout`` returned). As on Lambda, a worker imports
its ``CodeUri``, then its layers, then the runtime's SDK (:mod:`cfcd.local.lambda_packages`) and
the standard library; never the virtualenv that runs the local cloud. Cold workers are forked
from a zygote that imported the SDK once (:class:`_Zygote`): the same sandbox, minus most of the
CPU of its imports.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
DEFAULT_MAX_WORKERS_PER_FUNCTION = 4
# Importing boto3 + Powertools takes a while on a loaded machine; Lambda's init phase gets 10 s.
INIT_TIMEOUT_SECONDS = 30.0
# Host variables a Python process needs to run at all; nothing else of the host leaks in.
_HOST_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "TZ")


@dataclass(frozen=True)
class FunctionSpec:
    """Everything the runtime needs to run one function of the template."""

    name: str
    arn: str
    handler: str  # "app.lambda_handler"
    code_dir: Path
    layer_dirs: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3.0
    memory_mb: int = 128


@dataclass(frozen=True)
class InvokeResult:
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the function failed

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


class TooManyRequests(RuntimeError):
    """Every worker of the function stayed busy past the wait deadline."""


def _error_payload(error_type: str, message: str, stack: list[str] | None = None) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": stack or []}).encode()


def _host_environment() -> dict[str, str]:
    """What a Python process of the host needs to run at all, and nothing more of the host."""
    return {name: os.environ[name] for name in _HOST_VARIABLES if name in os.environ}


def _worker_command(*arguments: str) -> list[str]:
    # -I: no environment or user site; -S: no site-packages, so no virtualenv.
    return [sys.executable, "-u", "-I", "-S", str(WORKER_SCRIPT), *arguments]


class _ForkedSandbox:
    """A sandbox the zygote forked: not our child, so watched and killed through a pidfd."""

    def __init__(self, pid: int) -> None:
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # it already ended
            self._pidfd = None

    def poll(self) -> int | None:
        """None while it runs (what ``Popen.poll`` says; its exit status is the zygote's to reap)."""
        if self._pidfd is None:
            return -1
        exited, _, _ = select.select([self._pidfd], [], [], 0)
        return -1 if exited else None

    def kill(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def wait(self, timeout: float) -> None:
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
            os.close(self._pidfd)
            self._pidfd = None


class _Zygote:
    """``lambda_worker.py --zygote`` for one search path (layers, then runtime): it imported the SDK
    once and forks each cold sandbox, which then skips most of a cold start's imports."""

    def __init__(self, search_path: Sequence[Path], env: Mapping[str, str]) -> None:
        self._channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {"socketFd": theirs.fileno(), "paths": [str(path) for path in search_path]}
        try:
            self._process = subprocess.Popen(
                _worker_command("--zygote", json.dumps(config)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=dict(env),
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self._channel.settimeout(INIT_TIMEOUT_SECONDS)
        self._lock = threading.Lock()
        self._ready = False

    def fork(self, config: Mapping[str, Any], env: Mapping[str, str], fds: Sequence[int]) -> int | None:
        """The pid of a sandbox forked for ``config``; None when it must be started instead (its
        CodeUri shadows a preloaded package, or the zygote is gone)."""
        message = json.dumps({"config": config, "environment": dict(env)}).encode()
        with self._lock:
            try:
                if not self._ready:
                    self._ready = json.loads(self._channel.recv(4096)).get("ready", False)
                socket.send_fds(self._channel, [message], list(fds))
                answer = json.loads(self._channel.recv(4096))
            except (OSError, ValueError):
                LOG.warning("the Lambda zygote did not answer; starting sandboxes instead")
                return None
        pid = answer.get("pid")
        return int(pid) if pid is not None else None

    def close(self) -> None:
        self._channel.close()  # the zygote reads end-of-file and exits
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)


class _Worker:
    """One sandbox: a process and the two pipes of the protocol."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: dict[str, str],
        runtime_paths: Sequence[Path],
        log_file: BinaryIO,
        zygote: _Zygote | None = None,
    ) -> None:
        self.spec = spec
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        paths = [spec.code_dir, *spec.layer_dirs, *runtime_paths]
        config = {
            "handler": spec.handler,
            "paths": [str(path) for path in paths],
            "functionName": spec.name,
            "functionArn": spec.arn,
            "memoryMb": spec.memory_mb,
        }
        try:
            pid = (
                zygote.fork(config, env, (request_read, response_write, log_file.fileno()))
                if zygote
                else None
            )
            self._process: subprocess.Popen[bytes] | _ForkedSandbox
            if pid is not None:
                self._process = _ForkedSandbox(pid)
            else:
                self._process = subprocess.Popen(
                    _worker_command(
                        json.dumps({**config, "requestFd": request_read, "responseFd": response_write})
                    ),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    env=env,
                    pass_fds=(request_read, response_write),
                    cwd=str(spec.code_dir),
                )
        finally:
            os.close(request_read)
            os.close(response_write)
        self._buffer = b""

    def wait_ready(self) -> dict[str, Any] | None:
        """None when ready; the init error response otherwise."""
        message = self._read_message(time.monotonic() + max(INIT_TIMEOUT_SECONDS, self.spec.timeout_seconds))
        if message is None:
            return {"ok": False, "errorType": "Runtime.InitTimeout", "errorMessage": "init timed out"}
        return None if message.get("ready") else message

    def call(self, request: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """The worker's response, or None if the deadline passed or the worker died."""
        try:
            os.write(self._request_write, json.dumps(request).encode() + b"\n")
        except BrokenPipeError:
            return None
        return self._read_message(deadline)

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._response_read], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._response_read, 65536)
            if not chunk:  # the worker exited
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        with contextlib.suppress(OSError):
            self._process.wait(timeout=5)
        for fd in (self._request_write, self._response_read):
            with contextlib.suppress(OSError):
                os.close(fd)


class _FunctionPool:
    """The warm workers of one function; scales out while all are busy, up to a cap."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: dict[str, str],
        runtime_paths: Sequence[Path],
        log_path: Path,
        max_workers: int,
        zygote: Callable[[], _Zygote | None] = lambda: None,
    ) -> None:
        self.spec = spec
        self._env = env
        self._runtime_paths = tuple(runtime_paths)
        self._zygote = zygote
        self._log_path = log_path
        self._max_workers = max_workers
        self._condition = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._closed = False

    def invoke(self, payload: bytes) -> InvokeResult:
        worker = self._acquire()
        healthy = False
        try:
            if worker is None:
                raise TooManyRequests(f"all {self._max_workers} workers of {self.spec.name} are busy")
            if isinstance(worker, dict):  # init failed
                return InvokeResult(_error_payload(worker["errorType"], worker["errorMessage"]), "Unhandled")
            request_id = str(uuid.uuid4())
            started = time.monotonic()
            deadline_ms = int((time.time() + self.spec.timeout_seconds) * 1000)
            request = {"requestId": request_id, "deadlineMs": deadline_ms, "payload": payload.decode()}
            response = worker.call(request, started + self.spec.timeout_seconds)
            if response is None:
                if worker.alive:
                    message = f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
                    return InvokeResult(_error_payload("Sandbox.Timedout", message), "Unhandled")
                return InvokeResult(_error_payload("Runtime.ExitError", "the worker exited"), "Unhandled")
            healthy = True
            if response["ok"]:
                return InvokeResult(str(response["result"]).encode())
            return InvokeResult(
                _error_payload(response["errorType"], response["errorMessage"], response.get("stackTrace")),
                "Unhandled",
            )
        finally:
            if isinstance(worker, _Worker):
                self._release(worker, healthy)

    def _acquire(self) -> _Worker | dict[str, Any] | None:
        wait_deadline = time.monotonic() + self.spec.timeout_seconds + INIT_TIMEOUT_SECONDS
        with self._condition:
            while not self._idle and len(self._all) + self._starting >= self._max_workers:
                remaining = wait_deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._condition.wait(remaining)
            if self._idle:
                return self._idle.pop()
            self._starting += 1
        with self._log_path.open("ab") as log_file:
            worker = _Worker(self.spec, self._env, self._runtime_paths, log_file, self._zygote())
        init_error = worker.wait_ready()
        with self._condition:
            self._starting -= 1
            if init_error is None and not self._closed:
                self._all.add(worker)
                return worker
            self._condition.notify()
        worker.kill()
        return init_error or {"errorType": "Runtime.ExitError", "errorMessage": "runtime stopped"}

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._condition:
            if healthy and worker.alive and not self._closed:
                self._idle.append(worker)
                self._condition.notify()
                return
            self._all.discard(worker)
            self._condition.notify()
        worker.kill()  # a timed-out or crashed sandbox is never reused

    def prewarm(self) -> None:
        """Start one worker now instead of on the first invoke (an init error is left for that invoke)."""
        worker = self._acquire()
        if isinstance(worker, _Worker):
            self._release(worker, healthy=True)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._condition.notify_all()
        for worker in workers:
            worker.kill()

    @property
    def worker_count(self) -> int:
        with self._condition:
            return len(self._all)


class LambdaRuntime:
    """The functions of a deployed template and their worker pools.

    ``runtime_paths`` stand for what Lambda's python runtime adds after the layers (its boto3 and
    botocore, :func:`cfcd.local.lambda_packages.runtime_sdk`). ``fork_sandboxes``: cold sandboxes
    are forked from a zygote per search path (:mod:`cfcd.local.lambda_worker`) instead of started;
    a local cold start then costs less than Lambda's, which ``make bench`` measures on its own.
    """

    def __init__(
        self,
        log_dir: Path,
        base_environment: Mapping[str, str],
        max_workers_per_function: int = DEFAULT_MAX_WORKERS_PER_FUNCTION,
        runtime_paths: Sequence[Path] = (),
        fork_sandboxes: bool = True,
    ) -> None:
        self._runtime_paths = tuple(runtime_paths)
        self._log_dir = log_dir
        self._base_environment = dict(base_environment)
        self._max_workers = max_workers_per_function
        self._fork_sandboxes = fork_sandboxes
        self._pools: dict[str, _FunctionPool] = {}
        self._zygotes: dict[tuple[Path, ...], _Zygote] = {}
        self._lock = threading.Lock()

    def register(self, spec: FunctionSpec) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment_for(spec)
        search_path = (*spec.layer_dirs, *self._runtime_paths)
        pool = _FunctionPool(
            spec,
            env,
            self._runtime_paths,
            self._log_dir / f"{spec.name}.log",
            self._max_workers,
            functools.partial(self._zygote, search_path),
        )
        with self._lock:
            previous = self._pools.pop(spec.name, None)
            self._pools[spec.name] = pool
        if previous is not None:
            previous.close()

    def environment_for(self, spec: FunctionSpec) -> dict[str, str]:
        env = _host_environment()
        env.update(self._base_environment)
        env.update(spec.environment)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_seconds)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _zygote(self, search_path: tuple[Path, ...]) -> _Zygote | None:
        if not self._fork_sandboxes:
            return None
        with self._lock:
            if search_path not in self._zygotes:
                self._zygotes[search_path] = _Zygote(search_path, _host_environment())
            return self._zygotes[search_path]

    def has_function(self, name: str) -> bool:
        with self._lock:
            return name in self._pools

    def spec(self, name: str) -> FunctionSpec:
        with self._lock:
            return self._pools[name].spec

    def worker_count(self, name: str) -> int:
        with self._lock:
            pool = self._pools[name]
        return pool.worker_count

    def invoke(self, name: str, payload: bytes) -> InvokeResult:
        with self._lock:
            pool = self._pools.get(name)
        if pool is None:
            raise KeyError(f"function {name} is not registered with the local runtime")
        return pool.invoke(payload)

    def prewarm(self) -> None:
        """One warm worker per function, started side by side: a first release then meets no cold
        worker (`cfcd local up`; on AWS a cold function pays its init instead)."""
        with self._lock:
            pools = list(self._pools.values())
        starters = [threading.Thread(target=pool.prewarm, daemon=True) for pool in pools]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()

    def stop(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for pool in pools:
            pool.close()
        for zygote in zygotes:
            zygote.close()


# --- invokes reach the runtime ----------------------------------------------------------------------
# cfcd.local.moto_patches wraps LambdaFunction.invoke(body, request_headers, response_headers),
# what both the Invoke API and moto's Step Functions interpreter reach, with invoke_registered.
# Setting x-amz-function-error: Unhandled with an errorType body is how real Lambda reports a
# failed function; the interpreter maps it to the state machine error of that name.

_active_runtime: LambdaRuntime | None = None


def activate(runtime: LambdaRuntime | None) -> None:
    """Route invokes of registered functions to ``runtime`` (None: back to moto's behaviour)."""
    global _active_runtime
    _active_runtime = runtime


def invoke_registered(
    function_name: str, body: Any, request_headers: Mapping[str, str], response_headers: dict[str, str]
) -> bytes | None:
    """The answer of the active runtime to one invoke; None when it does not run ``function_name``."""
    from moto.core.exceptions import ServiceException

    runtime = _active_runtime
    if runtime is None or not runtime.has_function(function_name):
        return None
    payload = body.encode() if isinstance(body, str) else (body or b"")
    invocation_type = request_headers.get("x-amz-invocation-type") or request_headers.get(
        "X-Amz-Invocation-Type", "RequestResponse"
    )
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(
            target=_invoke_in_background, args=(runtime, function_name, payload), daemon=True
        ).start()
        return b""
    try:
        result = runtime.invoke(function_name, payload)
    except TooManyRequests as error:
        raise ServiceException("TooManyRequestsException", str(error)) from error
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-executed-version"] = "$LATEST"
    return result.payload


def _invoke_in_background(runtime: LambdaRuntime, name: str, payload: bytes) -> None:
    try:
        result = runtime.invoke(name, payload)
    except Exception:
        LOG.exception("asynchronous invoke of %s failed", name)
        return
    if result.function_error:
        LOG.warning("asynchronous invoke of %s failed: %s", name, result.payload[:500])
