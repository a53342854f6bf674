"""The catalog described for people: `devstack kinds` and docs/kinds.md.

Everything here is read off the Kind classes (options, outputs, default env,
what runs where), so the reference cannot drift from the code.
`python -m devstack.services.reference` prints docs/kinds.md (devstack's own
kinds); `devstack kinds --markdown` prints the same for every installed kind.
"""

from __future__ import annotations

from devstack.services import catalog
from devstack.services.base import COMMON_OUTPUTS, Kind, Option

SECOND_INSTANCE = ("A second instance of a kind gets these names prefixed with its service name "
                   "(`ANALYTICS_DB_DATABASE_URL`); `env: {defaults: false}` drops them.")


def type_name(option: Option) -> str:
    types = option.type if isinstance(option.type, tuple) else (option.type,)
    return " | ".join(t.__name__ for t in types)


def default_text(kind: Kind, name: str, option: Option) -> str:
    if name in kind.ports:
        return "allocated"
    if option.generate:
        return f"generated ({option.generate})"
    if option.default is None:
        return "-"
    if option.default in ([], {}, ""):
        return repr(option.default) if option.default != "" else '""'
    return str(option.default)


def option_help(option: Option) -> str:
    return option.help + (f" (one of: {', '.join(option.choices)})" if option.choices else "")


def modes_text(kind: Kind) -> str:
    return ", ".join(kind.modes)


def origin_text(item: catalog.Entry) -> str:
    return item.origin + (f" {item.version}" if item.version else "")


def runs(kind: Kind) -> list[tuple[str, str]]:
    """(where, what) lines: Docker, native, stand-in, what the stand-in lacks."""
    rows = []
    if "run" in kind.modes:
        rows.append(("docker", kind.docker or "-"))
        if kind.native_binary:
            rows.append(("native", kind.native_binary + (", else the stand-in" if kind.standin else "")))
    if kind.standin:
        if "run" not in kind.modes:
            where = "runs (a host process, under both runtimes)"
        else:
            where = "stand-in (no binary, or `mode: stub`)" if "stub" in kind.modes else "stand-in (no binary)"
        rows.append((where, kind.standin))
        rows.append(("stand-in lacks", kind.standin_lacks))
    return rows


# -- terminal ---------------------------------------------------------------------


def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]


def listing() -> str:
    from devstack.errors import UserError

    rows = [("kind", "modes", "from", "summary")]
    for item in catalog.entries():
        try:
            kind = catalog.get(item.name)
        except UserError as exc:  # a broken plugin: listed, with why, so the others still show
            rows.append((item.name, "-", origin_text(item), exc.message.split(": ", 1)[-1]))
            continue
        rows.append((item.name, modes_text(kind), origin_text(item), kind.summary))
    lines = _table(rows, indent="")
    for skipped in catalog.ignored():
        lines.append(f"ignored: kind `{skipped.entry.name}` from {skipped.entry.origin} ({skipped.reason})")
    lines.append("")
    lines.append("`devstack kinds <kind>` shows its options, outputs and default env names.")
    return "\n".join(lines) + "\n"


def describe(name: str) -> str:
    kind, item = catalog.get(name), catalog.entry(name)
    lines = [f"{kind.name}: {kind.summary}", f"  from: {origin_text(item)}",
             f"  modes: {modes_text(kind)} (default: {kind.modes[0]})", "", "options:"]
    options = kind.all_options()
    lines += _table([(n, type_name(o), f"default: {default_text(kind, n, o)}", option_help(o)) for n, o in options.items()]) if options else ["  (none)"]
    lines += ["", "outputs ({{ <service>.<output> }} in env expressions):"]
    outputs = {**kind.output_help, **COMMON_OUTPUTS}
    lines += _table([(n + (" (secret)" if n in kind.secret_outputs else ""), text) for n, text in outputs.items()])
    lines += ["", "default env:"]
    lines += _table([(var, expr) for var, expr in kind.default_env.items()]) if kind.default_env else ["  (none)"]
    lines += ["  " + SECOND_INSTANCE, ""]
    lines += [f"{where}: {what}" for where, what in runs(kind)]
    return "\n".join(lines) + "\n"


# -- markdown -----------------------------------------------------------------------


def _cell(text: str) -> str:
    """One table cell: pipes escaped; `<...>` outside code spans shown, not taken for HTML."""
    import re

    parts = re.split(r"(`[^`]*`)", text.replace("|", "\\|").replace("\n", " "))
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;").replace(">", "&gt;") for p in parts)


def markdown(items: list[catalog.Entry]) -> str:
    out = ["# Service kinds", "",
           "Generated from the catalog by `python -m devstack.services.reference` (a test fails when this",
           "file is stale); `devstack kinds <kind>` shows the same in a terminal, for installed plugins too.",
           "", "| kind | modes | summary |", "|---|---|---|"]
    out += [f"| [{e.name}](#{e.name}) | {modes_text(catalog.get(e.name))} | {_cell(catalog.get(e.name).summary)} |" for e in items]
    out += ["", f"Every service also has the outputs {', '.join(f'`{n}`' for n in COMMON_OUTPUTS)}. {SECOND_INSTANCE}", ""]
    for item in items:
        out += kind_markdown(catalog.get(item.name), item)
    return "\n".join(out).rstrip("\n") + "\n"


def kind_markdown(kind: Kind, item: catalog.Entry) -> list[str]:
    out = [f"## {kind.name}", "", f"{_cell(kind.summary)}. Modes: {', '.join(f'`{m}`' for m in kind.modes)} (default `{kind.modes[0]}`)."]
    if item.origin != catalog.ORIGIN:
        out[-1] += f" From {origin_text(item)}."
    out += [""]
    out += [f"- **{where}**: {_cell(what)}" for where, what in runs(kind)]
    options = kind.all_options()
    if options:
        out += ["", "| option | type | default | meaning |", "|---|---|---|---|"]
        out += [f"| `{n}` | {_cell(type_name(o))} | {_cell(default_text(kind, n, o))} | {_cell(option_help(o))} |" for n, o in options.items()]
    out += ["", "| output | meaning |", "|---|---|"]
    out += [f"| `{n}`{' (secret)' if n in kind.secret_outputs else ''} | {_cell(text)} |" for n, text in kind.output_help.items()]
    if kind.default_env:
        out += ["", "| default env | value |", "|---|---|"]
        out += [f"| `{var}` | `{expr}` |" for var, expr in kind.default_env.items()]
    return out + [""]


def builtin_markdown() -> str:
    return markdown([catalog.entry(name) for name in catalog.BUILTIN])


if __name__ == "__main__":
    print(builtin_markdown(), end="")
