"""What `devstack init` reads out of an app's files, and what it decides about each variable."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Variable:
    """One variable an input names, with what surrounds it."""

    name: str
    value: str = ""  # the example value ("" when none is given)
    source: str = ""  # file it came from, relative to the project root
    line: int = 0
    commented: bool = False  # `# NAME=value` in a dotenv file
    context: str = ""  # comments or prose next to it, as written
    section: str = ""  # heading (markdown) or comment block title (dotenv) it sits under

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass
class ServiceHint:
    """A service an input runs itself: a compose service's image, a `docker run` line."""

    kind: str
    image: str
    source: str
    line: int = 0
    version: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # the container's own env (POSTGRES_DB=...)


@dataclass
class Cue:
    """A sentence about one kind in local development ("Local Development: skip")."""

    kind: str
    text: str
    source: str
    line: int = 0


@dataclass
class Inputs:
    files: list[str] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    hints: list[ServiceHint] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    # Fenced blocks that are not env lines: (section heading, language, text); a
    # feature-flag section's JSON becomes the flags stand-in's config.
    blocks: list[tuple[str, str, str]] = field(default_factory=list)
    prose: list[tuple[str, str]] = field(default_factory=list)  # (section heading, text) of markdown sections

    def extend(self, other: "Inputs") -> None:
        self.files += other.files
        self.variables += other.variables
        self.hints += other.hints
        self.cues += other.cues
        self.blocks += other.blocks
        self.prose += other.prose


# Decision categories, as the report names them.
SERVICE, SECRET, CONFIG, OFF, SKIPPED = "service", "secret", "config", "off", "skipped"


@dataclass
class Decision:
    """What the manifest does with one variable, and why."""

    var: Variable
    category: str  # SERVICE | SECRET | CONFIG | OFF | SKIPPED
    value: str = ""  # what env: gets: an expression over outputs, or a literal
    reason: str = ""
    kind: str | None = None
    output: str | None = None  # the kind's output it reads (None: a literal the kind needs)
    service: str | None = None  # the manifest's service name
    written: bool = True  # False: left out of the manifest (commented out, duplicate)

    @property
    def label(self) -> str:
        """How the report shows it: kind.output / kind / secret / config / off / skipped."""
        if self.category == SERVICE:
            return f"{self.kind}.{self.output}" if self.output else str(self.kind)
        return self.category


@dataclass
class Service:
    """A service the manifest declares."""

    name: str
    kind: str
    mode: str
    options: dict = field(default_factory=dict)
    comment: str = ""  # why it is there and why in this mode


@dataclass
class Secret:
    name: str
    spec: str  # hex:32, base64:32, token:40, ed25519
    comment: str = ""


@dataclass
class Result:
    """Everything `init` decided: what the writer and the report read."""

    project: str
    inputs: Inputs
    services: list[Service] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    env_file: str = ".env"
    notes: list[str] = field(default_factory=list)  # what the user should know (unsupported services, ...)
