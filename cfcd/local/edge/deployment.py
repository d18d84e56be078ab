"""Continuous deployment at the edge: send a viewer request to the primary or the staging side.

How CloudFront does it (Developer Guide, "Learn how continuous deployment works"):

- ``SingleHeader``: a request carrying the policy's header with exactly its value goes to the
  staging distribution, every other request to the primary.
- ``SingleWeight``: each request without a session goes to staging with probability ``weight``.
- With ``SessionStickinessConfig`` CloudFront sets the cookie ``x-amz-continuous-deployment-state``
  and keeps every request carrying it on the side first chosen. The session ends once the
  viewer has been idle longer than ``IdleTTL`` or, at the latest, ``MaximumTTL`` after it began;
  the next request then starts a new session with a fresh draw. Disabling or enabling the policy
  and changing the stickiness settings reset all sessions, active ones included.
- "In certain cases, such as periods of high resource utilization, CloudFront might send all
  requests to the primary distribution regardless of what's specified in the continuous deployment
  policy" (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/continuous-deployment-quotas-considerations.html):
  :meth:`ContinuousDeploymentRouter.send_all_traffic_to_primary` plays such a period.

On AWS the cookie is an encrypted blob (AWS Encryption SDK format) bound to the primary's
``*.cloudfront.net`` name. Ours is just as opaque to viewers but signed rather than encrypted:
base64url JSON (domain, session generation, side, start and last-request times in ms) plus an
HMAC. Because the idle time is measured from the last request, every response of a sticky
session carries a refreshed cookie. A forged, foreign or stale cookie simply starts a new
session, as an unreadable cookie does on AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cfcd.local.edge_view import EdgeDistribution, EdgePolicy

STICKINESS_COOKIE = "x-amz-continuous-deployment-state"

Side = Literal["primary", "staging"]


@dataclass(frozen=True)
class StickySession:
    domain: str  # the primary distribution's domain name
    generation: str  # changes whenever CloudFront would reset all sessions
    side: Side
    started_ms: int
    last_request_ms: int


class SessionCookieCodec:
    """Turns a session into an opaque, tamper-evident cookie value and back."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, session: StickySession) -> str:
        payload = json.dumps(
            [session.domain, session.generation, session.side, session.started_ms, session.last_request_ms],
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, value: str) -> StickySession | None:
        payload_part, _, mac_part = value.partition(".")
        try:
            payload = _unb64(payload_part)
            if not hmac.compare_digest(_unb64(mac_part), self._mac(payload)):
                return None
            domain, generation, side, started_ms, last_request_ms = json.loads(payload)
        except (ValueError, TypeError, binascii.Error):
            return None
        if side not in ("primary", "staging"):
            return None
        return StickySession(str(domain), str(generation), side, int(started_ms), int(last_request_ms))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cookie_value(cookie_header: str | None, name: str) -> str | None:
    """One cookie from a Cookie header; lenient, because real viewers send all sorts of cookies."""
    for part in (cookie_header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


@dataclass(frozen=True)
class RoutingDecision:
    distribution: EdgeDistribution
    side: Side
    set_cookie: str | None = None  # the Set-Cookie header value for the response, if any


class ContinuousDeploymentRouter:
    """Applies a primary distribution's (propagated, enabled) continuous deployment policy.

    ``rng`` and ``clock`` (epoch seconds) are injectable so tests can control the draw and time.
    """

    def __init__(self, rng: random.Random, clock: Callable[[], float], secret: bytes) -> None:
        self._rng = rng
        self._clock = clock
        self._codec = SessionCookieCodec(secret)
        self._lock = threading.Lock()
        # Disabling and re-enabling a policy resets sessions on AWS, yet the re-enabled policy
        # looks the same. We count the times a primary is seen without and then with a policy.
        self._policy_seen: dict[str, bool] = {}
        self._policy_epoch: dict[str, int] = {}
        self._all_to_primary = False

    def send_all_traffic_to_primary(self, enabled: bool) -> None:
        """While enabled, every request goes to the primary and no session cookie is touched."""
        self._all_to_primary = enabled

    def route(
        self, primary: EdgeDistribution, headers: Mapping[str, str], cookie_header: str | None
    ) -> RoutingDecision:
        """``headers`` maps lower-cased header names to values."""
        policy = primary.policy
        staging = primary.staging_distribution
        epoch = self._observe(primary.distribution_id, has_policy=policy is not None)
        if self._all_to_primary or policy is None or staging is None or not staging.enabled:
            return RoutingDecision(primary, "primary")
        if policy.type == "SingleHeader":
            wanted = policy.header is not None and headers.get(policy.header.lower()) == policy.value
            return RoutingDecision(staging, "staging") if wanted else RoutingDecision(primary, "primary")
        if policy.idle_ttl is None or policy.maximum_ttl is None:
            side = self._draw(policy.weight or 0.0)
            return RoutingDecision(staging if side == "staging" else primary, side)
        return self._sticky(primary, staging, policy, epoch, cookie_header)

    def _sticky(
        self,
        primary: EdgeDistribution,
        staging: EdgeDistribution,
        policy: EdgePolicy,
        epoch: int,
        cookie_header: str | None,
    ) -> RoutingDecision:
        assert policy.idle_ttl is not None and policy.maximum_ttl is not None
        now_ms = int(self._clock() * 1000)
        generation = _generation(policy, epoch)
        raw = cookie_value(cookie_header, STICKINESS_COOKIE)
        session = self._codec.decode(raw) if raw else None
        alive = (
            session is not None
            and session.domain == primary.domain_name
            and session.generation == generation
            and now_ms - session.last_request_ms <= policy.idle_ttl * 1000
            and now_ms - session.started_ms <= policy.maximum_ttl * 1000
        )
        if session is not None and alive:
            side, started_ms = session.side, session.started_ms
        else:
            side, started_ms = self._draw(policy.weight or 0.0), now_ms
        refreshed = StickySession(primary.domain_name, generation, side, started_ms, now_ms)
        # A session cookie (no Expires/Max-Age), as on AWS; the TTLs are enforced by the edge.
        set_cookie = f"{STICKINESS_COOKIE}={self._codec.encode(refreshed)}; Path=/"
        return RoutingDecision(staging if side == "staging" else primary, side, set_cookie)

    def _draw(self, weight: float) -> Side:
        with self._lock:
            return "staging" if self._rng.random() < weight else "primary"

    def _observe(self, primary_id: str, *, has_policy: bool) -> int:
        with self._lock:
            if has_policy and self._policy_seen.get(primary_id) is False:
                self._policy_epoch[primary_id] = self._policy_epoch.get(primary_id, 0) + 1
            self._policy_seen[primary_id] = has_policy
            return self._policy_epoch.get(primary_id, 0)


def _generation(policy: EdgePolicy, epoch: int) -> str:
    # The weight is left out on purpose: AWS resets sessions when the stickiness settings change
    # or the policy is disabled/enabled, not when the weight changes.
    material = f"{policy.policy_id}|{policy.idle_ttl}|{policy.maximum_ttl}|{epoch}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]
