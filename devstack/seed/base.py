"""What every seeder shares: the `seed:` entries, fixture files, content hashes, state.

A seeder (one module per kind: postgres, redis, s3, stripe) turns the service's
`seed:` value into Fixture files (validated like the manifest: file:line, key
path, hint), loads them, keeps a snapshot of the seeded state and restores it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from devstack.errors import Problem, UserError
from devstack.fsutil import inside, read_json, write_private
from devstack.options import allowed, cut, suggest

Progress = Callable[[str], None]
GLOB_CHARS = set("*?[")
MAX_FILES = 20_000  # fixture files one `seed:` entry may match
MAX_SCANNED = 200_000  # directory entries looked at per service (a glob over a whole disk stops here)


class _TooMany(Exception):
    pass


class SeedError(UserError):
    """A fixture could not be loaded: names the service, the file and the line.

    `intact`: the service was left as it was before this seed (else its seed
    record is dropped, so the next `devstack seed` loads it again).
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, intact: bool = False):
        super().__init__(message, hint)
        self.intact = intact


@dataclass
class Fixture:
    path: Path  # absolute
    rel: str  # as shown to the user and recorded (relative to the manifest's directory)
    options: dict[str, Any] = field(default_factory=dict)  # per kind: table, bucket, key...

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


class SpecContext:
    """Validation of one service's `seed:` value, problems located in the manifest.

    Paths stay inside the project (the manifest's directory) or a directory the
    manifest lists under `allow_outside_project:`; globs and directories are
    expanded with a bound (MAX_FILES matched, MAX_SCANNED entries looked at).
    """

    def __init__(self, service: str, root: Path, lines=None, outside: list[Path] | tuple = ()):
        self.service = service
        self.root = root
        self.lines = lines  # yamlpos.Located of the manifest, or None
        self.allowed = [Path(root).resolve(), *(Path(p).resolve() for p in outside)]
        self.problems: list[Problem] = []
        self.scanned = 0

    def key(self, *sub) -> tuple:
        return ("services", self.service, "seed", *sub)

    def problem(self, sub: tuple, message: str, hint: str | None = None) -> None:
        path = self.key(*sub)
        line = self.lines.line(path) if self.lines else None
        self.problems.append(Problem(message, ".".join(map(str, path)), line, hint))

    @staticmethod
    def shown(value) -> str:
        from devstack.options import shown

        return shown(value)

    def rel(self, path: Path) -> str:
        text, root = str(path), str(self.root).rstrip("/") + "/"  # strings: called per fixture file, with every command
        return text[len(root):] if text.startswith(root) else text

    def permitted(self, path: Path) -> bool:
        """Inside the project or an allowed directory, after `..` and symlinks."""
        return inside(Path(os.path.realpath(path)), self.allowed) is not None

    def outside(self, sub: tuple, value: str) -> None:
        self.problem(sub, f"`{cut(value, 120)}` is outside the project ({self.root})",
                     "seed paths are relative to the manifest's directory; to read files elsewhere, "
                     "list their directory under `allow_outside_project:`")

    def too_many(self, sub: tuple, value: str) -> None:
        self.problem(sub, f"`{cut(value, 120)}` matches more than {MAX_FILES:,} files (or makes devstack look at more than {MAX_SCANNED:,})",
                     "point it at the fixture directory itself")

    def expand(self, value, sub: tuple, extensions: tuple[str, ...] | None, what: str = "fixture") -> list[tuple[Path, str]]:
        """A file, a directory (every file below it, sorted) or a glob -> [(path, key)].

        key is the path relative to the directory (or glob base) it came from,
        used as an object key by S3; extensions=None accepts any file.
        """
        from devstack.options import CONTROL

        if not isinstance(value, str) or not value.strip() or CONTROL.search(value):
            self.problem(sub, f"expected a file, directory or glob, got {self.shown(value)}")
            return []
        exts = f" ({', '.join(extensions)})" if extensions else ""
        raw = os.path.expanduser(value)
        base = Path(raw) if os.path.isabs(raw) else self.root / raw
        try:
            if GLOB_CHARS & set(value):
                return self._glob(value, raw, base, sub, extensions, what, exts)
            if not self.permitted(base):
                self.outside(sub, value)
                return []
            if base.is_dir():
                files = self._walk(base, extensions, "")
                if not files and extensions:
                    self.problem(sub, f"directory `{cut(value, 120)}` holds no {what} files{exts}")
                return files
            if base.is_file():
                if extensions and base.suffix.lower() not in extensions:
                    self.problem(sub, f"`{cut(value, 120)}`: a {self.service} fixture must be one of{exts}, not `{base.suffix or base.name}`")
                    return []
                return [(base, base.name)]
        except _TooMany:
            self.too_many(sub, value)
            return []
        except OSError as exc:  # a name too long, a loop of symlinks, no permission
            self.problem(sub, f"cannot read {self.shown(value)}: {exc.strerror or exc}")
            return []
        self.problem(sub, f"fixture not found: {cut(value, 200)}", f"paths are relative to {self.root}")
        return []

    def _glob(self, value, raw, base: Path, sub, extensions, what, exts):
        static = []
        for part in Path(raw).parts:
            if GLOB_CHARS & set(part):
                break
            static.append(part)
        anchor = Path(*static) if static else Path(".")
        anchor = anchor if anchor.is_absolute() else self.root / anchor
        if not self.permitted(anchor):  # before globbing: `/**/*.json` would walk the whole disk
            self.outside(sub, value)
            return []
        found = []
        for match in glob.iglob(str(base), recursive=True):
            self._scan()
            found.append(Path(match))
        files, outside = [], False
        for p in sorted(found):
            if not self.permitted(p):  # `seed/*/../../..`, or a symlink out of the project
                outside = True
            elif p.is_dir():
                files += self._walk(p, extensions, p.relative_to(anchor).as_posix() + "/")
            elif self._accept(p, extensions):
                files.append((p, p.relative_to(anchor).as_posix()))
            if len(files) > MAX_FILES:
                raise _TooMany
        if outside:
            self.outside(sub, value)
            return []
        if not files:
            self.problem(sub, f"`{cut(value, 120)}` matches no {what} files{exts}", f"paths are relative to {self.rel(self.root) or '.'}/ (the manifest's directory)")
        return files

    def _scan(self, count: int = 1) -> None:
        self.scanned += count
        if self.scanned > MAX_SCANNED:
            raise _TooMany

    @staticmethod
    def _accept(path: Path, extensions) -> bool:
        return path.is_file() and not path.name.startswith(".") and (extensions is None or path.suffix.lower() in extensions)

    def _walk(self, directory: Path, extensions, prefix: str) -> list[tuple[Path, str]]:
        # Strings, not Path objects, per file: this runs with every command.
        found = []
        top = str(directory)
        for dirpath, dirnames, filenames in os.walk(top):
            self._scan(len(dirnames) + len(filenames) + 1)
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = os.path.relpath(dirpath, top)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in filenames:
                if name.startswith(".") or (extensions is not None and os.path.splitext(name)[1].lower() not in extensions):
                    continue
                full = os.path.join(dirpath, name)
                if not os.path.isfile(full) or (os.path.islink(full) and not self.permitted(Path(full))):
                    continue
                found.append((Path(full), prefix + rel + name))
            if len(found) > MAX_FILES:
                raise _TooMany
        return sorted(found, key=lambda item: item[1])

    def entries(self, raw, extensions: tuple[str, ...], entry_keys: tuple[str, ...] = ("file",)) -> list[tuple[Fixture, tuple]]:
        """The list form: `seed: [a.sql, "data/*.csv", dir/, {file: x.csv, table: t}]`.

        Returns (fixture, manifest sub-path of its entry)."""
        if isinstance(raw, (str, dict)):
            items = [(raw, ())]
        elif isinstance(raw, list):
            items = [(item, (i,)) for i, item in enumerate(raw)]
        else:
            self.problem((), f"expected a list of fixture files, got {type(raw).__name__}", "e.g. seed: [seed/schema.sql, \"seed/data/*.csv\"]")
            return []
        result = []
        for item, sub in items:
            options: dict[str, Any] = {}
            if isinstance(item, dict):
                for key in item:
                    if key not in entry_keys:
                        self.problem(sub + (key,), f"unknown key `{str(key)[:40]}`", suggest(key, entry_keys) or allowed(entry_keys))
                if "file" not in item:
                    self.problem(sub, "an entry given as a mapping needs `file:`", "e.g. {file: seed/people.csv, table: users}")
                    continue
                options = {k: v for k, v in item.items() if k != "file" and k in entry_keys}
                value = item["file"]
                sub_value = sub + ("file",)
            else:
                value, sub_value = item, sub
            for path, _key in self.expand(value, sub_value, extensions):
                result.append((Fixture(path, self.rel(path), dict(options)), sub))
        return result


