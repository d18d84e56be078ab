"""The release history (cfcd_common.release_history): one record per promotion, bounded under
DynamoDB's item quota, and what a restore puts back."""

from __future__ import annotations

import secrets
from typing import Any

import boto3
import pytest

from cfcd_common.errors import InvalidInput
from cfcd_common.models import Probe
from cfcd_common.release_history import (
    ITEM_BUDGET_BYTES,
    MAX_RECORDS,
    PromotionRecord,
    ReleaseHistory,
    history_key,
    item_size,
    mark_promoted,
    plan_restore,
    read_history,
    record_before_promotion,
)

pytestmark = pytest.mark.unit

PRIMARY = "E2QWRUHAPOMQZL"


def probe_of(version: int) -> Probe:
    return Probe.model_validate({"path": "/index.html", "expect": {"bodyContains": f"v{version} App"}})


def config_serving(version: int, **extra: Any) -> dict[str, Any]:
    return {
        "Comment": "site",
        "Origins": {"Quantity": 1, "Items": [{"OriginPath": f"/{version}.0.0"}]},
        **extra,
    }


def record(name: str, version: int, at: int, promoted: bool = True) -> PromotionRecord:
    """Promotion `name` shipped release `version` at `at`; the primary served version - 1 before."""
    return PromotionRecord(
        executionName=name,
        executionArn=f"arn:aws:states:us-east-1:123456789012:execution:cfcd:{name}",
        release=f"{version}.0.0",
        recordedAt=at,
        promotedAt=at + 1 if promoted else None,
        probe=probe_of(version),
        configBefore=config_serving(version - 1),
    )


def history(*records: PromotionRecord) -> ReleaseHistory:
    return ReleaseHistory(primaryDistributionId=PRIMARY, revision=len(records), records=records)


@pytest.fixture
def dynamodb(deployment_table: str) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


# -- what a restore puts back ----------------------------------------------------------------------


def test_by_default_a_restore_puts_back_the_release_before_the_last_promotion() -> None:
    # Given v2 then v3 promoted
    promotions = history(record("release-v2", 2, 100), record("release-v3", 3, 200))
    # When nothing is named
    plan, probe = plan_restore(promotions, None)
    # Then the config from before v3 comes back, with v2's own probe
    assert (plan.release, plan.label, plan.configRecordedBy) == ("release-v2", "2.0.0", "release-v3")
    assert probe == probe_of(2)


@pytest.mark.parametrize("named", ["release-v2", "2.0.0"])
def test_a_named_release_is_found_by_execution_name_or_label(named: str) -> None:
    promotions = history(
        record("release-v2", 2, 100), record("release-v3", 3, 200), record("release-v4", 4, 300)
    )
    plan, probe = plan_restore(promotions, named)
    # v2 served until v3 was promoted: v3's record holds v2's config
    assert (plan.release, plan.configRecordedBy, probe) == ("release-v2", "release-v3", probe_of(2))


def test_a_label_given_twice_names_its_newest_promotion() -> None:
    again = record("release-v2-again", 2, 300)
    promotions = history(
        record("release-v2", 2, 100), record("release-v3", 3, 200), again, record("v5", 5, 400)
    )
    plan, _ = plan_restore(promotions, "2.0.0")
    assert (plan.release, plan.configRecordedBy) == ("release-v2-again", "v5")


def test_promotions_that_never_went_through_are_not_restored() -> None:
    # Given v3's promotion was refused (recorded, never marked promoted)
    promotions = history(record("release-v2", 2, 100), record("release-v3", 3, 200, promoted=False))
    # Then v3 cannot be named, and the default undoes v2's promotion
    with pytest.raises(InvalidInput, match="staging.release: no promoted release 'release-v3'"):
        plan_restore(promotions, "release-v3")
    plan, probe = plan_restore(promotions, None)
    assert (plan.release, plan.configRecordedBy, probe) == (None, "release-v2", None)


def test_undoing_the_first_recorded_promotion_has_no_recorded_probe() -> None:
    plan, probe = plan_restore(history(record("release-v2", 2, 100)), None)
    assert (plan.release, plan.label, probe) == (None, "the configuration before 2.0.0", None)


def test_an_unknown_release_is_invalid_input_naming_the_field_and_the_known_ones() -> None:
    promotions = history(record("release-v2", 2, 100), record("release-v3", 3, 200))
    with pytest.raises(InvalidInput) as raised:
        plan_restore(promotions, "9.9.9")
    assert str(raised.value).startswith("staging.release: no promoted release '9.9.9' of E2QWRUHAPOMQZL")
    assert "release-v3 (3.0.0), release-v2 (2.0.0)" in str(raised.value)


def test_the_release_served_now_is_not_restored() -> None:
    promotions = history(record("release-v2", 2, 100), record("release-v3", 3, 200))
    with pytest.raises(InvalidInput, match="staging.release: release-v3 is the last promotion"):
        plan_restore(promotions, "release-v3")


def test_nothing_recorded_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="staging.release: no promotion of E2QWRUHAPOMQZL is recorded"):
        plan_restore(history(), None)


