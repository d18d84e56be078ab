"""The approval page behind a Lambda Function URL (payload 2.0).

GET `/?id=..&exp=..&sig=..` shows the request and a form (reads only: mail scanners prefetch);
POST `/` (the form) decides once. The flow lives in `cfcd_common.approval_page`.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cfcd_common.approval_page import Page, PageDependencies, Viewer, show, submit
from cfcd_common.approval_views import PAGE_HEADERS, result_page
from cfcd_common.approvals import load_signing_key
from cfcd_common.aws import CLIENT_CONFIG, now

logger = Logger()
tracer = Tracer()
app = LambdaFunctionUrlResolver()


class ApprovalPageSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    signing_secret_arn: str = Field(alias="SIGNING_SECRET_ARN", min_length=1)
    edge_endpoint: str | None = Field(default=None, alias="CFCD_EDGE_ENDPOINT")

    @field_validator("edge_endpoint", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return value or None


@cache
def dependencies() -> PageDependencies:
    """Clients and the signing key, made once per sandbox (on the first request, not at import)."""
    settings = ApprovalPageSettings.model_validate(dict(os.environ))
    return PageDependencies(
        table=boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(settings.table_name),
        sfn=boto3.client("stepfunctions", config=CLIENT_CONFIG),
        signing_key=load_signing_key(
            boto3.client("secretsmanager", config=CLIENT_CONFIG), settings.signing_secret_arn
        ),
        edge_endpoint=settings.edge_endpoint,
    )


@app.get("/")
def show_approval() -> Response[str]:
    return _respond(show(dependencies(), app.current_event.query_string_parameters, now=now()))


@app.post("/")
def decide_approval() -> Response[str]:
    event = app.current_event
    # Read leniently: a hand-built or emulated payload 2.0 may lack some request context fields.
    context = event.raw_event.get("requestContext") or {}
    http = context.get("http") or {}
    viewer = Viewer(
        headers=event.headers,
        source_ip=http.get("sourceIp"),
        user_agent=http.get("userAgent") or event.headers.get("user-agent"),
        host=event.headers.get("host") or context.get("domainName"),
    )
    return _respond(
        submit(dependencies(), event.headers.get("content-type"), event.decoded_body or "", viewer, now=now())
    )


@app.not_found
def unknown_path(_: NotFoundError) -> Response[str]:
    return _respond(
        Page(404, result_page("Not found", "There is nothing here. Use the link from the email."))
    )


def aws_unavailable(error: ClientError) -> Response[str]:
    # decide() gives its claim back when Step Functions fails, so trying again is safe.
    logger.exception("AWS call failed")
    message = "AWS did not answer in time; nothing was decided. Please try again in a minute."
    return _respond(Page(503, result_page("Please try again", message), outcome="AWS_ERROR"))


# Registered by call: Powertools' exception_handler decorator is untyped (mypy strict).
app.exception_handler(ClientError)(aws_unavailable)


def _respond(page: Page) -> Response[str]:
    # Never the query or body: they hold the link's signature and the form token.
    logger.info(
        "Approval page answered",
        extra={"status": page.status, "outcome": page.outcome, "approvalId": page.approval_id},
    )
    return Response(status_code=page.status, body=page.html, headers=PAGE_HEADERS)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
