"""RequestApproval: the stored request and the email (SNS, SES HTML), never the task token."""

from __future__ import annotations

import html
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.stub import Stubber
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from cfcd.local import moto_patches
from cfcd.local.faults import REGISTRY, Fault
from cfcd_common import approval_keys, task
from cfcd_common.approval_request import policy_traffic
from cfcd_common.approvals import LinkCheck, SigningKeys, format_utc, verify
from cfcd_common.aws import SINGLE_ATTEMPT_CONFIG
from cfcd_common.errors import InvalidInput, TransientAwsError
from functions.request_approval import app
from tests.unit.approval_support import (
    TASK_TOKEN,
    captured_logs,
    create_distribution,
    create_signing_secret,
    use_fake_aws,
)
from tests.unit.aws_mock import mocked_aws
from tests.unit.conftest import REGION, FakeLambdaContext, create_table, load_event, use_client
from tests.unit.lost_answers import lose_answer, lose_dynamodb_update, refuse_once

pytestmark = pytest.mark.unit

APPROVAL_URL = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/"
SENDER, RECIPIENT = "cfcd@example.com", "approver@example.com"


@dataclass
class Mail:
    subject: str
    text: str
    html: str | None


@dataclass
class World:
    table: Any
    topic_arn: str
    key: bytes
    primary_id: str
    primary_domain: str
    staging_id: str
    secret_arn: str

    def event(self, **changes: Any) -> dict[str, Any]:
        event = load_event("approval_request.json")
        event.update(primaryDistributionId=self.primary_id, stagingDistributionId=self.staging_id)
        event.update(changes)
        return event

    def sns_mails(self) -> list[Mail]:
        topic = sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[self.topic_arn]
        return [Mail(subject or "", message, None) for _, message, subject, _, _ in topic.sent_notifications]

    def ses_mails(self) -> list[Mail]:
        return [Mail(m.subject, "", m.body) for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    use_fake_aws(monkeypatch)
    with mocked_aws():
        table = create_table(boto3.resource("dynamodb"))
        topic_arn = boto3.client("sns").create_topic(Name="cfcd-approvals")["TopicArn"]
        boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=RECIPIENT)
        boto3.client("ses").verify_email_identity(EmailAddress=SENDER)
        secret_arn, key = create_signing_secret(boto3.client("secretsmanager"))
        cloudfront = boto3.client("cloudfront")
        primary_id, primary_domain = create_distribution(cloudfront, "/1.0.0", "primary")
        staging_id, _ = create_distribution(cloudfront, "/2.0.0", "primary")
        for name, value in {
            "TABLE_NAME": table.name,
            "TOPIC_ARN": topic_arn,
            "APPROVAL_URL": APPROVAL_URL,
            "SIGNING_SECRET_ARN": secret_arn,
            "SENDER_EMAIL": SENDER,
            "RECIPIENT_EMAIL": RECIPIENT,
        }.items():
            monkeypatch.setenv(name, value)
        approval_keys._sandbox_source.cache_clear()  # a new sandbox: no key of another test's secret
        yield World(table, topic_arn, key, primary_id, primary_domain, staging_id, secret_arn)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    with captured_logs(task.logger) as stream:
        yield stream


def links_in(text: str) -> dict[str, str]:
    return {
        match.group(1): match.group(0) for match in re.finditer(r"https://\S+?intent=(approve|reject)", text)
    }


