"""Stand-in for LiveKit's server API (Twirp RoomService), for apps that manage rooms.

    LIVEKIT_KEYS="devkey: secret" python -m devstack.stubs.livekit --port 7880 --state-dir DIR

POST /twirp/livekit.RoomService/{CreateRoom,ListRooms,DeleteRoom,ListParticipants} in
protobuf (Python SDK) or JSON (Node SDK) encoding, authenticated like LiveKit: a
`Bearer` JWT signed with one of LIVEKIT_KEYS ("key: secret" lines), carrying the
grant each call needs. Rooms persist in DIR/rooms.json and, unlike real LiveKit,
never expire or get participants (no media server here). Readiness: GET / -> "OK".
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import string
import time

from aiohttp import web

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.livekit")

PB = "application/protobuf"
# LiveKit's own `--dev` mode keys, used when LIVEKIT_KEYS is unset.
DEV_KEYS = "devkey: secret"
LEEWAY = 60  # seconds of clock skew tolerated on exp/nbf, as livekit-api's TokenVerifier


def protocol():
    """(json_format, models, room_pb), imported on the first protobuf-encoded call
    (the Python SDK): protobuf and LiveKit's generated messages cost ~6 MB and
    ~0.1 s that JSON clients (the Node SDK, devstack's readiness probe) never need."""
    from google.protobuf import json_format
    from livekit.protocol import models, room as room_pb

    return json_format, models, room_pb


def parse_keys(text: str) -> dict[str, str]:
    """LiveKit's key file format: one `key: secret` per line."""
    keys = {}
    for line in text.splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            k, v = line.split(":", 1)
            keys[k.strip()] = v.strip()
    return keys


class TwirpError(Exception):
    STATUS = {"unauthenticated": 401, "not_found": 404, "bad_route": 404, "malformed": 400,
              "invalid_argument": 400}

    def __init__(self, code: str, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg

    def response(self) -> web.Response:
        # Twirp errors are always JSON, whatever the request encoding.
        return web.json_response({"code": self.code, "msg": self.msg},
                                 status=self.STATUS.get(self.code, 500))


# Rooms and messages are dicts in protobuf's JSON form with proto field names
# (what MessageToDict(preserving_proto_field_name=True) gives): int64 fields
# as strings, fields at their default value left out.
# Per method: (request message, response message in room_pb or models, the request fields read).
METHODS = {
    "CreateRoom": ("CreateRoomRequest", "Room", {"name": str, "empty_timeout": int, "departure_timeout": int,
                                                 "max_participants": int, "metadata": str}),
    "ListRooms": ("ListRoomsRequest", "ListRoomsResponse", {"names": list}),
    "DeleteRoom": ("DeleteRoomRequest", "DeleteRoomResponse", {"room": str}),
    "ListParticipants": ("ListParticipantsRequest", "ListParticipantsResponse", {"room": str}),
}
DEFAULTS = {str: "", int: 0, list: []}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def request_fields(data, fields: dict) -> dict:
    """The fields a handler reads, from a JSON request body (proto or lowerCamelCase
    names, as protobuf's JSON parser takes them; unknown fields ignored)."""
    if not isinstance(data, dict):
        raise TwirpError("malformed", "could not decode request: expected a JSON object")
    out = {}
    for name, kind in fields.items():
        value = data.get(name, data.get(_camel(name), DEFAULTS[kind]))
        if kind is int and isinstance(value, str) and value.isdigit():  # proto3 JSON: integers may be strings
            value = int(value)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and kind is list:
            ok = all(isinstance(item, str) for item in value)
        if not ok:
            raise TwirpError("malformed", f"could not decode request: {name}: expected {kind.__name__}, got {type(value).__name__}")
        out[name] = value
    return out


class Rooms:
    """name -> Room (a dict, see METHODS), saved as JSON after each change."""

    def __init__(self, state_dir: str):
        self.path = os.path.join(state_dir, "rooms.json")
        self.rooms: dict[str, dict] = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                for room in json.load(f):
                    self.rooms[room["name"]] = room

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(list(self.rooms.values()), f, indent=1)
        os.replace(tmp, self.path)


def _sid(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def verify(token: str, keys: dict[str, str]) -> dict:
    """The token's `video` grant (camelCase keys), checked as LiveKit checks it:
    HS256 signed with the secret of the key its `iss` names, `exp` required,
    `nbf` honoured, both with LEEWAY. By hand (hmac): PyJWT pulls in
    cryptography and livekit-api's TokenVerifier the whole SDK, ~20 MB per stand-in."""
    import base64
    import hashlib
    import hmac
    import time

    def part(text: str):
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    try:
        head, body, signature = token.split(".")
        header, claims = json.loads(part(head)), json.loads(part(body))
        mac = part(signature)
    except ValueError as e:  # binascii.Error and JSONDecodeError are ValueErrors
        raise TwirpError("unauthenticated", f"invalid token: not a JWT ({e})") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TwirpError("unauthenticated", "invalid token: not a JWT")
    key = claims.get("iss")
    if key not in keys:
        raise TwirpError("unauthenticated", "invalid API key")
    if header.get("alg") != "HS256":
        raise TwirpError("unauthenticated", "invalid token: The specified alg value is not allowed")
    expected = hmac.new(keys[key].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise TwirpError("unauthenticated", "invalid token: Signature verification failed")
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise TwirpError("unauthenticated", 'invalid token: Token is missing the "exp" claim')
    if exp <= now - LEEWAY:
        raise TwirpError("unauthenticated", "invalid token: Signature has expired")
    if isinstance(nbf, (int, float)) and nbf > now + LEEWAY:
        raise TwirpError("unauthenticated", "invalid token: The token is not yet valid (nbf)")
    video = claims.get("video")
    return video if isinstance(video, dict) else {}


GRANTS = {"room_create": "roomCreate", "room_list": "roomList", "room_admin": "roomAdmin"}


def build_app(keys: dict[str, str], state_dir: str) -> web.Application:
    rooms = Rooms(state_dir)

    def claims_of(request) -> dict:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise TwirpError("unauthenticated", "no authorization header")
        return verify(auth[7:].strip(), keys)

    def require(video: dict, grant: str, room: str | None = None):
        ok = bool(video.get(GRANTS[grant]))
        if ok and room is not None:  # roomAdmin is scoped to one room
            ok = video.get("room", "") == room
        if not ok:
            raise TwirpError("unauthenticated", "permissions denied")

    def get(name: str) -> dict:
        if name not in rooms.rooms:
            raise TwirpError("not_found", "requested room does not exist")
        return rooms.rooms[name]

    def create_room(claims, req):
        require(claims, "room_create")
        if not req["name"]:
            raise TwirpError("invalid_argument", "room name is required")
        if req["name"] not in rooms.rooms:  # like LiveKit: creating an existing room returns it
            now = time.time()
            room = {"sid": _sid("RM_"), "name": req["name"], "empty_timeout": req["empty_timeout"] or 300,
                    "departure_timeout": req["departure_timeout"] or 20, "max_participants": req["max_participants"],
                    "creation_time": str(int(now)), "metadata": req["metadata"], "creation_time_ms": str(int(now * 1000))}
            rooms.rooms[req["name"]] = {k: v for k, v in room.items() if v not in (0, "")}
            rooms.save()
            log.info("created room %s", req["name"])
        return rooms.rooms[req["name"]]

    def list_rooms(claims, req):
        require(claims, "room_list")
        names = set(req["names"])
        found = [r for n, r in rooms.rooms.items() if not names or n in names]
        return {"rooms": found} if found else {}

    def delete_room(claims, req):
        require(claims, "room_create")
        get(req["room"])
        del rooms.rooms[req["room"]]
        rooms.save()
        log.info("deleted room %s", req["room"])
        return {}

    def list_participants(claims, req):
        require(claims, "room_admin", req["room"])
        get(req["room"])
        return {}  # no media server: nobody ever joins

    handlers = {"CreateRoom": create_room, "ListRooms": list_rooms, "DeleteRoom": delete_room,
                "ListParticipants": list_participants}

    async def twirp(request):
        method = request.match_info["method"]
        is_json = request.content_type == "application/json"
        try:
            if method not in METHODS:
                raise TwirpError("bad_route", f"no handler for path {request.path}")
            request_message, response_message, fields = METHODS[method]
            claims = claims_of(request)
            body = await request.read()
            if is_json:
                try:
                    data = json.loads(body or b"{}")
                except ValueError as e:
                    raise TwirpError("malformed", f"could not decode request: {e}") from None
            else:
                json_format, _, room_pb = protocol()
                try:
                    message = getattr(room_pb, request_message).FromString(body)
                except Exception as e:  # noqa: BLE001 - protobuf's DecodeError
                    raise TwirpError("malformed", f"could not decode request: {e}") from None
                data = json_format.MessageToDict(message, preserving_proto_field_name=True)
            resp = handlers[method](claims, request_fields(data, fields))
        except TwirpError as e:  # the access log line shows the status; the body says why
            return e.response()
        if is_json:
            # Twirp's Go server answers with proto field names; the Node SDK parses both.
            return web.Response(text=json.dumps(resp, indent=2), content_type="application/json")
        json_format, models, room_pb = protocol()
        message = getattr(room_pb, response_message, None) or getattr(models, response_message)
        return web.Response(body=json_format.ParseDict(resp, message()).SerializeToString(), content_type=PB)

    async def health(request):
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/", health)
    app.router.add_post("/twirp/livekit.RoomService/{method}", twirp)
    return app


def main(argv=None) -> None:
    p = _serve.arg_parser("livekit", __doc__)
    p.add_argument("--port", type=int, default=7880)
    args = p.parse_args(argv)
    _serve.setup_logging("livekit")
    # LiveKit's dev secrets are short by design ("secret"); don't warn on every token.
    import warnings
    warnings.filterwarnings("ignore", message=".*HMAC key.*below the minimum")
    keys = parse_keys(_serve.env_secret("LIVEKIT_KEYS") or "")
    if not keys:
        log.warning("LIVEKIT_KEYS not set: using LiveKit's dev keys (%s)", DEV_KEYS.split(":")[0])
        keys = parse_keys(DEV_KEYS)
    app = build_app(keys, _serve.state_dir(args.state_dir))
    _serve.run(lambda: _serve.start_app(app, args.host, args.port))


if __name__ == "__main__":
    main()
