"""Split a .sql fixture into statements, knowing PostgreSQL's lexical rules.

Used to find the line of a failing statement, to leave out transaction control
(`BEGIN;` / `COMMIT;`: devstack runs every fixture in one transaction) and to
feed `COPY ... FROM stdin;` data blocks (pg_dump's plain format) through COPY.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_IDENT = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_DOLLAR = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
_FIRST_WORDS = re.compile(r"[A-Za-z]+")
_COPY_STDIN = re.compile(r"^\s*COPY\b.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
_TX_SKIP = {"BEGIN", "COMMIT", "END", "START"}  # START TRANSACTION
_TX_REFUSE = {"ROLLBACK", "ABORT"}


@dataclass
class Statement:
    start: int  # offset of its first significant character
    end: int  # offset after its `;` (or the end of the text)
    kind: str  # "sql" | "tx" (left out) | "refuse" | "copy" | "meta" (a psql \command)
    data_start: int = 0  # copy: where the data block starts, and ends (before `\.`)
    data_end: int = 0


class Lines:
    """Offset -> 1-based line number."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _skip_space_and_comments(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            i = _end_block_comment(text, i)
        else:
            break
    return i


def _end_block_comment(text: str, i: int) -> int:
    depth, i, n = 0, i, len(text)
    while i < n:
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def split(text: str) -> list[Statement]:
    statements: list[Statement] = []
    n = len(text)
    i = _skip_space_and_comments(text, 0)
    while i < n:
        start = i
        if text[i] == "\\":  # psql meta-command: the rest of the line
            j = text.find("\n", i)
            end = n if j < 0 else j
            statements.append(Statement(start, end, "meta"))
            i = _skip_space_and_comments(text, end)
            continue
        end = _statement_end(text, i)
        body = text[start:end]
        words = _FIRST_WORDS.findall(body[:40])
        first = words[0].upper() if words else ""
        kind = "sql"
        if first in _TX_SKIP and (first != "START" or (len(words) > 1 and words[1].upper() == "TRANSACTION")):
            if not (first == "BEGIN" and len(words) > 1 and words[1].upper() == "ATOMIC"):
                kind = "tx"
        elif first in _TX_REFUSE:
            kind = "refuse"
        elif first == "COPY" and _COPY_STDIN.match(body):
            kind = "copy"
        stmt = Statement(start, end, kind)
        if kind == "copy":
            # Data starts on the line after the statement and ends at a line `\.`.
            nl = text.find("\n", end)
            data_start = n if nl < 0 else nl + 1
            m = re.compile(r"^\\\.[ \t]*\r?$", re.MULTILINE).search(text, data_start)
            stmt.data_start = data_start
            stmt.data_end = m.start() if m else n
            end = m.end() if m else n
        statements.append(stmt)
        i = _skip_space_and_comments(text, end)
    return statements


def _statement_end(text: str, i: int) -> int:
    """Offset just after the `;` ending the statement that starts at i."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == ";":
            return i + 1
        if c == "'":
            escapes = i > 0 and text[i - 1] in "eE" and (i < 2 or not (text[i - 2].isalnum() or text[i - 2] == "_"))
            i = _end_quoted(text, i, "'", escapes)
        elif c == '"':
            i = _end_quoted(text, i, '"', False)
        elif c == "$":
            m = _DOLLAR.match(text, i)
            if m and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                close = text.find(m.group(0), m.end())
                i = n if close < 0 else close + len(m.group(0))
            else:
                i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            i = _end_block_comment(text, i)
        elif c.isalpha() or c == "_":
            m = _IDENT.match(text, i)
            i = m.end() if m else i + 1
        else:
            i += 1
    return n


def _end_quoted(text: str, i: int, quote: str, backslash: bool) -> int:
    n = len(text)
    i += 1
    while i < n:
        c = text[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and text[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n