def test_the_request_is_stored_and_mailed_with_diff_probe_curl_deadline_and_links(
    world: World, logs: io.StringIO
) -> None:
    # Given a staging distribution serving release 2.0.0 that passed the probe
    before = int(time.time())

    # When RequestApproval runs as the waitForTaskToken task
    result = app.lambda_handler(world.event(), FakeLambdaContext())

    # Then one pending approval holds the token until the deadline
    items = world.table.scan()["Items"]
    assert len(items) == 1 and items[0]["taskToken"] == TASK_TOKEN and items[0]["status"] == "PENDING"
    deadline = int(items[0]["deadline"])
    assert before + 86400 <= deadline <= int(time.time()) + 86400
    assert result["approvalId"] == items[0]["pk"].removeprefix("approval#")

    # and the SNS mail names distribution and release and says everything the approver needs
    [mail] = world.sns_mails()
    assert len(mail.subject) <= 100
    assert world.primary_id in mail.subject and "2.0.0" in mail.subject
    assert 'Origins.Items[0].OriginPath: "/1.0.0" -> "/2.0.0"' in mail.text
    assert "staging: all 2 checks passed" in mail.text
    assert '[PASS] without the header the primary is unchanged: HTTP 200, "v1 App"' in mail.text
    assert f"curl -s -H 'aws-cf-cd-env: staging' https://{world.primary_domain}/" in mail.text
    assert format_utc(deadline) in mail.text
    assert "CallerReference" not in mail.text

    # and both links are signed for this approval and its deadline
    links = links_in(mail.text)
    assert set(links) == {"approve", "reject"}
    for link in links.values():
        query = {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}
        assert link.startswith(APPROVAL_URL)
        assert query["id"] == result["approvalId"] and int(query["exp"]) == deadline
        assert (
            verify(SigningKeys(world.key), query["id"], deadline, query["sig"], now=before) is LinkCheck.VALID
        )

    # and the SES HTML mail says the same, escaped
    [html_mail] = world.ses_mails()
    assert html_mail.subject == mail.subject
    assert html_mail.html is not None
    assert "Origins.Items[0].OriginPath: &quot;/1.0.0&quot; -&gt; &quot;/2.0.0&quot;" in html_mail.html
    # with its own links, bound to the approver's address (signed with it)
    personal = links_in(html.unescape(html_mail.html))
    assert set(personal) == {"approve", "reject"} and not set(personal.values()) & set(links.values())
    for link in personal.values():
        query = {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}
        assert query["to"] == RECIPIENT
        keys = SigningKeys(world.key)
        assert (
            verify(keys, query["id"], deadline, query["sig"], now=before, recipient=RECIPIENT)
            is LinkCheck.VALID
        )
        assert verify(keys, query["id"], deadline, query["sig"], now=before) is LinkCheck.FORGED

    # and the raw token is in neither mail, the result nor the logs
    for text in (mail.subject, mail.text, html_mail.html, str(result), logs.getvalue()):
        assert TASK_TOKEN not in text
    assert result["approvalId"] in logs.getvalue()  # the logs do name the approval


def test_a_weight_policy_mail_explains_the_stickiness_cookie(world: World) -> None:
    # Given a weight policy with stickiness
    traffic = {"type": "SingleWeight", "weight": 0.15, "stickiness": {"idleTtl": 300, "maximumTtl": 600}}

    # When the approval is requested
    app.lambda_handler(world.event(traffic=traffic), FakeLambdaContext())

    # Then the mail explains the cookie and how to keep it by hand
    [mail] = world.sns_mails()
    assert "about 15% of viewers" in mail.text
    assert "x-amz-continuous-deployment-state" in mail.text and "300 s idle / 600 s at most" in mail.text
    assert f"curl -s -c cfcd-jar.txt -b cfcd-jar.txt https://{world.primary_domain}/" in mail.text
    # and the weight survives the DynamoDB round trip (Decimal)
    assert world.table.scan()["Items"][0]["summary"]["traffic"]["weight"] == Decimal("0.15")


def test_a_progressive_release_mail_charts_every_step_at_the_weight_in_force(world: World) -> None:
    # Given a release whose policy went live at 1 % and then passed a second step at 5 %
    traffic = {"type": "SingleWeight", "weight": 0.01, "stickiness": {"idleTtl": 300, "maximumTtl": 600}}
    point = {"at": 60, "stagingRequests": 120, "stagingErrorRate": 0.0, "primaryRequests": 9000}
    timing = {"bakeSeconds": 60, "startedAt": 1, "bakeStartedAt": 2, "passedAt": 70}
    analyses = [{**point, "primaryErrorRate": 0.0015}]
    steps = [
        {"number": number, "weight": weight, **timing, "analyses": analyses}
        for number, weight in ((1, 0.01), (2, 0.05))
    ]
    progress = {"stepCount": 2, "current": 2, "done": True, "stepPassed": True, "steps": steps}
    analysis = {"intervalSeconds": 60, "maxErrorRate": 0.01, "minRequests": 100, "alarmNames": []}

    # When the approval is requested
    app.lambda_handler(
        world.event(traffic=traffic, progress=progress, analysis=analysis), FakeLambdaContext()
    )

    # Then the mail tells the weight in force now, and how each step went
    [mail] = world.sns_mails()
    assert "about 5% of viewers" in mail.text
    assert (
        "Step 2 of 2, weight 0.05, bake 60 s, passed after 1 analyses: 5xx staging 0.00 % of 120 requests, "
        "primary 0.15 % of 9000 requests over 60 s"
    ) in mail.text
    # and the HTML mail charts each step
    [html_mail] = world.ses_mails()
    assert html_mail.html is not None and html_mail.html.count("<svg") == 2
    # and the steps survive the DynamoDB round trip (Decimal)
    stored = world.table.scan()["Items"][0]["summary"]
    assert stored["steps"][1]["analyses"][0]["primaryErrorRate"] == Decimal("0.0015")
    assert stored["maxErrorRate"] == Decimal("0.01")