# -- content hashes ---------------------------------------------------------------
def file_sha(path: Path, cached: dict | None = None) -> tuple[str, list]:
    """sha256 of a file; reuses the recorded one when size and mtime are unchanged."""
    st = path.stat()
    if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
        return cached[2], cached
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    digest = h.hexdigest()
    return digest, [st.st_size, st.st_mtime_ns, digest]


def digest(kind: str, fixtures: list[Fixture], extra: dict, record: dict | None) -> tuple[str, dict]:
    """One hash over every fixture's content and options plus the kind's extras."""
    cache = (record or {}).get("files", {})
    files = {}
    parts = []
    for fx in fixtures:
        sha, entry = file_sha(fx.path, cache.get(fx.rel))
        files[fx.rel] = entry
        parts.append([fx.rel, sha, fx.options])
    blob = json.dumps({"kind": kind, "fixtures": parts, "extra": extra}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), files


# -- state ---------------------------------------------------------------------------
class State:
    """.devstack/seed/state.json: per service, what was seeded (hashes) and its snapshot."""

    VERSION = 1

    def __init__(self, directory: Path):
        self.dir = directory
        self.path = directory / "state.json"
        data = read_json(self.path)
        self.services = data.get("services", {}) if data.get("version") == self.VERSION else {}

    def get(self, name: str) -> dict | None:
        return self.services.get(name)

    def set(self, name: str, record: dict) -> None:
        self.services[name] = record
        self.save()

    def drop(self, name: str) -> None:
        if self.services.pop(name, None) is not None:
            self.save()

    def save(self) -> None:
        write_private(self.path, json.dumps({"version": self.VERSION, "services": self.services}, indent=1, sort_keys=True) + "\n")


