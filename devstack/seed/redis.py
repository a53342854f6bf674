"""Redis fixtures: YAML/JSON files of typed keys, loaded over a raw pipelined socket.

    session:abc: {hash: {user_id: "42"}, ttl: 86400}
    flags:cache: {json: {dex_swap: false}, ttl: 300}
    greeting: hello                      # a plain value is a string
    recent: {list: [a, b]}   online: {set: [u1, u2]}   scores: {zset: {alice: 12}}

A seed empties the service's db (FLUSHDB) and loads every key; a key defined
again in a later file replaces the earlier one. The exact command stream is
kept as the snapshot (.devstack/seed/<service>.redis, redis-cli --pipe format):
`--reset` empties the db and replays it, so TTLs start over as at seed time.
"""

from __future__ import annotations

import json
import os
import time
from itertools import islice

from devstack.fsutil import private_dir, writing
from devstack.seed.base import Fixture, SeedError, Seeder, short_error
from devstack.seed.resp import Pipe, RedisError, command
from devstack.seed.specs import RedisSpec

TYPES = ("string", "json", "hash", "list", "set", "zset")
MSET_BATCH = 1000  # plain string keys per MSET
MAX_REPORTED = 20  # bad keys listed in one error
_HDR_MSET = b"$4\r\nMSET\r\n"

try:  # orjson parses big fixtures 2-3x faster; the standard library is the fallback
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover
    _json_loads = json.loads


def _scalar(value) -> bytes | None:
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, (str, int, float)):
        return str(value).encode()
    return None


class FixtureProblem(Exception):
    def __init__(self, key, message: str):
        super().__init__(message)
        self.key = key


