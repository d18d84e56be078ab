"""`cfcd local up --seed-site` deploys template.yaml with the seeded site's bucket as SiteBucketName
(a required parameter: the stack's role may touch that bucket only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfcd.local.cloud import LocalCloud
from cfcd.local.seed import BUCKET_NAME

pytestmark = pytest.mark.unit


def test_the_seeded_bucket_is_the_stacks_site_bucket(tmp_path: Path) -> None:
    # Given the local cloud with the seeded site, and one told its bucket
    seeded = LocalCloud(state_dir=tmp_path, seed=True)
    given = LocalCloud(state_dir=tmp_path, seed=True, parameter_overrides={"SiteBucketName": "my-site"})

    # Then the stack gets the bucket the site is seeded into, known before the deploy
    assert seeded.stack_parameters() == {"SiteBucketName": BUCKET_NAME} and seeded.site_bucket == BUCKET_NAME
    assert given.stack_parameters() == {"SiteBucketName": "my-site"} and given.site_bucket == "my-site"
    # and without a seeded site the parameters are only what was given (the template requires it)
    assert LocalCloud(state_dir=tmp_path, parameter_overrides={"X": "y"}).stack_parameters() == {"X": "y"}
