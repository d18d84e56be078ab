"""Capture every mail the local cloud "sends" as an ``.eml`` file under ``<state-dir>/mail/``.

Sources: every SNS publish to a topic (what an email subscriber would receive), SES SendEmail /
SendRawEmail and SESv2 SendEmail. The hooks run in the server process after moto accepted the
call, so a call moto rejects (unverified sender) is not captured as sent.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import itertools
import json
import logging
import threading
import time
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

LOG = logging.getLogger(__name__)

SNS_SENDER = "AWS Notifications <no-reply@sns.amazonaws.com>"


class MailSummary(BaseModel):
    path: Path
    source: str  # "sns" | "ses"
    subject: str
    sender: str
    to: list[str]
    date: str
    has_html: bool


class MailSink:
    """Writes messages to a directory, named so that listing order is sending order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def write(self, message: EmailMessage | email.message.Message, source: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = time.time()
        with self._lock:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
            name = f"{stamp}-{next(self._counter):04d}-{source}.eml"
        path = self.directory / name
        path.write_bytes(message.as_bytes(policy=email.policy.SMTP))
        LOG.info("captured mail %s: %s", name, message.get("Subject", ""))
        return path

    def sns(self, topic_arn: str, subject: str | None, text: str, recipients: list[str]) -> Path:
        message = EmailMessage()
        message["Subject"] = subject or "AWS Notification Message"
        message["From"] = SNS_SENDER
        message["To"] = ", ".join(recipients) if recipients else f"subscribers of {topic_arn}"
        message["Date"] = format_datetime(_now())
        message["X-Cfcd-Topic-Arn"] = topic_arn
        message.set_content(text)
        return self.write(message, "sns")

    def ses(
        self, sender: str, to: list[str], cc: list[str], subject: str, text: str | None, html: str | None
    ) -> Path:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = sender
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Date"] = format_datetime(_now())
        message.set_content(text if text is not None else "(no text part)")
        if html is not None:
            message.add_alternative(html, subtype="html")
        return self.write(message, "ses")

    def raw(self, data: bytes) -> Path:
        message = email.message_from_bytes(data, policy=email.policy.default)
        if "Date" not in message:
            message["Date"] = format_datetime(_now())
        return self.write(message, "ses")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# --- moto patch #3: mail hooks -----------------------------------------------------------------------
# Topic.publish is where every SNS publish to a topic lands (Publish and PublishBatch); the SES
# response methods are the one place that still has both text and HTML parts (moto's backend
# keeps only one). Each hook calls moto first and captures only what moto accepted.

_sink: MailSink | None = None
_installed = False


def install(directory: Path) -> MailSink:
    """Capture mail into ``directory`` from now on (idempotent; the last directory wins)."""
    global _sink, _installed
    _sink = MailSink(directory)
    if not _installed:
        _patch_sns()
        _patch_ses()
        _installed = True
    return _sink


def deactivate() -> None:
    """Stop capturing (the patches stay, inert)."""
    global _sink
    _sink = None


def _patch_sns() -> None:
    from moto.sns.models import Topic

    original_publish = Topic.publish

    def publish(self: Any, message: str, subject: str | None = None, *args: Any, **kwargs: Any) -> str:
        message_id: str = original_publish(self, message, subject, *args, **kwargs)
        sink = _sink
        if sink is not None:
            try:
                subscriptions, _ = self.sns_backend.list_subscriptions_by_topic(topic_arn=self.arn)
                recipients = [s.endpoint for s in subscriptions if s.protocol in ("email", "email-json")]
                sink.sns(self.arn, subject, message, recipients)
            except Exception:  # never fail the AWS call because of the capture
                LOG.exception("could not capture SNS message")
        return message_id

    Topic.publish = publish  # type: ignore[method-assign]


def _patch_ses() -> None:
    from moto.ses.responses import EmailResponse
    from moto.sesv2.responses import SESV2Response

    original_send_email = EmailResponse.send_email
    original_send_raw_email = EmailResponse.send_raw_email
    original_v2_send_email = SESV2Response.send_email

    def send_email(self: Any) -> Any:
        result = original_send_email(self)
        _capture(lambda sink: _capture_ses_v1(sink, self))
        return result

    def send_raw_email(self: Any) -> Any:
        result = original_send_raw_email(self)
        _capture(lambda sink: sink.raw(_raw_bytes(self._get_param("RawMessage.Data"))))
        return result

    def v2_send_email(self: Any) -> Any:
        result = original_v2_send_email(self)
        _capture(lambda sink: _capture_ses_v2(sink, json.loads(self.body)))
        return result

    EmailResponse.send_email = send_email  # type: ignore[method-assign]
    EmailResponse.send_raw_email = send_raw_email  # type: ignore[method-assign]
    SESV2Response.send_email = v2_send_email  # type: ignore[method-assign]


def _capture(action: Any) -> None:
    sink = _sink
    if sink is None:
        return
    try:
        action(sink)
    except Exception:
        LOG.exception("could not capture SES message")


def _raw_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    text = str(data)
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return text.encode()


def _capture_ses_v1(sink: MailSink, response: Any) -> None:
    destination = response._get_param("Destination", {}) or {}
    sink.ses(
        sender=str(response._get_param("Source")),
        to=list(destination.get("ToAddresses", [])),
        cc=list(destination.get("CcAddresses", [])),
        subject=str(response._get_param("Message.Subject.Data") or ""),
        text=response._get_param("Message.Body.Text.Data"),
        html=response._get_param("Message.Body.Html.Data"),
    )


def _capture_ses_v2(sink: MailSink, params: dict[str, Any]) -> None:
    content = params.get("Content", {})
    destination = params.get("Destination", {})
    if "Raw" in content:
        sink.raw(base64.b64decode(content["Raw"]["Data"]))
        return
    simple = content.get("Simple", {})
    body = simple.get("Body", {})
    sink.ses(
        sender=str(params.get("FromEmailAddress", "")),
        to=list(destination.get("ToAddresses", [])),
        cc=list(destination.get("CcAddresses", [])),
        subject=str(simple.get("Subject", {}).get("Data", "")),
        text=body.get("Text", {}).get("Data"),
        html=body.get("Html", {}).get("Data"),
    )


def list_mail(state_dir: Path) -> list[MailSummary]:
    """The captured messages, oldest first."""
    summaries: list[MailSummary] = []
    for path in sorted((state_dir / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        date = str(message.get("Date", ""))
        with contextlib.suppress(TypeError, ValueError):
            date = parsedate_to_datetime(date).isoformat()
        summaries.append(
            MailSummary(
                path=path,
                source=path.stem.rsplit("-", 1)[-1],
                subject=str(message.get("Subject", "")),
                sender=str(message.get("From", "")),
                to=[address for _, address in getaddresses([str(message.get("To", ""))]) if address],
                date=date,
                has_html=any(part.get_content_type() == "text/html" for part in message.walk()),
            )
        )
    return summaries


def read_mail(path: Path) -> tuple[str | None, str | None]:
    """The text and HTML bodies of one captured message."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = html = None
    for part in message.walk():
        if part.get_content_type() == "text/plain" and text is None:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and html is None:
            html = part.get_content()
    return text, html
