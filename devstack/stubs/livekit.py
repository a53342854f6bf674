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
from google.protobuf import json_format
from livekit.protocol import models, room as room_pb

from devstack.stubs import _serve

log = logging.getLogger("devstack.stubs.livekit")

PB = "application/protobuf"
# LiveKit's own `--dev` mode keys, used when LIVEKIT_KEYS is unset.
DEV_KEYS = "devkey: secret"


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
        self.path = os.path.join(state_dir, "rooms.json")
        self.rooms: dict[str, models.Room] = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                for d in json.load(f):
                    r = json_format.ParseDict(d, models.Room(), ignore_unknown_fields=True)
                    self.rooms[r.name] = r

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump([json_format.MessageToDict(r, preserving_proto_field_name=True)
                       for r in self.rooms.values()], f, indent=1)
        os.replace(tmp, self.path)


def _sid(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


def build_app(keys: dict[str, str], state_dir: str) -> web.Application:
    from livekit.api.access_token import TokenVerifier  # imports jwt; only the server needs it
    import jwt

    rooms = Rooms(state_dir)

    def claims_of(request):
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise TwirpError("unauthenticated", "no authorization header")
        token = auth[7:].strip()
        try:
            # iss names the API key; its secret then verifies signature, exp and iss.
            key = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if key not in keys:
                raise TwirpError("unauthenticated", "invalid API key")
            return TokenVerifier(key, keys[key]).verify(token)
        except jwt.PyJWTError as e:
            raise TwirpError("unauthenticated", f"invalid token: {e}") from None

    def require(claims, grant: str, room: str | None = None):
        video = claims.video
        ok = video is not None and getattr(video, grant)
        if ok and room is not None:  # roomAdmin is scoped to one room
            ok = video.room == room
        if not ok:
            raise TwirpError("unauthenticated", "permissions denied")

    def get(name: str) -> models.Room:
        if name not in rooms.rooms:
            raise TwirpError("not_found", "requested room does not exist")
        return rooms.rooms[name]

    def create_room(claims, req: room_pb.CreateRoomRequest):
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

    def list_rooms(claims, req: room_pb.ListRoomsRequest):
        require(claims, "room_list")
        names = set(req.names)
        return room_pb.ListRoomsResponse(
            rooms=[r for n, r in rooms.rooms.items() if not names or n in names])

    def delete_room(claims, req: room_pb.DeleteRoomRequest):
        require(claims, "room_create")
        get(req.room)
        del rooms.rooms[req.room]
        rooms.save()
        log.info("deleted room %s", req.room)
        return room_pb.DeleteRoomResponse()

    def list_participants(claims, req: room_pb.ListParticipantsRequest):
        require(claims, "room_admin", req.room)
        get(req.room)
        return room_pb.ListParticipantsResponse()  # no media server: nobody ever joins

    methods = {
        "CreateRoom": (room_pb.CreateRoomRequest, create_room),
        "ListRooms": (room_pb.ListRoomsRequest, list_rooms),
        "DeleteRoom": (room_pb.DeleteRoomRequest, delete_room),
        "ListParticipants": (room_pb.ListParticipantsRequest, list_participants),
    }

    async def twirp(request):
        try:
            if request.match_info["method"] not in methods:
                raise TwirpError("bad_route", f"no handler for path {request.path}")
            req_cls, fn = methods[request.match_info["method"]]
            claims = claims_of(request)
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
