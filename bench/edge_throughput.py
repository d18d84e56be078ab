"""Figure 5: requests per second through the edge while a weight policy (0.15) is live.

A weight release runs on the local cloud up to its approval request (policy enabled, propagated,
probe passed); the load client then sends keep-alive requests through the primary's domain, with
1 and 4 connections; the release is approved afterwards. The staging share is a sanity check of
the weighting (about 15 %).
"""

from __future__ import annotations

import json
import subprocess
import sys

from pydantic import BaseModel

from bench.local_cloud import BenchCloud

REQUESTS = 3000
CONNECTIONS = (1, 4)
# A 30-sample weight probe should take well under a second.
GOAL_RPS = 300.0


class ThroughputSample(BaseModel):
    connections: int
    requests: int
    seconds: float
    requests_per_second: float
    non_200: int
    staging_share: float


class EdgeThroughputResult(BaseModel):
    weight: float
    samples: list[ThroughputSample]
    goal_rps: float = GOAL_RPS

    @property
    def met(self) -> bool:
        return all(sample.requests_per_second >= self.goal_rps for sample in self.samples)


def _load(endpoint: str, host: str, connections: int, marker: str) -> ThroughputSample:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.edge_client",
            endpoint,
            host,
            "/index.html",
            str(connections),
            str(REQUESTS),
            marker,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(completed.stdout)
    statuses: dict[str, int] = report["statuses"]
    return ThroughputSample(
        connections=connections,
        requests=report["requests"],
        seconds=round(report["seconds"], 3),
        requests_per_second=round(report["requests"] / report["seconds"], 1),
        non_200=sum(count for status, count in statuses.items() if status != "200"),
        staging_share=round(report["marked"] / report["requests"], 3),
    )


def measure(cloud: BenchCloud) -> EdgeThroughputResult:
    cloud.set_propagation_seconds(0)
    document = cloud.release_input("input_copy_weight.json", poll_seconds=1)
    marker = document["probe"]["expect"]["bodyContains"]
    weight = float(document["traffic"]["weight"])
    name, arn = cloud.start(document)
    mail = cloud.approval_mail(name, arn)
    try:
        samples = [
            _load(cloud.info.edge_endpoint, cloud.site.domain_name, connections, marker)
            for connections in CONNECTIONS
        ]
    finally:
        cloud.approve(mail)
        cloud.finished(arn)
    return EdgeThroughputResult(weight=weight, samples=samples)
