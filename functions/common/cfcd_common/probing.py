"""HTTP probes through the primary's domain (viewers cannot reach a staging distribution directly).

In AWS the probe calls https://<primary domain>. On the local cloud CFCD_EDGE_ENDPOINT names the
edge server and the domain travels in the Host header. No cookie jar: every request is a new
viewer, so in weight mode each one is a fresh draw instead of sticking to one side.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from cfcd_common.models import HeaderTraffic, Probe, ProbeCheck, ProbeReport, Traffic

MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Response:
    status: int  # 0 when no HTTP answer came back
    body: str


Fetch = Callable[[str, dict[str, str]], Response]


def http_fetcher(domain_name: str, edge_endpoint: str | None, timeout_seconds: float = 10.0) -> Fetch:
    base = edge_endpoint.rstrip("/") if edge_endpoint else f"https://{domain_name}"

    def fetch(path: str, headers: dict[str, str]) -> Response:
        sent = {"User-Agent": "cfcd-probe", **headers}
        if edge_endpoint:
            sent["Host"] = domain_name
        request = urllib.request.Request(base + path, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:  # noqa: S310
                return Response(answer.status, answer.read(MAX_BODY_BYTES).decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read(MAX_BODY_BYTES).decode("utf-8", "replace"))
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            return Response(0, f"no answer: {error}")

    return fetch


def _serves_release(response: Response, probe: Probe) -> bool:
    return response.status == probe.expect.status and probe.expect.bodyContains in response.body


def _detail(response: Response) -> str:
    return f"HTTP {response.status}: {response.body[:200]}"


def probe_staging(fetch: Fetch, probe: Probe, traffic: Traffic) -> tuple[ProbeReport, int]:
    """The checks of one probe round, and how many of its answers carried the staging release."""
    marker = probe.expect.bodyContains
    if isinstance(traffic, HeaderTraffic):
        with_header = fetch(probe.path, {traffic.header: traffic.value})
        without_header = fetch(probe.path, {})
        served = sum(marker in response.body for response in (with_header, without_header))
        checks = [
            ProbeCheck(
                description=f"GET {probe.path} with {traffic.header}: {traffic.value} serves {marker!r}",
                status=with_header.status,
                passed=_serves_release(with_header, probe),
                detail=_detail(with_header),
            ),
            ProbeCheck(
                description=f"GET {probe.path} without the header still serves the primary",
                status=without_header.status,
                passed=0 < without_header.status < 500 and marker not in without_header.body,
                detail=_detail(without_header),
            ),
        ]
    else:
        responses = [fetch(probe.path, {}) for _ in range(probe.samples)]
        staged = [response for response in responses if _serves_release(response, probe)]
        served = sum(marker in response.body for response in responses)
        broken = [response for response in responses if not 0 < response.status < 500]
        checks = [
            ProbeCheck(
                description=f"{probe.samples} new viewers of {probe.path}: some get {marker!r} "
                f"(weight {traffic.weight})",
                status=staged[0].status if staged else responses[-1].status,
                passed=bool(staged),
                detail=f"{len(staged)} of {len(responses)} served the staging release",
            ),
            ProbeCheck(
                description=f"every response to {probe.path} is healthy",
                status=broken[0].status if broken else responses[-1].status,
                passed=not broken,
                detail=_detail(broken[0]) if broken else f"{len(responses)} responses below 500",
            ),
        ]
    return _report("staging", checks), served


def verify_primary(fetch: Fetch, probe: Probe) -> ProbeReport:
    response = fetch(probe.path, {})
    check = ProbeCheck(
        description=f"GET {probe.path} without any header serves {probe.expect.bodyContains!r}",
        status=response.status,
        passed=_serves_release(response, probe),
        detail=_detail(response),
    )
    return _report("primary", [check])


def _report(side: str, checks: list[ProbeCheck]) -> ProbeReport:
    failed = [check for check in checks if not check.passed]
    ok = not failed
    summary = (
        f"{side}: all {len(checks)} checks passed"
        if ok
        else f"{side}: {len(failed)} of {len(checks)} checks failed: "
        + "; ".join(c.description for c in failed)
    )
    return ProbeReport(ok=ok, summary=summary, checks=checks)
