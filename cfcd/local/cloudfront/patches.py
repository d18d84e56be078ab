"""Every change cfcd makes to moto's internals, in one place.

Why patch at all: moto 5.2.5 has no continuous-deployment API, drops ``Staging`` and
``ContinuousDeploymentPolicyId`` from configs, ignores ``IfMatch``, never changes an ETag and has
no CloudFormation support for CloudFront, and cfcd's workflow depends on all of it. moto offers
no plug-in point, so we (1) route every CloudFront URL to our response class and add the URLs
moto lacks, and (2) register CloudFormation resource types. Both only touch module-level tables
moto reads at request time (``mock_aws``) or when its server builds the CloudFront app, which is
why :func:`cfcd.local.cloudfront.install` must run before ``ThreadedMotoServer`` starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import moto.cloudfront.urls as cloudfront_urls
from moto.cloudformation import parsing as cloudformation_parsing

from .api import FaithfulCloudFrontResponse

_ROOT = "{0}/2020-05-31"
# URLs of the operations moto does not route at all (request URIs from the botocore model).
_MISSING_PATHS = (
    _ROOT + "/distribution/(?P<distribution_id>[^/]+)/copy$",
    _ROOT + "/distribution/(?P<distribution_id>[^/]+)/promote-staging-config$",
    _ROOT + "/continuous-deployment-policy$",
    _ROOT + "/continuous-deployment-policy/(?P<policy_id>[^/]+)$",
    _ROOT + "/continuous-deployment-policy/(?P<policy_id>[^/]+)/config$",
)

_lock = threading.Lock()
_installed = False


def route_cloudfront_to_emulator() -> None:
    """Send every CloudFront request to :class:`FaithfulCloudFrontResponse`.

    It subclasses moto's ``CloudFrontResponse``, so operations it does not override (tags,
    origin access controls, functions, ...) behave exactly as in moto.
    """
    handler: Callable[..., Any] = FaithfulCloudFrontResponse.dispatch
    url_paths: dict[str, Callable[..., Any]] = cloudfront_urls.url_paths
    for path in list(url_paths):
        url_paths[path] = handler
    for path in _MISSING_PATHS:
        url_paths[path] = handler


def register_cloudformation_types() -> None:
    """Make moto's CloudFormation know AWS::CloudFront::Distribution and ::ContinuousDeploymentPolicy.

    moto finds resource types through ``CloudFormationModel.__subclasses__()`` behind
    ``functools.lru_cache``; defining the classes (importing the module) and clearing those caches
    is the registration.
    """
    import cfcd.local.cloudfront_stack  # noqa: F401  (defining the models registers them)

    cloudformation_parsing.get_model_list.cache_clear()
    cloudformation_parsing.get_model_map.cache_clear()
    cloudformation_parsing.get_name_type_map.cache_clear()


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        route_cloudfront_to_emulator()
        register_cloudformation_types()
        _installed = True
