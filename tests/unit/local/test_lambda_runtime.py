"""The Docker-free Lambda runtime: real handlers in warm worker processes."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cfcd.local.lambda_runtime import FunctionSpec, InvokeResult, LambdaRuntime

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures"
ECHO_DIR = FIXTURES / "functions" / "echo"
LAYER_DIR = FIXTURES / "layer"


def echo_spec(name: str = "echo", timeout: float = 2.0, handler: str = "app.lambda_handler") -> FunctionSpec:
    return FunctionSpec(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        handler=handler,
        code_dir=ECHO_DIR,
        layer_dirs=(LAYER_DIR,),
        environment={"GREETING": "hi from the template", "TABLE_NAME": "table-1"},
        timeout_seconds=timeout,
        memory_mb=256,
    )


@pytest.fixture
def runtime_sdk(tmp_path: Path) -> Path:
    """Stands in for what Lambda's python runtime provides after the layers."""
    sdk = tmp_path / "runtime-sdk"
    sdk.mkdir()
    (sdk / "runtime_only.py").write_text("PROVIDED = True\n")
    return sdk


@pytest.fixture(params=[True, False], ids=["forked", "started"])
def runtime(tmp_path: Path, runtime_sdk: Path, request: pytest.FixtureRequest) -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(
        tmp_path / "logs",
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "eu-west-1"},
        runtime_paths=(runtime_sdk,),
        fork_sandboxes=request.param,
    )
    runtime.register(echo_spec())
    yield runtime
    runtime.stop()


def test_a_forked_sandbox_has_the_sdk_imported_unless_its_code_brings_its_own(tmp_path: Path) -> None:
    # Given a runtime SDK with a boto3, and two functions: one without a boto3, one with its own
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    (sdk / "boto3.py").write_text("import os\nIMPORTED_BY_PID = os.getpid()\n")
    own_sdk_dir = tmp_path / "own-sdk"
    shutil.copytree(ECHO_DIR, own_sdk_dir)
    (own_sdk_dir / "boto3.py").write_text("import os\nIMPORTED_BY_PID = os.getpid()\n")
    runtime = LambdaRuntime(tmp_path / "logs", {}, runtime_paths=(sdk,))
    runtime.register(echo_spec())
    runtime.register(replace(echo_spec("own-sdk"), code_dir=own_sdk_dir))
    try:
        # When each imports boto3
        plain = invoke(runtime, {"import": "boto3"}).json()
        own = invoke(runtime, {"import": "boto3"}, "own-sdk").json()
    finally:
        runtime.stop()

    # Then the first found the SDK's, imported before its sandbox was forked
    assert plain["imported"]["file"] == str(sdk / "boto3.py")
    assert plain["imported"]["byPid"] != plain["pid"]
    # And the second imported its own, in its own sandbox, as it would on Lambda
    assert own["imported"] == {"file": str(own_sdk_dir / "boto3.py"), "byPid": own["pid"]}


def invoke(runtime: LambdaRuntime, event: dict[str, Any], name: str = "echo") -> InvokeResult:
    return runtime.invoke(name, json.dumps(event).encode())


def test_handler_result_with_template_env_layer_and_context(runtime: LambdaRuntime) -> None:
    # When the function is invoked
    result = invoke(runtime, {"hello": "world"})

    # Then the real handler answered with its environment, its layer and a Lambda-like context
    assert result.function_error is None
    body = result.json()
    assert body["event"] == {"hello": "world"}
    assert body["greeting"] == "hi from the template"
    assert body["tableName"] == "table-1"
    assert body["endpoint"] == "http://127.0.0.1:1"
    assert body["layer"] == "from the layer"
    assert body["functionName"] == "echo"
    assert 0 < body["remainingMs"] <= 2000
    assert body["cwd"] == str(ECHO_DIR)


