"""URL helpers shared by status, doctor and the catalog."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<password>[^@/\s]+)@")


def mask_password(text: str) -> str:
    """scheme://user:secret@host -> scheme://user:***@host, wherever it appears in text."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
