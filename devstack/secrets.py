"""Generated values kept stable per project in .devstack/secrets.json (0600).

Both the manifest's `secrets:` and the credentials a kind generates (database
passwords, API keys) live here, so every run of the plan sees the same values.
"""

from __future__ import annotations

import base64
import json
import secrets as _random
import string
from pathlib import Path

from devstack.fsutil import write_private

ALNUM = string.ascii_letters + string.digits


def generate(spec: str, size: int = 32):
    """spec: hex[:N] | base64[:N] | token[:N] | password | alnum:N | stripe:PREFIX | ed25519."""
    kind, _, n = spec.partition(":")
    if kind == "stripe":  # stripe:sk_test -> sk_test_<24 alnum>, three `_` parts
        return f"{n}_" + "".join(_random.choice(ALNUM) for _ in range(24))
    n = int(n) if n else size
    if kind == "hex":
        return _random.token_hex(n)
    if kind == "base64":
        return base64.b64encode(_random.token_bytes(n)).decode()
    if kind == "token":
        return _random.token_urlsafe(n)
    if kind in ("password", "alnum"):
        # Letters and digits only: safe in URLs, shells and entrypoints that eval.
        return "".join(_random.choice(ALNUM) for _ in range(n if kind == "alnum" else 24))
    if kind == "ed25519":
        return ed25519_pair()
    raise ValueError(f"unknown generator {spec!r}")


def placeholder(spec: str):
    """A value of the shape generate(spec) makes, nothing random and no cryptography
    import (the manifest check renders `env:` against these)."""
    kind, _, arg = spec.partition(":")
    if kind == "ed25519":
        return {k: f"<{k}>" for k in ("private_pem", "public_pem", "private_base64", "public_base64")}
    if kind == "stripe":
        return f"{arg}_" + "x" * 24
    return "x" * 24


def ed25519_pair() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw_private = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    raw_public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "private_pem": private_pem.decode(),
        "public_pem": public_pem.decode(),
        "private_base64": base64.b64encode(raw_private).decode(),
        "public_base64": base64.b64encode(raw_public).decode(),
    }


class SecretStore:
    """Loads once, generates what is missing, writes back only if something changed.

    persist=False (read-only commands): what is missing is generated in memory
    and never saved. Saving happens under the project's state lock (plan.build).
    """

    def __init__(self, path: Path, persist: bool = True):
        self.path = path
        self.persist = persist
        self.data: dict = _load(path)
        self.dirty = False

    def get(self, section: str, key: str, spec: str, size: int = 32):
        bucket = self.data.setdefault(section, {})
        value = bucket.get(key)
        if value is None or (spec == "ed25519") != isinstance(value, dict):
            value = bucket[key] = generate(spec, size)
            self.dirty = True
        return value

    def save(self):
        if self.dirty and self.persist:
            write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")
            self.dirty = False


def _load(path: Path) -> dict:
    from devstack.errors import UserError

    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                        "it holds the passwords the stack was started with: restore it, or start over with "
                        "`devstack down --volumes` (deletes the stack's data)") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not devstack's secrets file (expected a JSON object)",
                        "restore it, or start over with `devstack down --volumes` (deletes the stack's data)")
    return data
