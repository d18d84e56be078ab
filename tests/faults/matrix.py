"""What the fault matrix's modules share: a case's run, its verdict in the summary table, the
AWS errors a case injects, and the lock item. The invariant itself is in tests/faults/support.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfcd.client import execution_view
from cfcd.local.faults import Fault
from cfcd.local.seed import SeededSite
from tests.conftest import LocalCloudHandle
from tests.fault_summary import SUMMARY, CaseResult
from tests.faults.support import Release, Snapshot, Verdict, check_invariant, copy_input, snapshot
from tests.sites import new_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STACK_TEMPLATE = (EXAMPLES / "staging-header.yaml").read_text()
CLEANUP_DEADLINE_SECONDS = 30.0


@dataclass
class Ran:
    """An ended release and what the invariant must compare it with."""

    site: SeededSite
    before: Snapshot
    description: dict[str, Any]
    expected_primary: dict[str, Any] | None = None
    lock_holder: str | None = None
    # What the failure's cause must say (a field, a reason), besides the error name.
    cause_mentions: tuple[str, ...] = ()


def record(case: str, ran: Ran, verdict: Verdict, injected: int = 0, consumed: int = 0) -> None:
    ending = verdict.status if verdict.status != "FAILED" else f"FAILED {verdict.error}"
    SUMMARY.cases.append(
        CaseResult(case, ending, not verdict.violations, injected, consumed, orphans=len(verdict.orphans))
    )


def judge(cloud: LocalCloudHandle, ran: Ran) -> Verdict:
    return check_invariant(
        cloud,
        ran.site,
        ran.before,
        ran.description,
        expected_primary=ran.expected_primary,
        lock_expected_holder=ran.lock_holder,
    )


def assert_ended(case: str, ran: Ran, cloud: LocalCloudHandle, expected: str, **counts: int) -> Verdict:
    """Check the invariant and the expected ending (SUCCEEDED, ABORTED or the error name)."""
    return assert_judged(case, ran, judge(cloud, ran), expected, **counts)


def assert_judged(case: str, ran: Ran, verdict: Verdict, expected: str, **counts: int) -> Verdict:
    record(case, ran, verdict, **counts)
    ending = verdict.status if verdict.status != "FAILED" else verdict.error
    assert ending == expected, verdict.explain()
    assert not verdict.violations, verdict.explain()
    for text in ran.cause_mentions:
        assert text in str(verdict.cause), f"the cause does not say {text!r}: {verdict.cause}"
    return verdict


def put_lock(cloud: LocalCloudHandle, site: SeededSite, holder: str, expires_at: int) -> None:
    cloud.resource("dynamodb").Table(cloud.info.table_name).put_item(
        Item={
            "pk": f"lock#{site.primary_distribution_id}",
            "executionArn": holder,
            "acquiredAt": expires_at - 3600,
            "expiresAt": expires_at,
        }
    )


def lock_of(cloud: LocalCloudHandle, site: SeededSite) -> dict[str, Any] | None:
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    item: dict[str, Any] | None = table.get_item(
        Key={"pk": f"lock#{site.primary_distribution_id}"}, ConsistentRead=True
    ).get("Item")
    return item


TRANSIENT = [("Throttling", 400), ("ServiceUnavailable", 503)]


@dataclass
class Injected:
    cloud: LocalCloudHandle
    count: int = 0
    faults: list[Fault] = field(default_factory=list)

    def add(
        self,
        service: str,
        operation: str,
        error: str,
        status: int,
        count: int = 1,
        matching: Sequence[str] = (),
    ) -> None:
        self.faults.append(
            self.cloud.faults.inject(service, operation, error, status, count, matching=matching)
        )
        self.count += count

    def transient_once_each(self, operations: list[tuple[str, str]]) -> None:
        for service, operation in operations:
            for error, status in TRANSIENT:
                self.add(service, operation, error, status)

    def consumed(self) -> int:
        """How many of these faults' uses the AWS calls met (others' faults aside)."""
        mine = {fault.model_dump_json(exclude={"count"}) for fault in self.faults}
        left = sum(
            fault.count
            for fault in self.cloud.faults.pending()
            if fault.model_dump_json(exclude={"count"}) in mine
        )
        return self.count - left


def entered_states(release: Release) -> list[str]:
    return execution_view.entered_states(execution_view.execution_history(release.sfn, release.arn))


def distribution(path: str = "") -> Callable[[SeededSite, dict[str, Any]], list[str]]:
    """A call on the site's primary distribution (its id in the URL), e.g. ``/copy``."""
    return lambda site, document: [f"/distribution/{site.primary_distribution_id}{path}"]


def release_waiting_for_approval(cloud: LocalCloudHandle) -> tuple[SeededSite, Snapshot, Release]:
    """A header release on a fresh site, waiting for its approval; the primary as it was before."""
    site = new_site(cloud)
    before = snapshot(cloud, site.primary_distribution_id)
    release = Release(cloud, copy_input(site))
    release.pending_approval()
    return site, before, release
