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
import functools
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

LOG = logging.getLogger(__name__)

SNS_SENDER = "AWS Notifications <no-reply@sns.amazonaws.com>"
# Parsed summaries kept (list_mail): far more than a test session or a demo captures.
MAIL_SUMMARIES_KEPT = 4096


class MailSummary(BaseModel):
    # Frozen: list_mail hands the same summary of a message to every caller.
    model_config = ConfigDict(frozen=True)

    path: Path
    source: str  # "sns" | "ses"
    subject: str
    sender: str
    to: tuple[str, ...]
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


# --- capture ------------------------------------------------------------------------------------------
# cfcd.local.moto_patches calls these after moto accepted the call: Topic.publish is where every SNS
# publish to a topic lands (Publish and PublishBatch); the SES response methods are the one place
# that still has both text and HTML parts (moto's backend keeps only one).

_sink: MailSink | None = None


def activate(directory: Path) -> MailSink:
    """Capture mail into ``directory`` from now on (the last directory wins)."""
    global _sink
    _sink = MailSink(directory)
    return _sink


def deactivate() -> None:
    """Stop capturing."""
    global _sink
    _sink = None


def capture_sns(topic: Any, message: str, subject: str | None = None, *_: Any, **__: Any) -> None:
    """What the email subscribers of ``topic`` (moto's Topic) receive for one publish."""

    def sns(sink: MailSink) -> None:
        subscriptions, _ = topic.sns_backend.list_subscriptions_by_topic(topic_arn=topic.arn)
        recipients = [s.endpoint for s in subscriptions if s.protocol in ("email", "email-json")]
        sink.sns(topic.arn, subject, message, recipients)

    _capture(sns)


def capture_ses_email(response: Any) -> None:
    """SES (v1) SendEmail, from moto's ``EmailResponse`` that handled it."""
    _capture(lambda sink: _capture_ses_v1(sink, response))


def capture_ses_raw_email(response: Any) -> None:
    """SES (v1) SendRawEmail, from moto's ``EmailResponse`` that handled it."""
    _capture(lambda sink: sink.raw(_raw_bytes(response._get_param("RawMessage.Data"))))


def capture_sesv2_email(response: Any) -> None:
    """SESv2 SendEmail (simple or raw content), from moto's ``SESV2Response`` that handled it."""
    _capture(lambda sink: _capture_ses_v2(sink, json.loads(response.body)))


def _capture(action: Callable[[MailSink], Any]) -> None:
    sink = _sink
    if sink is None:
        return
    try:
        action(sink)
    except Exception:  # never fail the AWS call because of the capture
        LOG.exception("could not capture mail")


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
        stat = path.stat()
        summaries.append(_summary(path, stat.st_mtime_ns, stat.st_size))
    return summaries


# Whoever waits for a message lists the directory again and again; each message is parsed once
# (its modification time and size in the key: a file written again is read again).
@functools.lru_cache(maxsize=MAIL_SUMMARIES_KEPT)
def _summary(path: Path, modified_ns: int, size: int) -> MailSummary:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    date = str(message.get("Date", ""))
    with contextlib.suppress(TypeError, ValueError):
        date = parsedate_to_datetime(date).isoformat()
    return MailSummary(
        path=path,
        source=path.stem.rsplit("-", 1)[-1],
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        to=tuple(address for _, address in getaddresses([str(message.get("To", ""))]) if address),
        date=date,
        has_html=any(part.get_content_type() == "text/html" for part in message.walk()),
    )


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