def test_the_sandbox_imports_its_code_its_layers_and_the_runtime_only(
    runtime: LambdaRuntime, runtime_sdk: Path
) -> None:
    # When the function looks at its import path and imports what Lambda's runtime provides
    body = invoke(runtime, {"import": "runtime_only"}).json()

    # Then the path is the code, the layer, the runtime's SDK, then the standard library
    assert body["path"][:3] == [str(ECHO_DIR), str(LAYER_DIR), str(runtime_sdk)]
    assert not [entry for entry in body["path"] if "site-packages" in entry]


@pytest.mark.parametrize("package", ["pydantic", "pytest", "boto3"])
def test_packages_of_the_local_virtualenv_are_not_importable(runtime: LambdaRuntime, package: str) -> None:
    # A dependency the layer lacks would fail on Lambda: it fails here too
    result = invoke(runtime, {"import": package})

    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "ModuleNotFoundError"


def test_unhandled_exception_is_a_function_error_named_after_the_class(runtime: LambdaRuntime) -> None:
    result = invoke(runtime, {"fail": "probe saw 500"})

    assert result.function_error == "Unhandled"
    error = result.json()
    assert error["errorType"] == "ProbeFailed"
    assert error["errorMessage"] == "asked to fail: probe saw 500"
    assert any("app.py" in frame for frame in error["stackTrace"])
    assert not any("lambda_worker.py" in frame for frame in error["stackTrace"])


def test_warm_worker_is_reused(runtime: LambdaRuntime) -> None:
    first = invoke(runtime, {}).json()
    second = invoke(runtime, {}).json()

    assert first["pid"] == second["pid"]
    assert first["requestId"] != second["requestId"]
    assert runtime.worker_count("echo") == 1


def test_timeout_is_enforced_and_a_fresh_worker_serves_the_next_invoke(runtime: LambdaRuntime) -> None:
    # Given a warm worker
    warm_pid = invoke(runtime, {}).json()["pid"]

    # When an invoke runs past the template's 2 s timeout
    result = invoke(runtime, {"sleep": 30})

    # Then it fails like Lambda, and the sandbox is replaced
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Sandbox.Timedout"
    assert "2.00 seconds" in result.json()["errorMessage"]
    after = invoke(runtime, {}).json()
    assert after["pid"] != warm_pid


def test_busy_function_scales_out_to_another_worker(runtime: LambdaRuntime) -> None:
    # Given a warm worker
    invoke(runtime, {})
    results: list[InvokeResult] = []

    # When two invokes overlap
    def slow() -> None:
        results.append(invoke(runtime, {"sleep": 1}))

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then each ran in its own process
    assert len({result.json()["pid"] for result in results}) == 2
    assert runtime.worker_count("echo") == 2


def test_function_log_is_captured_per_function(runtime: LambdaRuntime, tmp_path: Path) -> None:
    invoke(runtime, {"marker": 1})
    invoke(runtime, {"fail": "x"})
    runtime.stop()

    log = (tmp_path / "logs" / "echo.log").read_text()
    assert "echo invoked with ['marker']" in log
    assert "ProbeFailed: asked to fail: x" in log


def test_missing_handler_is_an_init_error(runtime: LambdaRuntime) -> None:
    runtime.register(echo_spec("broken", handler="app.no_such_handler"))
    runtime.register(echo_spec("missing", handler="nope.lambda_handler"))

    assert invoke(runtime, {}, "broken").json()["errorType"] == "Runtime.HandlerNotFound"
    assert invoke(runtime, {}, "missing").json()["errorType"] == "Runtime.ImportModuleError"


def test_unserializable_result_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    result = invoke(runtime, {"unserializable": True})

    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Runtime.MarshalError"


def test_environment_is_the_template_plus_lambda_variables_only(
    runtime: LambdaRuntime, monkeypatch: Any
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    env = runtime.environment_for(echo_spec())

    assert "AWS_PROFILE" not in env
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["GREETING"] == "hi from the template"
