"""The links of a captured mail, and the one a reader wants: the approval page's."""

from __future__ import annotations

import re
from pathlib import Path

from cfcd.client.local_state import LocalStateError, read_local_state

_LINK = re.compile(r"https?://[^\s\"'<>)\]]+")


def approval_base_url(state_dir: Path) -> str | None:
    """The local cloud's approval page URL, from its ``local.json`` (None when it is not running)."""
    try:
        base = read_local_state(state_dir).get("approvalBaseUrl")
    except LocalStateError:
        return None
    return base if isinstance(base, str) else None


def links(text: str | None, html: str | None) -> list[str]:
    """Every link of the text part, or of the HTML part when the text has none, in order."""
    return _LINK.findall(text or "") or _LINK.findall(html or "")


def main_link(text: str | None, html: str | None, preferred_base: str | None) -> str | None:
    """The link a reader wants: the first under the approval URL, else the first at all."""
    found = links(text, html)
    if preferred_base:
        preferred = [link for link in found if link.startswith(preferred_base.rstrip("/"))]
        if preferred:
            return preferred[0]
    return found[0] if found else None
