"""Broken and hostile manifests: each reproduction of issue 12 ends in one
ManifestError naming the line, never another exception, in bounded time."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from devstack import plan, render
from devstack.errors import ManifestError
from devstack.project import load_manifest
from tests.hostile import alias_bomb

REDIS = "services:\n  cache: {kind: redis}\n"


def write(tmp_path, text: str | bytes):
    path = tmp_path / "devstack.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def problems(tmp_path, text):
    with pytest.raises(ManifestError) as info:
        load_manifest(write(tmp_path, text))
    return info.value.problems


def one(tmp_path, text):
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def rendered(tmp_path, text):
    """Load, plan and render as `devstack render` does (nothing persisted)."""
    m = load_manifest(write(tmp_path, text))
    p = plan.build(m, persist=False)
    return p, render.compose_yaml(p)


def test_non_utf8_names_the_line(tmp_path):
    p = one(tmp_path, b"services:\n  cache: {kind: redis}\nproject: \xff\xfe\n")
    assert p.line == 3 and "not UTF-8" in p.message and "0xff" in p.message


@pytest.mark.parametrize("text, line, words", [
    ("[a]: 1\n" + REDIS, 1, "a key must be a plain name or value, not a list"),
    ("project: !!int x\n" + REDIS, 1, "cannot read 'x' as int"),
    (REDIS + "x: 2001-13-45\n", 3, "cannot read '2001-13-45' as timestamp"),
    (REDIS + "x: !!bool maybe\n", 3, "cannot read 'maybe' as bool"),
    (REDIS + "x: !!timestamp soon\n", 3, "cannot read 'soon' as timestamp"),
    (REDIS + "x: 1" + "0" * 5000 + "\n", 3, "cannot read '1000"),
    (REDIS + "x: " + "[" * 600 + "]" * 600 + "\n", 3, "nested deeper than 100 levels"),
    (REDIS + "x: [unclosed\n", 4, "invalid YAML"),
])
def test_yaml_that_python_cannot_build_is_a_located_problem(tmp_path, text, line, words):
    p = one(tmp_path, text)
    assert p.line == line and words in p.message, p


def test_deep_nesting_is_refused_before_libyaml_recurses(tmp_path):
    # libyaml's composer recurses in C: ~100,000 nested `[` crashed the interpreter.
    p = one(tmp_path, REDIS + "x: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested deeper than" in p.message


def test_alias_bomb_is_refused_quickly(tmp_path):
    # 8 levels of 9 aliases: 417 bytes that ran 60 s at 6.4 GB before.
    started = time.monotonic()
    p = one(tmp_path, alias_bomb())
    assert time.monotonic() - started < 2
    assert "too many values" in p.message


def test_anchors_and_merge_keys_still_work(tmp_path):
    m = load_manifest(write(tmp_path, "services:\n  cache: &base {kind: redis, db: 3}\n  cache2:\n    <<: *base\n    db: 4\n"))
    assert m.services["cache"].options["db"] == 3
    assert m.services["cache2"].kind == "redis" and m.services["cache2"].options["db"] == 4


def test_duplicate_keys_are_reported(tmp_path):
    p = one(tmp_path, "services:\n  cache: {kind: redis}\n  cache: {kind: redis, db: 2}\n")
    assert p.path == "services.cache" and p.line == 3 and "given twice" in p.message


def test_oversized_manifest(tmp_path):
    p = one(tmp_path, REDIS + "# " + "x" * 300_000 + "\n")
    assert "larger than 256 KiB" in p.message


@pytest.mark.parametrize("spec, words", [
    ('"hex:\u00b2"', "invalid size in 'hex:\u00b2'"),
    ('"hex:abc"', "invalid size in 'hex:abc'"),
    ('"hex:-4"', "invalid size in 'hex:-4'"),
    ('"hex:4"', "from 8 to 1024"),
    ('"ed25519:32"', "fixed size"),
    ('"rsa"', "unknown secret type 'rsa'"),
    ("{type: hex, bytes: 16, colour: red}", "unknown key `colour`"),
])
def test_secret_specs(tmp_path, spec, words):
    p = one(tmp_path, REDIS + f"secrets:\n  k: {spec}\n")
    assert p.path.startswith("secrets.k") and p.line == 4 and words in p.message, p


@pytest.mark.parametrize("url, words", [
    ("postgresql://u:p@h:99999/d", "Port out of range"),
    ("http://[::1/x", "Invalid IPv6 URL"),
    ("postgresql://u:p@h:port/d", "invalid URL"),
    ("postgresql:///d", "expected scheme://host"),
    ("postgresql://h/d\nx", "control characters"),
])
def test_external_urls(tmp_path, url, words):
    p = one(tmp_path, "services:\n  db:\n    kind: postgres\n    mode: external\n    url: " + json.dumps(url) + "\n")
    assert p.path == "services.db.url" and p.line == 5 and words in p.message, p


@pytest.mark.parametrize("expr, words", [
    ("{{ 1/0 }}", "ZeroDivisionError"),
    ("{{ db.url|wordwrap(0) }}", "invalid width 0"),
    ("{% include 'x' %}", "includes and imports are not allowed"),
    ("{% for i in range(9) %}{% for j in range(9) %}x{% endfor %}{% endfor %}", "loops are not allowed"),
    ("{% set s = 'ab' %}{{ s ~ s }}", "variables (`set`) are not allowed"),
    ("{{ 'a' * 10**9 }}", "too big"),
    ("{{ ((10**1000)**1000)**1000 }}", "too big"),
    ("{{ range(10**6)|join }}", "range() of more than"),
    ("{{ db.url|center(10**8) }}", "too big"),
    ("{{ '%0999999d'|format(1) }}", "format width"),
    ("{{ '{:>99999999}'.format(1) }}", "format width"),
    ("{{ lipsum(10000) }}", "`lipsum` is not a service"),
    ("{{ ''.__class__.__mro__ }}", "unsafe"),
    ("{{ db.url + 1 }}", "TypeError"),
    ("{{ cycler(1) }}", "is not a service"),
])
def test_env_expressions_fail_as_problems_in_bounded_time(tmp_path, expr, words):
    started = time.monotonic()
    p = one(tmp_path, "services:\n  db: {kind: postgres}\nenv:\n  X: " + json.dumps(expr) + "\n")
    assert time.monotonic() - started < 2
    assert p.path == "env.X" and p.line == 4 and words in p.message, p


def test_expressions_that_are_fine_still_render(tmp_path):
    p, _ = rendered(tmp_path, "services:\n  db: {kind: postgres, port: 25432}\nenv:\n"
                    "  A: \"{{ db.url|upper }}\"\n  B: \"{% if db.port > 5 %}big{% else %}small{% endif %}\"\n"
                    "  C: \"{{ '{}-{}'.format(db.port, 2) }}\"\n  D: \"{{ db.port|default(8080) }}\"\n")
    assert p.env["B"] == "big" and p.env["C"] == "25432-2" and p.env["D"] == "25432"


def test_a_non_bmp_value_keeps_the_compose_file_valid(tmp_path):
    _, text = rendered(tmp_path, 'services:\n  db: {kind: postgres, database: "\U0001f4a5", user: "\u00e9t\u00e9"}\n')
    service = yaml.safe_load(text)["services"]["db"]
    assert service["environment"]["POSTGRES_DB"] == "\U0001f4a5"
    assert service["environment"]["POSTGRES_USER"] == "\u00e9t\u00e9"


@pytest.mark.parametrize("port, words", [(-5, "outside 1-65535"), (0, "outside 1-65535"), (2**64, "outside 1-65535"),
                                         ("yes", "expected an integer")])
def test_port_range(tmp_path, port, words):
    p = one(tmp_path, f"services:\n  cache:\n    kind: redis\n    port: {port}\n")
    assert p.path == "services.cache.port" and p.line == 4 and words in p.message


def test_a_relay_range_must_fit(tmp_path):
    p = one(tmp_path, "services:\n  turn: {kind: coturn, relay_ports: 65530}\n")
    assert "65530-65545 is outside" in p.message


def test_one_fixed_port_on_two_services_names_both_lines(tmp_path):
    found = problems(tmp_path, "services:\n  a: {kind: redis, port: 26001}\n  b:\n    kind: redis\n    port: 26001\n"
                     "  c: {kind: coturn, port: 26001}\n  d: {kind: redis, port: 26001, mode: off}\n")
    assert [(p.path, p.line) for p in found] == [("services.b.port", 5), ("services.c.port", 6)]
    assert "also set for services.a.port (line 2)" in found[0].message


def test_tcp_and_udp_on_one_number_do_not_clash(tmp_path):
    load_manifest(write(tmp_path, "services:\n  a: {kind: redis, port: 26001}\n  sfu: {kind: livekit, rtc_udp_port: 26001}\n"))


@pytest.mark.parametrize("service, words", [
    ('cache: {kind: redis, password: "a\\nrequirepass x"}', "control characters"),
    ('cache: {kind: redis, password: "two words"}', "without spaces"),
    ('turn: {kind: coturn, realm: "a\\nb"}', "control characters"),
    ('sfu: {kind: livekit, api_key: "key #x"}', "letters, digits"),
    ('sfu: {kind: livekit, api_secret: "' + "s" * 32 + '\\u2028"}', "control characters"),
    ('mail: {kind: mailpit, user: "a\\rb"}', "control characters"),
    ('s3: {kind: minio, access_key: "a\\u0000b"}', "control characters"),
])
def test_values_that_end_up_in_config_files_cannot_add_lines(tmp_path, service, words):
    p = one(tmp_path, f"services:\n  {service}\n")
    assert p.line == 2 and words in p.message, p


def test_a_multiline_migrate_command_is_fine(tmp_path):
    m = load_manifest(write(tmp_path, "services:\n  db:\n    kind: postgres\n    migrate: |\n      npm run a\n      npm run b\n"))
    assert m.services["db"].options["migrate"] == "npm run a\nnpm run b\n"


def test_seed_glob_over_the_filesystem_is_refused_without_walking_it(tmp_path):
    started = time.monotonic()
    p = one(tmp_path, 'services:\n  cache:\n    kind: redis\n    seed: ["/**/*.json"]\n')
    assert time.monotonic() - started < 1
    assert p.path == "services.cache.seed.0" and p.line == 4 and "outside the project" in p.message
    assert "allow_outside_project" in p.hint


@pytest.mark.parametrize("entry", ["../outside.json", "seed/../../outside.json", "seed/*/../../../outside.json", "link/outside.json"])
def test_seed_paths_stay_inside_the_project(tmp_path, entry):
    project = tmp_path / "app"
    (project / "seed" / "x").mkdir(parents=True)
    (tmp_path / "outside.json").write_text("{}")
    (project / "link").symlink_to(tmp_path)
    p = one(project, f'services:\n  cache:\n    kind: redis\n    seed: ["{entry}"]\n')
    assert "outside the project" in p.message, p


def test_allow_outside_project_lets_a_listed_directory_in(tmp_path):
    project = tmp_path / "app"
    (tmp_path / "shared").mkdir()
    project.mkdir()
    (tmp_path / "shared" / "keys.json").write_text('{"a": "1"}')
    m = load_manifest(write(project, "allow_outside_project: [../shared]\nservices:\n"
                                      "  cache: {kind: redis, seed: [../shared/keys.json]}\nenv: {file: ../shared/.env}\n"))
    assert m.outside_dirs == [(tmp_path / "shared").resolve()]
    assert m.env_file == (tmp_path / "shared" / ".env").resolve()
    # ... and nothing else outside
    p = one(project, "allow_outside_project: [../shared]\nservices:\n  cache: {kind: redis, seed: [../other.json]}\n")
    assert "outside the project" in p.message


@pytest.mark.parametrize("value, words", [("../.env", "outside the project"), ("devstack.yaml", "the manifest itself"),
                                          ('"a\\nb"', "expected a file path")])
def test_env_file_is_written_inside_the_project(tmp_path, value, words):
    p = one(tmp_path, REDIS + f"env:\n  file: {value}\n")
    assert p.path == "env.file" and words in p.message


def test_a_glob_matching_too_much_is_bounded(tmp_path, monkeypatch):
    from devstack.seed import base

    monkeypatch.setattr(base, "MAX_SCANNED", 50)
    for i in range(60):
        (tmp_path / "data" / str(i)).mkdir(parents=True)
    p = one(tmp_path, 'services:\n  s3:\n    kind: minio\n    seed: {assets: "data/**"}\n')
    assert "matches more than" in p.message


def test_long_and_odd_names(tmp_path):
    found = problems(tmp_path, f"project: {'p' * 64}\nservices:\n  {'s' * 64}: {{kind: redis}}\n  {'k' * 500}: 1\n")
    assert [p.path.split(".")[0] for p in found] == ["project", "services", "services"]
    assert all(len(p.render("f")) < 400 for p in found)
