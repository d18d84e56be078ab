"""The approval page behind a Lambda Function URL (payload 2.0).

GET `/?id=..&exp=..&sig=..` shows the request and a form (reads only: mail scanners prefetch);
POST `/` (the form) decides once. The flow lives in `cfcd_common.approval_page`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from cfcd_common import clients
from cfcd_common.approval_keys import sandbox_signing_keys
from cfcd_common.approval_page import Page, PageDependencies, Viewer, show, submit
from cfcd_common.approval_views import PAGE_HEADERS, result_page
from cfcd_common.aws import now
from cfcd_common.settings import ApprovalSettings
from cfcd_common.task import FUNCTION_URL_REQUEST_ID, logger, task_handler

app = LambdaFunctionUrlResolver()


def dependencies() -> PageDependencies:
    """The sandbox's clients and the signing keys."""
    settings = ApprovalSettings.from_environment()
    return PageDependencies(
        table=clients.dynamodb_table(settings.table_name),
        sfn=clients.stepfunctions(),
        signing_keys=sandbox_signing_keys(settings.signing_secret_arn),
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
    body = _raw_body(event.raw_event)
    if body is None:
        return _respond(
            Page(
                400, result_page("This form is not valid", "The form could not be read."), outcome="BAD_BODY"
            )
        )
    return _respond(submit(dependencies(), event.headers.get("content-type"), body, viewer, now=now()))


def _raw_body(event: dict[str, Any]) -> bytes | None:
    """The request body's bytes as sent (Function URLs base64-encode a form); None if the base64 is
    broken. Decoding the text is the form's business (approval_page.submit)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", "surrogateescape")
    try:
        return base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError):
        return None


@app.not_found
def unknown_path(_: NotFoundError) -> Response[str]:
    return _respond(
        Page(404, result_page("Not found", "There is nothing here. Use the link from the email."))
    )


def aws_unavailable(error: ClientError | BotoCoreError) -> Response[str]:
    # decide() gives its claim back unless Step Functions took the decision, so trying again is safe.
    logger.exception("AWS call failed")
    message = "AWS did not answer in time; nothing was decided. Please try again in a minute."
    return _respond(Page(503, result_page("Please try again", message), outcome="AWS_ERROR"))


# Registered by call: Powertools' exception_handler decorator is untyped (mypy strict). Every
# botocore error: an AWS answer (ClientError) or none (connection refused, read timeout, ...).
app.exception_handler(ClientError)(aws_unavailable)
app.exception_handler(BotoCoreError)(aws_unavailable)


def _respond(page: Page) -> Response[str]:
    # Never the query or body: they hold the link's signature and the form token.
    logger.info(
        "Approval page answered",
        extra={"status": page.status, "outcome": page.outcome, "approvalId": page.approval_id},
    )
    return Response(status_code=page.status, body=page.html, headers=PAGE_HEADERS)


# The query and the form carry the link's signature and the form token: never logged or traced.
@task_handler(FUNCTION_URL_REQUEST_ID, carries_secrets=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
