"""`{{ db.url }}` expressions in the manifest's env, rendered with a sandboxed Jinja2."""

from __future__ import annotations

from functools import cache

import re

from devstack.options import suggest


class ExpressionError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@cache
def _env():
    # Imported here: most expressions are plain lookups that never need Jinja.
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def context(plan) -> dict:
    values = {name: svc.outputs for name, svc in plan.services.items()}
    values["secrets"] = plan.secrets
    values["project"] = plan.project
    return values


SIMPLE = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.\w+)*)\s*\}\}")


def render(expr: str, values: dict) -> str:
    if "{" not in expr:
        return expr
    if not re.search(r"\{[{%#]", SIMPLE.sub("", expr)):
        return _render_simple(expr, values)
    import jinja2

    try:
        return _env().from_string(expr).render(values)
    except jinja2.UndefinedError:
        raise _explain(expr, values) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid expression {expr!r}: {exc.message}", 'e.g. "{{ db.url }}"') from None


def _render_simple(expr: str, values: dict) -> str:
    """`{{ a.b }}` lookups without Jinja: same result, no template compile per value
    (it keeps `devstack env` fast)."""

    def lookup(match):
        value = values
        for part in match.group(1).split("."):
            try:
                value = value[part]
            except (KeyError, TypeError, IndexError):
                raise _explain(expr, values) from None
        return str(value)

    return SIMPLE.sub(lookup, expr)


def _explain(expr: str, values: dict) -> ExpressionError:
    """Find the first `name.attr` in expr that does not resolve, and say why."""
    for name, attr in re.findall(r"\b([A-Za-z_]\w*)(?:\.(\w+))?", _inside_braces(expr)):
        if name not in values:
            known = sorted(values)
            return ExpressionError(f"`{name}` is not a service, `secrets` or `project`", suggest(name, known) or "known: " + ", ".join(known))
        owner = values[name]
        if attr and isinstance(owner, dict) and attr not in owner and not getattr(owner, "lenient", False):
            keys = sorted(owner)
            what = f"service `{name}` has no output `{attr}`" if name != "secrets" else f"no secret `{attr}` in `secrets:`"
            return ExpressionError(what, suggest(attr, keys) or "has: " + ", ".join(keys))
    return ExpressionError(f"cannot render {expr!r}")


def _inside_braces(expr: str) -> str:
    # Only names inside {{ }} are lookups; filters after `|` are not services.
    return " ".join(part.split("|")[0] for part in re.findall(r"\{\{(.*?)\}\}", expr))