def test_without_a_sender_only_sns_mails(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no SES sender configured (the template's optional parameter left empty)
    monkeypatch.setenv("SENDER_EMAIL", "")

    # When the approval is requested
    app.lambda_handler(world.event(), FakeLambdaContext())

    # Then SNS mails and SES does not
    assert len(world.sns_mails()) == 1
    assert world.ses_mails() == []


def test_on_the_local_cloud_the_manual_test_targets_the_local_edge(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local cloud's runtime sets the edge endpoint
    monkeypatch.setenv("CFCD_EDGE_ENDPOINT", "http://127.0.0.1:43123")

    # When the approval is requested
    app.lambda_handler(world.event(), FakeLambdaContext())

    # Then the curl commands go to the edge with the distribution's Host header
    [mail] = world.sns_mails()
    assert (
        f"curl -s -H 'aws-cf-cd-env: staging' -H 'Host: {world.primary_domain}' http://127.0.0.1:43123/"
        in mail.text
    )


def test_a_long_release_name_keeps_the_subject_within_sns_limits(world: World) -> None:
    # Given a release label of 120 characters with non-ASCII in it
    release = "rélease-" + "x" * 112

    # When the approval is requested
    app.lambda_handler(world.event(release=release), FakeLambdaContext())

    # Then the subject is printable ASCII of at most 100 characters and still names the distribution
    [mail] = world.sns_mails()
    assert len(mail.subject) <= 100 and mail.subject.isascii() and mail.subject.isprintable()
    assert release in mail.text


def test_a_broken_payload_fails_naming_the_field_without_quoting_the_token(
    world: World, logs: io.StringIO
) -> None:
    # Given a payload without the probe result
    event = world.event()
    del event["probe"]

    # When RequestApproval runs
    with pytest.raises(InvalidInput) as raised:
        app.lambda_handler(event, FakeLambdaContext())

    # Then the error names the field, and neither it nor the logs quote the token; nothing is stored or sent
    assert "probe: Field required" in str(raised.value)
    assert TASK_TOKEN not in str(raised.value) and TASK_TOKEN not in logs.getvalue()
    assert world.table.scan()["Items"] == [] and world.sns_mails() == []


def test_without_traffic_in_the_payload_the_mail_reads_the_policy() -> None:
    # Given a stack-made weight policy (the payload's traffic is empty in that case)
    cloudfront = boto3.client("cloudfront", region_name=REGION)
    stubber = Stubber(cloudfront)
    stubber.add_response(
        "get_continuous_deployment_policy",
        {
            "ContinuousDeploymentPolicy": {
                "Id": "policy-1",
                "LastModifiedTime": "2025-11-26T05:00:00Z",
                "ContinuousDeploymentPolicyConfig": {
                    "StagingDistributionDnsNames": {"Quantity": 1, "Items": ["d2.cloudfront.net"]},
                    "Enabled": True,
                    "TrafficConfig": {
                        "Type": "SingleWeight",
                        "SingleWeightConfig": {
                            "Weight": 0.1,
                            "SessionStickinessConfig": {"IdleTTL": 300, "MaximumTTL": 600},
                        },
                    },
                },
            },
            "ETag": "E1",
        },
        {"Id": "policy-1"},
    )

    # When the traffic is looked up from the primary's policy id
    with stubber:
        traffic = policy_traffic(cloudfront, "policy-1")
        # and a primary without a policy has none
        assert policy_traffic(cloudfront, "") is None

    # Then it is the policy's weight and stickiness
    assert traffic is not None and traffic.type == "SingleWeight" and traffic.weight == pytest.approx(0.1)
    sticky = traffic.stickiness
    assert sticky is not None and (sticky.idleTtl, sticky.maximumTtl) == (300, 600)


# --- retried attempts: one record and one mail per release -----------------------------------------
# Each Retry attempt of a .waitForTaskToken task has a new task token (facts file §10).
RETRY_TOKEN = TASK_TOKEN.replace("Never", "Retry")


def test_a_retried_attempt_hands_its_new_token_to_the_one_record_and_mails_nothing_more(
    world: World,
) -> None:
    # Given RequestApproval ran and mailed, and Step Functions runs the task again (a new token)
    first = app.lambda_handler(world.event(), FakeLambdaContext())

    # When the retried attempt runs
    second = app.lambda_handler(world.event(taskToken=RETRY_TOKEN), FakeLambdaContext())

    # Then there is still one approval record, holding the new token; the mailed links stay valid
    [item] = world.table.scan()["Items"]
    assert item["taskToken"] == RETRY_TOKEN and item["status"] == "PENDING"
    assert second == first
    # and the approver got one mail on each channel
    assert (len(world.sns_mails()), len(world.ses_mails())) == (1, 1)


@pytest.fixture
def sns_client(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The SNS client RequestApproval sends with."""
    client = boto3.client("sns", region_name=REGION)
    use_client(monkeypatch, "sns_single_attempt", client)
    return client


def test_a_mail_whose_answer_was_lost_is_not_sent_again(world: World, sns_client: Any) -> None:
    # Given SNS took the approval mail but its answer never arrived: the attempt failed
    lose_answer(sns_client, "Publish")
    with pytest.raises(TransientAwsError):
        app.lambda_handler(world.event(), FakeLambdaContext())

    # When Step Functions retries the task
    app.lambda_handler(world.event(taskToken=RETRY_TOKEN), FakeLambdaContext())

    # Then the approver has the one mail SNS took (at most once: it may have gone out)
    assert len(world.sns_mails()) == 1
    [item] = world.table.scan()["Items"]
    assert item["taskToken"] == RETRY_TOKEN


@pytest.fixture
def server_faults() -> Iterator[None]:
    """The local cloud's fault injection, on moto in process (before `world` builds on it)."""
    moto_patches.install()
    REGISTRY.clear()
    yield
    REGISTRY.clear()


@pytest.mark.parametrize(("service", "operation"), [("sns", "Publish"), ("sesv2", "SendEmail")])
def test_a_mail_answered_with_a_server_error_went_out_once_and_is_not_sent_again(
    server_faults: None, world: World, monkeypatch: pytest.MonkeyPatch, service: str, operation: str
) -> None:
    # Given the clients RequestApproval mails with, and AWS taking a mail but answering 500: the
    # answer of a mail that went out is lost
    use_client(monkeypatch, "sns_single_attempt", boto3.client("sns", config=SINGLE_ATTEMPT_CONFIG))
    use_client(monkeypatch, "sesv2_single_attempt", boto3.client("sesv2", config=SINGLE_ATTEMPT_CONFIG))
    REGISTRY.add(
        Fault(service=service, operation=operation, error="InternalError", http_status=500, when="after")
    )
    with pytest.raises(TransientAwsError):
        app.lambda_handler(world.event(), FakeLambdaContext())

    # When Step Functions retries the task
    app.lambda_handler(world.event(taskToken=RETRY_TOKEN), FakeLambdaContext())

    # Then the approver got each mail once: the client did not resend it, nor did the retry
    assert (len(world.sns_mails()), len(world.ses_mails())) == (1, 1)


def test_a_lost_answer_to_marking_the_mail_sending_still_sends_it_once(
    server_faults: None, world: World
) -> None:
    # Given DynamoDB marks the SNS mail SENDING but its answer is lost (a 500), so that boto3
    # sends the same mark again
    lose_dynamodb_update('"SENDING"', "#channel")

    # When RequestApproval runs
    app.lambda_handler(world.event(), FakeLambdaContext())

    # Then the repeated mark is its own: the approver gets the mail, once on each channel
    assert REGISTRY.pending() == []
    assert (len(world.sns_mails()), len(world.ses_mails())) == (1, 1)


def test_a_mail_sns_refused_is_sent_by_the_retry(world: World, sns_client: Any) -> None:
    # Given SNS refused the mail (throttled: an answer, so nothing was sent)
    refuse_once(sns_client, "Publish", "Throttled", 429)
    with pytest.raises(TransientAwsError):
        app.lambda_handler(world.event(), FakeLambdaContext())
    assert world.sns_mails() == []

    # When Step Functions retries the task, Then the approver gets the mail once
    app.lambda_handler(world.event(taskToken=RETRY_TOKEN), FakeLambdaContext())
    assert len(world.sns_mails()) == 1


def test_a_retried_attempt_after_a_key_rotation_keeps_the_one_record_and_its_mailed_links(
    world: World,
) -> None:
    # Given RequestApproval ran and mailed, then the signing key rotated before Step Functions retried
    first = app.lambda_handler(world.event(), FakeLambdaContext())
    boto3.client("secretsmanager").put_secret_value(SecretId=world.secret_arn, SecretString="r" * 64)
    approval_keys._sandbox_source.cache_clear()

    # When the retried attempt runs
    second = app.lambda_handler(world.event(taskToken=RETRY_TOKEN), FakeLambdaContext())

    # Then it found the record stored under the previous key: one record, one mail, same links
    assert second == first
    [item] = world.table.scan()["Items"]
    assert item["taskToken"] == RETRY_TOKEN
    assert (len(world.sns_mails()), len(world.ses_mails())) == (1, 1)
