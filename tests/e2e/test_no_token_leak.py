"""The raw task token stays in DynamoDB: not in the mail, the links, the pages or any log.

A release reaches its approval, is approved through the emailed link with plain HTTP (the exact
bytes the approval function serves), and runs to its end; then every captured mail, both links,
both pages, every Lambda log and the local cloud's own log are searched for the token that the
approval record holds.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import urllib.request
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

import pytest

from cfcd.local.seed import SeededSite
from tests.conftest import LocalCloudHandle
from tests.e2e.test_approval_browser import approval_record, wait_for_approval_mail
from tests.statemachine.test_release import Release, release_input

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT_SECONDS = 30


def token_forms(token: str) -> set[bytes]:
    """The token as it would appear if it leaked: raw, JSON-escaped or URL-encoded."""
    forms = {token, json.dumps(token)[1:-1], quote(token, safe=""), quote_plus(token)}
    return {form.encode() for form in forms}


def mail_contents(path: Path) -> list[bytes]:
    """A captured message as stored (raw bytes) and each of its decoded headers and parts.

    Quoted-printable and base64 hide a token in the raw bytes, so the decoded parts count too.
    """
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    contents = [path.read_bytes(), *(str(value).encode() for value in message.values())]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            contents.append(payload)
    return contents


def leaks(token: str, places: dict[str, list[bytes]]) -> list[str]:
    """The names of the places that contain the token in any of its forms."""
    forms = token_forms(token)
    return sorted(
        name
        for name, contents in places.items()
        if any(form in content for form in forms for content in contents)
    )


class FormFields(HTMLParser):
    """The hidden inputs of the confirmation page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[str(attributes["name"])] = attributes.get("value") or ""


def fetch(url: str, form: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if form is not None else "GET")
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
        return int(response.status), bytes(response.read())


def test_the_leak_search_finds_a_planted_token(tmp_path: Path) -> None:
    # Given a token hidden the ways a careless change would leak it
    token = "AQCEAAAAKgAAAAMAAAAAAAAAAf+/token=="
    log = tmp_path / "worker.log"
    log.write_text(json.dumps({"message": "invoked", "event": {"taskToken": token}}) + "\n")
    message = EmailMessage()
    message["Subject"] = "Approve?"
    message.set_content(f"Approve: http://127.0.0.1/?token={quote(token, safe='')}\n" + "x" * 200)
    message.add_attachment(f"token {token}".encode(), maintype="application", subtype="octet-stream")
    mail = tmp_path / "planted.eml"
    mail.write_bytes(message.as_bytes(policy=email.policy.SMTP))
    clean = tmp_path / "clean.log"
    clean.write_text("nothing to see\n")

    # When the places are searched
    found = leaks(
        token,
        {"log": [log.read_bytes()], "mail": mail_contents(mail), "clean": [clean.read_bytes()]},
    )

    # Then the planted ones are found (the mail's only through its decoded, base64 attachment too)
    assert found == ["log", "mail"]
    assert token.encode() not in mail.read_bytes()
    assert base64.b64encode(f"token {token}".encode()) in mail.read_bytes().replace(b"\r\n", b"")


def test_the_task_token_is_in_no_mail_link_page_or_log(cloud: LocalCloudHandle, site: SeededSite) -> None:
    # Given a release waiting for approval, and the raw task token its approval record holds
    release = Release(cloud, site, release_input(site, "input_copy_header.json", "2.0.0"))
    mail = wait_for_approval_mail(cloud, release)
    record = approval_record(cloud, mail.approve_link)
    token = str(record["taskToken"])
    assert len(token) >= 16, f"implausible task token {token!r}"
    approval_id = str(record["pk"]).removeprefix("approval#")

    # When the approver opens the link and posts the page's form (plain HTTP: the served bytes)
    shown_status, shown = fetch(mail.approve_link)
    parser = FormFields()
    parser.feed(shown.decode())
    decided_status, decided = fetch(
        mail.approve_link, {**parser.fields, "decision": "approve", "decidedBy": "Leak Test"}
    )
    # ... and the release runs to its end, so every Lambda of the workflow has logged
    assert release.finished()["status"] == "SUCCEEDED"

    # Then the token is in none of the places a person or a log reader can see
    assert (shown_status, decided_status) == (200, 200)
    assert set(parser.fields) >= {"id", "exp", "sig", "csrf"}
    assert b"Approved by Leak Test" in decided
    places: dict[str, list[bytes]] = {
        "approve link": [mail.approve_link.encode()],
        "reject link": [mail.reject_link.encode()],
        "confirmation page": [shown],
        "result page": [decided],
    }
    mails = sorted(cloud.mail_dir.glob("*.eml"))
    places.update({f"mail {path.name}": mail_contents(path) for path in mails})
    logs = sorted(cloud.logs_dir.glob("*.log"))
    places.update({f"log {path.name}": [path.read_bytes()] for path in logs})
    own_log = cloud.state_dir / "local-up.log"
    places[f"log {own_log.name}"] = [own_log.read_bytes()]
    assert leaks(token, places) == []

    # And the search covered this release: its mail, and the logs of both approval functions
    assert mail.path in mails
    logged = {path.name: path.read_bytes() for path in logs}
    for function in ("RequestApprovalFunction", "ApprovalFunction"):
        names = [name for name in logged if f"-{function}-" in name and approval_id.encode() in logged[name]]
        assert names, f"no {function} log mentions approval {approval_id}: {sorted(logged)}"
