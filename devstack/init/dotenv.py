"""Dotenv files (`.env.example` and friends): variables, commented-out ones too, and their comments.

python-dotenv's parser reads the lines (quotes, `export`, multi-line values);
what it skips, comments, is what init needs most: the comment block above a
variable is its context, and `# NAME=value` is a variable the example turned off.
"""

from __future__ import annotations

import io
import re

from dotenv.parser import parse_stream

from devstack.init.model import Inputs, Variable

COMMENTED_VAR = re.compile(r"^#+\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
INLINE_COMMENT = re.compile(r"""^[^=]*=\s*(?:"(?:\\.|[^"\\])*"|'[^']*'|[^#\n]*?)\s+#\s?(.*)$""")
BLANK_LINES = re.compile(r"^(?:[ \t]*\n)+")
RULER = re.compile(r"^[#=\-*_\s]+$")


def parse(text: str, source: str) -> Inputs:
    variables: list[Variable] = []
    comments: list[str] = []  # comment lines of the current block (since the last blank line)
    title = ""
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original
        blank = BLANK_LINES.match(original.string)
        if blank:  # the parser hands blank lines over in front of the next line: a new block starts
            comments, title = [], ""
        string = original.string[blank.end():] if blank else original.string
        number = original.line + (blank.group(0).count("\n") if blank else 0)
        if binding.key is not None:
            inline = INLINE_COMMENT.match(string.splitlines()[0] if string else "")
            context = "\n".join(comments + ([inline.group(1)] if inline else []))
            variables.append(Variable(binding.key, binding.value or "", source, number, False, context, title))
            continue
        line = string.strip()
        if not line.startswith("#"):
            continue  # a line dotenv cannot read: not ours to judge
        if COMMENTED_VAR.match(line):
            variables.append(_commented(line, source, number, comments, title))
            continue
        body = line.lstrip("#").strip()
        if body and not RULER.match(body):
            comments.append(body)
            title = title or body.strip("-=*# ")
    return Inputs(files=[source], variables=variables)


def _commented(line: str, source: str, number: int, comments: list[str], title: str) -> Variable:
    """`# NAME=value`: read with the same parser, marked as commented out."""
    body = re.sub(r"^#+\s*", "", line)
    for binding in parse_stream(io.StringIO(body + "\n")):
        if binding.key:
            inline = INLINE_COMMENT.match(body)
            context = "\n".join(comments + ([inline.group(1)] if inline else []))
            return Variable(binding.key, binding.value or "", source, number, True, context, title)
    name = COMMENTED_VAR.match(line).group(1)
    return Variable(name, "", source, number, True, "\n".join(comments), title)


def parse_lines(lines: list[str], source: str, first_line: int, section: str, context: str) -> list[Variable]:
    """KEY=value lines of a markdown env block (line numbers in the document)."""
    text = "\n".join(lines) + "\n"
    found = parse(text, source).variables
    for var in found:
        var.line += first_line - 1
        var.section = section
        var.context = "\n".join(x for x in (var.context, context) if x)
    return found
