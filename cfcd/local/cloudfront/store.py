"""The state of CloudFront in one account: distributions, policies, invalidations, and propagation.

Every change is a new *revision* with the time it is deployed everywhere (now + the propagation
delay in effect). A resource is ``InProgress`` until its newest revision is deployed; the edge sees
the newest deployed revision. Time is evaluated lazily, so no background thread is needed.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudfront.models import random_id
from moto.moto_api._internal import mock_random

from . import configs, errors
from .configs import Json, items

Clock = Callable[[], float]

_ETAG_FORMAT = re.compile(r"[A-Z0-9]{8,32}")


class _Settings:
    """Process-wide emulation settings (the local cloud runs one moto server per process)."""

    def __init__(self) -> None:
        self.propagation_seconds = 0.0
        self.clock: Clock = time.time


settings = _Settings()


def new_etag() -> str:
    return "E" + random_id(length=13)


@dataclass
class Revision:
    config: Json
    deployed_at: float


@dataclass
class _Versioned:
    revisions: list[Revision]

    @property
    def config(self) -> Json:
        return self.revisions[-1].config

    def settled(self, now: float) -> bool:
        return self.revisions[-1].deployed_at <= now

    def propagated(self, now: float) -> Json | None:
        for revision in reversed(self.revisions):
            if revision.deployed_at <= now:
                return revision.config
        return None

    def record(self, config: Json, now: float) -> None:
        self.revisions.append(Revision(copy.deepcopy(config), now + settings.propagation_seconds))
        # Older revisions than the newest deployed one can never be seen again.
        deployed = [i for i, r in enumerate(self.revisions) if r.deployed_at <= now]
        if deployed:
            del self.revisions[: deployed[-1]]


@dataclass
class DistributionRecord(_Versioned):
    id: str
    arn: str
    domain_name: str
    etag: str
    last_modified: datetime
    sequence: int


@dataclass
class PolicyRecord(_Versioned):
    id: str
    etag: str
    last_modified: datetime
    sequence: int

    @property
    def staging_dns_names(self) -> list[str]:
        return [str(name) for name in items(self.config.get("StagingDistributionDnsNames"))]


@dataclass
class InvalidationRecord:
    id: str
    distribution_id: str
    batch: Json
    create_time: datetime
    completes_at: float

    def status(self, now: float) -> str:
        return "Completed" if self.completes_at <= now else "InProgress"


@dataclass
class CloudFrontState:
    account_id: str
    partition: str = "aws"
    distributions: dict[str, DistributionRecord] = field(default_factory=dict)
    policies: dict[str, PolicyRecord] = field(default_factory=dict)
    invalidations: dict[str, list[InvalidationRecord]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _sequence: int = 0

    # -- helpers ---------------------------------------------------------------------------------
    def now(self) -> float:
        return settings.clock()

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def distribution(self, distribution_id: str) -> DistributionRecord:
        record = self.distributions.get(distribution_id)
        if record is None:
            raise errors.no_such_distribution()
        return record

    def policy(self, policy_id: str) -> PolicyRecord:
        record = self.policies.get(policy_id)
        if record is None:
            raise errors.no_such_policy()
        return record

    def distribution_by_domain(self, domain_name: str) -> DistributionRecord | None:
        wanted = domain_name.lower().rstrip(".")
        return next((d for d in self.distributions.values() if d.domain_name == wanted), None)

    def policy_attached_to(self, record: DistributionRecord) -> PolicyRecord | None:
        policy_id = record.config.get("ContinuousDeploymentPolicyId") or ""
        return self.policies.get(policy_id) if policy_id else None

    def primary_using_policy(self, policy_id: str) -> DistributionRecord | None:
        return next(
            (
                d
                for d in self.distributions.values()
                if d.config.get("ContinuousDeploymentPolicyId") == policy_id
            ),
            None,
        )

    def policy_using_staging(self, staging: DistributionRecord) -> PolicyRecord | None:
        return next((p for p in self.policies.values() if staging.domain_name in p.staging_dns_names), None)

    def status(self, record: DistributionRecord) -> str:
        now = self.now()
        policy = self.policy_attached_to(record)
        # A policy change is deployed with its primary distribution.
        settled = record.settled(now) and (policy is None or policy.settled(now))
        return "Deployed" if settled else "InProgress"

    def in_progress_invalidations(self, distribution_id: str) -> int:
        now = self.now()
        return sum(1 for i in self.invalidations.get(distribution_id, []) if i.status(now) == "InProgress")

    @staticmethod
    def check_if_match(given: str | None, current: str) -> None:
        if not given or not _ETAG_FORMAT.fullmatch(given.strip()):
            raise errors.invalid_if_match()
        if given.strip() != current:
            raise errors.precondition_failed()

    def _touch(self, record: DistributionRecord | PolicyRecord, config: Json) -> None:
        record.record(config, self.now())
        record.etag = new_etag()
        record.last_modified = datetime.now(UTC)

    # -- distributions ---------------------------------------------------------------------------
    def create_distribution(self, given: Json | None) -> DistributionRecord:
        with self.lock:
            config = configs.normalize_distribution_config(given)
            if config["ContinuousDeploymentPolicyId"]:
                raise errors.invalid_argument(
                    "You can't attach a continuous deployment policy when you create a distribution."
                )
            return self._add_distribution(config)

    def _add_distribution(self, config: Json) -> DistributionRecord:
        existing = next(
            (
                d
                for d in self.distributions.values()
                if d.config["CallerReference"] == config["CallerReference"]
            ),
            None,
        )
        if existing is not None:
            raise errors.distribution_already_exists(existing.id)
        if config["Staging"]:
            staging_count = sum(1 for d in self.distributions.values() if d.config["Staging"])
            if staging_count >= configs.MAX_STAGING_DISTRIBUTIONS:
                raise errors.too_many_staging_distributions(configs.MAX_STAGING_DISTRIBUTIONS)
        self._check_cnames_free(config, own_id=None)
        distribution_id = "E" + random_id(length=13)
        record = DistributionRecord(
            revisions=[],
            id=distribution_id,
            arn=f"arn:{self.partition}:cloudfront::{self.account_id}:distribution/{distribution_id}",
            domain_name=f"d{random_id(uppercase=False, length=13)}.cloudfront.net",
            etag=new_etag(),
            last_modified=datetime.now(UTC),
            sequence=self._next_sequence(),
        )
        record.record(config, self.now())
        self.distributions[distribution_id] = record
        return record

    def _check_cnames_free(self, config: Json, own_id: str | None) -> None:
        wanted = {str(alias).lower() for alias in items(config["Aliases"])}
        for other in self.distributions.values():
            if other.id == own_id:
                continue
            taken = wanted & {str(alias).lower() for alias in items(other.config["Aliases"])}
            if taken:
                raise errors.cname_already_exists(sorted(taken)[0])

    def update_distribution(
        self, distribution_id: str, given: Json | None, if_match: str | None
    ) -> DistributionRecord:
        with self.lock:
            record = self.distribution(distribution_id)
            self.check_if_match(if_match, record.etag)
            before = record.config
            config = configs.normalize_distribution_config(
                given, keep_policy_id=before.get("ContinuousDeploymentPolicyId") or ""
            )
            if config["CallerReference"] != before["CallerReference"]:
                raise errors.illegal_update("The caller reference of a distribution can't be changed.")
            if bool(config["Staging"]) != bool(before["Staging"]):
                raise errors.illegal_update("A distribution can't be changed between staging and primary.")
            self._check_continuous_deployment_locks(record, before, config)
            self._check_cnames_free(config, own_id=record.id)
            self._check_policy_attachment(record, before, config)
            self._touch(record, config)
            return record

    def _check_continuous_deployment_locks(
        self, record: DistributionRecord, before: Json, after: Json
    ) -> None:
        """What a continuous deployment policy forbids on its primary and staging distribution.

        A primary with a policy attached, and the staging distribution of such a policy, accept
        changes to configs.UPDATABLE_WITH_POLICY only (detaching the policy included: the primary
        has it attached while the request is judged). Known assumption, the docs being silent: a
        staging distribution named by a policy that no primary has attached is not locked.
        """
        if before["Staging"]:
            policy = self.policy_using_staging(record)
            # UpdateDistribution's errors include StagingDistributionInUse; a staging distribution
            # a policy routes to must keep serving.
            if policy is not None and before["Enabled"] and not after["Enabled"]:
                raise errors.staging_cannot_be_disabled()
            locked = policy is not None and self.primary_using_policy(policy.id) is not None
        else:
            locked = bool(before.get("ContinuousDeploymentPolicyId"))
        if locked:
            fields = configs.fields_locked_by_policy(before, after)
            if fields:
                raise errors.illegal_update(fields=fields)

    def _check_policy_attachment(self, record: DistributionRecord, before: Json, after: Json) -> None:
        # A policy is attached (and detached, with "") by UpdateDistribution on the primary.
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/working-with-staging-distribution-continuous-deployment-policy.html
        policy_id = after.get("ContinuousDeploymentPolicyId") or ""
        if not policy_id or policy_id == before.get("ContinuousDeploymentPolicyId"):
            return
        if after["Staging"]:
            raise errors.invalid_argument(
                "A continuous deployment policy can't be attached to a staging distribution."
            )
        policy = self.policy(policy_id)
        user = self.primary_using_policy(policy_id)
        if user is not None and user.id != record.id:
            raise errors.policy_in_use()
        for dns_name in policy.staging_dns_names:
            staging = self.distribution_by_domain(dns_name)
            if staging is None or not staging.config["Staging"]:
                raise errors.invalid_argument(
                    f"The policy routes to {dns_name}, which is not a staging distribution."
                )
        if after.get("HttpVersion") in configs.HTTP3_VERSIONS:
            raise errors.illegal_update(fields=["HttpVersion"])

    def delete_distribution(
        self, distribution_id: str, if_match: str | None, *, must_be_disabled: bool = True
    ) -> None:
        with self.lock:
            record = self.distribution(distribution_id)
            self.check_if_match(if_match, record.etag)
            if record.config["Staging"] and self.policy_using_staging(record) is not None:
                raise errors.staging_in_use_by_policy()
            if must_be_disabled and (record.config["Enabled"] or self.status(record) != "Deployed"):
                raise errors.distribution_not_disabled()
            del self.distributions[distribution_id]
            self.invalidations.pop(distribution_id, None)

    def copy_distribution(
        self,
        primary_id: str,
        *,
        staging: bool | None,
        if_match: str | None,
        caller_reference: str,
        enabled: bool | None,
    ) -> DistributionRecord:
        with self.lock:
            primary = self.distribution(primary_id)
            self.check_if_match(if_match, primary.etag)
            if not staging:
                raise errors.invalid_argument("The only valid value for Staging is true.")
            if primary.config["Staging"]:
                raise errors.invalid_argument("You can't copy a staging distribution.")
            config = configs.copy_for_staging(primary.config, caller_reference, enabled)
            configs.validate_distribution_config(config)
            return self._add_distribution(config)

    def promote(self, primary_id: str, staging_id: str | None, if_match: str | None) -> DistributionRecord:
        """UpdateDistributionWithStagingConfig: copy the staging config onto the primary (see
        configs.promoted), which "will disable the continuous deployment policy".
        https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistributionWithStagingConfig.html
        """
        with self.lock:
            primary = self.distribution(primary_id)
            if not staging_id:
                raise errors.invalid_argument("StagingDistributionId is required.")
            staging = self.distribution(staging_id)
            etags = [part.strip() for part in (if_match or "").split(",")]
            if len(etags) != 2:
                raise errors.invalid_if_match()
            self.check_if_match(etags[0], primary.etag)
            self.check_if_match(etags[1], staging.etag)
            if primary.config["Staging"] or not staging.config["Staging"]:
                raise errors.illegal_update(
                    "The primary must be a primary and the staging a staging distribution."
                )
            policy = self.policy_attached_to(primary)
            if policy is None or staging.domain_name not in policy.staging_dns_names:
                raise errors.illegal_update(
                    "The staging distribution is not the one of the primary's continuous deployment policy."
                )
            self._touch(primary, configs.promoted(primary.config, staging.config))
            disabled = copy.deepcopy(policy.config)
            disabled["Enabled"] = False
            self._touch(policy, disabled)
            return primary

    def ordered_distributions(self) -> list[DistributionRecord]:
        return sorted(self.distributions.values(), key=lambda d: d.sequence)

    # -- continuous deployment policies ----------------------------------------------------------
    def _check_policy_target(self, config: Json, own_id: str | None) -> None:
        for dns_name in items(config["StagingDistributionDnsNames"]):
            staging = self.distribution_by_domain(str(dns_name))
            if staging is None or not staging.config["Staging"]:
                raise errors.invalid_argument(
                    f"StagingDistributionDnsNames must name a staging distribution: {dns_name}"
                )
            other = self.policy_using_staging(staging)
            if other is not None and other.id != own_id:
                # ContinuousDeploymentPolicyAlreadyExists is among CreateContinuousDeploymentPolicy's
                # errors only; UpdateContinuousDeploymentPolicy answers StagingDistributionInUse.
                # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateContinuousDeploymentPolicy.html
                if own_id is None and other.config == config:
                    raise errors.policy_already_exists(other.id)
                raise errors.staging_already_has_policy()

    def create_policy(self, given: Json | None) -> PolicyRecord:
        with self.lock:
            config = configs.validate_policy_config(given)
            if len(self.policies) >= configs.MAX_POLICIES:
                raise errors.too_many_policies(configs.MAX_POLICIES)
            self._check_policy_target(config, own_id=None)
            record = PolicyRecord(
                revisions=[],
                id=str(mock_random.uuid4()),
                etag=new_etag(),
                last_modified=datetime.now(UTC),
                sequence=self._next_sequence(),
            )
            record.record(config, self.now())
            self.policies[record.id] = record
            return record

    def update_policy(self, policy_id: str, given: Json | None, if_match: str | None) -> PolicyRecord:
        """The whole config is replaced; attached or not, a policy can be enabled or disabled, get
        another weight or header, or send traffic to another staging distribution.
        https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateContinuousDeploymentPolicy.html
        """
        with self.lock:
            record = self.policy(policy_id)
            self.check_if_match(if_match, record.etag)
            config = configs.validate_policy_config(given)
            self._check_policy_target(config, own_id=record.id)
            self._touch(record, config)
            return record

    def delete_policy(self, policy_id: str, if_match: str | None) -> None:
        # "You cannot delete a continuous deployment policy that's attached to a primary distribution."
        # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DeleteContinuousDeploymentPolicy.html
        with self.lock:
            record = self.policy(policy_id)
            self.check_if_match(if_match, record.etag)
            if self.primary_using_policy(policy_id) is not None:
                raise errors.policy_in_use()
            del self.policies[policy_id]

    def ordered_policies(self) -> list[PolicyRecord]:
        return sorted(self.policies.values(), key=lambda p: p.sequence)

    # -- invalidations ---------------------------------------------------------------------------
    def create_invalidation(
        self, distribution_id: str, batch: Json | None
    ) -> tuple[InvalidationRecord, bool]:
        """The invalidation, and whether it is new (a repeated CallerReference returns the first)."""
        with self.lock:
            self.distribution(distribution_id)
            if not batch or not items(batch.get("Paths")):
                raise errors.invalid_argument("An invalidation batch needs at least one path.")
            configs_batch = copy.deepcopy(batch)
            configs.check_quantities(configs_batch, "InvalidationBatch")
            configs.validate_invalidation_paths([str(path) for path in items(configs_batch["Paths"])])
            existing = self.invalidations.setdefault(distribution_id, [])
            for invalidation in existing:
                if invalidation.batch["CallerReference"] == configs_batch["CallerReference"]:
                    if invalidation.batch["Paths"] != configs_batch["Paths"]:
                        raise errors.CloudFrontError(
                            "InvalidationBatchAlreadyExists",
                            "The CallerReference is already used by an invalidation with other paths.",
                        )
                    return invalidation, False
            self._check_invalidation_quotas(
                distribution_id, [str(path) for path in items(configs_batch["Paths"])]
            )
            invalidation = InvalidationRecord(
                id="I" + random_id(length=13),
                distribution_id=distribution_id,
                batch=configs_batch,
                create_time=datetime.now(UTC),
                completes_at=self.now() + settings.propagation_seconds,
            )
            existing.append(invalidation)
            return invalidation, True

    def _check_invalidation_quotas(self, distribution_id: str, paths: list[str]) -> None:
        now = self.now()
        in_progress = [
            str(path)
            for invalidation in self.invalidations.get(distribution_id, [])
            if invalidation.status(now) == "InProgress"
            for path in items(invalidation.batch["Paths"])
        ]
        for kind, limit, is_counted in (
            ("wildcard invalidation paths", configs.MAX_WILDCARD_PATHS_IN_PROGRESS, configs.is_wildcard),
            (
                "files to invalidate",
                configs.MAX_FILES_IN_PROGRESS,
                lambda path: not configs.is_wildcard(path),
            ),
        ):
            new = sum(1 for path in paths if is_counted(path))
            if new > limit:
                raise errors.batch_too_large(limit, kind)
            if new and new + sum(1 for path in in_progress if is_counted(path)) > limit:
                raise errors.too_many_invalidations(limit, kind)

    def invalidation(self, distribution_id: str, invalidation_id: str) -> InvalidationRecord:
        self.distribution(distribution_id)
        for invalidation in self.invalidations.get(distribution_id, []):
            if invalidation.id == invalidation_id:
                return invalidation
        raise errors.no_such_invalidation()

    def ordered_invalidations(self, distribution_id: str) -> list[InvalidationRecord]:
        self.distribution(distribution_id)
        # CloudFront lists the newest first.
        return list(reversed(self.invalidations.get(distribution_id, [])))


def paginate(
    records: list[Any], marker: str | None, max_items: int | None, key: Callable[[Any], str]
) -> tuple[list[Any], str | None]:
    """One page of ``records`` after ``marker`` (the key of the last item of the previous page)."""
    start = 0
    if marker:
        keys = [key(record) for record in records]
        start = keys.index(marker) + 1 if marker in keys else len(records)
    limit = max_items if max_items and max_items > 0 else 100
    chunk = records[start : start + limit]
    has_more = start + limit < len(records)
    return chunk, (key(chunk[-1]) if has_more and chunk else None)
