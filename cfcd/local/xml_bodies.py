"""moto's REST-XML response bodies (CloudFront's) written directly, byte for byte as xmltodict would.

moto's ``RestXMLSerializer`` turns the serialized result into XML with ``xmltodict.unparse``: a
SAX generator fed one call per element, each element name validated character by character. For
a ListDistributions of 40 distributions that was half of the serializer's CPU. :func:`unparse`
writes the same text for the values moto's serializer produces (dicts, lists, strings, numbers,
booleans, None; attributes as ``@name``, text as ``#text``) and hands anything else back to
xmltodict, which then answers (or refuses) as before.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

HEADER = '<?xml version="1.0" encoding="utf-8"?>\n'
# Names xmltodict's validation lets through without a doubt; others go to xmltodict.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_TEXT = "#text"


class NotPlain(Exception):
    """A value this writer leaves to xmltodict."""


def unparse(body: Mapping[str, Any]) -> str:
    """``xmltodict.unparse(body, full_document=True, short_empty_elements=False)`` for a plain body.

    Raises :class:`NotPlain` for a body it leaves to xmltodict."""
    if len(body) != 1:
        raise NotPlain("a document has one root")
    ((root, value),) = body.items()
    if type(value) in (list, tuple):
        raise NotPlain("a root given as a list")
    out = [HEADER]
    _element(root, value, out)
    return "".join(out)


def written_directly(moto_serialize_body: Callable[[Any, Mapping[str, Any]], str]) -> Callable[..., str]:
    """A replacement of ``RestXMLSerializer._serialize_body``: :func:`unparse`, else moto's."""

    @functools.wraps(moto_serialize_body)
    def serialize_body(serializer: Any, body: Mapping[str, Any]) -> str:
        if not serializer.pretty_print:
            try:
                return unparse(body)
            except NotPlain:
                pass
        return moto_serialize_body(serializer, body)

    return serialize_body


def _element(name: Any, value: Any, out: list[str]) -> None:
    if type(name) is not str or not _PLAIN_NAME.fullmatch(name):
        raise NotPlain(f"element name {name!r}")
    for item in value if type(value) in (list, tuple) else (value,):
        content = _content(item)
        text = None
        attributes = []
        children = []
        for key, child in content.items():
            if key == _TEXT:
                text = None if child is None else _string(child)
            elif type(key) is str and key.startswith("@"):
                if not _PLAIN_NAME.fullmatch(key[1:]) or type(child) is dict:  # "@xmlns": {prefix: uri}
                    raise NotPlain(f"attribute {key!r}")
                attributes.append(f" {key[1:]}={quoteattr('' if child is None else _string(child))}")
            elif not (type(child) is list and not child):  # xmltodict writes no element for []
                children.append((key, child))
        out.append(f"<{name}{''.join(attributes)}>")
        for key, child in children:
            _element(key, child, out)
        if text:
            out.append(escape(text))
        out.append(f"</{name}>")


def _content(item: Any) -> dict[Any, Any]:
    if item is None:
        return {}
    if type(item) is dict:
        return item
    return {_TEXT: _string(item)}


def _string(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind in (int, float):
        return str(value)
    raise NotPlain(f"a {kind.__name__} value")
