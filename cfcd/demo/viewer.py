"""A viewer of the site: HTTP requests through the local edge, as a browser would send them.

The edge answers for every distribution domain; the domain travels in the ``Host`` header. A
viewer without a cookie is a new visitor (a fresh weight draw); :class:`StickyViewer` keeps the
``x-amz-continuous-deployment-state`` cookie like a browser and so stays on one side.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from cfcd.local.edge import STICKINESS_COOKIE
from cfcd.local.seed import SCRIPT

STAGING_HEADER = "aws-cf-cd-env"
STAGING_HEADER_VALUE = "staging"
_RELEASE = re.compile(r"<h1>(v\d+) App</h1>")
TIMEOUT_SECONDS = 10.0
VISIT_PAUSE_SECONDS = 0.02


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    set_cookie: str | None = None

    @property
    def release(self) -> str:
        """`v1`, `v2`, ... from the seed's page, or `?` when the page is not a release."""
        match = _RELEASE.search(self.body)
        return match.group(1) if match else "?"

    def describe(self) -> str:
        return (
            f"HTTP {self.status}, body {self.release} App" if self.release != "?" else f"HTTP {self.status}"
        )


@dataclass(frozen=True)
class Site:
    """One distribution seen through the edge."""

    edge_endpoint: str
    domain_name: str

    def get(self, path: str = "/", headers: dict[str, str] | None = None) -> Answer:
        sent = {"Host": self.domain_name, "User-Agent": "cfcd-demo", **(headers or {})}
        request = urllib.request.Request(self.edge_endpoint.rstrip("/") + path, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                cookie = response.headers.get("Set-Cookie")
                return Answer(int(response.status), response.read().decode("utf-8", "replace"), cookie)
        except urllib.error.HTTPError as error:
            return Answer(
                error.code, error.read().decode("utf-8", "replace"), error.headers.get("Set-Cookie")
            )

    def with_header(self, path: str = "/") -> Answer:
        return self.get(path, {STAGING_HEADER: STAGING_HEADER_VALUE})

    def sample(self, requests: int, path: str = "/") -> list[Answer]:
        """``requests`` new viewers (no cookie each), one request each."""
        return [self.get(path) for _ in range(requests)]


def cookie_pair(set_cookie: str | None) -> str | None:
    """``name=value`` of the stickiness cookie from a Set-Cookie header, as a browser keeps it."""
    if not set_cookie:
        return None
    pair = set_cookie.split(";", 1)[0].strip()
    return pair if pair.startswith(f"{STICKINESS_COOKIE}=") else None


@dataclass
class StickyViewer:
    """A browser with a cookie jar of one cookie: the edge's stickiness cookie."""

    site: Site
    cookie: str | None = None
    seen: Counter[str] = field(default_factory=Counter)

    def get(self, path: str = "/") -> Answer:
        answer = self.site.get(path, {"Cookie": self.cookie} if self.cookie else None)
        # Every sticky response refreshes the cookie (the idle TTL counts from the last request).
        self.cookie = cookie_pair(answer.set_cookie) or self.cookie
        self.seen[answer.release] += 1
        return answer


def shares(answers: list[Answer]) -> Counter[str]:
    return Counter(answer.release for answer in answers)


def tally(counts: Mapping[str, int], label: str = "") -> str:
    """``v2 ×95, v3 ×5``: each name (followed by ``label``) with its count, in name order."""
    return ", ".join(f"{name}{label} ×{count}" for name, count in sorted(counts.items()))


# The key of a failed script whose page came with no stickiness cookie: no sticky policy was in
# force for the page, so the script was a draw of its own (a policy coming into force between the
# two requests sends the script to staging while the page came from the primary, as on AWS).
UNPINNED = "unpinned"


class Browsers:
    """Browsers visiting the site one after the other until the block ends, each a new viewer (a
    fresh weight draw) that loads the page, then its script from the same side (the stickiness
    cookie). Counts the release of every page served, and every script that failed by the release
    of its page (:data:`UNPINNED` when the page set no stickiness cookie)."""

    def __init__(self, site: Site) -> None:
        self._site = site
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._visit, name="browsers", daemon=True)
        self.pages: Counter[str] = Counter()
        self.script_errors: Counter[str] = Counter()
        # Visits the edge did not answer in time (a loaded machine): counted, and browsing goes on.
        self.unanswered = 0

    @property
    def visits(self) -> int:
        return sum(self.pages.values())

    def _visit(self) -> None:
        while not self._stop.is_set():
            browser = StickyViewer(self._site)
            try:
                page = browser.get("/")
                script = browser.get(f"/{SCRIPT}")
            except OSError:  # a timeout or a refused connection: a browser gives up on its visit
                self.unanswered += 1
            else:
                self.pages[page.release] += 1
                if script.status >= 500:
                    self.script_errors[page.release if cookie_pair(page.set_cookie) else UNPINNED] += 1
            self._stop.wait(VISIT_PAUSE_SECONDS)

    def __enter__(self) -> Browsers:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_SECONDS)
