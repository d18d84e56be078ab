"""What the edge needs to know about CloudFront: the configuration viewers see right now.

The CloudFront emulator (``cfcd.local.cloudfront``) implements :class:`EdgeView`; the edge
(``cfcd.local.edge``) only reads it. Everything here is the *propagated* state: a change made
through the API shows up only once its distribution has gone from ``InProgress`` to ``Deployed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class EdgeOrigin:
    origin_id: str
    domain_name: str  # e.g. "site-bucket.s3.us-east-1.amazonaws.com"
    origin_path: str  # "" or e.g. "/1.0.0"


@dataclass(frozen=True)
class EdgeCacheBehavior:
    path_pattern: str  # "*" for the default behaviour
    target_origin_id: str
    min_ttl: int
    default_ttl: int
    max_ttl: int


@dataclass(frozen=True)
class EdgePolicy:
    policy_id: str
    type: Literal["SingleHeader", "SingleWeight"]
    header: str | None = None
    value: str | None = None
    weight: float | None = None
    idle_ttl: int | None = None
    maximum_ttl: int | None = None


@dataclass(frozen=True)
class EdgeDistribution:
    distribution_id: str
    domain_name: str  # "d1234abcd.cloudfront.net"
    aliases: tuple[str, ...]
    enabled: bool
    staging: bool
    default_root_object: str
    origins: tuple[EdgeOrigin, ...]
    default_behavior: EdgeCacheBehavior
    behaviors: tuple[EdgeCacheBehavior, ...]
    # The continuous deployment policy attached to this (primary) distribution, only while it
    # is enabled and propagated, with the staging distribution it routes to.
    policy: EdgePolicy | None = None
    staging_distribution: EdgeDistribution | None = None


InvalidationListener = Callable[[str, list[str]], None]
"""Called with (distribution id, paths) when an invalidation is created."""


class EdgeView(Protocol):
    def distribution_for_host(self, host: str) -> EdgeDistribution | None:
        """The propagated distribution answering for a domain name or alias (no port)."""
        ...

    def add_invalidation_listener(self, listener: InvalidationListener) -> None: ...
