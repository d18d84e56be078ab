"""Who hears about new invalidations (the edge clears its cache), per account.

Kept outside moto's backend on purpose: a moto reset wipes the backend, but the edge that
subscribed is still running.
"""

from __future__ import annotations

import logging
import threading

from cfcd.local.edge_view import InvalidationListener

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_listeners: dict[str, list[InvalidationListener]] = {}


def add(account_id: str, listener: InvalidationListener) -> None:
    with _lock:
        _listeners.setdefault(account_id, []).append(listener)


def notify(account_id: str, distribution_id: str, paths: list[str]) -> None:
    with _lock:
        subscribed = list(_listeners.get(account_id, []))
    for listener in subscribed:
        try:
            listener(distribution_id, list(paths))
        except Exception:  # a broken listener must not fail the CreateInvalidation call
            logger.exception("invalidation listener failed for %s", distribution_id)
