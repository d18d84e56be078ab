"""Continuous deployment at the edge: header routing, weight routing, the stickiness cookie."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest

from cfcd.local.edge import STICKINESS_COOKIE, EdgeServer, MotoS3OriginReader
from cfcd.local.edge.deployment import SessionCookieCodec, StickySession, cookie_value
from cfcd.local.edge_view import EdgeDistribution, EdgePolicy
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.edge_fakes import (
    BUCKET,
    PRIMARY_DOMAIN,
    FakeClock,
    FakeEdgeView,
    ScriptedRandom,
    Viewer,
    distribution,
    header_policy,
    staging_of,
    weight_policy,
    with_policy,
)

pytestmark = pytest.mark.unit

PRIMARY_PAGE = "<h1>v1 App</h1>"
STAGING_PAGE = "<h1>v2 App</h1>"


@pytest.fixture(autouse=True)
def site() -> Iterator[None]:
    with mocked_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="1.0.0/index.html", Body=PRIMARY_PAGE, ContentType="text/html")
        s3.put_object(Bucket=BUCKET, Key="2.0.0/index.html", Body=STAGING_PAGE, ContentType="text/html")
        yield


def publish_policy(view: FakeEdgeView, policy_primary: EdgeDistribution) -> None:
    assert policy_primary.staging_distribution is not None
    view.publish(policy_primary, policy_primary.staging_distribution)


def side_of(text: str) -> str:
    assert text in (PRIMARY_PAGE, STAGING_PAGE), text
    return "staging" if text == STAGING_PAGE else "primary"


@pytest.fixture
def view() -> FakeEdgeView:
    return FakeEdgeView()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def start_edge(view: FakeEdgeView, rng: random.Random, clock: FakeClock) -> EdgeServer:
    server = EdgeServer(view, MotoS3OriginReader(), rng=rng, clock=clock)
    server.start()
    return server


# -- header -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"aws-cf-cd-env": "staging"}, STAGING_PAGE),
        ({"AWS-CF-CD-ENV": "staging"}, STAGING_PAGE),  # header names are case-insensitive
        ({"aws-cf-cd-env": "Staging"}, PRIMARY_PAGE),  # the value must match exactly
        ({"aws-cf-cd-other": "staging"}, PRIMARY_PAGE),
        ({}, PRIMARY_PAGE),
    ],
)
def test_header_policy_routes_by_header_and_value(
    view: FakeEdgeView, clock: FakeClock, headers: dict[str, str], expected: str
) -> None:
    # Given a primary with a propagated header policy
    publish_policy(view, with_policy(distribution(), staging_of(), header_policy()))
    edge = start_edge(view, ScriptedRandom(), clock)  # header routing never draws
    viewer = Viewer(edge.endpoint)
    try:
        # When a viewer asks the primary's domain
        reply = viewer.request("/", headers=headers)
    finally:
        viewer.close()
        edge.stop()
    # Then only the exact header and value reach staging, and no cookie is set
    assert reply.text == expected
    assert reply.headers["Set-Cookie"] is None


def test_without_policy_everything_goes_to_the_primary(view: FakeEdgeView, clock: FakeClock) -> None:
    # Given a staging distribution exists but the policy is disabled (not in the view)
    view.publish(distribution(), staging_of())
    edge = start_edge(view, ScriptedRandom(), clock)
    viewer = Viewer(edge.endpoint)
    try:
        assert viewer.request("/", headers={"aws-cf-cd-env": "staging"}).text == PRIMARY_PAGE
    finally:
        viewer.close()
        edge.stop()


@pytest.mark.parametrize(
    "policy", [header_policy(), weight_policy(0.15, (300, 600))], ids=["header", "weight"]
)
def test_under_heavy_load_every_request_goes_to_the_primary(
    view: FakeEdgeView, clock: FakeClock, policy: EdgePolicy
) -> None:
    # Given a propagated policy and a random source that would send every drawn viewer to staging
    publish_policy(view, with_policy(distribution(), staging_of(), policy))
    edge = start_edge(view, ScriptedRandom([0.0] * 40), clock)
    viewer = Viewer(edge.endpoint)
    staging_header = {"aws-cf-cd-env": "staging"}
    try:
        # When the edge is overloaded, as CloudFront may be
        edge.send_all_traffic_to_primary(True)
        overloaded = [viewer.request("/", headers=staging_header) for _ in range(20)]
        # and then recovers
        edge.send_all_traffic_to_primary(False)
        recovered = viewer.request("/", headers=staging_header)
    finally:
        viewer.close()
        edge.stop()
    # Then staging was never served meanwhile, no session was started, and it is served again after
    assert {reply.text for reply in overloaded} == {PRIMARY_PAGE}
    assert {reply.headers["Set-Cookie"] for reply in overloaded} == {None}
    assert recovered.text == STAGING_PAGE


# -- weight -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sticky", [(300, 600), None], ids=["sticky", "not-sticky"])
def test_weight_sends_its_share_of_cookieless_viewers_to_staging(
    view: FakeEdgeView, clock: FakeClock, sticky: tuple[int, int] | None
) -> None:
    # Given a 0.15 weight policy and a seeded random source
    publish_policy(view, with_policy(distribution(), staging_of(), weight_policy(0.15, sticky)))
    edge = start_edge(view, random.Random(20240611), clock)
    viewer = Viewer(edge.endpoint)
    try:
        # When 2,000 viewers without a cookie ask for the page
        sides = [side_of(viewer.request("/").text) for _ in range(2000)]
    finally:
        viewer.close()
        edge.stop()
    # Then between 12 % and 18 % land on staging
    share = sides.count("staging") / len(sides)
    assert 0.12 <= share <= 0.18, share


def test_zero_weight_sends_nobody_to_staging(view: FakeEdgeView, clock: FakeClock) -> None:
    publish_policy(view, with_policy(distribution(), staging_of(), weight_policy(0.0)))
    edge = start_edge(view, random.Random(7), clock)
    viewer = Viewer(edge.endpoint)
    try:
        assert {side_of(viewer.request("/").text) for _ in range(200)} == {"primary"}
    finally:
        viewer.close()
        edge.stop()


def test_with_the_cookie_every_request_stays_on_one_side(view: FakeEdgeView, clock: FakeClock) -> None:
    # Given a sticky 0.15 weight policy
    publish_policy(view, with_policy(distribution(), staging_of(), weight_policy(0.15, (300, 600))))
    edge = start_edge(view, random.Random(99), clock)
    viewer = Viewer(edge.endpoint)
    first_sides: list[str] = []
    try:
        for _ in range(100):
            # When a new viewer gets its first answer and then sends its cookie along
            first = viewer.request("/")
            cookie = first.cookie()
            assert cookie is not None and cookie.startswith(f"{STICKINESS_COOKIE}=")
            side = side_of(first.text)
            first_sides.append(side)
            later = []
            for _ in range(10):
                clock.advance(1)
                reply = viewer.request("/", headers={"Cookie": f"theme=dark; {cookie}"})
                cookie = reply.cookie()
                later.append(side_of(reply.text))
            # Then every later request stays on the first side
            assert set(later) == {side}
    finally:
        viewer.close()
        edge.stop()
    # And both sides had sessions (otherwise the check above proves nothing)
    assert set(first_sides) == {"primary", "staging"}


class StickySessionScenario:
    """One viewer with a cookie jar against an edge whose draws and clock the test controls."""

    def __init__(self, view: FakeEdgeView, clock: FakeClock, draws: list[float]) -> None:
        self.rng = ScriptedRandom(draws)
        self.edge = start_edge(view, self.rng, clock)
        self.viewer = Viewer(self.edge.endpoint)
        self.cookie: str | None = None

    def side(self) -> str:
        reply = self.viewer.request("/", headers={"Cookie": self.cookie} if self.cookie else {})
        self.cookie = reply.cookie() or self.cookie
        return side_of(reply.text)

    def close(self) -> None:
        self.viewer.close()
        self.edge.stop()


@pytest.fixture
def sticky(view: FakeEdgeView, clock: FakeClock) -> Iterator[StickySessionScenario]:
    # A session first drawn onto staging (0.0 < weight); a new draw would land on primary (0.99).
    publish_policy(view, with_policy(distribution(), staging_of(), weight_policy(0.15, (300, 600))))
    scenario = StickySessionScenario(view, clock, [0.0, 0.99])
    yield scenario
    scenario.close()


def test_session_survives_while_requests_come_within_the_idle_ttl(
    sticky: StickySessionScenario, clock: FakeClock
) -> None:
    assert sticky.side() == "staging"
    clock.advance(300)
    assert sticky.side() == "staging"
    assert sticky.rng.draws == [0.99]  # no second draw


def test_session_ends_after_the_idle_ttl(sticky: StickySessionScenario, clock: FakeClock) -> None:
    # Given a viewer on staging
    assert sticky.side() == "staging"
    # When it comes back after more than IdleTTL (300 s) without a request
    clock.advance(301)
    # Then a new session is drawn (and lands on the primary this time)
    assert sticky.side() == "primary"
    assert sticky.rng.draws == []


def test_session_ends_after_the_maximum_ttl_even_when_active(
    sticky: StickySessionScenario, clock: FakeClock
) -> None:
    # Given a viewer on staging asking every 200 s (inside the idle TTL)
    assert sticky.side() == "staging"
    for _ in range(3):
        clock.advance(200)
        assert sticky.side() == "staging"  # up to 600 s: MaximumTTL not yet exceeded
    # When its session grows older than MaximumTTL (600 s)
    clock.advance(100)
    # Then it is drawn anew
    assert sticky.side() == "primary"


def test_forged_cookie_starts_a_new_session(sticky: StickySessionScenario) -> None:
    assert sticky.side() == "staging"
    assert sticky.cookie is not None
    name, _, value = sticky.cookie.partition("=")
    payload, _, mac = value.partition(".")
    sticky.cookie = f"{name}={payload}.{'A' * len(mac)}"
    assert sticky.side() == "primary"


def test_disabling_and_enabling_the_policy_resets_sessions(
    view: FakeEdgeView, sticky: StickySessionScenario
) -> None:
    # Given a viewer with a staging session
    assert sticky.side() == "staging"
    # When the policy is disabled (the viewer lands on primary, keeping its cookie) and enabled again
    enabled = view.distribution_for_host(PRIMARY_DOMAIN)
    assert enabled is not None
    view.publish(replace(enabled, policy=None, staging_distribution=None))
    kept_cookie = sticky.cookie
    assert sticky.side() == "primary"
    view.publish(enabled)
    sticky.cookie = kept_cookie
    # Then its old session no longer counts: a new draw decides
    assert sticky.side() == "primary"
    assert sticky.rng.draws == []


def test_changing_stickiness_settings_resets_sessions(
    view: FakeEdgeView, sticky: StickySessionScenario
) -> None:
    assert sticky.side() == "staging"
    publish_policy(view, with_policy(distribution(), staging_of(), weight_policy(0.15, (600, 1200))))
    assert sticky.side() == "primary"


def test_cookie_of_another_distribution_starts_a_new_session(view: FakeEdgeView, clock: FakeClock) -> None:
    # Given two primaries with sticky policies behind one edge
    other = distribution("EOTHER00000001", "d333abcdef8.cloudfront.net")
    publish_policy(view, with_policy(distribution(), staging_of(), weight_policy(0.15, (300, 600))))
    publish_policy(view, with_policy(other, staging_of(), weight_policy(0.15, (300, 600))))
    rng = ScriptedRandom([0.0, 0.99])
    edge = start_edge(view, rng, clock)
    first, second = Viewer(edge.endpoint), Viewer(edge.endpoint, host="d333abcdef8.cloudfront.net")
    try:
        staging_reply = first.request("/")
        assert side_of(staging_reply.text) == "staging"
        cookie = staging_reply.cookie()
        assert cookie is not None
        # When the cookie is presented to the other distribution
        reply = second.request("/", headers={"Cookie": cookie})
    finally:
        first.close()
        second.close()
        edge.stop()
    # Then it does not carry the session over
    assert side_of(reply.text) == "primary"


def test_cookie_is_opaque_and_round_trips() -> None:
    codec = SessionCookieCodec(b"secret")
    session = StickySession(PRIMARY_DOMAIN, "gen", "staging", 1_000, 2_000)
    value = codec.encode(session)
    assert "staging" not in value and PRIMARY_DOMAIN not in value
    assert codec.decode(value) == session
    assert SessionCookieCodec(b"other secret").decode(value) is None
    assert codec.decode("garbage") is None
    assert codec.decode("") is None


def test_cookie_value_reads_one_cookie_among_many() -> None:
    header = f'a=1; {STICKINESS_COOKIE}="abc.def"; b=2'
    assert cookie_value(header, STICKINESS_COOKIE) == "abc.def"
    assert cookie_value("a=1; broken; b", STICKINESS_COOKIE) is None
    assert cookie_value(None, STICKINESS_COOKIE) is None
