"""RabbitMQ fixtures: exchanges, queues and bindings from YAML/JSON, declared over AMQP.

    exchanges: [{name: events, type: topic}]                  # durable unless `durable: false`
    queues:    [{name: emails, arguments: {x-queue-type: quorum}}]
    bindings:  [{exchange: events, queue: emails, routing_key: "user.*"}]

A definitions export (`rabbitmqctl export_definitions`, the management UI's
"Download broker definitions") loads as it is: its bindings' source/destination
are read, its users, vhosts, permissions and policies are left out (devstack
makes the user and vhost). Everything is declared in the service's vhost,
with pika, as the app's user. Declaring is additive: what the fixtures no
longer name is not deleted. The snapshot is the list of declarations:
`--reset` empties the seeded queues and declares everything again.
"""

from __future__ import annotations

import json
import time

from devstack.options import suggest
from devstack.seed.base import Fixture, SeedError, Seeder, short_error
from devstack.seed.specs import RabbitmqSpec

EXCHANGE_TYPES = ("direct", "fanout", "topic", "headers", "x-delayed-message", "x-consistent-hash")
KEYS = {
    "exchanges": ("name", "type", "durable", "auto_delete", "internal", "arguments", "vhost"),
    "queues": ("name", "durable", "auto_delete", "arguments", "vhost", "type"),
    "bindings": ("exchange", "source", "queue", "destination", "destination_type", "routing_key", "arguments", "vhost"),
}
# Keys of a definitions export that are not exchanges, queues or bindings.
EXPORT_KEYS = ("rabbit_version", "rabbitmq_version", "product_name", "product_version", "users", "vhosts", "permissions",
               "topic_permissions", "parameters", "global_parameters", "policies", "explanation")


class Problem(Exception):
    pass


def _text(entry: dict, key: str, required: bool = True) -> str:
    value = entry.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise Problem(f"`{key}` must be a non-empty string, got {value!r}")
    return value


