"""A readable diff of two CloudFront DistributionConfigs, for the approval email and page.

Leaves are compared by path (`Origins.Items[0].OriginPath: /1.0.0 -> /2.0.0`); lists of scalars
(allowed methods, headers) are one leaf so a reordered list reads as one change.

The mail and the public approval page show the diff: a field the CloudFront API marks sensitive
(an origin's custom header values, which origins use as a shared secret to recognise CloudFront,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html)
is shown as changed, never with its values. Which fields are sensitive comes from the botocore
service model (the `sensitive` trait, what SDKs redact from their logs), not from a list of ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape

from cfcd_common.approvals import ConfigChange

# Fields that differ between any primary and its staging copy by construction; showing them would
# bury the real change.
IGNORED_FIELDS = frozenset({"CallerReference", "Staging", "ContinuousDeploymentPolicyId", "Aliases"})
MAX_CHANGES = 50
MAX_VALUE_CHARS = 200


def diff_configs(
    primary: Mapping[str, Any], staging: Mapping[str, Any], *, max_changes: int = MAX_CHANGES
) -> tuple[list[ConfigChange], int]:
    """Changes from primary to staging, at most `max_changes`, and how many more were left out."""
    before = dict(_leaves(_without_ignored(primary)))
    after = dict(_leaves(_without_ignored(staging)))
    changed = [
        path for path in before.keys() | after.keys() if before.get(path, _ABSENT) != after.get(path, _ABSENT)
    ]
    changes = [
        ConfigChange(path=path, secret=True)
        if is_sensitive(path)
        else ConfigChange(
            path=path, before=_show(before.get(path, _ABSENT)), after=_show(after.get(path, _ABSENT))
        )
        for path in sorted(changed, key=_path_order)
    ]
    return changes[:max_changes], max(0, len(changes) - max_changes)


def is_sensitive(path: str) -> bool:
    """Is the leaf at `path` (e.g. Origins.Items[0].CustomHeaders.Items[1].HeaderValue) a field the
    CloudFront model marks sensitive, or a container of one?"""
    general = re.sub(r"\[\d+\]", "[]", path)
    return any(
        secret == general or secret.startswith((f"{general}.", f"{general}[]"))
        for secret in sensitive_paths()
    )


@cache
def sensitive_paths() -> frozenset[str]:
    """The paths in a DistributionConfig whose shape has the `sensitive` trait, lists as `[]`."""
    model = botocore.session.get_session().get_service_model("cloudfront")
    found: set[str] = set()

    def walk(shape: Shape, path: str, seen: frozenset[str]) -> None:
        if shape.metadata.get("sensitive"):
            found.add(path)
        if shape.type_name == "structure" and shape.name not in seen:
            for name, member in shape.members.items():  # type: ignore[attr-defined]
                walk(member, f"{path}.{name}" if path else name, seen | {shape.name})
        elif shape.type_name == "list":
            walk(shape.member, f"{path}[]", seen)  # type: ignore[attr-defined]

    walk(model.shape_for("DistributionConfig"), "", frozenset())
    return frozenset(found)


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _without_ignored(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in IGNORED_FIELDS}


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and any(isinstance(item, Mapping | list) for item in value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _show(value: Any) -> str | None:
    if value is _ABSENT:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _path_order(path: str) -> tuple[int, str]:
    # The origin path is what a release changes; put origins first so the email leads with it.
    return (0 if path.startswith("Origins") else 1, path)
