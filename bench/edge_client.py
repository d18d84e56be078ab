"""Load client for figure 5, run in its own process so it does not share the edge's GIL.

``python -m bench.edge_client ENDPOINT HOST PATH CONNECTIONS REQUESTS MARKER`` prints JSON:
requests, seconds, statuses, and how many bodies contained MARKER (the staging release).
Each connection is one keep-alive HTTP/1.1 connection in its own thread, without cookies, so
every request is a fresh weighted decision, as a probe sampling the policy makes.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def _worker(
    endpoint: str, host: str, path: str, count: int, marker: bytes, out: list[tuple[int, bool]]
) -> None:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    for _ in range(count):
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        body = response.read()
        out.append((response.status, marker in body))
    connection.close()


def main(argv: list[str]) -> None:
    endpoint, host, path, connections, requests, marker = argv
    per_connection = int(requests) // int(connections)
    results: list[list[tuple[int, bool]]] = [[] for _ in range(int(connections))]
    threads = [
        threading.Thread(
            target=_worker, args=(endpoint, host, path, per_connection, marker.encode(), results[i])
        )
        for i in range(int(connections))
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    flat = [item for chunk in results for item in chunk]
    print(
        json.dumps(
            {
                "requests": len(flat),
                "seconds": seconds,
                "statuses": dict(Counter(str(status) for status, _ in flat)),
                "marked": sum(1 for _, marked in flat if marked),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
