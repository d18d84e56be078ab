"""boto3 clients of a local cloud's AWS endpoint, all from one session.

A new boto3 session reads every service model from disk again: about 50 ms of CPU per client,
which made most of the test process's CPU when each call created its own session. Even from one
session a client costs 10-30 ms (its class, its endpoint rules), so each service's client is made
once: boto3 clients are thread-safe, sessions and resources are not. botocore sessions may not
create clients from two threads at once, hence the lock.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

from cfcd.client.target import LOCAL_CREDENTIALS


class LocalClients:
    """Clients and resources of ``endpoint_url`` in ``region``, from one shared session."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
            region_name=region,
        )
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def client(self, service: str, **kwargs: Any) -> Any:
        """The one client of ``service``; a client with settings of its own (``kwargs``) is new."""
        with self._lock:
            if kwargs:
                return self._new_client(service, **kwargs)
            if service not in self._clients:
                self._clients[service] = self._new_client(service)
            return self._clients[service]

    def _new_client(self, service: str, **kwargs: Any) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, **kwargs)  # type: ignore[call-overload]

    def resource(self, service: str) -> Any:
        with self._lock:
            return self.session.resource(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