def parse_file(fx: Fixture) -> tuple[dict, dict]:
    """-> ({key: value}, {key: line}); raises SeedError naming file and line."""
    if fx.suffix == ".json":
        raw = fx.path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        try:
            data = _json_loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise SeedError(f"{fx.rel}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        lines: dict = {}
    else:
        from devstack.seed.yamlfast import load_located

        try:
            located = load_located(fx.path.read_text(encoding="utf-8-sig"))
        except Exception as exc:  # yaml.YAMLError
            mark = getattr(exc, "problem_mark", None)
            where = f"{fx.rel}:{mark.line + 1}" if mark else fx.rel
            raise SeedError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
        data = located.data if located.data is not None else {}
        lines = {path[0]: line for path, line in located.lines.items() if len(path) == 1}
    if not isinstance(data, dict):
        raise SeedError(f"{fx.rel}:1: expected a mapping of key -> value", "e.g. `session:1: {hash: {user_id: \"42\"}, ttl: 3600}`")
    return data, lines


def commands_for(key: bytes, value) -> tuple[str, list[bytes], int | None]:
    """(type, commands, ttl ms). Plain strings without TTL come back as ('mset', [value], None)."""
    plain = _scalar(value)
    if plain is not None:
        return "mset", [plain], None
    if isinstance(value, list):
        raise FixtureProblem(key, "a bare list is ambiguous: write `{list: [...]}` or `{set: [...]}`")
    if not isinstance(value, dict):
        raise FixtureProblem(key, f"expected a value or a mapping with one of {', '.join(TYPES)}, got {type(value).__name__}")
    kinds = [k for k in value if k in TYPES]
    unknown = [k for k in value if k not in TYPES and k != "ttl"]
    if unknown or len(kinds) != 1:
        what = f"unknown key `{unknown[0]}`" if unknown else ("no type" if not kinds else f"several types ({', '.join(kinds)})")
        raise FixtureProblem(key, f"{what}: give exactly one of {', '.join(TYPES)} (and optionally ttl)")
    kind = kinds[0]
    body = value[kind]
    ttl = value.get("ttl")
    ttl_ms = None
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise FixtureProblem(key, f"ttl must be a positive number of seconds, got {ttl!r}")
        ttl_ms = max(1, int(round(ttl * 1000)))
    if kind in ("string", "json"):
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() if kind == "json" else _scalar(body)
        if data is None:
            raise FixtureProblem(key, f"string: expected a scalar, got {type(body).__name__} (use `json:` for structured data)")
        if ttl_ms is None:
            return "mset", [data], None
        return "string", [command(b"SET", key, data, b"PX", str(ttl_ms).encode())], ttl_ms
    if kind == "hash":
        if not isinstance(body, dict) or not body:
            raise FixtureProblem(key, "hash: expected a non-empty mapping of field -> value (Redis keeps no empty hashes)")
        args = [b"HSET", key]
        for field, val in body.items():
            enc = _scalar(val)
            if enc is None:
                raise FixtureProblem(key, f"hash field `{field}`: expected a scalar, got {type(val).__name__}")
            args += [str(field).encode(), enc]
    elif kind in ("list", "set"):
        if not isinstance(body, list) or not body:
            raise FixtureProblem(key, f"{kind}: expected a non-empty list (Redis keeps no empty collections)")
        items = [_scalar(v) for v in body]
        if any(v is None for v in items):
            raise FixtureProblem(key, f"{kind}: every item must be a scalar")
        args = [b"RPUSH" if kind == "list" else b"SADD", key, *items]
    else:  # zset
        if not isinstance(body, dict) or not body:
            raise FixtureProblem(key, "zset: expected a non-empty mapping of member -> score")
        args = [b"ZADD", key]
        for member, score in body.items():
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise FixtureProblem(key, f"zset member `{member}`: score must be a number, got {score!r}")
            args += [repr(score).encode() if isinstance(score, float) else str(score).encode(), str(member).encode()]
    cmds = [command(*args)]
    if ttl_ms is not None:
        cmds.append(command(b"PEXPIRE", key, str(ttl_ms).encode()))
    return kind, cmds, ttl_ms


class Stream:
    """Every fixture, checked up front; commands are encoded lazily while they are sent.

    Typed keys (hash, list, TTL...) become commands while parsing (that is where
    their values are checked); plain string values, the bulk of big fixtures,
    stay a {key: value} dict and go out as MSET batches of MSET_BATCH keys,
    encoded on the fly so encoding overlaps with Redis working through them.
    """

    def __init__(self, fixtures: list[Fixture]):
        self.typed: list[bytes] = []
        self.origins: list[tuple[str, str]] = []
        self.plain: dict[str, str] = {}
        self.problems: list[str] = []  # every bad key of every file, reported together
        parsed = []
        for fx in fixtures:
            try:
                parsed.append((fx, *parse_file(fx)))
            except SeedError as exc:
                self.problems.append(exc.message)
        seen: set = set()
        # A key defined again in a later file replaces the earlier one: walk files last to first.
        for fx, data, lines in reversed(parsed):
            if seen and not seen.isdisjoint(data.keys()):
                data = {k: data[k] for k in data.keys() - seen}
            if len(parsed) > 1:
                seen.update(data.keys())
            if set(map(type, data.values())) <= {str} and set(map(type, data)) <= {str}:
                strings = data  # the fast path: every value a plain string
            else:
                strings = {k: v for k, v in data.items() if type(v) is str and type(k) is str}
                for raw_key, value in data.items():
                    if raw_key not in strings:
                        self.add(fx, lines, raw_key, value)
            if self.plain:
                strings = {**strings, **self.plain}
            self.plain = strings
        self.keys = len(seen) if len(parsed) > 1 else len(parsed[0][1]) if parsed else 0
        if self.problems:
            count = len(self.problems)
            shown = self.problems[:MAX_REPORTED] + ([f"... and {count - MAX_REPORTED} more"] if count > MAX_REPORTED else [])
            raise SeedError(f"{count} problem{'s' if count > 1 else ''} in the fixtures:\n" + "\n".join("    " + p for p in shown),
                            "types: string, json, hash, list, set, zset; ttl in seconds", intact=True)

    def add(self, fx: Fixture, lines: dict, raw_key, value) -> None:
        line = lines.get(raw_key)
        where = f"{fx.rel}:{line}" if line else fx.rel
        if not isinstance(raw_key, (str, int)) or isinstance(raw_key, bool):
            self.problems.append(f"{where}: invalid key {raw_key!r}")
            return
        key = str(raw_key).encode()
        try:
            kind, cmds, _ttl = commands_for(key, value)
        except FixtureProblem as exc:
            self.problems.append(f"{where}: key `{raw_key}`: {exc}")
            return
        if kind == "mset":
            self.plain[str(raw_key)] = cmds[0].decode()
            return
        self.typed.extend(cmds)
        self.origins.extend([(where, str(raw_key))] * len(cmds))

    @property
    def commands(self) -> int:
        return len(self.typed) + -(-len(self.plain) // MSET_BATCH)

    def origin(self, index: int) -> tuple[str, str]:
        """Where the command at `index` (0-based, in chunks() order) came from."""
        if index < len(self.origins):
            return self.origins[index]
        return ("fixtures", f"MSET batch {index - len(self.origins) + 1}")

    def chunks(self):
        yield from self.typed
        items = iter(self.plain.items())  # batches straight off the dict: no list of a million pairs
        while part := list(islice(items, MSET_BATCH)):
            try:  # all-ASCII (the usual case): character counts are byte counts
                body = "".join([f"${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n" for k, v in part]).encode("ascii")
            except UnicodeEncodeError:
                body = b"".join([b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(kb), kb, len(vb), vb)
                                 for kb, vb in ((k.encode(), v.encode()) for k, v in part)])
            yield b"*%d\r\n" % (1 + 2 * len(part)) + _HDR_MSET + body


class RedisSeeder(RedisSpec, Seeder):
    kind = "redis"

    def extra(self):
        return {"db": self.db}

    @property
    def db(self) -> int:
        return int(self.svc.outputs["db"] or 0)

    def pipe(self) -> Pipe:
        o = self.svc.outputs
        try:
            return Pipe(o["host"], o["port"], o.get("password"), self.db)
        except RedisError as exc:
            raise SeedError(f"{self.name}: {exc}", "is the stack up? `devstack up` / `devstack status`", intact=True) from None

    @property
    def snapshot_path(self):
        return self.plan.state_dir / "seed" / f"{self.name}.redis"

    def load(self, fixtures):
        t0 = time.monotonic()
        stream = Stream(fixtures)  # every file is checked before redis is touched
        snapshot = self.snapshot_path
        tmp = snapshot.with_suffix(".tmp")
        # The snapshot is saved whole or not at all (temp file, fsync, rename;
        # 0600: it holds the data); a failed write leaves the last one.
        with writing(snapshot):
            private_dir(snapshot.parent)
            keep = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        try:
            with self.pipe() as pipe, keep, writing(snapshot):
                try:
                    pipe.call(b"FLUSHDB")
                    errors = pipe.run(stream.chunks(), stream.commands, copy_to=keep)
                except RedisError as exc:
                    raise SeedError(f"{self.name}: {exc}") from None
                keep.flush()
                os.fsync(keep.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if errors:
            tmp.unlink(missing_ok=True)
            index, message = errors[0]
            where, key = stream.origin(index)
            raise SeedError(f"{self.name}: {where}: key `{key}`: redis said: {short_error(message)}",
                            f"{len(errors)} command(s) failed; fix the fixture and run `devstack seed {self.name}`")
        os.replace(tmp, snapshot)
        self.say(f"{stream.keys} keys into db {self.db} in {time.monotonic() - t0:.2f}s")
        return {"keys": stream.keys, "commands": stream.commands, "snapshot": snapshot.name}

    def present(self, record):
        if not self.snapshot_path.exists():
            return False
        if not record.get("keys"):
            return True
        with self.pipe() as pipe:
            try:
                size = int(pipe.query_line(b"DBSIZE")[1:])
            except RedisError as exc:
                raise SeedError(f"{self.name}: {exc}") from None
        return size > 0  # an empty db after a seed with keys: the server lost its data

    def reset(self, record):
        path = self.snapshot_path
        if not path.exists():
            return False
        t0 = time.monotonic()
        commands = int(record.get("commands", 0))

        def stream():
            yield command(b"FLUSHDB")
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    yield chunk

        with self.pipe() as pipe:
            try:
                errors = pipe.run(stream(), commands + 1)
            except RedisError as exc:
                raise SeedError(f"{self.name}: {exc}") from None
        if errors:
            raise SeedError(f"{self.name}: replaying the snapshot failed: {errors[0][1]}", f"run `devstack seed {self.name}` to reload the fixtures")
        self.say(f"reset to the seeded state ({record.get('keys', 0)} keys) in {time.monotonic() - t0:.2f}s")
        return True


seeder = RedisSeeder
