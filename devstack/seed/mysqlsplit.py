"""Split a .sql fixture into statements, knowing MySQL's lexical rules.

What the `mysql` client does before sending: `;` ends a statement unless it is
inside a string ('...' or "..." with backslash escapes), a `quoted identifier`
or a comment (`-- `, `#`, `/* */`); a `DELIMITER xx` line changes the
terminator (mysqldump's triggers and routines). `/*! ... */` comments are
executable and stay in the statement. Each statement keeps its offset, so a
server error names the fixture's line.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_DELIMITER = re.compile(r"DELIMITER[ \t]+(\S+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)


@dataclass
class Statement:
    start: int  # offset of its first significant character
    end: int  # offset after its text (before the terminator)
    text: str


class Lines:
    """Offset -> 1-based line number."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _comment_end(text: str, i: int) -> int:
    """Offset after the comment starting at i, or i if none starts there."""
    if text.startswith("#", i) or (text.startswith("--", i) and (i + 2 == len(text) or text[i + 2] in " \t\r\n")):
        j = text.find("\n", i)
        return len(text) if j < 0 else j + 1
    if text.startswith("/*", i) and not text.startswith("/*!", i) and not text.startswith("/*M!", i):
        j = text.find("*/", i + 2)
        return len(text) if j < 0 else j + 2
    return i


def _skip_blank(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        j = _comment_end(text, i)
        if j == i:
            break
        i = j
    return i


def _quoted_end(text: str, i: int) -> int:
    """Offset after the string or identifier opened at i."""
    quote, n, i = text[i], len(text), i + 1
    while i < n:
        c = text[i]
        if c == "\\" and quote != "`":
            i += 2
        elif c == quote:
            if text.startswith(quote, i + 1):  # doubled: an escaped quote
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n


def split(text: str) -> list[Statement]:
    statements: list[Statement] = []
    delimiter = ";"
    i, n = 0, len(text)
    while True:
        i = _skip_blank(text, i)
        if i >= n:
            return statements
        line_start = text.rfind("\n", 0, i) + 1
        if not text[line_start:i].strip():
            change = _DELIMITER.match(text, i)
            if change:
                delimiter = change.group(1)
                i = change.end()
                continue
        start = i
        while i < n:
            c = text[i]
            if c in "'\"`":
                i = _quoted_end(text, i)
            elif text.startswith(delimiter, i):
                break
            elif c in "#-/":  # a comment; `/*! ... */` is not one: it is scanned as SQL
                j = _comment_end(text, i)
                i = j if j > i else i + 1
            else:
                i += 1
        body = text[start:i].rstrip()
        if body:
            statements.append(Statement(start, start + len(body), body))
        i += len(delimiter)
