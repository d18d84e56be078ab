"""Test doubles and helpers for the edge tests: a fake EdgeView, a scripted random, a clock."""

from __future__ import annotations

import http.client
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from cfcd.local.edge_view import (
    EdgeCacheBehavior,
    EdgeDistribution,
    EdgeOrigin,
    EdgePolicy,
    InvalidationListener,
)

BUCKET = "site-bucket"
BUCKET_DOMAIN = f"{BUCKET}.s3.us-east-1.amazonaws.com"
PRIMARY_DOMAIN = "d111abcdef8.cloudfront.net"
STAGING_DOMAIN = "d222abcdef8.cloudfront.net"
CACHING_DISABLED = (0, 0, 0)
CACHING_ONE_MINUTE = (0, 60, 300)


class FakeEdgeView:
    """An EdgeView whose propagated state the test sets directly."""

    def __init__(self) -> None:
        self._by_host: dict[str, EdgeDistribution] = {}
        self._listeners: list[InvalidationListener] = []

    def publish(self, *distributions: EdgeDistribution) -> None:
        for distribution in distributions:
            for host in (distribution.domain_name, *distribution.aliases):
                self._by_host[host] = distribution

    def distribution_for_host(self, host: str) -> EdgeDistribution | None:
        return self._by_host.get(host)

    def add_invalidation_listener(self, listener: InvalidationListener) -> None:
        self._listeners.append(listener)

    def create_invalidation(self, distribution_id: str, paths: list[str]) -> None:
        for listener in self._listeners:
            listener(distribution_id, paths)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedRandom(random.Random):
    """Returns the queued draws in order and fails loudly when an unexpected draw happens."""

    def __init__(self, draws: Iterable[float] = ()) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def random(self) -> float:
        if not self.draws:
            raise AssertionError("the edge drew a side although none was expected")
        return self.draws.pop(0)


def distribution(
    distribution_id: str = "EPRIMARY0000001",
    domain_name: str = PRIMARY_DOMAIN,
    origin_path: str = "/1.0.0",
    *,
    ttls: tuple[int, int, int] = CACHING_DISABLED,
    origin_domain: str = BUCKET_DOMAIN,
    staging: bool = False,
    enabled: bool = True,
    aliases: tuple[str, ...] = (),
    default_root_object: str = "index.html",
    behaviors: tuple[EdgeCacheBehavior, ...] = (),
    extra_origins: tuple[EdgeOrigin, ...] = (),
) -> EdgeDistribution:
    min_ttl, default_ttl, max_ttl = ttls
    return EdgeDistribution(
        distribution_id=distribution_id,
        domain_name=domain_name,
        aliases=aliases,
        enabled=enabled,
        staging=staging,
        default_root_object=default_root_object,
        origins=(EdgeOrigin("s3-site", origin_domain, origin_path), *extra_origins),
        default_behavior=EdgeCacheBehavior("*", "s3-site", min_ttl, default_ttl, max_ttl),
        behaviors=behaviors,
    )


def staging_of(
    origin_path: str = "/2.0.0", *, ttls: tuple[int, int, int] = CACHING_DISABLED, enabled: bool = True
) -> EdgeDistribution:
    return distribution(
        "ESTAGING000001", STAGING_DOMAIN, origin_path, ttls=ttls, staging=True, enabled=enabled
    )


def with_policy(primary: EdgeDistribution, staging: EdgeDistribution, policy: EdgePolicy) -> EdgeDistribution:
    return replace(primary, policy=policy, staging_distribution=staging)


def header_policy(header: str = "aws-cf-cd-env", value: str = "staging") -> EdgePolicy:
    return EdgePolicy("policy-1", "SingleHeader", header=header, value=value)


def weight_policy(weight: float = 0.15, sticky: tuple[int, int] | None = (300, 600)) -> EdgePolicy:
    idle, maximum = sticky if sticky else (None, None)
    return EdgePolicy("policy-1", "SingleWeight", weight=weight, idle_ttl=idle, maximum_ttl=maximum)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def cookie(self) -> str | None:
        """The name=value part of the Set-Cookie header, ready for a Cookie header."""
        set_cookie = self.headers.get("Set-Cookie")
        return set_cookie.split(";", 1)[0] if set_cookie else None


class Viewer:
    """A keep-alive HTTP client talking to the edge, naming the distribution in the Host header."""

    def __init__(self, endpoint: str, host: str = PRIMARY_DOMAIN) -> None:
        parts = urlsplit(endpoint)
        self._connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        self.host = host

    def request(self, path: str = "/", method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
        self._connection.request(method, path, headers={"Host": self.host, **(headers or {})})
        response = self._connection.getresponse()
        return Reply(response.status, response.headers, response.read())

    def close(self) -> None:
        self._connection.close()
