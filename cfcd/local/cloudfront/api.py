"""The CloudFront REST operations cfcd needs, answered from :mod:`.store` instead of moto's model.

moto resolves the operation from the botocore model's request URI, parses the XML body, headers
and query string into ``self._get_param`` and serializes whatever an ``ActionResult`` holds by the
operation's output shape (body, ``ETag`` and ``Location`` headers, status code). So each operation
is a method named after it in snake_case; everything not defined here (tags, origin access
controls, functions, ...) stays moto's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from moto.cloudfront.models import cloudfront_backends
from moto.cloudfront.responses import CloudFrontResponse
from moto.core.responses import ActionResult, EmptyResult

from . import listeners
from .configs import Json
from .store import CloudFrontState, DistributionRecord, InvalidationRecord, PolicyRecord, paginate

_API_ROOT = "https://cloudfront.amazonaws.com/2020-05-31"
_STATE_ATTRIBUTE = "cfcd_state"


def state_for(account_id: str, partition: str = "aws") -> CloudFrontState:
    """The emulator's state, kept on moto's backend so moto's reset clears both together."""
    backend = cloudfront_backends[account_id][partition]
    state = getattr(backend, _STATE_ATTRIBUTE, None)
    if state is None:
        state = CloudFrontState(account_id=account_id, partition=partition)
        setattr(backend, _STATE_ATTRIBUTE, state)
    assert isinstance(state, CloudFrontState)
    return state


def distribution_body(state: CloudFrontState, record: DistributionRecord, *, changed: bool = False) -> Json:
    return {
        "Id": record.id,
        "ARN": record.arn,
        # A change is never deployed in the response that made it, even with no propagation delay.
        "Status": "InProgress" if changed else state.status(record),
        "LastModifiedTime": record.last_modified,
        "InProgressInvalidationBatches": state.in_progress_invalidations(record.id),
        "DomainName": record.domain_name,
        "ActiveTrustedSigners": {"Enabled": False, "Quantity": 0},
        "ActiveTrustedKeyGroups": {"Enabled": False, "Quantity": 0},
        "DistributionConfig": copy.deepcopy(record.config),
    }


_SUMMARY_FROM_CONFIG = (
    "Aliases",
    "Origins",
    "OriginGroups",
    "DefaultCacheBehavior",
    "CacheBehaviors",
    "CustomErrorResponses",
    "Comment",
    "PriceClass",
    "Enabled",
    "ViewerCertificate",
    "Restrictions",
    "WebACLId",
    "HttpVersion",
    "IsIPV6Enabled",
    "Staging",
)


def distribution_summary(state: CloudFrontState, record: DistributionRecord) -> Json:
    summary: Json = {
        "Id": record.id,
        "ARN": record.arn,
        "ETag": record.etag,
        "Status": state.status(record),
        "LastModifiedTime": record.last_modified,
        "DomainName": record.domain_name,
    }
    summary.update({key: copy.deepcopy(record.config.get(key)) for key in _SUMMARY_FROM_CONFIG})
    return summary


def policy_body(record: PolicyRecord) -> Json:
    return {
        "Id": record.id,
        "LastModifiedTime": record.last_modified,
        "ContinuousDeploymentPolicyConfig": copy.deepcopy(record.config),
    }


def invalidation_body(
    state: CloudFrontState, invalidation: InvalidationRecord, *, created: bool = False
) -> Json:
    return {
        "Id": invalidation.id,
        # Like a distribution change, a new invalidation is never complete in the response creating it.
        "Status": "InProgress" if created else invalidation.status(state.now()),
        "CreateTime": invalidation.create_time,
        "InvalidationBatch": copy.deepcopy(invalidation.batch),
    }


