"""The pytest plugin on a real (native) stack: each test is isolated from the others."""

from __future__ import annotations



pytest_plugins = ["pytester"]

MANIFEST = """\
project: plugin-demo
runtime: native
services:
  db: {kind: postgres}
  cache: {kind: redis}
  s3: {kind: minio, buckets: [app]}
  mail: {kind: mailpit, mode: stub}
"""

TESTS = '''
import smtplib

def test_writes_a_row(devstack_postgres):
    with devstack_postgres.connect() as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")

def test_sees_no_row_of_the_other_test(devstack_postgres):
    with devstack_postgres.connect() as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone()[0] is None

def test_redis_is_empty_and_not_the_apps(devstack_redis, devstack):
    import redis
    client = redis.Redis.from_url(devstack_redis)
    assert client.dbsize() == 0
    client.set("k", "v")
    assert not devstack_redis.endswith("/0")

def test_bucket_is_private(devstack_bucket):
    s3 = devstack_bucket.client()
    s3.put_object(Bucket=devstack_bucket.name, Key="a.txt", Body=b"hi")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=devstack_bucket.name)["Contents"]] == ["a.txt"]

def test_inbox_starts_empty_and_catches_mail(devstack_inbox, devstack_env):
    import os
    assert devstack_inbox.messages() == []
    with smtplib.SMTP(os.environ["SMTP_HOST"], int(os.environ["SMTP_PORT"])) as smtp:
        smtp.login(os.environ["SMTP_USER"], os.environ["SMTP_PASSWORD"])
        smtp.sendmail("a@example.test", ["b@example.test"], "Subject: hello\\n\\nbody")
    assert devstack_inbox.latest()["Subject"] == "hello"
'''


def test_fixtures_isolate_tests(pytester, cli):
    pytester.makefile(".yaml", devstack=MANIFEST)
    pytester.makepyfile(test_app=TESTS)
    try:
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=5)
    finally:
        cli("down", "--volumes", cwd=pytester.path)