# -- the seeder interface ---------------------------------------------------------------
class FixtureSpec:
    """What a kind's `seed:` takes: checked with the manifest (seed/specs.py holds one per kind)."""

    extensions: tuple[str, ...] = ()
    entry_keys: tuple[str, ...] = ("file",)

    @classmethod
    def parse(cls, ctx: SpecContext, raw, svc) -> list[Fixture]:
        """`seed:` -> fixtures; problems go to ctx. Default: the list form."""
        fixtures = []
        for fx, sub in ctx.entries(raw, cls.extensions, cls.entry_keys):
            cls.check_entry(ctx, fx, sub)
            fixtures.append(fx)
        return fixtures

    @classmethod
    def check_entry(cls, ctx: SpecContext, fx: Fixture, sub: tuple) -> None:
        pass

    @classmethod
    def wanted(cls, svc, fixtures: list[Fixture]) -> bool:
        """Seed this service? (Some kinds have work to do without fixtures.)"""
        return bool(fixtures)


class Seeder(FixtureSpec):
    """One per kind. Subclasses implement load/present/reset (and parse, via their spec)."""

    kind = ""
    no_snapshot = "no snapshot: reloading the fixtures"  # said when --reset has nothing to restore

    def __init__(self, svc, plan, progress: Progress):
        self.svc = svc
        self.plan = plan
        self.progress = progress
        self.name = svc.name

    def extra(self) -> dict:
        """Inputs besides fixture files that change the seeded state (hashed)."""
        return {}

    # -- work ---------------------------------------------------------------------
    def load(self, fixtures: list[Fixture]) -> dict | None:
        """Bring the service to exactly the fixtures' state and keep a snapshot.

        Returns the record kept in the state (snapshot info), None when the
        backend keeps nothing (nothing is recorded)."""
        raise NotImplementedError

    def present(self, record: dict) -> bool:
        """Is the seeded state (and its snapshot) still on the server?"""
        return True

    def reset(self, record: dict) -> bool:
        """Restore the snapshot; False when there is none (the caller reseeds)."""
        return False

    def close(self) -> None:
        """Let go of what present/load/reset kept open between them (a session)."""

    def say(self, message: str) -> None:
        self.progress(f"seed {self.name}: {message}")


def short_error(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
