"""TURN/STUN relay: coturn in Docker, host turnserver natively."""

from __future__ import annotations

from devstack.services.base import Kind, Option, Port

# coturn's entrypoint `eval`s its arguments: these would break or inject.
EVAL_UNSAFE = "$`\"'\\ "


class Coturn(Kind):
    name = "coturn"
    summary = "TURN/STUN server with REST-API (time-limited) credentials"
    options = {
        "image": Option(str, "coturn/coturn:4.6.3", "coturn image"),
        "secret": Option(str, None, "static-auth-secret for REST-API credentials; generated when unset", generate="alnum:32", forbid_chars=EVAL_UNSAFE),
        "realm": Option(str, "devstack.local", "TURN realm", forbid_chars=EVAL_UNSAFE),
        "bin": Option(str, None, "path of turnserver for the native runtime"),
    }
    # Relays need a port range; it is the same inside and outside the container.
    ports = {"port": Port(3478, "both"), "relay_ports": Port(0, "udp", count=16)}
    default_env = {
        "TURN_HOST": "{{ host }}",
        "TURN_PORT": "{{ port }}",
        "TURN_URL": "{{ url }}",
        "TURN_SECRET": "{{ secret }}",
        "TURN_REALM": "{{ realm }}",
    }
    output_help = {
        "host": "address the server listens on",
        "port": "STUN/TURN port (UDP and TCP)",
        "url": "turn:host:port",
        "stun_url": "stun:host:port",
        "secret": "static-auth-secret that signs REST-API (time-limited) credentials",
        "realm": "TURN realm",
        "relay_min": "first port of the relay range",
        "relay_max": "last port of the relay range",
    }
    docker = "coturn/coturn, pinned release"
    native_binary = "the host's turnserver (Debian: apt-get install coturn) with devstack's own config file"
    host_needs = {
        "clock": "TURN credentials carry an expiry time the server checks against its own clock",
        "dns": "clients reach the server by the name in TURN_HOST (and browsers by `localhost`)",
        "loopback": "STUN/TURN and the relayed media are UDP on the loopback interface",
    }

    def outputs(self, svc, stack):
        port = svc.ports["port"]
        relay = svc.ports["relay_ports"]
        return {
            "host": svc.host,
            "port": port,
            "url": f"turn:{svc.host}:{port}",
            "stun_url": f"stun:{svc.host}:{port}",
            "secret": svc.options["secret"],
            "realm": svc.options["realm"],
            "relay_min": relay,
            "relay_max": relay + self.ports["relay_ports"].count - 1,
        }

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        return (Wanted(
            names=("turnserver",), what="TURN server (turnserver, from coturn)", apt="coturn", brew="coturn",
            dirs=("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")),)

    def native(self, svc, stack, host):
        from devstack.services.spec import FileSpec, NativeSpec

        binary = host.find(self.wanted(svc)[0], svc.options["bin"])
        o = svc.outputs
        state = svc.state_dir
        # Our own config file, so /etc/turnserver.conf is never read; it holds only
        # the REST-API secret (0600), which must not show in `ps` like argv does.
        conf = state / "turnserver.conf"
        argv = [
            binary, "-c", str(conf),
            "--listening-ip", svc.host, "--relay-ip", svc.host,
            "--listening-port", str(o["port"]),
            "--min-port", str(o["relay_min"]), "--max-port", str(o["relay_max"]),
            "--realm", o["realm"],
            "--use-auth-secret",  # REST-API credentials: user "<expiry>:<name>", password base64(HMAC-SHA1)
            "--fingerprint",
            "--allow-loopback-peers",  # local peers (both ends on this machine)
            "--no-multicast-peers",
            "--no-cli", "--no-tls", "--no-dtls",
            "--pidfile", str(state / "turnserver.pid"),
            "--userdb", str(state / "turndb"),
            "--log-file", "stdout", "--simple-log",
        ]
        return NativeSpec(
            argv=argv,
            implementation=f"turnserver ({binary})",
            cwd=state,
            files=[FileSpec(conf, f"static-auth-secret={o['secret']}\n", 0o600)],
            stale_pidfiles=[state / "turnserver.pid"],
        )

    def ready(self, svc, stack):
        from devstack import probes

        probes.stun_binding(svc.outputs["host"], svc.outputs["port"])
