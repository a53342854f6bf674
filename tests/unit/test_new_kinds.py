"""mariadb, mysql, rabbitmq, memcached, nats: what they declare, what they refuse,
the MySQL statement splitter and the RabbitMQ fixture format (no servers here)."""

from __future__ import annotations

import pytest

from devstack import manifest, plan
from devstack.errors import ManifestError
from devstack.seed import mysqlsplit
from devstack.seed.base import Fixture, SeedError


def build(tmp_path, services: str):
    (tmp_path / "devstack.yaml").write_text(f"project: shop\nservices:\n{services}")
    return plan.build(manifest.load(tmp_path / "devstack.yaml"))


def problems(tmp_path, services: str) -> str:
    with pytest.raises(ManifestError) as info:
        build(tmp_path, services)
    return "\n".join(f"{p.path}: {p.message}" for p in info.value.problems)


def test_outputs_and_env_names(tmp_path):
    stack = build(tmp_path, "  db: {kind: mariadb, password: pw}\n  mq: {kind: rabbitmq, password: p/w, vhost: /}\n"
                            "  cache: {kind: memcached}\n  bus: {kind: nats, token: abcdefgh12}\n")
    assert stack.env["DATABASE_URL"] == f"mysql://app:pw@127.0.0.1:{stack.services['db'].ports['port']}/shop"
    assert stack.env["DB_USERNAME"] == "app" and stack.env["DB_DATABASE"] == "shop" and stack.env["DB_CONNECTION"] == "mysql"
    port = stack.services["mq"].ports["port"]
    assert stack.env["AMQP_URL"] == stack.env["RABBITMQ_URL"] == f"amqp://app:p%2Fw@127.0.0.1:{port}/%2F"
    assert stack.env["MEMCACHE_SERVERS"] == stack.env["MEMCACHED_SERVERS"] == f"127.0.0.1:{stack.services['cache'].ports['port']}"
    assert stack.env["NATS_URL"] == f"nats://abcdefgh12@127.0.0.1:{stack.services['bus'].ports['port']}"
    assert stack.services["db"].outputs["root_password"]  # generated


def test_a_name_another_kind_took_is_prefixed_not_replaced(tmp_path):
    stack = build(tmp_path, "  pg: {kind: postgres, password: a}\n  maria: {kind: mariadb, password: b}\n")
    assert stack.env["DATABASE_URL"].startswith("postgresql://")
    assert stack.env["MARIA_DATABASE_URL"].startswith("mysql://") and stack.env["MARIA_DB_HOST"] == "127.0.0.1"
    assert "DB_HOST" not in stack.env  # all of the second service's names are prefixed, not some


@pytest.mark.parametrize("service, expected", [
    ("{kind: mariadb, database: 'my-db'}", "invalid database name"),
    ("{kind: mariadb, user: root}", "not root"),
    ("{kind: mysql, password: \"it's\"}", "without ' or"),
    ("{kind: mariadb, version: latest}", "expected a version"),
    ("{kind: rabbitmq, user: guest}", "not guest"),
    ("{kind: rabbitmq, password: ' padded '}", "leading or trailing spaces"),
    ("{kind: memcached, memory_mb: 1}", "expected 8 to 65536"),
    ("{kind: nats, token: 'has\"quote'}", "letters, digits"),
    ("{kind: nats, token: \"line\\nbreak\"}", "control character"),
])
def test_bad_values_are_one_clear_problem(tmp_path, service, expected):
    text = problems(tmp_path, f"  svc: {service}\n")
    assert expected in text and "services.svc." in text, text


def test_mysql_statements_split_like_the_mysql_client():
    text = ("-- comment; with a semicolon\n/*!40101 SET NAMES utf8mb4 */;\n"
            "INSERT INTO t VALUES ('a;\\'b', \"c\"\"d;\", `e;f`); # trailing; comment\n"
            "DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.x = 1; END;;\nDELIMITER ;\n"
            "SELECT 1-1 /* inline; */ ;\nSELECT 2")
    found = mysqlsplit.split(text)
    lines = mysqlsplit.Lines(text)
    assert [lines.line(s.start) for s in found] == [2, 3, 5, 7, 8]
    assert found[1].text == "INSERT INTO t VALUES ('a;\\'b', \"c\"\"d;\", `e;f`)"
    assert found[2].text.endswith("SET NEW.x = 1; END")
    assert found[3].text == "SELECT 1-1 /* inline; */"


def fixture(tmp_path, name: str, text: str) -> Fixture:
    path = tmp_path / name
    path.write_text(text)
    return Fixture(path, name)


def test_rabbitmq_fixtures_parse_both_forms(tmp_path):
    from devstack.seed.rabbitmq import parse_file

    parsed = parse_file(fixture(tmp_path, "b.yaml", "exchanges: [{name: ev, type: topic}]\nqueues: [{name: q, type: quorum}]\n"
                                                  "bindings:\n  - {exchange: ev, queue: q, routing_key: 'a.*'}\n"
                                                  "  - {source: ev, destination: ev2, destination_type: exchange}\nusers: []\n"))
    assert parsed["exchanges"][0]["durable"] is True and parsed["queues"][0]["arguments"] == {"x-queue-type": "quorum"}
    assert [b["destination_type"] for b in parsed["bindings"]] == ["queue", "exchange"]


@pytest.mark.parametrize("text, expected", [
    ("queus: []\n", "b.yaml:1: unknown key `queus`"),
    ("queues:\n  - {name: q}\n  - {name: r, durble: true}\n", "b.yaml:3: queues[1]: unknown key `durble`"),
    ("exchanges: [{name: amq.direct}]\n", "the broker's own"),
    ("exchanges: [{name: e, type: topik}]\n", "unknown type 'topik'"),
    ("bindings: [{queue: q}]\n", "needs `exchange:`"),
    ("queues: {name: q}\n", "must be a list"),
])
def test_rabbitmq_fixture_mistakes_name_file_and_line(tmp_path, text, expected):
    from devstack.seed.rabbitmq import parse_file

    with pytest.raises(SeedError) as info:
        parse_file(fixture(tmp_path, "b.yaml", text))
    assert expected in info.value.message, info.value.message


def test_a_table_option_with_a_database_prefix_is_refused(tmp_path):
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "x.csv").write_text("a\n1\n")
    from devstack.project import load_manifest

    (tmp_path / "devstack.yaml").write_text("services:\n  db:\n    kind: mariadb\n    seed: [{file: seed/x.csv, table: other.x}]\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "devstack.yaml")
    text = "\n".join(f"{p.path}: {p.message}" for p in info.value.problems)
    assert "invalid table name" in text and "services.db.seed.0.table" in text, text


def test_rabbitmq_password_hash_is_rabbitmqs_salted_sha256():
    import base64
    import hashlib

    from devstack.services.rabbitmq import password_hash

    raw = base64.b64decode(password_hash("app", "secret"))
    assert len(raw) == 36 and raw[4:] == hashlib.sha256(raw[:4] + b"secret").digest()
    assert password_hash("app", "secret") == password_hash("app", "secret")  # the file is stable across starts
