"""LiveKit SFU: livekit-server --dev in Docker; the binary or devstack's API stand-in natively."""

from __future__ import annotations

import re

from devstack.services.base import Kind, Option, Port


class Livekit(Kind):
    name = "livekit"
    summary = "LiveKit SFU (rooms API + WebRTC)"
    modes = ("run", "stub", "off", "external")
    standin_when_no_binary = True
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
    output_help = {
        "url": "ws://host:port, what LIVEKIT_URL carries",
        "http_url": "http://host:port, for the server API (Twirp)",
        "host": "address the server listens on",
        "port": "signalling / API port",
        "api_key": "API key",
        "api_secret": "API secret that signs access tokens",
    }
    docker = "livekit/livekit-server --dev, pinned release"
    native_binary = "a livekit-server binary when one is installed (`bin:`, PATH), --dev"
    standin = "devstack's LiveKit API stand-in (python -m devstack.stubs.livekit): the Twirp RoomService with LiveKit's token checks"
    standin_lacks = "media (no WebRTC, no participants join); rooms never expire"
    host_needs = {
        "clock": "access tokens carry not-before and expiry times the server checks against its own clock",
        "dns": "the app and browsers reach the server by the name in LIVEKIT_URL (often `localhost`)",
        "loopback": "WebRTC media runs over UDP on the loopback interface",
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
        problems = []
        secret = options.get("api_secret")
        if secret is not None and len(secret) < 32:
            problems.append(("api_secret", f"must be at least 32 characters (LiveKit refuses shorter), got {len(secret)}"))
        for key in ("api_key", "api_secret"):
            value = options.get(key)
            if value is not None and not re.match(r"^[A-Za-z0-9_.~+/=-]+$", value):
                # LiveKit reads LIVEKIT_KEYS (`key: secret`) as YAML: `:`, `#`, quotes or spaces would change it
                problems.append((key, "use letters, digits and `_ . ~ + / = -` only (LIVEKIT_KEYS is read as YAML `key: secret`)"))
        return problems

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        return (Wanted(names=("livekit-server",), what="livekit-server", brew="livekit", dirs=("/usr/local/bin", "/opt/homebrew/bin"),
                       elsewhere="LiveKit's release binaries: `curl -sSL https://get.livekit.io | bash`"),)

    def native(self, svc, stack, host):
        from devstack.services.spec import FileSpec, NativeSpec, python_env, python_module

        o = svc.outputs
        state = svc.state_dir
        keys = {"LIVEKIT_KEYS": f"{o['api_key']}: {o['api_secret']}"}  # env, not argv
        binary = host.optional_for(svc, self.wanted(svc)[0])
        if binary:
            conf = state / "livekit.yaml"
            text = "\n".join([
                f"port: {o['port']}",
                f"bind_addresses: ['{svc.host}']",
                "rtc:",
                f"  tcp_port: {svc.ports['rtc_tcp_port']}",
                f"  udp_port: {svc.ports['rtc_udp_port']}",
                "  use_external_ip: false",
                f"  node_ip: {svc.host}",
                "",
            ])
            return NativeSpec(
                argv=[binary, "--dev", "--config", str(conf)],
                implementation=f"livekit-server --dev ({binary})",
                env=keys, cwd=state,
                files=[FileSpec(conf, text, 0o600)],
            )
        # devstack's stand-in for LiveKit's server API (Twirp RoomService; no media).
        return NativeSpec(
            argv=python_module("devstack.stubs.livekit", "--host", svc.host, "--port", o["port"], "--state-dir", state / "data"),
            implementation="devstack LiveKit API stand-in (rooms API, no media)",
            env={**python_env(), **keys},
            cwd=state,
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        # A real Twirp call with a signed token: proves the keys, not just the port.
        probes.http(o["http_url"] + "/twirp/livekit.RoomService/ListRooms", method="POST",
                    headers={"Authorization": f"Bearer {room_list_token(o)}", "Content-Type": "application/json"}, body=b"{}")


def room_list_token(outputs, ttl: int = 600) -> str:
    """An HS256 JWT with the roomList grant, as livekit-api's AccessToken makes it.

    Built with the standard library: importing livekit.api (aiohttp, protobuf)
    or PyJWT costs a few hundred ms in every `up`/`status` that probes LiveKit.
    """
    import base64
    import hashlib
    import hmac
    import json
    import time

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"video": {"roomList": True}, "sub": "", "iss": outputs["api_key"], "nbf": now, "exp": now + ttl}
    signing_input = ".".join(b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = hmac.new(str(outputs["api_secret"]).encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"
