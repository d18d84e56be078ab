"""The release history: what every promotion replaced, so that a later release can restore it.

One item per primary distribution in the shared table, pk = "history#<primaryDistributionId>":
`records` maps an execution name to what its Promote saw just before promoting (the primary's
DistributionConfig, zlib-compressed) and the release's probe; `promotedAt` is set once the
promotion went through (a record without it is a promotion CloudFront refused or one still in
progress: never restored). `revision` counts the writes (optimistic locking).

Bounds (docs/design.md §4): the newest MAX_RECORDS records are kept, and fewer when the item
would pass ITEM_BUDGET_BYTES; no TTL, so a rollback still works after months without a release.
DynamoDB items hold at most 400 KB, attribute names included
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Constraints.html#limits-items,
sizes counted as https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
says: binary values by their raw bytes, 3 bytes per map or list and 1 per element).
"""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from cfcd_common.aws import error_code
from cfcd_common.errors import InvalidInput, UnexpectedError
from cfcd_common.models import Probe

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Config = dict[str, Any]
HISTORY_KEY_PREFIX = "history#"
MAX_RECORDS = 10
# Under DynamoDB's 400 KB item quota with room to spare for the estimate's rounding.
ITEM_BUDGET_BYTES = 300_000
WRITE_ATTEMPTS = 3


def history_key(primary_distribution_id: str) -> str:
    return f"{HISTORY_KEY_PREFIX}{primary_distribution_id}"


class PromotionRecord(BaseModel):
    """One promotion: the primary's config just before it, and the probe of the release it shipped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    executionName: str
    executionArn: str
    release: str
    recordedAt: int
    promotedAt: int | None = None
    probe: Probe
    configBefore: Config


class RestorePlan(BaseModel):
    """What a restore-mode release puts back, as ValidateInput resolved it from the history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The restored release's execution name; None for the configuration the primary had before
    # the oldest recorded promotion (no release of cfcd's served it).
    release: str | None
    label: str
    # The promotion whose configBefore is restored: the one right after the restored release.
    configRecordedBy: str


class ReleaseHistory(BaseModel):
    model_config = ConfigDict(frozen=True)

    primaryDistributionId: str
    revision: int = 0
    records: tuple[PromotionRecord, ...] = ()

    def promoted(self) -> list[PromotionRecord]:
        """The promotions that went through, oldest first."""
        done = [record for record in self.records if record.promotedAt is not None]
        return sorted(done, key=lambda record: (record.promotedAt or 0, record.recordedAt))

    def find(self, execution_name: str) -> PromotionRecord | None:
        return next((r for r in self.records if r.executionName == execution_name), None)


# -- DynamoDB encoding ------------------------------------------------------------------------------


def _encode(record: PromotionRecord) -> AttributeValueTypeDef:
    fields: dict[str, AttributeValueTypeDef] = {
        "executionArn": {"S": record.executionArn},
        "release": {"S": record.release},
        "recordedAt": {"N": str(record.recordedAt)},
        "probe": {"S": record.probe.model_dump_json()},
        # A DistributionConfig is tens of KB of repetitive JSON; compressed it is a few.
        "configBefore": {"B": zlib.compress(json.dumps(record.configBefore, sort_keys=True).encode(), 9)},
    }
    if record.promotedAt is not None:
        fields["promotedAt"] = {"N": str(record.promotedAt)}
    return {"M": fields}


def _decode(name: str, value: Any) -> PromotionRecord:
    fields = value["M"]
    return PromotionRecord(
        executionName=name,
        executionArn=fields["executionArn"]["S"],
        release=fields["release"]["S"],
        recordedAt=int(fields["recordedAt"]["N"]),
        promotedAt=int(fields["promotedAt"]["N"]) if "promotedAt" in fields else None,
        probe=Probe.model_validate_json(fields["probe"]["S"]),
        configBefore=json.loads(zlib.decompress(bytes(fields["configBefore"]["B"]))),
    )


