"""`cfcd local up` pre-warms one worker per function, so its first release meets no cold worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfcd.local.lambda_runtime import LambdaRuntime
from tests.unit.local.test_lambda_runtime import echo_spec

pytestmark = pytest.mark.unit


def test_prewarm_starts_one_worker_per_function_that_the_first_invoke_uses(tmp_path: Path) -> None:
    # Given two registered functions, neither invoked yet
    runtime = LambdaRuntime(tmp_path / "logs", {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    runtime.register(echo_spec("first"))
    runtime.register(echo_spec("second"))
    try:
        assert (runtime.worker_count("first"), runtime.worker_count("second")) == (0, 0)

        # When the runtime is pre-warmed
        runtime.prewarm()

        # Then each has one worker, and the first invoke runs on it instead of starting another
        assert (runtime.worker_count("first"), runtime.worker_count("second")) == (1, 1)
        result = runtime.invoke("first", json.dumps({"hello": "world"}).encode())
        assert result.function_error is None
        assert runtime.worker_count("first") == 1
    finally:
        runtime.stop()
