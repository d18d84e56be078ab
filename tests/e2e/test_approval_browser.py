"""The emailed approval link in a real browser, on the local cloud.

A header release waits for approval; the test reads the captured approval email (``.eml``), opens
its link in headless Chromium (the first of :data:`CHROMIUM_NAMES` on ``PATH``, driven by
Playwright, the page served by the approval function's local Function URL), decides with the
page's form and follows the execution to its end. Screenshots go to ``tests/artifacts/``:
``approval-page.png`` (the page as emailed), ``approval-decided.png`` (after Approve),
``approval-already-decided.png`` (the link opened again) and ``approval-forged.png`` (a tampered
link).
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, Page, Response, expect, sync_playwright

from cfcd.local.seed import SeededSite
from tests.conftest import LocalCloudHandle
from tests.polling import wait_for
from tests.statemachine.test_release import (
    Release,
    edge_body,
    policy_of,
    primary_origin_path,
    release_input,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# Debian's package, Ubuntu's and Google's: whichever `make browser` or the machine provides.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Headless, offline, quiet: no first-run UI, no background downloads or updates, no QUIC probes.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
]
MAIL_DEADLINE_SECONDS = 90.0
APPROVER = "Ada Approver"


@dataclass(frozen=True)
class ApprovalMail:
    """The captured approval email of one execution."""

    path: Path
    subject: str
    text: str
    approve_link: str
    reject_link: str


def mail_text(path: Path) -> tuple[str, str]:
    """Subject and the decoded text of every text part of a captured message."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parts = [str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"]
    # The .eml is stored with SMTP line endings; the decoded parts keep them.
    return str(message.get("Subject", "")), "\n".join(parts).replace("\r\n", "\n")


def wait_for_approval_mail(cloud: LocalCloudHandle, release: Release) -> ApprovalMail:
    """The approval email naming this execution, as soon as it is captured."""

    def probe() -> ApprovalMail | None:
        for path in sorted(cloud.mail_dir.glob("*.eml")):
            subject, text = mail_text(path)
            if f"Execution: {release.name}" not in text:
                continue
            approve = re.search(r"^Approve: (\S+)$", text, re.MULTILINE)
            reject = re.search(r"^Reject: +(\S+)$", text, re.MULTILINE)
            assert approve and reject, f"no approve/reject links in {path.name}:\n{text}"
            return ApprovalMail(path, subject, text, approve.group(1), reject.group(1))
        release.fail_fast_if_finished()
        return None

    return wait_for(probe, MAIL_DEADLINE_SECONDS, f"approval email for {release.name}")


def approval_record(cloud: LocalCloudHandle, link: str) -> dict[str, Any]:
    """The DynamoDB approval item a link points at (its `id` query parameter)."""
    approval_id = dict(parse_qsl(urlsplit(link).query))["id"]
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    item: dict[str, Any] = table.get_item(Key={"pk": f"approval#{approval_id}"}, ConsistentRead=True)["Item"]
    return item


def tampered(link: str) -> str:
    """The link with one character of its signature changed."""
    scheme, netloc, path, query, fragment = urlsplit(link)
    params = dict(parse_qsl(query))
    signature = params["sig"]
    params["sig"] = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return urlunsplit((scheme, netloc, path, urlencode(params), fragment))


def open_link(page: Page, link: str) -> Response:
    response = page.goto(link)
    assert response is not None, f"no response for {link}"
    return response


