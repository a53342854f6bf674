"""Each stub exposes build_app(...) for in-process use (no subprocess, no port)."""
import asyncio

from aiohttp.test_utils import TestClient, TestServer


def _get(app, path, headers=None):
    async def go():
        async with TestClient(TestServer(app)) as client:
            resp = await client.get(path, headers=headers)
            return resp.status, await resp.text()
    return asyncio.run(go())


def test_build_apps_in_process(tmp_path):
    from devstack.stubs import email_api, flags, livekit, mailcatcher, sink
    from devstack.stubs.stripe.app import Emulator, build_app

    (tmp_path / "flags.json").write_text('{"a": 1}')
    assert _get(flags.build_app(str(tmp_path / "flags.json")), "/config") == (200, '{"a": 1}')
    assert _get(sink.build_app(str(tmp_path)), "/api/events") == (200, "[]")
    inbox = mailcatcher.Inbox(str(tmp_path / "mail"))
    inbox.add(b"Subject: hi\r\nTo: a@b.c\r\n\r\nbody\r\n", "x@y.z", ["a@b.c"])
    status, body = _get(mailcatcher.build_app(inbox), "/api/v1/messages")
    assert status == 200 and '"Subject": "hi"' in body
    assert _get(email_api.build_app("k", "127.0.0.1", 1), "/healthz")[0] == 200
    assert _get(livekit.build_app({"k": "s" * 32}, str(tmp_path)), "/") == (200, "OK")
    emulator = Emulator(str(tmp_path / "stripe"), "sk_test_x", "pk_test_x", "whsec_x", "http://127.0.0.1:1")
    status, body = _get(build_app(emulator), "/v1/prices", headers={"Authorization": "Bearer sk_test_x"})
    assert status == 200 and '"object": "list"' in body
