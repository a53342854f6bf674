"""Markdown documents: env blocks, tables, backticked names and the prose around them.

markdown-it-py does the parsing (headings, fenced blocks, GFM tables, inline
code, with line numbers); this module only decides what in it is a variable,
a service the document runs (`docker run ... postgres:15`) or a sentence about
local development ("Local Development: skip").
"""

from __future__ import annotations

import re

from devstack.init import composefile, dotenv, rules
from devstack.init.model import Cue, Inputs, Variable

ENV_LINE = re.compile(r"^\s*(?:export\s+)?[A-Z][A-Z0-9_]*=")
# An env name in backticks: upper case with an underscore (PGSSLMODE-style names via rules).
NAME = re.compile(r"^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z][A-Z0-9]{3,})(?:=(.*))?$")
EXAMPLE_AFTER = r"`{name}`\s*\((?:e\.g\.,?|eg\.?|for example,?|set to|default:?|like)\s*`([^`]+)`"
ENV_LANGS = ("", "env", "dotenv", "ini", "properties", "sh", "bash", "shell", "console", "zsh", "text")


def parse(text: str, source: str) -> Inputs:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    found = Inputs(files=[source])
    heading, section_lines = "", []
    table: dict | None = None
    pending_heading = False

    def close_section():
        if heading or section_lines:
            found.prose.append((heading, "\n".join(section_lines)))

    for tok in tokens:
        line = tok.map[0] + 1 if tok.map else 0
        if tok.type == "heading_open":
            close_section()
            heading, section_lines, pending_heading = "", [], True
        elif tok.type == "inline" and pending_heading:
            heading, pending_heading = _plain(tok.content), False
            _names(tok, heading, heading, source, line, found)
        elif tok.type == "table_open":
            table = {"header": [], "rows": [], "row": None, "in_head": False}
        elif table is not None and tok.type == "thead_open":
            table["in_head"] = True
        elif table is not None and tok.type == "thead_close":
            table["in_head"] = False
        elif table is not None and tok.type == "tr_open":
            table["row"] = []
        elif table is not None and tok.type == "inline" and table["row"] is not None:
            table["row"].append((tok, line))
        elif table is not None and tok.type == "tr_close":
            cells = table["row"]
            (table["header"] if table["in_head"] else table["rows"]).append(cells)
            table["row"] = None
        elif tok.type == "table_close" and table is not None:
            _table(table, heading, source, found)
            table = None
        elif tok.type == "inline":
            section_lines.append(tok.content)
            _names(tok, tok.content, heading, source, line, found)
        elif tok.type in ("fence", "code_block"):
            _block(tok.info.strip().lower(), tok.content, line + (1 if tok.type == "fence" else 0), heading, source, found)
    close_section()
    _section_cues(found, source)
    return found


def _plain(text: str) -> str:
    return re.sub(r"[*_`]", "", text).strip()


def _names(tok, context: str, heading: str, source: str, line: int, found: Inputs) -> None:
    """Backticked env names in one paragraph, list item, heading or table cell."""
    for child in tok.children or []:
        if child.type != "code_inline":
            continue
        match = NAME.match(child.content.strip())
        if not match or not rules.looks_like_env_name(match.group(1)):
            continue
        name, value = match.group(1), match.group(2)
        if value is None:
            after = re.search(EXAMPLE_AFTER.format(name=re.escape(name)), tok.content)
            value = after.group(1) if after else ""
        found.variables.append(Variable(name, value.strip(), source, line, False, _plain(context), heading))


def _block(lang: str, content: str, first_line: int, heading: str, source: str, found: Inputs) -> None:
    lines = content.splitlines()
    commands = re.split(r"(?<!\\)\n", content)  # continued shell lines joined
    offset = 0
    for command in commands:
        if command.strip().startswith("docker run"):
            hint = composefile.docker_run(command, source, first_line + offset)
            if hint:
                found.hints.append(hint)
        offset += command.count("\n") + 1
    if lang in ENV_LANGS and any(ENV_LINE.match(x) for x in lines):
        keep = [x if (ENV_LINE.match(x) or x.strip().startswith("#")) else "" for x in lines]
        found.variables += dotenv.parse_lines(keep, source, first_line, heading, heading)
    else:
        found.blocks.append((heading, lang, content))


def _table(table: dict, heading: str, source: str, found: Inputs) -> None:
    header = [_plain(tok.content).lower() for tok, _ in (table["header"][0] if table["header"] else [])]
    local = next((i for i, h in enumerate(header) if "local" in h), None)
    for cells in table["rows"]:
        row_text = " | ".join(_plain(tok.content) for tok, _ in cells)
        for tok, line in cells:
            _names(tok, row_text, heading, source, line, found)
        if local is not None and local < len(cells):
            named = " ".join(_plain(tok.content) for j, (tok, _) in enumerate(cells) if j != local)
            for kind in rules.kinds_named(named):
                found.cues.append(Cue(kind, _plain(cells[local][0].content), source, cells[local][1]))


def _section_cues(found: Inputs, source: str) -> None:
    """Sentences about local development, for the kinds their section is about."""
    for heading, text in found.prose:
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", _plain(text)) if s.strip()]
        if rules.LOCAL_DEV.search(heading):
            for sentence in sentences:
                for kind in rules.kinds_named(sentence):
                    found.cues.append(Cue(kind, sentence, source))
            continue
        kinds = rules.kinds_named(heading)
        for sentence in sentences:
            if rules.LOCAL_DEV.search(sentence):
                for kind in kinds:
                    found.cues.append(Cue(kind, sentence, source))
