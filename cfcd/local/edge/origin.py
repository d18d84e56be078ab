"""The S3 origin behind the edge: which bucket a distribution's origin names, and reading from it.

The edge runs in the same process as moto's server, so it reads objects straight from moto's
in-process S3 backend instead of making signed HTTP calls (which is what CloudFront's origin
access control does on AWS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

# "<bucket>.s3.<region>.amazonaws.com", "<bucket>.s3.amazonaws.com", the legacy
# "<bucket>.s3-<region>.amazonaws.com" and dual-stack forms. Bucket names may contain dots, so the
# bucket part is matched lazily up to the first ".s3" label.
_S3_ORIGIN_DOMAIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.\-]*?)\.s3(?:[.\-][a-z0-9\-]+)*\.amazonaws\.com(?:\.cn)?$"
)


@dataclass(frozen=True)
class OriginObject:
    body: bytes
    content_type: str
    etag: str  # quoted, as S3 sends it: '"9b2cf535f27731c974343645a3985328"'
    last_modified: str | None = None  # RFC 1123
    cache_control: str | None = None


class OriginBucketNotFound(Exception):
    """The bucket an origin names does not exist."""


class OriginReader(Protocol):
    def get_object(self, bucket: str, key: str) -> OriginObject | None:
        """The object at ``key``, or None when there is no such key.

        Raises :class:`OriginBucketNotFound` when the bucket itself does not exist.
        """
        ...


def bucket_of_origin(domain_name: str) -> str | None:
    """The S3 bucket an origin domain names, or None for a domain that is not an S3 endpoint."""
    match = _S3_ORIGIN_DOMAIN.match(domain_name.lower())
    return match.group("bucket") if match else None


class MotoS3OriginReader:
    """Reads objects from moto's in-process S3 backend, whichever account owns the bucket."""

    def get_object(self, bucket: str, key: str) -> OriginObject | None:
        location = s3_backends.bucket_accounts.get(bucket)
        if location is None:
            raise OriginBucketNotFound(bucket)
        partition, account_id = location
        try:
            fake_key = s3_backends[account_id][partition].get_object(bucket, key)
        except MissingBucket as error:  # deleted between the lookup and the read
            raise OriginBucketNotFound(bucket) from error
        if fake_key is None:
            return None
        metadata = fake_key.metadata
        return OriginObject(
            body=bytes(fake_key.value),
            content_type=str(metadata.get("content-type") or "binary/octet-stream"),
            etag=str(fake_key.etag),
            last_modified=str(fake_key.last_modified_RFC1123),
            cache_control=metadata.get("cache-control"),
        )
