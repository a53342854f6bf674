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
    """(json_format, models, room_pb), imported on the first API call: protobuf and
    LiveKit's generated messages cost ~5 MB and ~50 ms of start-up that an idle stack never uses."""
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


class Rooms:
    """name -> livekit.Room, saved as JSON (proto field names) after each change."""

    def __init__(self, state_dir: str):
        json_format, models, _ = protocol()
        self.path = os.path.join(state_dir, "rooms.json")
        self.rooms: dict = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                for d in json.load(f):
                    r = json_format.ParseDict(d, models.Room(), ignore_unknown_fields=True)
                    self.rooms[r.name] = r

    def save(self) -> None:
        json_format = protocol()[0]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump([json_format.MessageToDict(r, preserving_proto_field_name=True)
                       for r in self.rooms.values()], f, indent=1)
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
    state: dict = {}

    def loaded():
        """Rooms and the protocol, on the first API call (see `protocol`)."""
        if not state:
            state["rooms"] = Rooms(state_dir)
            state["json_format"], state["models"], state["room_pb"] = protocol()
        return state

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

    def get(name: str):
        rooms = state["rooms"]
        if name not in rooms.rooms:
            raise TwirpError("not_found", "requested room does not exist")
        return rooms.rooms[name]

    def create_room(claims, req):
        rooms, models = state["rooms"], state["models"]
        require(claims, "room_create")
        if not req.name:
            raise TwirpError("invalid_argument", "room name is required")
        if req.name not in rooms.rooms:  # like LiveKit: creating an existing room returns it
            now = time.time()
            rooms.rooms[req.name] = models.Room(
                sid=_sid("RM_"), name=req.name, empty_timeout=req.empty_timeout or 300,
                departure_timeout=req.departure_timeout or 20,
                max_participants=req.max_participants, metadata=req.metadata,
                creation_time=int(now), creation_time_ms=int(now * 1000))
            rooms.save()
            log.info("created room %s", req.name)
        return rooms.rooms[req.name]

    def list_rooms(claims, req):
        rooms = state["rooms"]
        require(claims, "room_list")
        names = set(req.names)
        return state["room_pb"].ListRoomsResponse(
            rooms=[r for n, r in rooms.rooms.items() if not names or n in names])

    def delete_room(claims, req):
        rooms = state["rooms"]
        require(claims, "room_create")
        get(req.room)
        del rooms.rooms[req.room]
        rooms.save()
        log.info("deleted room %s", req.room)
        return state["room_pb"].DeleteRoomResponse()

    def list_participants(claims, req):
        require(claims, "room_admin", req.room)
        get(req.room)
        return state["room_pb"].ListParticipantsResponse()  # no media server: nobody ever joins

    methods = {  # method -> (request message name, handler)
        "CreateRoom": ("CreateRoomRequest", create_room),
        "ListRooms": ("ListRoomsRequest", list_rooms),
        "DeleteRoom": ("DeleteRoomRequest", delete_room),
        "ListParticipants": ("ListParticipantsRequest", list_participants),
    }

    async def twirp(request):
        try:
            if request.match_info["method"] not in methods:
                raise TwirpError("bad_route", f"no handler for path {request.path}")
            message, fn = methods[request.match_info["method"]]
            claims = claims_of(request)
            json_format = loaded()["json_format"]
            req_cls = getattr(state["room_pb"], message)
            body = await request.read()
            is_json = request.content_type == "application/json"
            try:
                req = json_format.Parse(body or b"{}", req_cls(), ignore_unknown_fields=True) \
                    if is_json else req_cls.FromString(body)
            except (json_format.ParseError, ValueError) as e:
                raise TwirpError("malformed", f"could not decode request: {e}") from None
            resp = fn(claims, req)
        except TwirpError as e:  # the access log line shows the status; the body says why
            return e.response()
        if is_json:
            # Twirp's Go server answers with proto field names; the Node SDK parses both.
            return web.Response(text=json_format.MessageToJson(
                resp, preserving_proto_field_name=True), content_type="application/json")
        return web.Response(body=resp.SerializeToString(), content_type=PB)

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
