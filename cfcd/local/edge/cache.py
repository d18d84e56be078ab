"""The edge cache: one per distribution id, keyed by viewer path, aged by the behaviour's TTLs.

Primary and staging distributions never share a cache (AWS: "Primary and staging distributions
don't share a cache"), and a configuration change such as a promotion does not clear it: only
an invalidation or the TTL does. That is why cfcd invalidates after promoting.

Error responses are not cached. (AWS caches them for ``ErrorCachingMinTTL``, 10 s by default;
we leave that out so an injected origin fault ends the moment it is cleared.)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cfcd.local.edge.origin import OriginObject
from cfcd.local.edge_view import EdgeCacheBehavior

_MAX_AGE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(no-store|no-cache|private)\b", re.IGNORECASE)


def cache_ttl(behavior: EdgeCacheBehavior, cache_control: str | None) -> int:
    """Seconds to keep an origin response, following CloudFront's TTL rules.

    No Cache-Control from the origin: ``default_ttl``. ``s-maxage``/``max-age``: clamped to
    ``[min_ttl, max_ttl]``. ``no-cache``/``no-store``/``private``: ``min_ttl``. The managed
    CachingDisabled policy (all TTLs 0) therefore never caches.
    """
    if behavior.max_ttl <= 0:
        return 0
    if not cache_control:
        return max(0, min(behavior.default_ttl, behavior.max_ttl))
    ages = {name.lower(): int(value) for name, value in _MAX_AGE.findall(cache_control)}
    if "s-maxage" in ages or "max-age" in ages:
        seconds = ages.get("s-maxage", ages.get("max-age", 0))
        return max(behavior.min_ttl, min(seconds, behavior.max_ttl))
    if _NO_CACHE.search(cache_control):
        return behavior.min_ttl
    return max(0, min(behavior.default_ttl, behavior.max_ttl))


@dataclass(frozen=True)
class CacheEntry:
    obj: OriginObject
    stored_at: float
    expires_at: float


class EdgeCache:
    """Thread-safe; ``clock`` returns epoch seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], CacheEntry] = {}
        self._invalidations = 0

    def get(self, distribution_id: str, path: str) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get((distribution_id, path))
            if entry is None:
                return None
            if self._clock() >= entry.expires_at:
                del self._entries[(distribution_id, path)]
                return None
            return entry

    def invalidation_count(self) -> int:
        """Read before fetching from the origin and pass to :meth:`put`."""
        with self._lock:
            return self._invalidations

    def put(
        self, distribution_id: str, path: str, obj: OriginObject, ttl: int, seen_invalidations: int
    ) -> None:
        """Store unless an invalidation arrived while the object was being fetched."""
        if ttl <= 0:
            return
        with self._lock:
            if seen_invalidations != self._invalidations:
                return
            now = self._clock()
            self._entries[(distribution_id, path)] = CacheEntry(obj, now, now + ttl)

    def invalidate(self, distribution_id: str, paths: Iterable[str]) -> None:
        """Drop entries of one distribution: ``/*`` all, ``/prefix*`` by prefix, else exact paths."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for raw in paths:
            path = raw if raw.startswith("/") else "/" + raw
            if path.endswith("*"):
                prefixes.append(path[:-1])
            else:
                exact.add(path)
        with self._lock:
            self._invalidations += 1
            for key in [k for k in self._entries if k[0] == distribution_id]:
                if key[1] in exact or any(key[1].startswith(prefix) for prefix in prefixes):
                    del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._invalidations += 1
            self._entries.clear()
