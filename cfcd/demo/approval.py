"""The approver's side: the captured email, its link, the page and its form, as a person uses them."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from cfcd.client.mail_links import approval_base_url, main_link
from cfcd.local.mail import MailSummary, list_mail, read_mail

TIMEOUT_SECONDS = 10.0
USER_AGENT = "cfcd-demo (a person's browser)"


@dataclass(frozen=True)
class ApprovalMail:
    summary: MailSummary
    text: str
    link: str


def find_approval_mail(state_dir: Path, execution_name: str) -> ApprovalMail | None:
    """The captured approval email of one execution (its text names the execution), newest first."""
    base = approval_base_url(state_dir)
    for summary in reversed(list_mail(state_dir)):
        text, html = read_mail(summary.path)
        if text and f"Execution: {execution_name}" in text:
            link = main_link(text, html, base)
            if link is not None:
                return ApprovalMail(summary=summary, text=text, link=link)
    return None


class _PageParser(HTMLParser):
    """Collects the page title and the fields of its (only) form, like a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "button" and attributes.get("name") == "decision":
            self.buttons.append(attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    html: str
    title: str
    hidden_fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)

    def banner(self) -> str:
        """The page's first status/alert banner, as text (what the result page says)."""
        match = re.search(r'<p class="banner[^"]*"[^>]*>(.*?)</p>', self.html, re.S)
        return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def _page(url: str, request: urllib.request.Request) -> Page:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, body = int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode("utf-8", "replace")
    parser = _PageParser()
    parser.feed(body)
    return Page(url, status, body, parser.title.strip(), parser.fields, parser.buttons)


def open_link(url: str) -> Page:
    """GET the emailed link: shows the confirmation page and changes nothing."""
    return _page(url, urllib.request.Request(url, headers={"User-Agent": USER_AGENT}))


def submit_decision(page: Page, decision: str, decided_by: str, comment: str = "") -> Page:
    """POST the page's form (its hidden fields and CSRF token) with one of its buttons pressed.

    The form has no ``action``: a browser posts it back to the page's own URL.
    """
    form = {**page.hidden_fields, "decidedBy": decided_by, "comment": comment, "decision": decision}
    request = urllib.request.Request(
        page.url,
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    return _page(page.url, request)


def approval_id_of(link: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(link).query).get("id", [""])[0]
