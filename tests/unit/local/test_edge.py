"""The edge server: host routing, the S3 origin, errors, headers, caching and origin faults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from cfcd.local.edge import EdgeServer, MotoS3OriginReader
from cfcd.local.edge.cache import cache_ttl
from cfcd.local.edge.origin import bucket_of_origin
from cfcd.local.edge.routing import distribution_host
from cfcd.local.edge_view import EdgeCacheBehavior, EdgeOrigin
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.edge_fakes import (
    BUCKET,
    CACHING_ONE_MINUTE,
    PRIMARY_DOMAIN,
    STAGING_DOMAIN,
    FakeClock,
    FakeEdgeView,
    ScriptedRandom,
    Viewer,
    distribution,
    header_policy,
    staging_of,
    with_policy,
)

pytestmark = pytest.mark.unit

STAGING_HEADER = {"aws-cf-cd-env": "staging"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mocked_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for release in ("1.0.0", "2.0.0"):
            major = release.split(".")[0]
            client.put_object(
                Bucket=BUCKET,
                Key=f"{release}/index.html",
                Body=f"<h1>v{major} App</h1>",
                ContentType="text/html",
            )
            client.put_object(Bucket=BUCKET, Key=f"{release}/images/logo.png", Body=b"png" + major.encode())
        yield client


@pytest.fixture
def view() -> FakeEdgeView:
    return FakeEdgeView()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def edge(s3: Any, view: FakeEdgeView, clock: FakeClock) -> Iterator[EdgeServer]:
    # Header policies never draw: a scripted random with no draws fails any test that would.
    with EdgeServer(view, MotoS3OriginReader(), rng=ScriptedRandom(), clock=clock) as server:
        yield server


@pytest.fixture
def viewer(edge: EdgeServer) -> Iterator[Viewer]:
    client = Viewer(edge.endpoint)
    yield client
    client.close()


# -- host routing -----------------------------------------------------------------------------------


def test_host_header_names_the_distribution_port_stripped(edge: EdgeServer, view: FakeEdgeView) -> None:
    # Given a primary serving release 1.0.0
    view.publish(distribution())
    # When a viewer names its domain with a port in the Host header
    client = Viewer(edge.endpoint, host=f"{PRIMARY_DOMAIN.upper()}:443")
    reply = client.request("/index.html")
    client.close()
    # Then the primary answers from its origin
    assert reply.status == 200
    assert reply.text == "<h1>v1 App</h1>"


def test_cloudfront_localhost_name_stands_for_cloudfront_net(edge: EdgeServer, view: FakeEdgeView) -> None:
    # Given a primary d111abcdef8.cloudfront.net
    view.publish(distribution())
    port = edge.endpoint.rsplit(":", 1)[1]
    # When a browser opens http://d111abcdef8.cloudfront.localhost:<port>/
    client = Viewer(edge.endpoint, host=f"d111abcdef8.cloudfront.localhost:{port}")
    reply = client.request("/")
    client.close()
    # Then it gets that distribution's site
    assert reply.status == 200
    assert reply.text == "<h1>v1 App</h1>"


def test_alias_names_the_distribution(edge: EdgeServer, view: FakeEdgeView) -> None:
    view.publish(distribution(aliases=("www.example.com",)))
    client = Viewer(edge.endpoint, host="www.example.com")
    assert client.request("/").text == "<h1>v1 App</h1>"
    client.close()


def test_unknown_host_gets_cloudfront_403(edge: EdgeServer, view: FakeEdgeView) -> None:
    # Given no distribution for the host
    view.publish(distribution())
    client = Viewer(edge.endpoint, host="d999unknown.cloudfront.net")
    # When a viewer asks for it
    reply = client.request("/")
    client.close()
    # Then CloudFront's own error page answers
    assert reply.status == 403
    assert reply.headers["X-Cache"] == "Error from cloudfront"
    assert "The request could not be satisfied" in reply.text


def test_disabled_distribution_answers_403(edge: EdgeServer, viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution(enabled=False))
    reply = viewer.request("/")
    assert reply.status == 403
    assert reply.headers["X-Cache"] == "Error from cloudfront"


def test_staging_distribution_cannot_be_reached_directly(edge: EdgeServer, view: FakeEdgeView) -> None:
    # Given a primary with a header policy and its staging distribution
    staging = staging_of()
    view.publish(with_policy(distribution(), staging, header_policy()), staging)
    # When a viewer asks the staging domain itself, even with the header
    client = Viewer(edge.endpoint, host=STAGING_DOMAIN)
    reply = client.request("/", headers=STAGING_HEADER)
    client.close()
    # Then it is refused
    assert reply.status == 403
    assert "v2 App" not in reply.text  # its random request id may hold "v2"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_only_get_and_head_are_served(viewer: Viewer, view: FakeEdgeView, method: str) -> None:
    view.publish(distribution())
    reply = viewer.request("/index.html", method=method, headers={"Content-Length": "0"})
    assert reply.status == 403
    assert "not configured to allow the HTTP request method" in reply.text


def test_head_announces_the_length_without_a_body(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution())
    reply = viewer.request("/index.html", method="HEAD")
    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["Content-Length"] == str(len("<h1>v1 App</h1>"))


# -- origin -----------------------------------------------------------------------------------------


def test_root_serves_the_default_root_object_under_the_origin_path(
    viewer: Viewer, view: FakeEdgeView
) -> None:
    view.publish(distribution(origin_path="/2.0.0"))
    reply = viewer.request("/")
    assert reply.status == 200
    assert reply.text == "<h1>v2 App</h1>"
    assert reply.headers["Content-Type"] == "text/html"


def test_default_root_object_applies_to_the_root_only(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution())
    assert viewer.request("/images/").status == 403


def test_root_without_default_root_object_is_denied(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution(default_root_object=""))
    assert viewer.request("/").status == 403


def test_missing_object_is_access_denied_like_s3_behind_oac(viewer: Viewer, view: FakeEdgeView) -> None:
    # Given a bucket policy that grants CloudFront s3:GetObject only (the OAC setup)
    view.publish(distribution())
    # When a viewer asks for a key that does not exist
    reply = viewer.request("/missing.html")
    # Then S3's AccessDenied comes through CloudFront
    assert reply.status == 403
    assert "<Code>AccessDenied</Code>" in reply.text
    assert reply.headers["X-Cache"] == "Error from cloudfront"


def test_missing_bucket_is_bad_gateway(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution(origin_domain="no-such-bucket.s3.us-east-1.amazonaws.com"))
    reply = viewer.request("/index.html")
    assert reply.status == 502
    assert reply.headers["X-Cache"] == "Error from cloudfront"


def test_origin_that_is_not_s3_is_bad_gateway(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution(origin_domain="example.com"))
    assert viewer.request("/index.html").status == 502


def test_path_pattern_behaviour_picks_its_origin_first_match_wins(viewer: Viewer, view: FakeEdgeView) -> None:
    # Given /images/* served from release 2.0.0 and a later, broader pattern from elsewhere
    images = EdgeOrigin("images", f"{BUCKET}.s3.amazonaws.com", "/2.0.0")
    view.publish(
        distribution(
            behaviors=(
                EdgeCacheBehavior("images/*", "images", 0, 0, 0),
                EdgeCacheBehavior("/*.png", "nowhere", 0, 0, 0),
            ),
            extra_origins=(images,),
        )
    )
    # When viewers ask for an image and a page
    # Then the image comes from the first matching behaviour's origin, the page from the default
    assert viewer.request("/images/logo.png").body == b"png2"
    assert viewer.request("/index.html").text == "<h1>v1 App</h1>"


def test_percent_encoded_path_reads_the_decoded_key(s3: Any, viewer: Viewer, view: FakeEdgeView) -> None:
    s3.put_object(Bucket=BUCKET, Key="1.0.0/a b.txt", Body=b"spaced")
    view.publish(distribution())
    assert viewer.request("/a%20b.txt").body == b"spaced"


# -- headers ----------------------------------------------------------------------------------------


def test_responses_carry_cloudfront_headers(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution())
    first = viewer.request("/index.html")
    second = viewer.request("/index.html")
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert re.fullmatch(r"1\.1 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)", first.headers["Via"])
    assert len(first.headers["X-Amz-Cf-Id"]) == 56
    assert first.headers["X-Amz-Cf-Id"] != second.headers["X-Amz-Cf-Id"]
    assert first.headers["X-Amz-Cf-Pop"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', first.headers["ETag"])
    assert first.headers["Age"] is None


def test_if_none_match_gets_not_modified(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution())
    etag = viewer.request("/index.html").headers["ETag"]
    reply = viewer.request("/index.html", headers={"If-None-Match": etag})
    assert reply.status == 304
    assert reply.body == b""


# -- cache ------------------------------------------------------------------------------------------


def test_cache_hit_until_the_ttl_expires(
    s3: Any, viewer: Viewer, view: FakeEdgeView, clock: FakeClock
) -> None:
    # Given a behaviour caching for 60 s and a first request that filled the cache
    view.publish(distribution(ttls=CACHING_ONE_MINUTE))
    assert viewer.request("/index.html").headers["X-Cache"] == "Miss from cloudfront"
    s3.put_object(Bucket=BUCKET, Key="1.0.0/index.html", Body=b"changed")
    # When the same path is asked 30 s later
    clock.advance(30)
    hit = viewer.request("/index.html")
    # Then the cached copy answers, with its age
    assert hit.headers["X-Cache"] == "Hit from cloudfront"
    assert hit.headers["Age"] == "30"
    assert hit.text == "<h1>v1 App</h1>"
    # And once the TTL has passed the origin is asked again
    clock.advance(31)
    miss = viewer.request("/index.html")
    assert miss.headers["X-Cache"] == "Miss from cloudfront"
    assert miss.body == b"changed"


def test_caching_disabled_never_caches(s3: Any, viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution())  # the managed CachingDisabled policy: TTLs 0/0/0
    viewer.request("/index.html")
    s3.put_object(Bucket=BUCKET, Key="1.0.0/index.html", Body=b"changed")
    reply = viewer.request("/index.html")
    assert reply.headers["X-Cache"] == "Miss from cloudfront"
    assert reply.body == b"changed"


def test_primary_and_staging_do_not_share_a_cache(viewer: Viewer, view: FakeEdgeView) -> None:
    # Given both sides cache and the primary has cached /index.html
    staging = staging_of(ttls=CACHING_ONE_MINUTE)
    view.publish(with_policy(distribution(ttls=CACHING_ONE_MINUTE), staging, header_policy()), staging)
    viewer.request("/index.html")
    # When the staging side is asked for the same path
    first_staging = viewer.request("/index.html", headers=STAGING_HEADER)
    # Then it misses and serves its own release, and then hits its own cache
    assert first_staging.headers["X-Cache"] == "Miss from cloudfront"
    assert first_staging.text == "<h1>v2 App</h1>"
    assert viewer.request("/index.html", headers=STAGING_HEADER).headers["X-Cache"] == "Hit from cloudfront"
    assert viewer.request("/index.html").text == "<h1>v1 App</h1>"


def test_promotion_keeps_the_cache_until_invalidated(viewer: Viewer, view: FakeEdgeView) -> None:
    # Given the primary cached release 1.0.0
    primary = distribution(ttls=CACHING_ONE_MINUTE)
    view.publish(primary)
    viewer.request("/index.html")
    # When its config changes to release 2.0.0 (a promotion) without an invalidation
    view.publish(distribution(origin_path="/2.0.0", ttls=CACHING_ONE_MINUTE))
    # Then viewers keep the old release
    assert viewer.request("/index.html").text == "<h1>v1 App</h1>"
    # And after invalidating /* they get the new one
    view.create_invalidation(primary.distribution_id, ["/*"])
    reply = viewer.request("/index.html")
    assert reply.headers["X-Cache"] == "Miss from cloudfront"
    assert reply.text == "<h1>v2 App</h1>"


def test_invalidation_by_prefix_and_exact_path(viewer: Viewer, view: FakeEdgeView) -> None:
    primary = distribution(ttls=CACHING_ONE_MINUTE)
    view.publish(primary)
    for path in ("/index.html", "/images/logo.png", "/"):
        viewer.request(path)

    view.create_invalidation(primary.distribution_id, ["/images/*"])
    assert viewer.request("/images/logo.png").headers["X-Cache"] == "Miss from cloudfront"
    assert viewer.request("/index.html").headers["X-Cache"] == "Hit from cloudfront"

    view.create_invalidation(primary.distribution_id, ["/index.html"])
    assert viewer.request("/index.html").headers["X-Cache"] == "Miss from cloudfront"
    # The cache key is the viewer's path: "/" is cached apart from "/index.html"
    assert viewer.request("/").headers["X-Cache"] == "Hit from cloudfront"


def test_invalidation_of_another_distribution_leaves_the_cache(viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution(ttls=CACHING_ONE_MINUTE))
    viewer.request("/index.html")
    view.create_invalidation("EOTHER", ["/*"])
    assert viewer.request("/index.html").headers["X-Cache"] == "Hit from cloudfront"


# -- origin faults ----------------------------------------------------------------------------------


def test_injected_origin_status_hits_only_that_release(
    edge: EdgeServer, viewer: Viewer, view: FakeEdgeView
) -> None:
    # Given primary 1.0.0 and staging 2.0.0 behind a header policy, and release 2.0.0 failing
    staging = staging_of()
    view.publish(with_policy(distribution(), staging, header_policy()), staging)
    edge.inject_origin_status("/2.0.0/", 500)
    # When viewers ask both sides
    failed = viewer.request("/", headers=STAGING_HEADER)
    healthy = viewer.request("/")
    # Then the staging side gets the origin's 500 through CloudFront, the primary is unharmed
    assert failed.status == 500
    assert failed.headers["X-Cache"] == "Error from cloudfront"
    assert healthy.status == 200
    # And once cleared, staging serves again
    edge.clear_origin_faults()
    assert viewer.request("/", headers=STAGING_HEADER).text == "<h1>v2 App</h1>"


def test_longest_fault_prefix_wins(edge: EdgeServer, viewer: Viewer, view: FakeEdgeView) -> None:
    view.publish(distribution())
    edge.inject_origin_status("/1.0.0/", 503)
    edge.inject_origin_status("/1.0.0/images/", 504)
    assert viewer.request("/images/logo.png").status == 504
    assert viewer.request("/index.html").status == 503


def test_fault_status_must_be_http(edge: EdgeServer) -> None:
    with pytest.raises(ValueError):
        edge.inject_origin_status("/", 42)


def test_edge_serves_nothing_after_stop(s3: Any, view: FakeEdgeView) -> None:
    view.publish(distribution())
    server = EdgeServer(view, MotoS3OriginReader())
    server.start()
    endpoint = server.endpoint
    server.stop()
    with pytest.raises(OSError):
        Viewer(endpoint).request("/")
    with pytest.raises(RuntimeError):
        _ = server.endpoint


def test_config_switch_between_releases_is_seen_at_once_without_cache(
    viewer: Viewer, view: FakeEdgeView
) -> None:
    primary = distribution()
    view.publish(primary)
    assert viewer.request("/").text == "<h1>v1 App</h1>"
    view.publish(replace(primary, origins=(EdgeOrigin("s3-site", f"{BUCKET}.s3.amazonaws.com", "/2.0.0"),)))
    assert viewer.request("/").text == "<h1>v2 App</h1>"


# -- the rules underneath ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "bucket"),
    [
        ("site-bucket.s3.us-east-1.amazonaws.com", "site-bucket"),
        ("site-bucket.s3.amazonaws.com", "site-bucket"),
        ("my.dotted.bucket.s3.eu-west-1.amazonaws.com", "my.dotted.bucket"),
        ("legacy.s3-eu-west-1.amazonaws.com", "legacy"),
        ("dual.s3.dualstack.us-east-1.amazonaws.com", "dual"),
        ("example.com", None),
        ("api.example.execute-api.us-east-1.amazonaws.com", None),
    ],
)
def test_bucket_of_origin(domain: str, bucket: str | None) -> None:
    assert bucket_of_origin(domain) == bucket


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("d111abcdef8.cloudfront.net", "d111abcdef8.cloudfront.net"),
        ("D111ABCDEF8.cloudfront.net:8443", "d111abcdef8.cloudfront.net"),
        ("d111abcdef8.cloudfront.localhost:43123", "d111abcdef8.cloudfront.net"),
        ("www.example.com.", "www.example.com"),
        ("", ""),
    ],
)
def test_distribution_host(host: str, expected: str) -> None:
    assert distribution_host(host) == expected


@pytest.mark.parametrize(
    ("ttls", "cache_control", "expected"),
    [
        ((0, 0, 0), None, 0),  # CachingDisabled
        ((0, 0, 0), "max-age=600", 0),
        ((1, 86400, 31536000), None, 86400),  # CachingOptimized, no Cache-Control
        ((1, 86400, 31536000), "public, max-age=60", 60),
        ((1, 86400, 31536000), "max-age=60, s-maxage=120", 120),
        ((10, 60, 300), "max-age=5", 10),  # clamped up to MinTTL
        ((10, 60, 300), "max-age=9999", 300),  # clamped down to MaxTTL
        ((10, 60, 300), "no-cache", 10),
        ((0, 60, 300), "no-store", 0),
    ],
)
def test_cache_ttl(ttls: tuple[int, int, int], cache_control: str | None, expected: int) -> None:
    assert cache_ttl(EdgeCacheBehavior("*", "o", *ttls), cache_control) == expected


def test_disabled_staging_distribution_leaves_everyone_on_the_primary(
    viewer: Viewer, view: FakeEdgeView
) -> None:
    staging = staging_of(enabled=False)
    view.publish(with_policy(distribution(), staging, header_policy()), staging)
    assert viewer.request("/", headers=STAGING_HEADER).text == "<h1>v1 App</h1>"


class BrokenView(FakeEdgeView):
    def distribution_for_host(self, host: str) -> None:
        raise RuntimeError("emulator bug")


def test_a_failure_inside_the_edge_answers_502_instead_of_dropping_the_connection(s3: Any) -> None:
    with EdgeServer(BrokenView(), MotoS3OriginReader()) as server:
        client = Viewer(server.endpoint)
        reply = client.request("/")
        again = client.request("/")  # the keep-alive connection survives
        client.close()
    assert (reply.status, again.status) == (502, 502)
    assert reply.headers["X-Cache"] == "Error from cloudfront"
