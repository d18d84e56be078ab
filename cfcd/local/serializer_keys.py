"""The keys moto's response serializer tries for a member of a dict result, worked out once.

moto serializes every member of a response by trying aliases of its name on the result
(``XFormedAttributePicker.get_possible_keys``): six alias provider objects made for every member
of every value, and ``xform_name`` of each alias. About half of the serializer's CPU went there,
and the serializer was the largest part of the local cloud's. For a ``dict`` result (what cfcd's
CloudFront emulator and most moto services return) the aliases depend only on the member's name,
its shape and the structure that shape belongs to (moto sets ``shape.parent`` to it before it
asks): a dict has no ``Meta`` and its class is always ``dict``. So they are worked out once per
member shape, by moto's own providers, in moto's order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

PossibleKeys = Callable[[Any, Any], Iterable[str]]

# (member name, id of its shape, id of its parent) -> (shape, parent, keys). The shapes are kept
# (so an id cannot be reused by another shape) and compared on every hit.
_keys: dict[tuple[str, int, int], tuple[Any, Any, tuple[str, ...]]] = {}


def possible_keys_once_per_shape(moto_possible_keys: PossibleKeys) -> PossibleKeys:
    """A replacement of ``XFormedAttributePicker.get_possible_keys`` that remembers moto's answer."""
    from moto.core.serialize import DEFAULT_ALIAS_PROVIDERS

    @functools.wraps(moto_possible_keys)
    def possible_keys(picker: Any, context: Any) -> Iterable[str]:
        shape = context.shape
        if (
            type(context.obj) is not dict
            or shape is None
            or picker.alias_providers is not DEFAULT_ALIAS_PROVIDERS
        ):
            return moto_possible_keys(picker, context)  # an object's aliases depend on the object
        parent = getattr(shape, "parent", None)
        slot = (context.key, id(shape), id(parent))
        known = _keys.get(slot)
        if known is not None and known[0] is shape and known[1] is parent:
            return known[2]
        keys = tuple(moto_possible_keys(picker, context))
        _keys[slot] = (shape, parent, keys)
        return keys

    return possible_keys