class FaithfulCloudFrontResponse(CloudFrontResponse):
    @property
    def state(self) -> CloudFrontState:
        return state_for(self.current_account, self.partition)

    def _param(self, name: str) -> Any:
        return self._get_param(name)

    def _max_items(self) -> int | None:
        value = self._get_param("MaxItems")
        return int(value) if value not in (None, "") else None

    # -- distributions ---------------------------------------------------------------------------
    def _created(self, record: DistributionRecord) -> ActionResult:
        return ActionResult(
            {
                "Distribution": distribution_body(self.state, record, changed=True),
                "ETag": record.etag,
                "Location": f"{_API_ROOT}/distribution/{record.id}",
            }
        )

    def create_distribution(self) -> ActionResult:
        return self._created(self.state.create_distribution(self._param("DistributionConfig")))

    def create_distribution_with_tags(self) -> ActionResult:
        record = self.state.create_distribution(self._param("DistributionConfigWithTags.DistributionConfig"))
        tags = self._param("DistributionConfigWithTags.Tags.Items") or []
        self.backend.tagger.tag_resource(record.arn, tags)
        return self._created(record)

    def copy_distribution(self) -> ActionResult:
        record = self.state.copy_distribution(
            self._param("PrimaryDistributionId"),
            staging=self._param("Staging"),
            if_match=self._param("IfMatch"),
            caller_reference=self._param("CallerReference"),
            enabled=self._param("Enabled"),
        )
        return self._created(record)

    def get_distribution(self) -> ActionResult:
        record = self.state.distribution(self._param("Id"))
        return ActionResult({"Distribution": distribution_body(self.state, record), "ETag": record.etag})

    def get_distribution_config(self) -> ActionResult:
        record = self.state.distribution(self._param("Id"))
        return ActionResult({"DistributionConfig": copy.deepcopy(record.config), "ETag": record.etag})

    def update_distribution(self) -> ActionResult:
        record = self.state.update_distribution(
            self._param("Id"), self._param("DistributionConfig"), self._param("IfMatch")
        )
        return ActionResult(
            {"Distribution": distribution_body(self.state, record, changed=True), "ETag": record.etag}
        )

    def update_distribution_with_staging_config(self) -> ActionResult:
        record = self.state.promote(
            self._param("Id"), self._param("StagingDistributionId"), self._param("IfMatch")
        )
        return ActionResult(
            {"Distribution": distribution_body(self.state, record, changed=True), "ETag": record.etag}
        )

    def delete_distribution(self) -> ActionResult:
        self.state.delete_distribution(self._param("Id"), self._param("IfMatch"))
        return EmptyResult()

    def _marked_page(self, records: list[Any], item: Callable[[Any], Json]) -> Json:
        """One page of a list paged by ``Marker``, in CloudFront's list shape."""
        marker = self._param("Marker")
        page, next_marker = paginate(records, marker, self._max_items(), key=lambda record: record.id)
        listing: Json = {
            "Marker": marker or "",
            "MaxItems": self._max_items() or 100,
            "IsTruncated": next_marker is not None,
            "Quantity": len(page),
        }
        if next_marker:
            listing["NextMarker"] = next_marker
        if page:
            listing["Items"] = [item(record) for record in page]
        return listing

    def list_distributions(self) -> ActionResult:
        listing = self._marked_page(
            self.state.ordered_distributions(), lambda record: distribution_summary(self.state, record)
        )
        return ActionResult({"DistributionList": listing})

    # -- continuous deployment policies ----------------------------------------------------------
    def create_continuous_deployment_policy(self) -> ActionResult:
        record = self.state.create_policy(self._param("ContinuousDeploymentPolicyConfig"))
        return ActionResult(
            {
                "ContinuousDeploymentPolicy": policy_body(record),
                "ETag": record.etag,
                "Location": f"{_API_ROOT}/continuous-deployment-policy/{record.id}",
            }
        )

    def get_continuous_deployment_policy(self) -> ActionResult:
        record = self.state.policy(self._param("Id"))
        return ActionResult({"ContinuousDeploymentPolicy": policy_body(record), "ETag": record.etag})

    def get_continuous_deployment_policy_config(self) -> ActionResult:
        record = self.state.policy(self._param("Id"))
        return ActionResult(
            {"ContinuousDeploymentPolicyConfig": copy.deepcopy(record.config), "ETag": record.etag}
        )

    def update_continuous_deployment_policy(self) -> ActionResult:
        record = self.state.update_policy(
            self._param("Id"), self._param("ContinuousDeploymentPolicyConfig"), self._param("IfMatch")
        )
        return ActionResult({"ContinuousDeploymentPolicy": policy_body(record), "ETag": record.etag})

    def delete_continuous_deployment_policy(self) -> ActionResult:
        self.state.delete_policy(self._param("Id"), self._param("IfMatch"))
        return EmptyResult()

    def list_continuous_deployment_policies(self) -> ActionResult:
        records, next_marker = paginate(
            self.state.ordered_policies(), self._param("Marker"), self._max_items(), key=lambda p: p.id
        )
        listing: Json = {"MaxItems": self._max_items() or 100, "Quantity": len(records)}
        if next_marker:
            listing["NextMarker"] = next_marker
        if records:
            listing["Items"] = [{"ContinuousDeploymentPolicy": policy_body(record)} for record in records]
        return ActionResult({"ContinuousDeploymentPolicyList": listing})

    # -- invalidations ---------------------------------------------------------------------------
    def create_invalidation(self) -> ActionResult:
        distribution_id = self._param("DistributionId")
        invalidation, created = self.state.create_invalidation(
            distribution_id, self._param("InvalidationBatch")
        )
        if created:
            listeners.notify(
                self.current_account, distribution_id, list(invalidation.batch["Paths"]["Items"])
            )
        return ActionResult(
            {
                "Invalidation": invalidation_body(self.state, invalidation, created=created),
                "Location": f"{_API_ROOT}/distribution/{distribution_id}/invalidation/{invalidation.id}",
            }
        )

    def get_invalidation(self) -> ActionResult:
        invalidation = self.state.invalidation(self._param("DistributionId"), self._param("Id"))
        return ActionResult({"Invalidation": invalidation_body(self.state, invalidation)})

    def list_invalidations(self) -> ActionResult:
        now = self.state.now()
        listing = self._marked_page(
            self.state.ordered_invalidations(self._param("DistributionId")),
            lambda record: {"Id": record.id, "CreateTime": record.create_time, "Status": record.status(now)},
        )
        return ActionResult({"InvalidationList": listing})


__all__ = ["FaithfulCloudFrontResponse", "state_for"]
