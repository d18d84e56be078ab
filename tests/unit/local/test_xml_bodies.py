"""CloudFront's XML bodies written directly (cfcd/local/xml_bodies.py): xmltodict's text, or xmltodict."""

from __future__ import annotations

from typing import Any

import pytest
import xmltodict

from cfcd.local.xml_bodies import NotPlain, unparse, written_directly

pytestmark = pytest.mark.unit


def xmltodicts(body: Any) -> str:
    """What moto's RestXMLSerializer writes."""
    return str(xmltodict.unparse(body, full_document=True, pretty=False, short_empty_elements=False))


PLAIN_BODIES = [
    {"DistributionList": {"@xmlns": "http://cloudfront.amazonaws.com/doc/2020-05-31/", "Quantity": 0}},
    {"A": {"Text": "fish & <chips> \"quoted\" 'single'", "Empty": "", "Nothing": None}},
    {"A": {"@id": "a \"b\" 'c'", "@tab": "x\ty\nz", "@none": None, "@number": 3, "B": "v"}},
    {"A": {"@only": 'just "double"'}},
    {"A": {"Yes": True, "No": False, "Int": -4, "Float": 1.5, "Big": 10**20}},
    {"A": {"Items": {"Item": [{"Id": "1"}, {"Id": "2"}, "text", None, 7, True]}}},
    {"A": {"Items": {"Item": ("tuple", "too")}}},
    {"A": {"Skipped": [], "Kept": [""], "Id": "1"}},
    {"A": {"#text": "after the children", "Child": "first"}},
    {"A": {"#text": None, "Child": "x"}},
    {"A": {"#text": 5}},
    {"A.b:c-d_e": {"x.y": "dotted, colon, dash"}},
    {"A": {"Unicode": "ünïcödé ✓ 中文"}},
    {"A": None},
    {"A": "root text"},
]


@pytest.mark.parametrize("body", PLAIN_BODIES, ids=range(len(PLAIN_BODIES)))
def test_a_plain_body_is_written_as_xmltodict_writes_it(body: Any) -> None:
    assert unparse(body) == xmltodicts(body)


class Strings(str):
    pass


NOT_PLAIN_BODIES = [
    {"A": {"Bytes": b"raw"}},
    {"A": {"@xmlns": {"cf": "http://example.com/"}}},
    {"A": {"Set": {"x"}}},
    {"A": {"Nested": [["x"]]}},
    {"A": {"Sub": Strings("a str subclass")}},
    {"A": {"#comment": "a comment"}},
    {"A": {"1st": "a name starting with a digit"}},
    {"A": {"has space": "x"}},
    {"A": {5: "a key that is no string"}},
    {"A": [{"B": "1"}, {"B": "2"}]},
    {"A": "one", "B": "two"},
    {},
]


@pytest.mark.parametrize("body", NOT_PLAIN_BODIES, ids=range(len(NOT_PLAIN_BODIES)))
def test_any_other_body_is_left_to_xmltodict(body: Any) -> None:
    # Given moto's writer, which records what it was asked to write
    asked = []

    class Serializer:
        pretty_print = False

    def motos(serializer: Any, body: Any) -> str:
        asked.append(body)
        return xmltodicts(body)

    # When the body is written
    with pytest.raises(NotPlain):
        unparse(body)
    try:
        expected: str | type[Exception] = xmltodicts(body)
    except ValueError:
        expected = ValueError

    # Then xmltodict writes it (or refuses it) as before
    if expected is ValueError:
        with pytest.raises(ValueError):
            written_directly(motos)(Serializer(), body)
    else:
        assert written_directly(motos)(Serializer(), body) == expected
    assert asked == [body]


def test_pretty_printed_bodies_are_left_to_xmltodict() -> None:
    class Serializer:
        pretty_print = True

    body = {"A": {"B": "1"}}
    assert written_directly(lambda serializer, body: "moto's")(Serializer(), body) == "moto's"
