"""The edge HTTP server: plays CloudFront's edge for every distribution the view knows."""

from __future__ import annotations

import base64
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import unquote, urlsplit

from cfcd.local.edge import pages
from cfcd.local.edge.cache import EdgeCache, cache_ttl
from cfcd.local.edge.deployment import ContinuousDeploymentRouter, RoutingDecision
from cfcd.local.edge.metrics import EdgeMetrics
from cfcd.local.edge.origin import OriginBucketNotFound, OriginObject, OriginReader, bucket_of_origin
from cfcd.local.edge.routing import behavior_for, distribution_host, origin_for, origin_key_path
from cfcd.local.edge_view import EdgeView

LOG = logging.getLogger(__name__)

SERVED_METHODS = frozenset({"GET", "HEAD"})
EDGE_LOCATION = "LOC50-P1"  # x-amz-cf-pop: a made-up edge location for the loopback "region"


@dataclass
class EdgeResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class EdgeServer:
    """CloudFront's edge on loopback, for every distribution of ``view``.

    Viewers name the distribution in the ``Host`` header (its ``*.cloudfront.net`` domain or an
    alias) or connect to ``<label>.cloudfront.localhost:<port>``. Only the propagated state the
    view reports is used. ``rng``, ``clock`` (epoch seconds) and ``session_secret`` are there
    so tests can control the weight draw, time, and the stickiness cookie. With ``metrics``, every
    answer of a distribution counts towards its CloudFront metrics (a staging distribution's
    under its own id), which ``metrics`` publishes while the server runs.

    Test hooks: :meth:`inject_origin_status` / :meth:`clear_origin_faults` make the origin answer
    with an HTTP status for keys under a path prefix; :meth:`send_all_traffic_to_primary` plays
    CloudFront under heavy load, ignoring every continuous deployment policy;
    :meth:`clear_cache` empties every cache.
    """

    def __init__(
        self,
        view: EdgeView,
        origin: OriginReader,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        session_secret: bytes | None = None,
        metrics: EdgeMetrics | None = None,
    ) -> None:
        self._view = view
        self._metrics = metrics
        self._origin = origin
        self._clock = clock
        self._address = (host, port)
        self._cache = EdgeCache(clock)
        self._router = ContinuousDeploymentRouter(
            rng or random.Random(), clock, session_secret or secrets.token_bytes(32)
        )
        self._via = f"1.1 {secrets.token_hex(16)}.cloudfront.net (CloudFront)"
        self._faults: dict[str, int] = {}
        self._faults_lock = threading.Lock()
        self._httpd: _EdgeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        view.add_invalidation_listener(self._cache.invalidate)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("edge server already started")
        if self._metrics is not None:
            self._metrics.start()
        httpd = _EdgeHTTPServer(self._address, _EdgeRequestHandler)
        httpd.edge = self
        self._httpd = httpd
        # A short poll interval keeps stop() quick: shutdown() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="cfcd-edge", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None
        if self._metrics is not None:
            self._metrics.stop()

    def __enter__(self) -> EdgeServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>``, once started."""
        if self._httpd is None:
            raise RuntimeError("edge server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- test hooks ------------------------------------------------------------------------------

    def inject_origin_status(self, path_prefix: str, status: int) -> None:
        """Origin requests whose key path (OriginPath + path, e.g. ``/2.0.0/index.html``) starts with
        ``path_prefix`` get ``status`` from the origin; the longest matching prefix wins."""
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        with self._faults_lock:
            self._faults[path_prefix] = status

    def clear_origin_faults(self) -> None:
        with self._faults_lock:
            self._faults.clear()

    def send_all_traffic_to_primary(self, enabled: bool) -> None:
        self._router.send_all_traffic_to_primary(enabled)

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- request handling ------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> EdgeResponse:
        """Answer one viewer request. ``headers`` maps lower-cased header names to values.

        A HEAD answer keeps its body here (its length is the Content-Length); the HTTP layer
        leaves the body out."""
        request_id = base64.urlsafe_b64encode(os.urandom(40)).decode()
        try:
            return self._finish(self._answer(method, target, headers, request_id), request_id)
        except Exception:  # a bug here must answer like a broken edge, not drop the connection
            LOG.exception("edge failed to answer %s %s", method, target)
            return self._finish(self._error_page(502, pages.ORIGIN_UNREACHABLE, request_id), request_id)

    def _answer(self, method: str, target: str, headers: Mapping[str, str], request_id: str) -> EdgeResponse:
        distribution = self._view.distribution_for_host(distribution_host(headers.get("host", "")))
        # Viewers cannot reach a staging distribution directly, and a disabled one answers 403.
        if distribution is None or distribution.staging or not distribution.enabled:
            return self._error_page(403, pages.UNKNOWN_HOST, request_id)
        if method not in SERVED_METHODS:
            return self._counted(
                distribution.distribution_id, self._error_page(403, pages.METHOD_NOT_ALLOWED, request_id)
            )
        decision = self._router.route(distribution, headers, headers.get("cookie"))
        response = self._serve(decision, urlsplit(target).path or "/", headers, request_id)
        if decision.set_cookie:
            response.headers.append(("Set-Cookie", decision.set_cookie))
        return self._counted(decision.distribution.distribution_id, response)

    def _counted(self, distribution_id: str, response: EdgeResponse) -> EdgeResponse:
        if self._metrics is not None:
            self._metrics.record(distribution_id, response.status)
        return response

    def _serve(
        self, decision: RoutingDecision, path: str, headers: Mapping[str, str], request_id: str
    ) -> EdgeResponse:
        distribution = decision.distribution
        cached = self._cache.get(distribution.distribution_id, path)
        if cached is not None:
            age = max(0, int(self._clock() - cached.stored_at))
            return self._object_response(cached.obj, headers, "Hit from cloudfront", [("Age", str(age))])

        behavior = behavior_for(distribution, path)
        origin = origin_for(distribution, behavior)
        bucket = bucket_of_origin(origin.domain_name) if origin else None
        if origin is None or bucket is None:
            return self._error_page(502, pages.ORIGIN_UNREACHABLE, request_id)
        key_path = origin_key_path(distribution, origin, path)
        fault = self._fault_for(key_path)
        if fault is not None:
            return self._origin_error(fault, pages.injected_origin_error(fault, request_id))

        seen_invalidations = self._cache.invalidation_count()
        try:
            obj = self._origin.get_object(bucket, unquote(key_path.lstrip("/")))
        except OriginBucketNotFound:
            return self._error_page(502, pages.ORIGIN_UNREACHABLE, request_id)
        if obj is None:
            # With origin access control the bucket policy grants CloudFront s3:GetObject only;
            # without s3:ListBucket S3 answers a missing key with 403 AccessDenied, not 404.
            return self._origin_error(403, pages.s3_error("AccessDenied", "Access Denied", request_id))
        self._cache.put(
            distribution.distribution_id,
            path,
            obj,
            cache_ttl(behavior, obj.cache_control),
            seen_invalidations,
        )
        return self._object_response(obj, headers, "Miss from cloudfront", [])

    def _object_response(
        self, obj: OriginObject, headers: Mapping[str, str], x_cache: str, extra: list[tuple[str, str]]
    ) -> EdgeResponse:
        object_headers = [("Content-Type", obj.content_type), ("ETag", obj.etag)]
        if obj.last_modified:
            object_headers.append(("Last-Modified", obj.last_modified))
        if obj.cache_control:
            object_headers.append(("Cache-Control", obj.cache_control))
        object_headers += [("Server", "AmazonS3"), ("X-Cache", x_cache), *extra]
        if headers.get("if-none-match") == obj.etag:
            return EdgeResponse(304, object_headers)
        return EdgeResponse(200, object_headers, obj.body)

    def _origin_error(self, status: int, body: bytes) -> EdgeResponse:
        headers = [
            ("Content-Type", "application/xml"),
            ("Server", "AmazonS3"),
            ("X-Cache", "Error from cloudfront"),
        ]
        return EdgeResponse(status, headers, body)

    def _error_page(self, status: int, message: str, request_id: str) -> EdgeResponse:
        headers = [
            ("Content-Type", "text/html"),
            ("Server", "CloudFront"),
            ("X-Cache", "Error from cloudfront"),
        ]
        return EdgeResponse(status, headers, pages.cloudfront_error_page(status, message, request_id))

    def _finish(self, response: EdgeResponse, request_id: str) -> EdgeResponse:
        response.headers += [
            ("Via", self._via),
            ("X-Amz-Cf-Pop", EDGE_LOCATION),
            ("X-Amz-Cf-Id", request_id),
        ]
        return response

    def _fault_for(self, key_path: str) -> int | None:
        with self._faults_lock:
            matching = [prefix for prefix in self._faults if key_path.startswith(prefix)]
            return self._faults[max(matching, key=len)] if matching else None


class _EdgeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    edge: EdgeServer


class _EdgeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a 2,000-request sample reuses one connection
    timeout = 30  # idle keep-alive connections must not pin threads forever
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's delayed
    # ACK would stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._respond()

    def do_HEAD(self) -> None:
        self._respond()

    def do_POST(self) -> None:
        self._respond()

    def do_PUT(self) -> None:
        self._respond()

    def do_DELETE(self) -> None:
        self._respond()

    def do_PATCH(self) -> None:
        self._respond()

    def do_OPTIONS(self) -> None:
        self._respond()

    def _respond(self) -> None:
        self._drain_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        edge = cast(_EdgeHTTPServer, self.server).edge
        response = edge.handle(self.command, self.path, headers)
        self.send_response_only(response.status)
        self.send_header("Date", formatdate(usegmt=True))
        for name, value in response.headers:
            self.send_header(name, value)
        # HEAD answers announce the length of the body a GET would get.
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _drain_body(self) -> None:
        # A request body must be read off the connection before the next keep-alive request.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Quiet: thousands of sample requests would flood the local cloud's output."""
