"""Builders shared by the approval unit tests (moto resources, events, a Lambda context)."""

from __future__ import annotations

import base64
import copy
import io
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools import Logger
from botocore import xform_name
from botocore.stub import Stubber

from cfcd_common.approvals import (
    ApprovalRequest,
    ApprovalSummary,
    ConfigChange,
    TrafficSummary,
    create_request,
    decide,
)
from cfcd_common.models import ProbeCheck, ProbeReport
from tests.unit.conftest import EXECUTION_ARN, REGION, load_event

# The history of a task Step Functions timed out (no decision closed it).
TIMED_OUT_EVENT = {
    "type": "TaskTimedOut",
    "taskTimedOutEventDetails": {
        "resourceType": "lambda",
        "resource": "invoke.waitForTaskToken",
        "error": "States.Timeout",
    },
}
# Looks like a real token and is unique enough to be searched for in mails, pages and logs.
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf4rS0f4KEn0Ex4mpl3T4skT0k3nNeverMa1lThis=="


def use_fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto intercepts only requests to AWS hosts: no endpoint override, fake credentials."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("CFCD_EDGE_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cfcd-test")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


def create_signing_secret(secretsmanager: Any) -> tuple[str, bytes]:
    key = secrets.token_urlsafe(48)
    arn = secretsmanager.create_secret(Name="cfcd-approval-signing-key", SecretString=key)["ARN"]
    return arn, key.encode()


def sample_summary(**changes: Any) -> ApprovalSummary:
    summary = ApprovalSummary(
        release="2.0.0",
        execution_name="release-2-0-0",
        primary_distribution_id="E2QWRUHAPOMQZL",
        staging_distribution_id="E3STAGINGCOPY1",
        primary_domain_name="d111111abcdef8.cloudfront.net",
        changes=[ConfigChange(path="Origins.Items[0].OriginPath", before="/1.0.0", after="/2.0.0")],
        probe=ProbeReport(
            ok=True,
            summary="staging: all 2 checks passed",
            checks=[
                ProbeCheck(
                    description="staging marker with header", status=200, passed=True, detail="v2 App"
                ),
                ProbeCheck(description="primary unchanged", status=200, passed=True, detail="v1 App"),
            ],
        ),
        traffic=TrafficSummary(type="SingleHeader", header="aws-cf-cd-env", value="staging"),
    )
    return summary.model_copy(update=changes)


def new_approval_id() -> str:
    """A valid approval id nobody stored (24 url-safe characters, like approval_id_for's)."""
    return secrets.token_urlsafe(18)


def store_request(
    table: Any, *, now: int, timeout_seconds: int = 3600, **summary_changes: Any
) -> ApprovalRequest:
    """A PENDING request of EXECUTION_ARN, under a fresh id (tests may store several)."""
    return create_request(
        table,
        approval_id=new_approval_id(),
        task_token=TASK_TOKEN,
        execution_arn=EXECUTION_ARN,
        timeout_seconds=timeout_seconds,
        summary=sample_summary(**summary_changes),
        now=now,
    )


def get_event(query: dict[str, str]) -> dict[str, Any]:
    """A Function URL GET of the approval page with the given query."""
    event = copy.deepcopy(load_event("approval_get.json"))
    event["queryStringParameters"] = query
    event["rawQueryString"] = urlencode(query)
    return event


def post_event(form: dict[str, str], **headers: str | None) -> dict[str, Any]:
    """A Function URL POST of the form (base64 body, as Function URLs deliver forms)."""
    event = copy.deepcopy(load_event("approval_post.json"))
    event["body"] = base64.b64encode(urlencode(form).encode()).decode()
    for name, value in headers.items():
        header = name.replace("_", "-")
        if value is None:
            event["headers"].pop(header, None)
        else:
            event["headers"][header] = value
    return event


@contextmanager
def captured_logs(logger: Logger) -> Iterator[io.StringIO]:
    """Everything a module's Powertools Logger writes (JSON lines), whatever sys.stdout is now."""
    handler = logger.registered_handler
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


def create_distribution(cloudfront: Any, origin_path: str, comment: str) -> tuple[str, str]:
    """A moto distribution serving the site bucket at `origin_path`; returns (id, domain)."""
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": f"{comment}-{secrets.token_hex(4)}",
            "Comment": comment,
            "Enabled": True,
            "DefaultRootObject": "index.html",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": "site-bucket.s3.us-east-1.amazonaws.com",
                        "OriginPath": origin_path,
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )["Distribution"]
    return created["Id"], created["DomainName"]


class StepFunctionsSpy:
    """Step Functions for decisions: SendTask* answers are queued explicitly, every call recorded.

    Any call that was not queued fails the test (botocore's Stubber raises UnStubbedResponseError),
    which is how "no second SendTaskSuccess" and "GET calls nothing" are proven.
    """

    def __init__(self, sfn: Any) -> None:
        self.client = sfn
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._raising: list[tuple[str, Exception]] = []
        # Emitted before the Stubber checks its queue, so an injected error comes from "the network".
        sfn.meta.events.register("provide-client-params.sfn", self._record)
        self._stubber = Stubber(sfn)
        self._stubber.activate()

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))
        if self._raising and self._raising[0][0] == xform_name(model.name):
            raise self._raising.pop(0)[1]

    def will_fail_server_side(self, operation: str, code: str) -> None:
        """`operation` answers a 5xx: AWS may have applied it before failing."""
        self._stubber.add_client_error(operation, service_error_code=code, http_status_code=500)

    def will_raise(self, operation: str, error: Exception) -> None:
        """The next `operation` call raises `error` (a botocore error: no answer from AWS)."""
        self._raising.append((operation, error))

    def will_describe(self, status: str, error: str | None = None) -> None:
        """DescribeExecution answers an execution in `status`."""
        described: dict[str, Any] = {
            "executionArn": EXECUTION_ARN,
            "stateMachineArn": EXECUTION_ARN.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
            "status": status,
            "startDate": "2025-01-01T00:00:00Z",
        }
        if error:
            described["error"] = error
        self._stubber.add_response("describe_execution", described, None)

    def will_accept(self, operation: str) -> None:
        self._stubber.add_response(operation, {}, None)

    def will_fail(self, operation: str, code: str) -> None:
        self._stubber.add_client_error(operation, service_error_code=code, http_status_code=400)

    def will_show_history(self, *events: dict[str, Any]) -> None:
        """GetExecutionHistory (newest first) answers `events` after the ExecutionStarted one."""
        started = {"timestamp": "2025-01-01T00:00:00Z", "type": "ExecutionStarted", "id": 1}
        history = [
            {"timestamp": "2025-01-01T00:01:00Z", "id": number, **event}
            for number, event in enumerate(reversed(events), start=2)
        ]
        self._stubber.add_response("get_execution_history", {"events": [*reversed(history), started]}, None)

    def close(self) -> None:
        self._stubber.deactivate()


def approve(table: Any, sfn: StepFunctionsSpy, approval_id: str, now: int, **overrides: Any) -> Any:
    """Alice approves from the page (her comment, address and browser); ``overrides`` replace any."""
    arguments: dict[str, Any] = {
        "decided_by": "Alice",
        "comment": "looks good",
        "source_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "now": now,
    }
    arguments.update(overrides)
    return decide(table, sfn.client, approval_id, "approve", **arguments)
