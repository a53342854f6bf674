"""NATS with JetStream: the official image in Docker, the host's nats-server natively;
token auth, JetStream's store kept across `down`/`up`."""

from __future__ import annotations

import json
import re
import socket

from devstack.services.base import Kind, NotReady, Option, Port, url_quote, version_problems


class Nats(Kind):
    name = "nats"
    summary = "NATS messaging with JetStream (token auth)"
    options = {
        "version": Option((str, int), "2.10", "version; picks the image tag nats:<version>-alpine"),
        "image": Option(str, None, "image to run instead of nats:<version>-alpine (it needs a shell and wget)"),
        "token": Option(str, None, "the token clients authenticate with; generated when unset", generate="alnum:32"),
        "max_store_mb": Option(int, 1024, "JetStream's file store limit in megabytes"),
        "bin": Option(str, None, "path of nats-server for the native runtime"),
    }
    ports = {"port": Port(4222), "monitoring_port": Port(8222)}
    default_env = {"NATS_URL": "{{ url }}"}
    output_help = {
        "url": "nats://token@host:port, what NATS_URL carries (clients read the token from it)",
        "host": "address the server listens on",
        "port": "client port",
        "token": "the auth token",
        "monitoring_url": "http://host:monitoring_port, NATS's monitoring endpoints (/healthz, /varz, /jsz)",
        "monitoring_port": "port of the monitoring endpoints (no auth: loopback only)",
    }
    secret_outputs = ("token",)
    docker = ("nats:<version>-alpine, the official image (or `image:`; the default scratch-based tag has no shell for a "
              "healthcheck); the token in a 0600 config written from the env, JetStream store in a named volume")
    native_binary = "the host's nats-server (Debian: apt-get install nats-server); config with the token in a 0600 file"

    def image(self, svc):
        return svc.options["image"] or f"nats:{svc.options['version']}-alpine"

    def outputs(self, svc, stack):
        o = svc.options
        return {
            "url": f"nats://{url_quote(o['token'])}@{svc.host}:{svc.ports['port']}",
            "host": svc.host,
            "port": svc.ports["port"],
            "token": o["token"],
            "monitoring_url": f"http://{svc.host}:{svc.ports['monitoring_port']}",
            "monitoring_port": svc.ports["monitoring_port"],
        }

    def external_outputs(self, svc):
        values = super().external_outputs(svc)
        return {"url": values["url"], "host": values["host"], "port": values["port"], "token": values["user"],
                "monitoring_url": "", "monitoring_port": ""}

    def check(self, options):
        problems = version_problems(self, options)
        token = options.get("token")
        if token is not None and not re.match(r"^[A-Za-z0-9_.~-]{8,256}$", token):
            # it goes in a config file between quotes, and in the URL's user part
            problems.append(("token", "expected 8 to 256 letters, digits or `_.~-`"))
        if not 16 <= options["max_store_mb"] <= 1 << 20:
            problems.append(("max_store_mb", f"expected 16 to 1048576 (megabytes), got {options['max_store_mb']}"))
        return problems

    def compose_context(self, svc, stack):
        # printf's format: the token is its one %s argument (from the env).
        text = config("0.0.0.0", 4222, 8222, "/data", "TOKEN", svc.options["max_store_mb"])
        return {"config": text.replace('"TOKEN"', '"%s"').replace("\n", "\\n")}

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        return (Wanted(names=("nats-server",), what="NATS server (nats-server)", apt="nats-server", brew="nats-server",
                       dirs=("/usr/sbin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"), versions=">=2.2",  # JetStream
                       elsewhere="NATS releases: https://github.com/nats-io/nats-server/releases"),)

    def native(self, svc, stack, host):
        from devstack.services.spec import FileSpec, NativeSpec

        binary = host.find(self.wanted(svc)[0], svc.options["bin"])
        data = svc.state_dir / "data"
        conf = svc.state_dir / "nats.conf"
        text = config(svc.host, svc.ports["port"], svc.ports["monitoring_port"], str(data), svc.options["token"],
                      svc.options["max_store_mb"])
        return NativeSpec(
            argv=[binary, "-c", str(conf)],  # the token is in the 0600 file, never in argv (`ps` shows argv to everyone)
            implementation=f"nats-server ({binary})",
            cwd=data,
            dirs=[data],
            files=[FileSpec(conf, text, 0o600)],
        )

    def ready(self, svc, stack):
        o = svc.outputs
        ping(o["host"], o["port"], o["token"])
        jetstream_healthy(o["host"], o["monitoring_port"])


def config(host: str, port, monitoring_port, store_dir: str, token: str, max_store_mb: int) -> str:
    return "\n".join([
        f"listen: {json.dumps(f'{host}:{port}')}",
        f"http: {json.dumps(f'{host}:{monitoring_port}')}",
        f"jetstream {{ store_dir: {json.dumps(store_dir)}, max_file_store: {max_store_mb}MB }}",
        f"authorization {{ token: {json.dumps(token)} }}",
        "",
    ])


def ping(host: str, port, token: str) -> None:
    """Readiness: NATS's own protocol: INFO, CONNECT with the token, PING -> PONG."""
    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            sock.settimeout(3)
            reader = sock.makefile("rb")
            info = reader.readline()
            if not info.startswith(b"INFO "):
                raise NotReady(f"expected INFO, got {info[:40]!r}")
            hello = {"auth_token": token, "verbose": False, "pedantic": False, "protocol": 1, "name": "devstack-ready", "lang": "python"}
            sock.sendall(b"CONNECT " + json.dumps(hello).encode() + b"\r\nPING\r\n")
            answer = reader.readline()
    except OSError as exc:
        raise NotReady(f"no connection ({exc.strerror or exc})") from None
    if not answer.startswith(b"PONG"):
        raise NotReady(f"PING answered {answer.strip()[:80]!r}")


def jetstream_healthy(host: str, port) -> None:
    from devstack import probes

    probes.http(f"http://{host}:{port}/healthz?js-enabled-only=true")  # NotReady until JetStream is up
