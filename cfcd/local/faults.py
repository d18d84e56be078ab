"""Fault injection and call recording for the local AWS endpoint.

Tests register a fault ``(service, operation, error code, HTTP status, count, when, matching)``;
the next ``count`` matching AWS calls are answered with that AWS error: instead of reaching moto
(``when="before"``, the default), or once moto has carried the call out (``when="after"``: AWS
applied the request but its answer was lost). ``matching`` narrows a fault to the calls whose
request names one resource (a distribution id in the URL, a lock key in the body), so that
releases running side by side on other resources never meet it. Every AWS call is also recorded
``(service, operation, time)`` so a test can prove that a run made no writes. Both live in the
server process; :class:`FaultsClient` drives them over HTTP (``/cfcd-api/...`` on the AWS
endpoint, served by :mod:`cfcd.local.aws`), as it drives the edge's faults.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# Enough for any test run; beyond it the oldest calls are dropped.
MAX_RECORDED_CALLS = 100_000


class Fault(BaseModel):
    """An AWS error to answer instead of the real response, ``count`` times."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    service: str = Field(min_length=1, description="boto3 service name, e.g. 'cloudfront'")
    operation: str = Field(min_length=1, description="API operation, e.g. 'UpdateDistribution'")
    error: str = Field(min_length=1, description="AWS error code, e.g. 'Throttling'")
    http_status: int = Field(default=400, ge=400, le=599, alias="httpStatus")
    count: int = Field(default=1, ge=1)
    message: str = "Injected by cfcd local cloud"
    when: Literal["before", "after"] = Field(
        default="before", description="'after': the call takes effect, then its answer is this error"
    )
    matching: list[str] = Field(
        default_factory=list,
        description="only calls whose request URL or body contains every one of these texts "
        "(S3: the URL only)",
    )

    def applies_to(self, service: str, operation: str, request_text: Callable[[], str] | None) -> bool:
        if self.service.lower() != service.lower() or self.operation != operation:
            return False
        if not self.matching:
            return True
        text = request_text() if request_text is not None else ""
        return all(part in text for part in self.matching)


class RecordedCall(BaseModel):
    service: str
    operation: str
    time: float


class OriginFault(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    path_prefix: str = Field(alias="pathPrefix", min_length=1)
    status: int = Field(ge=100, le=599)


class EdgeFaults(BaseModel):
    """How the edge misbehaves on purpose."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    # Under heavy load CloudFront may send every request to the primary, whatever the policy says.
    all_traffic_to_primary: bool = Field(alias="allTrafficToPrimary")


class PropagationSetting(BaseModel):
    seconds: float = Field(ge=0)


# Step Functions' limit on one execution's history, in events (a hard quota):
# https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
STEP_FUNCTIONS_HISTORY_LIMIT = 25_000


class HistoryLimitSetting(BaseModel):
    """How many events an execution started from now on may write (AWS: 25,000; only lower here)."""

    events: int = Field(ge=2, le=STEP_FUNCTIONS_HISTORY_LIMIT)


_CALLS = TypeAdapter(list[RecordedCall])


class FaultRegistry:
    """Thread-safe store of pending faults and recorded calls (one per server process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._calls: list[RecordedCall] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault.model_copy())

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault.model_copy() for fault in self._faults]

    def record_and_match(
        self, service: str, operation: str, request_text: Callable[[], str] | None = None
    ) -> Fault | None:
        """Record one AWS call; return the fault to answer it with, consuming one use.

        ``request_text`` gives the request's URL and body, read only if a fault ``matching``
        some text waits for this operation."""
        with self._lock:
            self._calls.append(RecordedCall(service=service, operation=operation, time=time.time()))
            if len(self._calls) > MAX_RECORDED_CALLS:
                del self._calls[: len(self._calls) - MAX_RECORDED_CALLS]
            for fault in self._faults:
                if fault.applies_to(service, operation, request_text):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault.model_copy()
            return None

    def restore(self, fault: Fault) -> None:
        """Give back one use of ``fault`` (it matched a call that must not consume it)."""
        with self._lock:
            pending = next((f for f in self._faults if _same_fault(f, fault)), None)
            if pending is None:
                self._faults.append(fault.model_copy(update={"count": 1}))
            else:
                pending.count += 1

    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()


