"""The edge: an HTTP server playing CloudFront's edge for every distribution of the local cloud.

See :class:`EdgeServer`. It reads the propagated configuration through
:class:`cfcd.local.edge_view.EdgeView` and objects through an :class:`OriginReader`
(:class:`MotoS3OriginReader` in the local cloud).
"""

from cfcd.local.edge.deployment import STICKINESS_COOKIE
from cfcd.local.edge.origin import MotoS3OriginReader, OriginBucketNotFound, OriginObject, OriginReader
from cfcd.local.edge.server import EdgeResponse, EdgeServer

__all__ = [
    "STICKINESS_COOKIE",
    "EdgeResponse",
    "EdgeServer",
    "MotoS3OriginReader",
    "OriginBucketNotFound",
    "OriginObject",
    "OriginReader",
]