def _value_size(value: Any) -> int:
    """Bytes DynamoDB counts for one attribute value (the CapacityUnitCalculations rules)."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return len(content) // 2 + 2  # 1 byte per two digits, plus 1 (rounded up)
    if kind == "B":
        return len(content)
    if kind == "M":
        return 3 + sum(len(key.encode()) + _value_size(item) + 1 for key, item in content.items())
    if kind == "L":
        return 3 + sum(_value_size(item) + 1 for item in content)
    return 1  # BOOL, NULL


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _item(primary_id: str, revision: int, records: list[PromotionRecord]) -> dict[str, Any]:
    return {
        "pk": {"S": history_key(primary_id)},
        "revision": {"N": str(revision)},
        "records": {"M": {record.executionName: _encode(record) for record in records}},
    }


def _bounded(primary_id: str, revision: int, records: list[PromotionRecord], keep: str) -> dict[str, Any]:
    """The item with the newest records that fit MAX_RECORDS and ITEM_BUDGET_BYTES. Records of
    promotions that never went through go first, then the oldest; `keep` (the record being
    written) always stays."""
    by_age = sorted(records, key=lambda record: (record.recordedAt, record.executionName))
    droppable = [r for r in by_age if r.promotedAt is None and r.executionName != keep]
    droppable += [r for r in by_age if r.promotedAt is not None and r.executionName != keep]
    kept = list(by_age)
    while droppable and (
        len(kept) > MAX_RECORDS or item_size(_item(primary_id, revision, kept)) > ITEM_BUDGET_BYTES
    ):
        kept.remove(droppable.pop(0))
    item = _item(primary_id, revision, kept)
    if item_size(item) > ITEM_BUDGET_BYTES:
        raise UnexpectedError(
            f"the release history record of {primary_id} takes {item_size(item)} bytes compressed, more "
            f"than the {ITEM_BUDGET_BYTES} a DynamoDB item may hold here: not promoting without it"
        )
    return item


# -- reading and writing ---------------------------------------------------------------------------


def read_history(dynamodb: DynamoDBClient, table: str, primary_id: str) -> ReleaseHistory:
    found = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": history_key(primary_id)}}, ConsistentRead=True
    )
    item = found.get("Item")
    if item is None:
        return ReleaseHistory(primaryDistributionId=primary_id)
    records = item["records"]["M"]
    return ReleaseHistory(
        primaryDistributionId=primary_id,
        revision=int(item["revision"]["N"]),
        records=tuple(_decode(name, value) for name, value in records.items()),
    )


def record_before_promotion(
    dynamodb: DynamoDBClient, table: str, primary_id: str, record: PromotionRecord
) -> bool:
    """Write `record` unless its execution already has one. False when it had (a retried Promote,
    or a write whose answer was lost and that boto3 sent again): the first record stays, since
    its configBefore is the one from before the promotion.

    Read, add, put on condition the revision is still the one read; a lost race re-reads.
    """
    for _ in range(WRITE_ATTEMPTS):
        history = read_history(dynamodb, table, primary_id)
        if history.find(record.executionName) is not None:
            return False
        others = [r for r in history.records if r.executionName != record.executionName]
        item = _bounded(primary_id, history.revision + 1, [*others, record], keep=record.executionName)
        try:
            dynamodb.put_item(
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR revision = :read",
                ExpressionAttributeValues={":read": {"N": str(history.revision)}},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            continue
        return True
    raise UnexpectedError(f"the release history of {primary_id} kept changing while Promote wrote to it")


def mark_promoted(
    dynamodb: DynamoDBClient, table: str, primary_id: str, execution_name: str, at: int
) -> bool:
    """The promotion went through: the record may be restored from now on. The first time counts
    (a repeat keeps it). False when there is no record to mark (someone deleted the history: the
    promotion stands, only this release cannot be restored)."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": history_key(primary_id)}},
            UpdateExpression=(
                "SET #records.#name.promotedAt = if_not_exists(#records.#name.promotedAt, :at), "
                "revision = revision + :one"
            ),
            ConditionExpression="attribute_exists(#records.#name)",
            ExpressionAttributeNames={"#records": "records", "#name": execution_name},
            ExpressionAttributeValues={":at": {"N": str(at)}, ":one": {"N": "1"}},
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def recorded_config(history: ReleaseHistory, plan: RestorePlan) -> Config:
    record = history.find(plan.configRecordedBy)
    if record is None or record.promotedAt is None:
        raise InvalidInput(
            f"staging.release: the configuration of {plan.label} is no longer in the release history "
            f"of {history.primaryDistributionId}"
        )
    return record.configBefore


# -- what a restore puts back ----------------------------------------------------------------------


def _named(records: list[PromotionRecord], release: str) -> int | None:
    """The position of the promotion `release` names: its execution name, else the newest one
    with that label."""
    for index, record in enumerate(records):
        if record.executionName == release:
            return index
    labelled = [index for index, record in enumerate(records) if record.release == release]
    return labelled[-1] if labelled else None


def plan_restore(history: ReleaseHistory, release: str | None) -> tuple[RestorePlan, Probe | None]:
    """What restoring `release` (by default the release before the last promotion) puts back, and
    that release's probe (None when it was live before the oldest recorded promotion)."""
    primary = history.primaryDistributionId
    promoted = history.promoted()
    if not promoted:
        raise InvalidInput(
            f"staging.release: no promotion of {primary} is recorded in the release history: "
            "nothing to restore"
        )
    if release is None:
        after = len(promoted) - 1
    else:
        index = _named(promoted, release)
        if index is None:
            known = ", ".join(f"{r.executionName} ({r.release})" for r in reversed(promoted))
            raise InvalidInput(
                f"staging.release: no promoted release {release!r} of {primary} in the release history "
                f"(the last {MAX_RECORDS} promotions at most): recorded, newest first: {known}"
            )
        if index == len(promoted) - 1:
            raise InvalidInput(
                f"staging.release: {release} is the last promotion of {primary}, what it serves now: "
                "nothing to restore; name an earlier release"
            )
        after = index + 1
    configured_by = promoted[after]
    if after == 0:
        plan = RestorePlan(
            release=None,
            label=f"the configuration before {configured_by.release}",
            configRecordedBy=configured_by.executionName,
        )
        return plan, None
    restored = promoted[after - 1]
    plan = RestorePlan(
        release=restored.executionName, label=restored.release, configRecordedBy=configured_by.executionName
    )
    return plan, restored.probe
