"""The whole local cloud in one object: AWS endpoint, CloudFront emulator, edge, Lambda runtime,
the deployed template, function URLs and mail capture.

``LocalCloud(...).start()`` brings everything up on loopback and returns :class:`LocalCloudInfo`,
the machine-readable description other tools read from ``<state-dir>/local.json``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from cfcd.local import cloudfront, lambda_packages, lambda_runtime, mail
from cfcd.local.aws import AwsEndpoint, ControlHooks
from cfcd.local.deploy import Deployer, DeployResult
from cfcd.local.edge import EdgeServer, MotoS3OriginReader
from cfcd.local.edge.metrics import DEFAULT_INTERVAL_SECONDS, EdgeMetrics, MotoCloudWatchSink
from cfcd.local.function_urls import FunctionUrls
from cfcd.local.lambda_runtime import LambdaRuntime
from cfcd.local.seed import BUCKET_NAME, SeededSite, seed_site
from cfcd.local.sessions import LocalClients

LOG = logging.getLogger(__name__)

LOCAL_JSON = "local.json"
PID_FILE = "local.pid"
DEFAULT_REGION = "us-east-1"
# The template's one site bucket: its role may touch no other (template.yaml).
SITE_BUCKET_PARAMETER = "SiteBucketName"


class LocalCloudInfo(BaseModel):
    """The contents of ``<state-dir>/local.json`` (the keys every other part relies on)."""

    model_config = ConfigDict(populate_by_name=True)

    aws_endpoint: str = Field(alias="awsEndpoint")
    edge_endpoint: str = Field(alias="edgeEndpoint")
    approval_base_url: str | None = Field(alias="approvalBaseUrl", default=None)
    state_machine_arn: str | None = Field(alias="stateMachineArn", default=None)
    table_name: str | None = Field(alias="tableName", default=None)
    topic_arn: str | None = Field(alias="topicArn", default=None)
    faults_endpoint: str = Field(alias="faultsEndpoint")
    site: SeededSite | None = None

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=2)


def stop_on_signal() -> threading.Event:
    """An event that SIGINT (Ctrl-C) or SIGTERM (what `cfcd local down` sends) sets: a local cloud
    serves until it is set, then stops cleanly."""
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop_requested.set())
    return stop_requested


def read_local_json(state_dir: Path) -> LocalCloudInfo:
    return LocalCloudInfo.model_validate_json((state_dir / LOCAL_JSON).read_text())


@dataclass
class LocalCloud:
    state_dir: Path
    template_path: Path | None = Path("template.yaml")
    propagation_seconds: float = 0.0
    # How often the edge publishes its CloudFront metrics to the local CloudWatch.
    metrics_seconds: float = DEFAULT_INTERVAL_SECONDS
    seed: bool = False
    host: str = "127.0.0.1"
    aws_port: int = 0
    edge_port: int = 0
    region: str = DEFAULT_REGION
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    max_workers_per_function: int = lambda_runtime.DEFAULT_MAX_WORKERS_PER_FUNCTION
    # Start one worker per function before local.json is written (`cfcd local up`).
    prewarm_workers: bool = False
    # Added to every function's environment, e.g. AWS_ENDPOINT_URL_SFN for Step Functions Local.
    extra_lambda_environment: dict[str, str] = field(default_factory=dict)

    startup_seconds: float = field(default=0.0, init=False)
    deployment: DeployResult | None = field(default=None, init=False)
    info: LocalCloudInfo | None = field(default=None, init=False)
    _aws: AwsEndpoint | None = field(default=None, init=False)
    _edge: EdgeServer | None = field(default=None, init=False)
    _runtime: LambdaRuntime | None = field(default=None, init=False)
    _urls: FunctionUrls | None = field(default=None, init=False)

    def start(self) -> LocalCloudInfo:
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            info = self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        LOG.info("local cloud up in %.2f s", self.startup_seconds)
        self.info = info
        return info

    def _start(self) -> LocalCloudInfo:
        hooks = ControlHooks(set_propagation_seconds=cloudfront.set_propagation_seconds)
        self._aws = AwsEndpoint(host=self.host, port=self.aws_port, hooks=hooks)
        self._aws.start()
        cloudfront.set_propagation_seconds(self.propagation_seconds)
        self._edge = EdgeServer(
            cloudfront.edge_view(),
            MotoS3OriginReader(),
            self.host,
            self.edge_port,
            metrics=EdgeMetrics(MotoCloudWatchSink(), self.metrics_seconds),
        )
        self._edge.start()
        hooks.edge = self._edge
        mail.activate(self.state_dir / "mail")

        self._runtime = LambdaRuntime(
            self.state_dir / "logs",
            self.lambda_environment(self._aws.url, self._edge.endpoint),
            self.max_workers_per_function,
            # What Lambda's python runtime provides, needed only when there are functions to run.
            runtime_paths=(lambda_packages.runtime_sdk(),) if self.template_path is not None else (),
        )
        lambda_runtime.activate(self._runtime)
        self._urls = FunctionUrls(self._runtime.invoke, self.host)
        outputs: dict[str, str] = {}
        # One session for the deploy and the seed: each new one reads the service models again.
        clients = LocalClients(self._aws.url, self.region)
        if self.template_path is not None:
            deployer = Deployer(clients, self._runtime, self._urls)
            self.deployment = deployer.deploy(self.template_path, self.stack_parameters())
            outputs = self.deployment.outputs
            if self.prewarm_workers:
                self._runtime.prewarm()
        site = seed_site(clients, self.site_bucket) if self.seed else None
        return LocalCloudInfo(
            aws_endpoint=self._aws.url,
            edge_endpoint=self._edge.endpoint,
            approval_base_url=outputs.get("ApprovalUrl"),
            state_machine_arn=outputs.get("StateMachineArn"),
            table_name=outputs.get("TableName"),
            topic_arn=outputs.get("TopicArn"),
            faults_endpoint=self._aws.url,
            site=site,
        )

    @property
    def site_bucket(self) -> str:
        """The seeded site's bucket: the one the template's SiteBucketName names (given, or ours)."""
        return self.parameter_overrides.get(SITE_BUCKET_PARAMETER, BUCKET_NAME)

    def stack_parameters(self) -> dict[str, str]:
        """The template's parameters; with the seeded site, SiteBucketName is its bucket, known
        before the deploy and created right after it."""
        if not self.seed:
            return dict(self.parameter_overrides)
        return {SITE_BUCKET_PARAMETER: self.site_bucket, **self.parameter_overrides}

    def lambda_environment(self, aws_endpoint: str, edge_endpoint: str) -> dict[str, str]:
        """What every function sees on top of its template environment."""
        return {
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "CFCD_EDGE_ENDPOINT": edge_endpoint,
            **self.extra_lambda_environment,
        }

    def write_state(self) -> Path:
        """Write ``local.json`` (atomically: readers poll for it) and the pid file."""
        if self.info is None:
            raise RuntimeError("the local cloud is not started")
        (self.state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
        target = self.state_dir / LOCAL_JSON
        partial = target.with_suffix(".json.partial")
        partial.write_text(self.info.to_json())
        partial.replace(target)
        return target

    def remove_state(self) -> None:
        for name in (LOCAL_JSON, PID_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / name).unlink()

    def stop(self) -> None:
        lambda_runtime.activate(None)
        mail.deactivate()
        if self._runtime is not None:
            self._runtime.stop()
        if self._urls is not None:
            self._urls.stop()
        if self._edge is not None:
            self._edge.stop()
        if self._aws is not None:
            self._aws.hooks.edge = None
            self._aws.stop()
        self._runtime = self._urls = None
        self._edge = None
        self._aws = None

    @property
    def runtime(self) -> LambdaRuntime:
        if self._runtime is None:
            raise RuntimeError("the local cloud is not started")
        return self._runtime


def describe(info: LocalCloudInfo, startup_seconds: float) -> str:
    """Human-readable summary printed by ``cfcd local up``."""
    lines = [
        f"cfcd local cloud is up ({startup_seconds:.1f} s)",
        f"  AWS endpoint     {info.aws_endpoint}",
        f"  edge             {info.edge_endpoint}",
    ]
    if info.approval_base_url:
        lines.append(f"  approval URL     {info.approval_base_url}")
    if info.state_machine_arn:
        lines.append(f"  state machine    {info.state_machine_arn}")
    if info.site is not None:
        lines.append(
            f"  seeded site      {info.site.primary_distribution_id} ({info.site.domain_name}),"
            f" bucket {info.site.bucket_name}"
        )
        label = info.site.domain_name.split(".", 1)[0]
        port = info.edge_endpoint.rsplit(":", 1)[-1]
        lines.append(f"  browse           http://{label}.cloudfront.localhost:{port}/")
    lines += [
        "",
        f"export AWS_ENDPOINT_URL={info.aws_endpoint}",
        "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1",
    ]
    return "\n".join(lines)
