import asyncio

import pytest
from livekit import api

KEYS = {"devkey": "devsecret-0123456789abcdef0123456789abc", "other": "othersecret-abcdef0123456789abcdef0123"}


@pytest.fixture
def livekit(start_stub, tmp_path, free_port):
    port = free_port()
    env = {"LIVEKIT_KEYS": "\n".join(f"{k}: {v}" for k, v in KEYS.items())}

    def start():
        return start_stub("livekit", "--port", port, "--state-dir", tmp_path / "lk", env=env,
                          ready=f"http://127.0.0.1:{port}/")
    stub = start()
    stub.url, stub.restart = f"http://127.0.0.1:{port}", start
    return stub


def test_room_service_with_python_sdk(livekit):
    async def scenario():
        async with api.LiveKitAPI(livekit.url, "devkey", KEYS["devkey"]) as lk:
            room = await lk.room.create_room(api.CreateRoomRequest(name="standup",
                                                                   max_participants=5))
            assert room.name == "standup" and room.sid.startswith("RM_")
            assert room.max_participants == 5 and room.creation_time > 0
            again = await lk.room.create_room(api.CreateRoomRequest(name="standup"))
            assert again.sid == room.sid  # create is idempotent, like LiveKit
            await lk.room.create_room(api.CreateRoomRequest(name="retro"))
            names = {r.name for r in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms}
            assert names == {"standup", "retro"}
            only = await lk.room.list_rooms(api.ListRoomsRequest(names=["retro"]))
            assert [r.name for r in only.rooms] == ["retro"]
            parts = await lk.room.list_participants(api.ListParticipantsRequest(room="standup"))
            assert list(parts.participants) == []
            await lk.room.delete_room(api.DeleteRoomRequest(room="retro"))
            with pytest.raises(api.TwirpError) as e:
                await lk.room.delete_room(api.DeleteRoomRequest(room="retro"))
            assert e.value.status == 404 and e.value.code == "not_found"
            rooms = (await lk.room.list_rooms(api.ListRoomsRequest())).rooms
            return [r.name for r in rooms]

    assert asyncio.run(scenario()) == ["standup"]

    # rooms persist in the state dir across restarts
    code, elapsed = livekit.stop()
    assert code == 0 and elapsed < 1.0
    livekit.restart()

    async def after_restart():
        async with api.LiveKitAPI(livekit.url, "other", KEYS["other"]) as lk:
            return [r.name for r in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms]
    assert asyncio.run(after_restart()) == ["standup"]


def test_wrong_secret_and_missing_grants(livekit, http):
    async def wrong_secret():
        async with api.LiveKitAPI(livekit.url, "devkey", "not-the-secret-0123456789abcdef012345") as lk:
            await lk.room.list_rooms(api.ListRoomsRequest())

    with pytest.raises(api.TwirpError) as e:
        asyncio.run(wrong_secret())
    assert e.value.status == 401 and e.value.code == "unauthenticated"

    url = f"{livekit.url}/twirp/livekit.RoomService/ListRooms"
    r = http("POST", url, json={})
    assert r.status == 401 and r.json()["code"] == "unauthenticated"
    unknown_key = api.AccessToken("nokey", "x" * 32).with_grants(api.VideoGrants(room_list=True))
    r = http("POST", url, json={}, headers={"Authorization": f"Bearer {unknown_key.to_jwt()}"})
    assert r.status == 401
    # a valid token without roomList, e.g. a participant join token
    join = api.AccessToken("devkey", KEYS["devkey"]).with_identity("ann").with_grants(
        api.VideoGrants(room_join=True, room="standup"))
    r = http("POST", url, json={}, headers={"Authorization": f"Bearer {join.to_jwt()}"})
    assert r.status == 401 and r.json() == {"code": "unauthenticated", "msg": "permissions denied"}


def test_json_encoding_like_node_sdk(livekit, http):
    def token(**grants):
        t = api.AccessToken("devkey", KEYS["devkey"]).with_grants(api.VideoGrants(**grants))
        return {"Authorization": f"Bearer {t.to_jwt()}"}

    base = f"{livekit.url}/twirp/livekit.RoomService"
    r = http("POST", f"{base}/CreateRoom", json={"name": "js-room", "emptyTimeout": 60},
             headers=token(room_create=True))
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["name"] == "js-room" and r.json()["empty_timeout"] == 60
    r = http("POST", f"{base}/ListRooms", json={}, headers=token(room_list=True))
    assert [room["name"] for room in r.json()["rooms"]] == ["js-room"]
    r = http("POST", f"{base}/ListParticipants", json={"room": "js-room"},
             headers=token(room_admin=True, room="other-room"))
    assert r.status == 401  # roomAdmin is scoped to its room
    r = http("POST", f"{base}/ListParticipants", json={"room": "js-room"},
             headers=token(room_admin=True, room="js-room"))
    assert r.status == 200
    r = http("POST", f"{base}/SendData", json={}, headers=token(room_admin=True))
    assert r.status == 404 and r.json()["code"] == "bad_route"
    r = http("POST", f"{base}/CreateRoom", json={"name": "numbers", "max_participants": "7"}, headers=token(room_create=True))
    assert r.status == 200 and r.json()["max_participants"] == 7 and r.json()["creation_time"].isdigit()  # int64 as a string
    for bad in ({"name": 5}, {"name": "x", "emptyTimeout": "soon"}, ["not", "an", "object"]):
        r = http("POST", f"{base}/CreateRoom", json=bad, headers=token(room_create=True))
        assert r.status == 400 and r.json()["code"] == "malformed", bad
    r = http("GET", livekit.url + "/")
    assert r.status == 200 and r.body == b"OK"


def test_tokens_are_checked_as_livekit_checks_them(livekit, http):
    """Expired, not-yet-valid, unsigned, tampered and exp-less tokens are refused (401)."""
    import base64
    import hashlib
    import hmac
    import json
    import time

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def signed(claims: dict, alg: str = "HS256", secret: str = KEYS["devkey"]) -> dict:
        head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
        mac = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
        return {"Authorization": f"Bearer {head}.{b64(mac)}"}

    url = f"{livekit.url}/twirp/livekit.RoomService/ListRooms"
    now = int(time.time())
    grant = {"iss": "devkey", "video": {"roomList": True}}
    assert http("POST", url, json={}, headers=signed({**grant, "exp": now + 600})).status == 200
    refused = [
        signed({**grant, "exp": now - 120}),  # expired beyond the minute of leeway
        signed({**grant, "exp": now + 600, "nbf": now + 300}),  # not valid yet
        signed(grant),  # no exp: would be valid forever
        signed({**grant, "exp": now + 600}, alg="none"),
        signed({**grant, "exp": now + 600}, secret=KEYS["other"]),  # signed with another key's secret
        {"Authorization": "Bearer not-a-jwt"},
    ]
    for headers in refused:
        r = http("POST", url, json={}, headers=headers)
        assert r.status == 401 and r.json()["code"] == "unauthenticated", headers
    # within the leeway, as LiveKit allows clock skew
    assert http("POST", url, json={}, headers=signed({**grant, "exp": now - 20})).status == 200
