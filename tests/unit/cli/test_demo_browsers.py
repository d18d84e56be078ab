"""The demo's synthetic browsers: which page a failed script is counted against, and how counts read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from cfcd.demo.viewer import UNPINNED, Answer, Browsers, Site, tally
from cfcd.local.edge import STICKINESS_COOKIE
from cfcd.local.seed import SCRIPT
from tests.polling import wait_for

pytestmark = pytest.mark.unit

V2_PAGE = "<h1>v2 App</h1>"


@dataclass(frozen=True)
class ScriptlessSite(Site):
    """Serves the v2 page (with a stickiness cookie or none) and a script that always answers 500."""

    page_cookie: str | None = None

    def get(self, path: str = "/", headers: dict[str, str] | None = None) -> Answer:
        if path == f"/{SCRIPT}":
            return Answer(500, "origin error")
        return Answer(200, V2_PAGE, self.page_cookie)


def failed_scripts_after_a_few_visits(site: Site) -> dict[str, int]:
    with Browsers(site) as browsers:
        wait_for(lambda: browsers.visits >= 3 or None, timeout=10, what="three visits", interval=0.01)
    return dict(browsers.script_errors)


def test_a_failed_script_of_a_page_pinned_to_v2_counts_against_v2() -> None:
    # Given a page served with a stickiness cookie (a sticky policy in force), then a failing script
    site = ScriptlessSite("http://edge", "d1.cloudfront.localhost", f"{STICKINESS_COOKIE}=abc; Path=/")

    # When browsers visit it
    failed = failed_scripts_after_a_few_visits(site)

    # Then every failure counts against the page's release: the script came from the page's side
    assert set(failed) == {"v2"}


def test_a_failed_script_of_a_page_served_with_no_session_counts_as_unpinned() -> None:
    # Given a page served with no stickiness cookie (no sticky policy in force yet)
    site = ScriptlessSite("http://edge", "d1.cloudfront.localhost", None)

    # When browsers visit it and its script fails
    failed = failed_scripts_after_a_few_visits(site)

    # Then the failures are kept apart: the script was a weight draw of its own
    assert set(failed) == {UNPINNED}


def test_a_tally_names_each_release_with_its_count_in_name_order() -> None:
    assert tally(Counter({"v3": 5, "v2": 95})) == "v2 ×95, v3 ×5"
    assert tally(Counter({UNPINNED: 1, "v4": 13}), " pages") == "unpinned pages ×1, v4 pages ×13"
