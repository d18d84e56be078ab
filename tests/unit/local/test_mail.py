"""Mail capture: SNS publishes and SES sends become .eml files under <state-dir>/mail/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cfcd.local import mail, moto_patches
from tests.unit.aws_mock import mocked_aws

pytestmark = pytest.mark.unit


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    with mocked_aws():
        moto_patches.install()
        mail.activate(tmp_path / "mail")
        yield tmp_path
        mail.deactivate()


def client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]


def test_sns_publish_is_captured_for_the_email_subscribers(state_dir: Path) -> None:
    # Given a topic with an email subscriber
    sns = client("sns")
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="approver@example.com")

    # When a message is published
    sns.publish(TopicArn=topic, Subject="Approve release 2.0.0", Message="Open http://127.0.0.1:1/a?id=x")

    # Then it is kept as mail
    (summary,) = mail.list_mail(state_dir)
    assert summary.source == "sns"
    assert summary.subject == "Approve release 2.0.0"
    assert summary.to == ("approver@example.com",)
    assert summary.sender == mail.SNS_SENDER
    text, html = mail.read_mail(summary.path)
    assert text is not None and "http://127.0.0.1:1/a?id=x" in text
    assert html is None


def test_ses_send_email_keeps_text_and_html(state_dir: Path) -> None:
    ses = client("ses")
    ses.verify_email_identity(EmailAddress="cfcd@example.com")

    ses.send_email(
        Source="cfcd@example.com",
        Destination={"ToAddresses": ["approver@example.com"], "CcAddresses": ["team@example.com"]},
        Message={
            "Subject": {"Data": "Release waiting"},
            "Body": {"Text": {"Data": "plain words"}, "Html": {"Data": "<p>rich <b>words</b></p>"}},
        },
    )

    (summary,) = mail.list_mail(state_dir)
    assert (summary.source, summary.subject, summary.sender) == ("ses", "Release waiting", "cfcd@example.com")
    assert summary.to == ("approver@example.com",)
    assert summary.has_html
    text, html = mail.read_mail(summary.path)
    assert text is not None and "plain words" in text
    assert html is not None and "<p>rich <b>words</b></p>" in html


def test_sesv2_send_email_keeps_text_and_html(state_dir: Path) -> None:
    client("sesv2").create_email_identity(EmailIdentity="cfcd@example.com")

    client("sesv2").send_email(
        FromEmailAddress="cfcd@example.com",
        Destination={"ToAddresses": ["approver@example.com"]},
        Content={
            "Simple": {
                "Subject": {"Data": "v2 subject"},
                "Body": {"Text": {"Data": "v2 text"}, "Html": {"Data": "<h1>v2 html</h1>"}},
            }
        },
    )

    (summary,) = mail.list_mail(state_dir)
    assert summary.subject == "v2 subject"
    text, html = mail.read_mail(summary.path)
    assert (text or "").strip() == "v2 text"
    assert html is not None and "<h1>v2 html</h1>" in html


def test_rejected_send_is_not_captured(state_dir: Path) -> None:
    with pytest.raises(ClientError):
        client("ses").send_email(
            Source="unverified@example.com",
            Destination={"ToAddresses": ["a@example.com"]},
            Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}},
        )

    assert mail.list_mail(state_dir) == []


def test_messages_are_listed_in_sending_order(state_dir: Path) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]

    for number in range(3):
        sns.publish(TopicArn=topic, Subject=f"message {number}", Message="m")

    assert [summary.subject for summary in mail.list_mail(state_dir)] == [
        "message 0",
        "message 1",
        "message 2",
    ]


def test_a_message_listed_again_is_not_parsed_again_unless_it_was_written_again(state_dir: Path) -> None:
    # Given one captured message, listed once
    sns = client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.publish(TopicArn=topic, Subject="first words", Message="m")
    (first,) = mail.list_mail(state_dir)

    # When it is listed again, Then it is the same summary
    assert mail.list_mail(state_dir)[0] is first

    # When its file is written anew, Then the listing reads the new message
    rewritten = first.path.read_bytes().replace(b"first words", b"other words, longer")
    first.path.write_bytes(rewritten)
    assert mail.list_mail(state_dir)[0].subject == "other words, longer"
