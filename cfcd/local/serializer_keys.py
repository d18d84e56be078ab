"""The keys moto's response serializer tries for a member of a dict result, worked out once.

moto serializes every member of a response by trying aliases of its name on the result
(``XFormedAttributePicker.get_possible_keys``): six alias provider objects made for every member
of every value, and ``xform_name`` of each alias. About half of the serializer's CPU went there,
and the serializer was the largest part of the local cloud's. For a ``dict`` result (what cfcd's
CloudFront emulator and most moto services return) the aliases depend only on the member's name,
its shape and the structure that shape belongs to (moto sets ``shape.parent`` to it before it
asks): a dict has no ``Meta`` and its class is always ``dict``. So they are worked out once per
member shape, by moto's own providers, in moto's order; and a dict's member is then the first of
those keys the dict holds, picked without moto's per-member picker context.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

PossibleKeys = Callable[[Any, Any], Iterable[str]]

# (member name, id of its shape, id of its parent) -> (shape, parent, keys, whether a key is
# dotted). The shapes are kept (so an id cannot be reused by another shape) and compared on every hit.
_keys: dict[tuple[str, int, int], tuple[Any, Any, tuple[str, ...], bool]] = {}


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
        known = _known(context.key, shape, parent)
        if known is not None:
            return known[2]
        keys = tuple(moto_possible_keys(picker, context))
        dotted = any("." in key for key in keys)
        _keys[(context.key, id(shape), id(parent))] = (shape, parent, keys, dotted)
        return keys

    return possible_keys


def _known(key: str, shape: Any, parent: Any) -> tuple[Any, Any, tuple[str, ...], bool] | None:
    known = _keys.get((key, id(shape), id(parent)))
    return known if known is not None and known[0] is shape and known[1] is parent else None


GetValue = Callable[[Any, Any, str, Any], Any]


def dict_members_picked_directly(moto_get_value: GetValue) -> GetValue:
    """A replacement of ``ResponseSerializer.get_value``: a member of a ``dict`` result is the
    first of its keys that the dict holds, as moto's picker finds it, without the picker's
    per-member context, key path and a ``KeyError`` caught for every key a dict lacks (most
    members of a CloudFront config are absent). Other values, pickers with response transformers
    (they match on the key path) and dotted keys (moto reads them as paths) go to moto's."""
    from moto.core.serialize import DEFAULT_ALIAS_PROVIDERS, XFormedAttributePicker

    @functools.wraps(moto_get_value)
    def get_value(serializer: Any, value: Any, key: str, shape: Any) -> Any:
        picker = serializer._value_picker
        if (
            type(value) is not dict
            or type(picker) is not XFormedAttributePicker
            or picker.response_transformers
            or picker.alias_providers is not DEFAULT_ALIAS_PROVIDERS
            or shape is None
        ):
            return moto_get_value(serializer, value, key, shape)
        known = _known(key, shape, getattr(shape, "parent", None))
        if known is None or known[3]:
            return moto_get_value(serializer, value, key, shape)  # works the keys out once
        for possible in known[2]:
            if possible in value:
                return value[possible]
        return None

    return get_value