# -- writing: one record per release, bounded -----------------------------------------------------


def test_a_second_write_for_the_same_execution_keeps_the_first_record(
    dynamodb: Any, deployment_table: str
) -> None:
    # Given Promote recorded v1 as the config before its promotion
    first = record("release-v2", 2, 100, promoted=False)
    assert record_before_promotion(dynamodb, deployment_table, PRIMARY, first) is True
    # When a retry of the same Promote (the primary promoted meanwhile) records again
    retried = first.model_copy(update={"configBefore": config_serving(2), "recordedAt": 150})
    assert record_before_promotion(dynamodb, deployment_table, PRIMARY, retried) is False
    # Then the one record still holds the config from before the promotion
    [kept] = read_history(dynamodb, deployment_table, PRIMARY).records
    assert kept == first


def test_marking_promoted_keeps_the_first_time_and_misses_nothing_silently(
    dynamodb: Any, deployment_table: str
) -> None:
    record_before_promotion(dynamodb, deployment_table, PRIMARY, record("release-v2", 2, 100, promoted=False))
    assert mark_promoted(dynamodb, deployment_table, PRIMARY, "release-v2", at=120) is True
    assert mark_promoted(dynamodb, deployment_table, PRIMARY, "release-v2", at=180) is True
    [kept] = read_history(dynamodb, deployment_table, PRIMARY).records
    assert kept.promotedAt == 120
    # A record someone deleted cannot be marked: the caller is told
    assert mark_promoted(dynamodb, deployment_table, PRIMARY, "release-unknown", at=200) is False


def test_a_write_racing_another_rereads_and_keeps_both(
    dynamodb: Any, deployment_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another writer adds a record between this write's read and its put
    record_before_promotion(dynamodb, deployment_table, PRIMARY, record("release-v2", 2, 100))
    reads: list[int] = []
    real_get_item = dynamodb.get_item

    def get_item_then_race(**kwargs: Any) -> Any:
        answer = real_get_item(**kwargs)
        if not reads:
            reads.append(1)
            record_before_promotion(dynamodb, deployment_table, PRIMARY, record("release-v3", 3, 200))
        return answer

    monkeypatch.setattr(dynamodb, "get_item", get_item_then_race)
    # When this one writes, Then its conditional put fails, it reads again and keeps all three
    assert record_before_promotion(dynamodb, deployment_table, PRIMARY, record("release-v4", 4, 300))
    names = {kept.executionName for kept in read_history(dynamodb, deployment_table, PRIMARY).records}
    assert names == {"release-v2", "release-v3", "release-v4"}


def test_the_history_keeps_the_newest_records_dropping_unpromoted_ones_first(
    dynamodb: Any, deployment_table: str
) -> None:
    # Given a refused promotion among MAX_RECORDS promotions
    record_before_promotion(dynamodb, deployment_table, PRIMARY, record("refused", 9, 50, promoted=False))
    for index in range(MAX_RECORDS):
        record_before_promotion(dynamodb, deployment_table, PRIMARY, record(f"r{index}", 2, 100 + index))
    # When one more is recorded
    record_before_promotion(dynamodb, deployment_table, PRIMARY, record("newest", 3, 500, promoted=False))
    # Then the refused one went first, then the oldest promotion; the newest stays though unpromoted
    names = {kept.executionName for kept in read_history(dynamodb, deployment_table, PRIMARY).records}
    assert names == {f"r{index}" for index in range(1, MAX_RECORDS)} | {"newest"}


def test_large_configs_keep_the_item_under_dynamodbs_quota(dynamodb: Any, deployment_table: str) -> None:
    # Given configs of 60 KB that do not compress (DynamoDB items hold at most 400 KB)
    for index in range(MAX_RECORDS):
        noisy = record(f"big{index}", 2, 100 + index).model_copy(
            update={"configBefore": config_serving(1, Comment=secrets.token_hex(30_000))}
        )
        # When each is recorded, Then DynamoDB (moto checks the quota too) takes every write
        assert record_before_promotion(dynamodb, deployment_table, PRIMARY, noisy)
    # And the item stays inside the budget with the newest records
    item = dynamodb.get_item(TableName=deployment_table, Key={"pk": {"S": history_key(PRIMARY)}})["Item"]
    assert item_size(item) <= ITEM_BUDGET_BYTES
    kept = sorted(r.executionName for r in read_history(dynamodb, deployment_table, PRIMARY).records)
    assert kept == [f"big{index}" for index in range(MAX_RECORDS - len(kept), MAX_RECORDS)]
    assert 1 < len(kept) < MAX_RECORDS


def test_item_size_counts_as_dynamodb_documents() -> None:
    # name + value per attribute; maps 3 bytes plus 1 per element; binary by its raw length
    item = {"pk": {"S": "ab"}, "m": {"M": {"k": {"B": b"123"}, "n": {"N": "1234"}}}}
    assert item_size(item) == (2 + 2) + (1 + 3 + (1 + 3 + 1) + (1 + 4 + 1))
