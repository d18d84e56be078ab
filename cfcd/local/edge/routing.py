"""Which distribution answers a viewer request: host name, cache behaviour, continuous deployment."""

from __future__ import annotations

import re
from functools import lru_cache

from cfcd.local.edge_view import EdgeCacheBehavior, EdgeDistribution, EdgeOrigin

# Browsers resolve every "*.localhost" name to loopback, so "<label>.cloudfront.localhost:<port>"
# reaches the edge without DNS tricks; it stands for "<label>.cloudfront.net".
LOCALHOST_SUFFIX = ".cloudfront.localhost"
CLOUDFRONT_SUFFIX = ".cloudfront.net"


def distribution_host(host_header: str) -> str:
    """The domain name a viewer asked for: the Host header without port, the localhost form mapped."""
    host = host_header.strip().lower()
    if ":" in host and not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    if host.endswith(LOCALHOST_SUFFIX):
        return host[: -len(LOCALHOST_SUFFIX)] + CLOUDFRONT_SUFFIX
    return host


@lru_cache(maxsize=256)
def _path_pattern(pattern: str) -> re.Pattern[str]:
    # CloudFront path patterns know only "*" (any characters, "/" included) and "?" (one
    # character), are case-sensitive, and "images/*" means the same as "/images/*".
    if pattern != "*" and not pattern.startswith("/"):
        pattern = "/" + pattern
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


def behavior_for(distribution: EdgeDistribution, path: str) -> EdgeCacheBehavior:
    """The first cache behaviour whose path pattern matches, else the default behaviour."""
    for behavior in distribution.behaviors:
        if _path_pattern(behavior.path_pattern).fullmatch(path):
            return behavior
    return distribution.default_behavior


def origin_for(distribution: EdgeDistribution, behavior: EdgeCacheBehavior) -> EdgeOrigin | None:
    return next((o for o in distribution.origins if o.origin_id == behavior.target_origin_id), None)


def origin_key_path(distribution: EdgeDistribution, origin: EdgeOrigin, viewer_path: str) -> str:
    """The path CloudFront asks the origin for: OriginPath + viewer path, the root object for "/".

    The default root object applies to the root URL only, never to subdirectories (as on AWS).
    """
    path = viewer_path
    if path == "/" and distribution.default_root_object:
        path = "/" + distribution.default_root_object.lstrip("/")
    return origin.origin_path.rstrip("/") + path