def _same_fault(one: Fault, other: Fault) -> bool:
    return one.model_dump(exclude={"count"}) == other.model_dump(exclude={"count"})


REGISTRY = FaultRegistry()
"""The registry of this process; the patched moto dispatch consults it."""


class FaultsApiError(RuntimeError):
    pass


class FaultsClient:
    """Typed client of the ``/cfcd-api`` endpoints, for tests and scripts."""

    def __init__(self, endpoint: str, timeout_seconds: float = 10.0) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._timeout = timeout_seconds

    def inject(
        self,
        service: str,
        operation: str,
        error: str,
        http_status: int = 400,
        count: int = 1,
        *,
        when: Literal["before", "after"] = "before",
        matching: Sequence[str] = (),
    ) -> Fault:
        """The next ``count`` calls of ``operation`` get ``error``; ``when="after"`` once they took
        effect; with ``matching``, only calls whose request contains each of those texts."""
        fault = Fault(
            service=service,
            operation=operation,
            error=error,
            http_status=http_status,
            count=count,
            when=when,
            matching=list(matching),
        )
        self._request("POST", "/cfcd-api/faults", fault.model_dump(by_alias=True))
        return fault

    def clear(self) -> None:
        self._request("DELETE", "/cfcd-api/faults")

    def pending(self) -> list[Fault]:
        body = self._request("GET", "/cfcd-api/faults")
        return TypeAdapter(list[Fault]).validate_python(body)

    def set_propagation_seconds(self, seconds: float) -> None:
        self._request("POST", "/cfcd-api/propagation", PropagationSetting(seconds=seconds).model_dump())

    def set_history_limit(self, events: int) -> None:
        """Executions started from now on fail ``States.Runtime`` at ``events`` history events."""
        self._request("POST", "/cfcd-api/history-limit", HistoryLimitSetting(events=events).model_dump())

    def history_limit(self) -> int:
        return HistoryLimitSetting.model_validate(self._request("GET", "/cfcd-api/history-limit")).events

    def inject_origin_status(self, path_prefix: str, status: int) -> None:
        fault = OriginFault(path_prefix=path_prefix, status=status)
        self._request("POST", "/cfcd-api/origin-faults", fault.model_dump(by_alias=True))

    def clear_origin_faults(self) -> None:
        self._request("DELETE", "/cfcd-api/origin-faults")

    def send_all_traffic_to_primary(self, enabled: bool = True) -> None:
        """Make the edge ignore every continuous deployment policy, as CloudFront may under load."""
        self._request(
            "POST",
            "/cfcd-api/edge-faults",
            EdgeFaults(all_traffic_to_primary=enabled).model_dump(by_alias=True),
        )

    def clear_edge_faults(self) -> None:
        self._request("DELETE", "/cfcd-api/edge-faults")

    def calls(self) -> list[RecordedCall]:
        return _CALLS.validate_python(self._request("GET", "/cfcd-api/calls"))

    def reset_calls(self) -> None:
        self._request("DELETE", "/cfcd-api/calls")

    def reset(self) -> None:
        """Clear faults, origin and edge faults and recorded calls; AWS's history limit again."""
        self.clear()
        self.clear_origin_faults()
        self.clear_edge_faults()
        self.reset_calls()
        self.set_history_limit(STEP_FUNCTIONS_HISTORY_LIMIT)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self._endpoint + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise FaultsApiError(f"{method} {path}: HTTP {error.code} {error.read().decode()}") from error
        return json.loads(text) if text else None
