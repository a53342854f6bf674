"""LiveKit SFU: livekit-server --dev in Docker; the binary or devstack's API stand-in natively."""

from __future__ import annotations

from devstack.services.base import Kind, Option, Port


class Livekit(Kind):
    name = "livekit"
    summary = "LiveKit SFU (rooms API + WebRTC)"
    modes = ("run", "stub", "off", "external")
    options = {
        "image": Option(str, "livekit/livekit-server:v1.9.0", "livekit-server image"),
        "api_key": Option(str, None, "API key; generated when unset", generate="alnum:16"),
        # LiveKit rejects secrets shorter than 32 characters.
        "api_secret": Option(str, None, "API secret (>= 32 characters); generated when unset", generate="alnum:48"),
        "bin": Option(str, None, "path of livekit-server for the native runtime (else devstack's stand-in)"),
    }
    ports = {"port": Port(7880), "rtc_tcp_port": Port(7881), "rtc_udp_port": Port(7882, "udp")}
    default_env = {
        "LIVEKIT_URL": "{{ url }}",
        "LIVEKIT_API_KEY": "{{ api_key }}",
        "LIVEKIT_API_SECRET": "{{ api_secret }}",
    }

    def outputs(self, svc, stack):
        port = svc.ports["port"]
        return {
            "url": f"ws://{svc.host}:{port}",
            "http_url": f"http://{svc.host}:{port}",
            "host": svc.host,
            "port": port,
            "api_key": svc.options["api_key"],
            "api_secret": svc.options["api_secret"],
        }

    def check(self, options):
        secret = options.get("api_secret")
        if secret is not None and len(secret) < 32:
            return [("api_secret", f"must be at least 32 characters (LiveKit refuses shorter), got {len(secret)}")]
        if ":" in (options.get("api_key") or ""):
            return [("api_key", "must not contain `:` (LIVEKIT_KEYS is `key: secret`)")]
        return []

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        # A real Twirp call with a signed token: proves the keys, not just the port.
        probes.http(o["http_url"] + "/twirp/livekit.RoomService/ListRooms", method="POST",
                    headers={"Authorization": f"Bearer {room_list_token(o)}", "Content-Type": "application/json"}, body=b"{}")


def room_list_token(outputs) -> str:
    from livekit import api

    return api.AccessToken(outputs["api_key"], outputs["api_secret"]).with_grants(api.VideoGrants(room_list=True)).to_jwt()
