"""Values from outside (a release label, a probed page's body, a config value, a name or comment
typed on the approval page) made safe to put into a mail or a page: one line, nothing invisible.

A value may not break a line (CR, LF, NEL, the Unicode line and paragraph separators, any other
control character): a probed page could otherwise plant a line `Approve: https://evil.example/`
next to the mail's real links. Nor may it carry format characters, the bidirectional overrides
and isolates among them (U+202A-U+202E, U+2066-U+2069), which reorder what the reader sees
("Trojan Source", CVE-2021-42574), or zero-width characters that hide text. Everything mails and
pages show goes through `one_line`; the renderers also set every value apart (`quoted`, indented,
never at the start of a line), so no value can pass for a link of ours.
"""

from __future__ import annotations

import unicodedata

# Control characters (Cc: C0, DEL, C1 incl. NEL) and the line/paragraph separators (Zl, Zp)
# become a space; format characters (Cf: bidi controls, zero-width characters, BOM) disappear.
_AS_SPACE = frozenset({"Cc", "Zl", "Zp"})
_DROPPED = frozenset({"Cf"})
ELLIPSIS = "…"


def one_line(value: object, max_chars: int | None = None) -> str:
    """`value` as text with no control, line-breaking, bidi or other invisible format character,
    cut to `max_chars` (an ellipsis marks the cut)."""
    kept: list[str] = []
    for char in str(value):
        category = unicodedata.category(char)
        if category in _AS_SPACE:
            kept.append(" ")
        elif category not in _DROPPED:
            kept.append(char)
    text = "".join(kept)
    if max_chars is not None and len(text) > max_chars:
        return text[: max_chars - 1] + ELLIPSIS
    return text


def quoted(value: object, max_chars: int | None = None) -> str:
    """`one_line(value)` in double quotes (inner quotes and backslashes escaped): a value, set apart
    from the text around it."""
    text = one_line(value, max_chars).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
