"""Compose files and `docker run` lines: the services an app already runs, and the app's own env.

A service whose image is one devstack runs (postgres, redis, minio, ...) is a
hint: the kind is needed, with its version and container settings. Any other
service (`build:` or an unknown image) is the app itself, and its
`environment:` is the app's variables.
"""

from __future__ import annotations

import re
import shlex

import yaml

from devstack import yamlpos
from devstack.init import rules
from devstack.init.model import Inputs, ServiceHint, Variable


def parse(text: str, source: str) -> Inputs:
    found = Inputs(files=[source])
    try:
        located = yamlpos.load(text, source)
    except yaml.YAMLError:
        found.files = []  # not YAML: nothing to read (the report says the file gave nothing)
        return found
    data = located.data if isinstance(located.data, dict) else {}
    services = data.get("services") if isinstance(data.get("services"), dict) else {}
    for name, body in services.items():
        if not isinstance(body, dict):
            continue
        path = ("services", name)
        env = _environment(body.get("environment"))
        image = str(body.get("image") or "")
        kind = rules.kind_of_image(image) if image else None
        if kind:
            found.hints.append(ServiceHint(kind, image, source, located.line(path) or 0, rules.image_version(image),
                                           {k: v for k, v in env.items()}))
            continue
        for key, value in env.items():
            line = located.line(path + ("environment", key)) or located.line(path + ("environment",)) or 0
            found.variables.append(Variable(key, _uninterpolated(value), source, line, False, f"compose service `{name}`", str(name)))
    return found


def _environment(raw) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        pairs = (str(item).split("=", 1) for item in raw)
        return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    return {}


def _uninterpolated(value: str) -> str:
    """`${DATABASE_URL}` passes the app's .env through: no example value in it."""
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}?", value.strip())
    if match:
        return match.group(2) or ""
    return value


def docker_run(command: str, source: str, line: int) -> ServiceHint | None:
    """`docker run -d -e POSTGRES_DB=app -p 5432:5432 postgres:15` -> a postgres hint."""
    try:
        words = shlex.split(command.replace("\\\n", " "))
    except ValueError:
        return None
    if words[:2] != ["docker", "run"]:
        return None
    env, image, i = {}, "", 2
    takes_value = {"-e", "--env", "-p", "--publish", "--name", "-v", "--volume", "--network", "-u", "--user", "-w", "--workdir", "--entrypoint", "--restart"}
    while i < len(words):
        word = words[i]
        if word in ("-e", "--env") and i + 1 < len(words):
            key, _, value = words[i + 1].partition("=")
            env[key] = value
            i += 2
        elif word in takes_value:
            i += 2
        elif word.startswith("-"):
            i += 1
        else:
            image = word
            break
    kind = rules.kind_of_image(image) if image else None
    return ServiceHint(kind, image, source, line, rules.image_version(image), env) if kind else None
