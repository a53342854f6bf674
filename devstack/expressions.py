"""`{{ db.url }}` expressions in the manifest's env, rendered with a sandboxed Jinja2."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from devstack.options import suggest


class ExpressionError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


MAX_TEMPLATE = 10_000  # characters of one `{{ }}`/`{% %}` expression
MAX_OUTPUT = 65_536  # characters one variable may render to
MAX_WIDTH = 1_000  # widths and counts given to filters and string methods
MAX_RANGE = 1_000
MAX_EXPONENT = 1_000
MAX_BITS = 1 << 18  # integers up to ~79,000 digits
WIDTH_FILTERS = {"center", "indent", "wordwrap", "truncate", "batch", "slice"}
WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_FORMAT_WIDTH = re.compile(r"[%:{][^%:{}]*?\d{4,}")  # a width or precision of 1000 or more


class _Limit(Exception):
    """An expression would take more than the bounds (memory or time)."""


@cache
def _env():
    # Imported here: most expressions are plain lookups that never need Jinja.
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    class Bounded(SandboxedEnvironment):
        """Jinja's sandbox keeps templates away from Python internals, not from
        exhausting memory or time: these bounds do that (with the refusal of
        loops, macros and includes in _compile)."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context, operator, left, right):
            ints = isinstance(left, int) and isinstance(right, int)
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT:
                        raise _Limit(f"`*` would build {len(seq) * times:,} items")
                if ints and left.bit_length() + right.bit_length() > MAX_BITS:
                    raise _Limit("a product too large")
            elif operator == "**" and isinstance(right, (int, float)):
                if abs(right) > MAX_EXPONENT or (ints and left.bit_length() * abs(right) > MAX_BITS):
                    raise _Limit("a power too large")
            elif operator == "%" and isinstance(left, str):
                _check_format(left)
            return super().call_binop(context, operator, left, right)

        def wrap_str_format(self, value):
            wrapped = super().wrap_str_format(value)
            if wrapped is not None:
                _check_format(value.__self__)  # `"{:>99999999}".format(1)`
            return wrapped

        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
            name = getattr(__obj, "__name__", "")
            if isinstance(getattr(__obj, "__self__", None), str):
                if name in WIDTH_METHODS:
                    _check_widths(name, args, kwargs)
                elif name == "replace" and len(args) >= 2:
                    _check_replace(__obj.__self__, args[0], args[1])
            return super().call(__context, __obj, *args, **kwargs)

    env = Bounded(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    # Only `range` (bounded) of Jinja's globals: lipsum(10**4) alone took seconds.
    env.globals = {"range": _range}
    for name in WIDTH_FILTERS | {"format", "replace"}:
        env.filters[name] = _guarded(name, env.filters[name])
    return env


def _range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise _Limit(f"range() of more than {MAX_RANGE} numbers")
    return values


def _check_widths(name, args, kwargs) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
            raise _Limit(f"`{name}` with {value} (at most {MAX_WIDTH})")


def _check_format(text: str) -> None:
    if _FORMAT_WIDTH.search(text):
        raise _Limit(f"a format width of {MAX_WIDTH} or more")


def _check_replace(value, old, new) -> None:
    value, old, new = str(value), str(old), str(new)
    if len(new) > len(old) and (len(value) + 1) * len(new) // max(len(old), 1) > MAX_OUTPUT:
        raise _Limit(f"`replace` would build more than {MAX_OUTPUT:,} characters")


def _guarded(name: str, fn):
    from functools import wraps

    skip = 2 if getattr(fn, "jinja_pass_arg", None) else 1  # (environment/context,) value, then arguments

    @wraps(fn)  # keeps jinja_pass_arg
    def checked(*args, **kwargs):
        if name == "format":
            _check_format(str(args[skip - 1]))
        elif name == "replace":
            if len(args) >= skip + 2:
                _check_replace(args[skip - 1], args[skip], args[skip + 1])
        else:
            _check_widths(name, args[skip:], kwargs)
        return fn(*args, **kwargs)

    return checked


@lru_cache(maxsize=512)
def _compile(expr: str):
    """The template for expr, refusing what an env value has no use for and
    could run without bound: loops, macros, variables, includes and imports.
    What is left costs at most the expression's length times the bounds above."""
    from jinja2 import nodes

    env = _env()
    ast = env.parse(expr)
    # Variables too: `{% set s = s ~ s %}` doubles a string per line.
    banned = (nodes.For, nodes.Macro, nodes.CallBlock, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends,
              nodes.Block, nodes.Assign, nodes.AssignBlock, nodes.With)
    found = next(ast.find_all(banned), None)
    if found is not None:
        what = {"For": "loops", "Macro": "macros", "CallBlock": "call blocks", "Block": "blocks", "Assign": "variables (`set`)",
                "AssignBlock": "variables (`set`)", "With": "variables (`with`)"}.get(type(found).__name__, "includes and imports")
        raise ExpressionError(f"{what} are not allowed in env expressions", "use lookups and filters, e.g. \"{{ db.url }}\" or \"{{ s3.bucket|upper }}\"")
    return env.from_string(ast)


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
    if len(expr) > MAX_TEMPLATE:
        raise ExpressionError(f"expression longer than {MAX_TEMPLATE:,} characters", "keep env values short; put data in files")
    import jinja2

    try:
        parts, size = [], 0
        for part in _compile(expr).generate(values):
            size += len(part)
            if size > MAX_OUTPUT:
                raise _Limit(f"renders to more than {MAX_OUTPUT:,} characters")
            parts.append(part)
        return "".join(parts)
    except jinja2.UndefinedError:
        raise _explain(expr, values) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ExpressionError(f"invalid expression {_short(expr)}: {exc.message}", 'e.g. "{{ db.url }}"') from None
    except ExpressionError:
        raise
    except _Limit as exc:
        raise ExpressionError(f"cannot render {_short(expr)}: too big: {exc}", "env expressions are lookups and filters, not programs") from None
    except jinja2.TemplateError as exc:  # e.g. the sandbox refusing an attribute
        raise ExpressionError(f"cannot render {_short(expr)}: {exc.message or exc}") from None
    except (ArithmeticError, ValueError, TypeError, LookupError, AttributeError, RecursionError, MemoryError) as exc:
        # `{{ 1/0 }}`, `wordwrap(0)`, `{{ "a" + 1 }}`: the expression's own failure, not devstack's
        raise ExpressionError(f"cannot render {_short(expr)}: {type(exc).__name__}: {exc}") from None


def _short(expr: str) -> str:
    return repr(expr) if len(expr) <= 80 else repr(expr[:77] + "...")


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
    return ExpressionError(f"cannot render {_short(expr)}")


def _inside_braces(expr: str) -> str:
    # Only names inside {{ }} are lookups; filters after `|` are not services.
    return " ".join(part.split("|")[0] for part in re.findall(r"\{\{(.*?)\}\}", expr))
