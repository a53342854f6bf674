"""Every validation error: one problem each, with file:line, key path and a hint."""

from __future__ import annotations

import textwrap

import pytest

from devstack import manifest
from devstack.errors import ManifestError, UserError


def load(tmp_path, text: str):
    path = tmp_path / "devstack.yaml"
    path.write_text(textwrap.dedent(text))
    return manifest.load(path)


def problems(tmp_path, text: str):
    with pytest.raises(ManifestError) as info:
        load(tmp_path, text)
    return info.value.problems


def only(tmp_path, text):
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_three_mistakes_reported_together_with_lines(tmp_path):
    found = problems(tmp_path, """\
        services:
          db:
            kind: postgress
          cache:
            kind: redis
            pasword: x
          s3:
            kind: minio
            buckets: avatars
        """)
    assert [(p.line, p.path) for p in found] == [
        (3, "services.db.kind"), (6, "services.cache.pasword"), (9, "services.s3.buckets")]
    assert "did you mean `postgres`" in found[0].hint
    assert "did you mean `password`" in found[1].hint
    assert "expected a list" in found[2].message


def test_valid_manifest_fills_defaults(tmp_path):
    m = load(tmp_path, """\
        services:
          db: {kind: postgres}
          redis: {}
        """)
    assert m.project == tmp_path.name
    assert m.runtime == "auto"
    assert m.services["db"].options["version"] == "15"
    assert m.services["redis"].kind == "redis"
    assert m.env_file == tmp_path / ".env"


@pytest.mark.parametrize("text, path, line, words", [
    ("bogus: 1\nservices: {redis: {}}\n", "bogus", 1, "unknown key"),
    ("runtime: dockr\nservices: {redis: {}}\n", "runtime", 1, "did you mean `docker`"),
    ("project: 'a b'\nservices: {redis: {}}\n", "project", 1, "invalid project name"),
    ("services:\n  Bad-Name: {kind: redis}\n", "services.Bad-Name", 2, "invalid service name"),
    ("services:\n  cache: {}\n", "services.cache", 2, "is not a kind; set `kind:`"),
    ("services:\n  db:\n    kind: postgres\n    mode: stubb\n", "services.db.mode", 4, "mode `stubb`"),
    ("services:\n  db:\n    kind: postgres\n    mode: stub\n", "services.db.mode", 4, "postgres supports"),
    ("services:\n  db:\n    kind: postgres\n    port: yes\n", "services.db.port", 4, "expected an integer"),
    ("services:\n  db:\n    kind: postgres\n    mode: external\n", "services.db.url", 2, "needs `url:`"),
    ("services:\n  db:\n    kind: postgres\n    url: postgresql://x\n", "services.db.url", 4, "only goes with"),
    ("services:\n  stripe:\n    secret_key: sk_live_abc\n", "services.stripe.secret_key", 3, "sk_test_"),
    ("services:\n  stripe:\n    implementation: stripe-mock\n    secret_key: sk_test_a_b\n", "services.stripe.secret_key", 4, "three"),
    ("services:\n  stripe:\n    webhooks: [{url: localhost:3000/hook}]\n", "services.stripe.webhooks", 3, "http:// or https://"),
    ("services:\n  stripe:\n    webhooks: [{url: 'http://localhost/h', event: [x.y]}]\n", "services.stripe.webhooks", 3, "unknown key `event`"),
    ("services:\n  sfu:\n    kind: livekit\n    api_secret: short\n", "services.sfu.api_secret", 4, "at least 32"),
    ("services:\n  turn:\n    kind: coturn\n    secret: 'a$b'\n", "services.turn.secret", 4, "must not contain"),
    ("services:\n  s3:\n    kind: minio\n    buckets: [Bad_Bucket]\n", "services.s3.buckets", 4, "invalid bucket"),
    ("services:\n  s3:\n    kind: minio\n    buckets: [{name: cdn-files, public: yes please}]\n", "services.s3.buckets", 4, "`public` (true/false)"),
    ("services:\n  s3:\n    kind: minio\n    buckets: [{public: true}]\n", "services.s3.buckets", 4, "invalid bucket name None"),
    ("services:\n  db:\n    kind: postgres\n    databases: [1x]\n", "services.db.databases", 4, "invalid database"),
    ("services:\n  db:\n    kind: postgres\n    version: fifteen\n", "services.db.version", 4, "major version"),
    ("services:\n  e:\n    kind: email_api\n    provider: sparkpost\n", "services.e.provider", 4, "not one of"),
    ("services: {redis: {}}\nenv:\n  fil: x\n", "env.fil", 3, "did you mean `file`"),
    ("services: {redis: {}}\nenv:\n  BAD-NAME: x\n", "env.BAD-NAME", 3, "invalid variable name"),
    ("services: {redis: {}}\nenv:\n  X: [1]\n", "env.X", 3, "expected a string"),
    ("services: {redis: {}}\nenv:\n  defaults: maybe\n", "env.defaults", 3, "true or false"),
    ("services: {redis: {}}\nsecrets:\n  jwt: {type: rsa}\n", "secrets.jwt.type", 3, "unknown secret type"),
    ("services: {redis: {}}\nsecrets:\n  jwt: {bytes: 2}\n", "secrets.jwt.bytes", 3, "8 to 1024"),
    ("services: {redis: {}}\nsecrets:\n  jwt: {type: hex, size: 2}\n", "secrets.jwt.size", 3, "unknown key"),
    ("services: {redis: {}}\ntools:\n  node: 'twenty'\n", "tools.node", 3, "invalid version range"),
    ("services: []\n", "services", 1, "expected a mapping"),
    ("services: {}\n", "services", 1, "no services"),
])
def test_each_validation_error(tmp_path, text, path, line, words):
    problem = only(tmp_path, text)
    assert problem.path == path
    assert problem.line == line
    assert words in problem.message + " " + (problem.hint or "")


def test_invalid_yaml_names_the_line(tmp_path):
    problem = only(tmp_path, "services:\n  db: {kind: postgres\n  x: 1\n")
    assert problem.line is not None and "invalid YAML" in problem.message


def test_yaml_off_means_mode_off(tmp_path):
    m = load(tmp_path, "services:\n  analytics:\n    kind: posthog\n    mode: off\n")
    assert m.services["analytics"].mode == "off"


def test_find_walks_up_and_f_overrides(tmp_path):
    (tmp_path / "devstack.yaml").write_text("services: {redis: {}}\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert manifest.find(start=nested) == tmp_path / "devstack.yaml"
    other = tmp_path / "other.yaml"
    other.write_text("services: {redis: {}}\n")
    assert manifest.find(explicit=other) == other
    with pytest.raises(UserError, match="no manifest"):
        manifest.find(explicit=tmp_path / "missing.yaml")


def test_no_manifest_anywhere(tmp_path):
    with pytest.raises(UserError, match="no devstack.yaml"):
        manifest.find(start=tmp_path)


def test_tools_and_secrets_shorthand(tmp_path):
    m = load(tmp_path, """\
        services: {redis: {}}
        secrets:
          jwt: hex:16
          signing: ed25519
        tools:
          ffmpeg:
          node: ">= 20"
        """)
    assert (m.secrets["jwt"].type, m.secrets["jwt"].bytes) == ("hex", 16)
    assert m.secrets["signing"].type == "ed25519"
    assert m.tools == {"ffmpeg": "*", "node": ">= 20"}