def _flag(entry: dict, key: str, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise Problem(f"`{key}` must be true or false, got {value!r}")
    return value


def _arguments(entry: dict) -> dict:
    value = entry.get("arguments") or {}
    if not isinstance(value, dict):
        raise Problem(f"`arguments` must be a mapping, got {type(value).__name__}")
    return value


def exchange(entry: dict) -> dict:
    name = _text(entry, "name")
    if name.startswith("amq."):
        raise Problem(f"exchange {name}: names starting with amq. are the broker's own (bind to them instead)")
    kind = entry.get("type", "direct")
    if kind not in EXCHANGE_TYPES:
        raise Problem(f"exchange {name}: unknown type {kind!r}" + (f" ({suggest(str(kind), EXCHANGE_TYPES)})" if suggest(str(kind), EXCHANGE_TYPES) else ""))
    return {"name": name, "type": kind, "durable": _flag(entry, "durable", True), "auto_delete": _flag(entry, "auto_delete", False),
            "internal": _flag(entry, "internal", False), "arguments": _arguments(entry)}


def queue(entry: dict) -> dict:
    arguments = _arguments(entry)
    if entry.get("type"):  # newer exports write the queue type beside the arguments
        arguments = {**arguments, "x-queue-type": entry["type"]}
    return {"name": _text(entry, "name"), "durable": _flag(entry, "durable", True),
            "auto_delete": _flag(entry, "auto_delete", False), "arguments": arguments}


def binding(entry: dict) -> dict:
    source = entry.get("exchange", entry.get("source"))
    if not isinstance(source, str) or not source:
        raise Problem("a binding needs `exchange:` (or `source:`), the exchange it binds from")
    if "queue" in entry:
        destination, kind = _text(entry, "queue"), "queue"
    else:
        destination, kind = _text(entry, "destination"), entry.get("destination_type", "queue")
        if kind not in ("queue", "exchange"):
            raise Problem(f"`destination_type` must be queue or exchange, got {kind!r}")
    routing_key = entry.get("routing_key", "")
    if not isinstance(routing_key, str):
        raise Problem(f"`routing_key` must be a string, got {routing_key!r}")
    return {"source": source, "destination": destination, "destination_type": kind, "routing_key": routing_key,
            "arguments": _arguments(entry)}


PARSERS = {"exchanges": exchange, "queues": queue, "bindings": binding}


def parse_file(fx: Fixture) -> dict[str, list[dict]]:
    """-> {"exchanges": [...], "queues": [...], "bindings": [...]}; SeedError naming file and line."""
    lines: dict = {}
    if fx.suffix == ".json":
        try:
            data = json.loads(fx.path.read_text(encoding="utf-8-sig") or "{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SeedError(f"{fx.rel}:{getattr(exc, 'lineno', 1)}: invalid JSON: {getattr(exc, 'msg', exc)}") from None
    else:
        from devstack.seed.yamlfast import load_located

        try:
            located = load_located(fx.path.read_text(encoding="utf-8-sig"))
        except Exception as exc:  # noqa: BLE001 - yaml.YAMLError, a bad encoding
            mark = getattr(exc, "problem_mark", None)
            raise SeedError(f"{fx.rel}{f':{mark.line + 1}' if mark else ''}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
        data, lines = located.data, located.lines
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise SeedError(f"{fx.rel}:1: expected a mapping with exchanges, queues and bindings", "e.g. queues: [{name: emails}]")
    parsed: dict[str, list[dict]] = {key: [] for key in PARSERS}
    for key, items in data.items():
        if key in EXPORT_KEYS:
            continue
        if key not in PARSERS:
            hint = suggest(str(key), PARSERS)
            raise SeedError(f"{fx.rel}:{lines.get((key,), 1)}: unknown key `{str(key)[:40]}`", hint or "expected exchanges, queues, bindings")
        if not isinstance(items, list):
            raise SeedError(f"{fx.rel}:{lines.get((key,), 1)}: `{key}` must be a list")
        for i, entry in enumerate(items):
            where = f"{fx.rel}:{lines.get((key, i), lines.get((key,), 1))}: {key}[{i}]"
            if not isinstance(entry, dict):
                raise SeedError(f"{where}: expected a mapping, got {type(entry).__name__}")
            unknown = [k for k in entry if k not in KEYS[key]]
            if unknown:
                raise SeedError(f"{where}: unknown key `{str(unknown[0])[:40]}`", suggest(str(unknown[0]), KEYS[key]) or f"keys: {', '.join(KEYS[key])}")
            try:
                parsed[key].append(PARSERS[key](entry))
            except Problem as exc:
                raise SeedError(f"{where}: {exc}") from None
    return parsed


class RabbitmqSeeder(RabbitmqSpec, Seeder):
    kind = "rabbitmq"

    def connect(self):
        import pika
        import pika.exceptions

        o = self.svc.outputs
        params = pika.ConnectionParameters(host=o["host"], port=int(o["port"]), virtual_host=o["vhost"],
                                           credentials=pika.PlainCredentials(o["user"], o["password"]),
                                           connection_attempts=2, socket_timeout=5, stack_timeout=15)
        try:
            return pika.BlockingConnection(params)
        except pika.exceptions.AMQPError as exc:
            raise SeedError(f"{self.name}: cannot connect to rabbitmq at {o['host']}:{o['port']} (vhost {o['vhost']}): "
                            f"{type(exc).__name__} {short_error(exc)}".rstrip(), "is the stack up? `devstack up` / `devstack status`",
                            intact=True) from None

    def declare(self, declared: dict[str, list[dict]]) -> None:
        import pika.exceptions

        conn = self.connect()
        try:
            channel = conn.channel()
            for what, items in declared.items():
                for item in items:
                    try:
                        if what == "exchanges":
                            channel.exchange_declare(item["name"], item["type"], durable=item["durable"],
                                                     auto_delete=item["auto_delete"], internal=item["internal"],
                                                     arguments=item["arguments"] or None)
                        elif what == "queues":
                            channel.queue_declare(item["name"], durable=item["durable"], auto_delete=item["auto_delete"],
                                                  arguments=item["arguments"] or None)
                        elif item["destination_type"] == "exchange":
                            channel.exchange_bind(item["destination"], item["source"], item["routing_key"], arguments=item["arguments"] or None)
                        else:
                            channel.queue_bind(item["destination"], item["source"], item["routing_key"], arguments=item["arguments"] or None)
                    except pika.exceptions.ChannelClosedByBroker as exc:
                        name = item.get("name") or f"{item['source']} -> {item['destination']}"
                        hint = ("it exists with other settings: delete it (management UI) or start over with `devstack down --volumes`"
                                if exc.reply_code == 406 else "declare what it refers to first (exchanges and queues come before bindings)")
                        raise SeedError(f"{self.name}: {what[:-1]} {name}: {exc.reply_text}", hint) from None
        finally:
            conn.close()

    def load(self, fixtures):
        t0 = time.monotonic()
        declared: dict[str, list[dict]] = {key: [] for key in PARSERS}
        for fx in fixtures:
            for key, items in parse_file(fx).items():
                declared[key] += items
        self.declare(declared)
        counts = ", ".join(f"{len(v)} {k}" for k, v in declared.items() if v) or "nothing"
        self.say(f"declared {counts} in {time.monotonic() - t0:.2f}s")
        return {"declared": declared}

    def present(self, record):
        import pika.exceptions

        declared = record.get("declared") or {}
        conn = self.connect()
        try:
            for what in ("exchanges", "queues"):
                for item in declared.get(what, []):
                    channel = conn.channel()
                    try:
                        if what == "exchanges":
                            channel.exchange_declare(item["name"], passive=True)
                        else:
                            channel.queue_declare(item["name"], passive=True)
                    except pika.exceptions.ChannelClosedByBroker:
                        return False
                    channel.close()
            return True
        finally:
            conn.close()

    def reset(self, record):
        """Back to the seeded state: the seeded queues empty, everything declared."""
        declared = record.get("declared")
        if declared is None:
            return False
        t0 = time.monotonic()
        self.declare(declared)
        conn = self.connect()
        try:
            channel = conn.channel()
            dropped = sum(channel.queue_purge(q["name"]).method.message_count for q in declared.get("queues", []))
        finally:
            conn.close()
        self.say(f"reset: {len(declared.get('queues', []))} queues emptied ({dropped} messages), declarations applied "
                 f"in {time.monotonic() - t0:.2f}s")
        return True


seeder = RabbitmqSeeder