def submit_decision(page: Page, button: str, *, name: str, comment: str) -> Response:
    """Fill the form as a person would and press Approve or Reject; the POST's response."""
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Comment").fill(comment)
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return posted.value


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if chromium is None:
        pytest.fail(f"none of {', '.join(CHROMIUM_NAMES)} on PATH: run `sudo make browser`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    yield context.new_page()
    context.close()


def test_approving_from_the_emailed_link_promotes_the_release(
    cloud: LocalCloudHandle, site: SeededSite, page: Page
) -> None:
    # Given a header release of 2.0.0 waiting for approval, and the email asking for it
    release = Release(cloud, site, release_input(site, "input_copy_header.json", "2.0.0"))
    mail = wait_for_approval_mail(cloud, release)
    assert site.primary_distribution_id in mail.subject and "2.0.0" in mail.subject
    stored = approval_record(cloud, mail.approve_link)

    # When the approver opens the email's Approve link
    response = open_link(page, mail.approve_link)

    # Then the page shows the distribution, what changes, what the probe saw and both buttons
    assert response.status == 200
    body = page.locator("body")
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve release 2.0.0?")
    expect(body).to_contain_text(site.primary_distribution_id)
    expect(page.locator("pre").first).to_contain_text('"/1.0.0" -> "/2.0.0"')
    expect(body).to_contain_text(str(stored["summary"]["probe"]["summary"]))
    expect(page.locator("li.pass").first).to_contain_text("[PASS]")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Reject", exact=True)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "approval-page.png", full_page=True)
    # And opening it decided nothing (mail scanners prefetch links)
    assert approval_record(cloud, mail.approve_link)["status"] == "PENDING"

    # When they enter their name and a comment and press Approve
    decided = submit_decision(page, "Approve", name=APPROVER, comment="Checked staging with the header.")

    # Then the result page says approved, and the decision is recorded with who, when and from where
    assert decided.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Approved")
    expect(body).to_contain_text(f"Approved by {APPROVER}")
    page.screenshot(path=ARTIFACTS / "approval-decided.png", full_page=True)
    record = approval_record(cloud, mail.approve_link)
    assert record["status"] == "APPROVED"
    assert record["decidedBy"] == APPROVER
    assert record["comment"] == "Checked staging with the header."
    assert record["sourceIp"] == "127.0.0.1"
    assert "Chrome" in record["userAgent"]
    assert int(record["decidedAt"]) >= int(record["createdAt"])

    # When the same link is opened again, Then the page says it is already decided
    again = open_link(page, mail.approve_link)
    assert again.status == 409
    expect(page.get_by_role("heading", level=1)).to_have_text("Already decided")
    expect(body).to_contain_text(f"already approved by {APPROVER}")
    expect(page.get_by_role("button")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "approval-already-decided.png", full_page=True)

    # When a link with one changed signature character is opened, Then it is refused as forged
    forged = open_link(page, tampered(mail.approve_link))
    assert forged.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    expect(page.get_by_role("button")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "approval-forged.png", full_page=True)

    # And the execution goes on to promotion: the primary serves 2.0.0 through the edge
    assert release.finished()["status"] == "SUCCEEDED"
    assert primary_origin_path(cloud, site) == "/2.0.0"
    assert "v2 App" in edge_body(cloud, site)
    assert policy_of(cloud, site)["Enabled"] is False


def test_rejecting_from_the_emailed_link_stops_the_release(
    cloud: LocalCloudHandle, site: SeededSite, page: Page
) -> None:
    # Given a header release of 2.0.0 waiting for approval, and the email asking for it
    release = Release(cloud, site, release_input(site, "input_copy_header.json", "2.0.0"))
    mail = wait_for_approval_mail(cloud, release)

    # When the approver opens the Reject link and presses Reject with a reason
    shown = open_link(page, mail.reject_link)
    assert shown.status == 200
    expect(page.get_by_role("button", name="Reject", exact=True)).to_be_focused()
    decided = submit_decision(page, "Reject", name=APPROVER, comment="Header looks wrong.")

    # Then the result page says rejected and the record says who rejected it
    assert decided.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Rejected")
    record = approval_record(cloud, mail.reject_link)
    assert (record["status"], record["decidedBy"]) == ("REJECTED", APPROVER)
    assert record["comment"] == "Header looks wrong."

    # And the execution fails as rejected: policy disabled, the primary still on 1.0.0
    description = release.finished()
    assert description["status"] == "FAILED"
    assert description["error"] == "DeploymentRejected"
    assert policy_of(cloud, site)["Enabled"] is False
    assert primary_origin_path(cloud, site) == "/1.0.0"
    assert "v1 App" in edge_body(cloud, site)
