"""Memcached: the official image in Docker, the host's memcached natively. A cache:
nothing is kept across `down`/`up`, and there is nothing to seed."""

from __future__ import annotations

import socket

from devstack.services.base import Kind, NotReady, Option, Port, version_problems


class Memcached(Kind):
    name = "memcached"
    summary = "Memcached cache (in memory only: empty after every start; no auth, so loopback only)"
    options = {
        "version": Option((str, int), "1.6", "version; picks the image tag memcached:<version>"),
        "image": Option(str, None, "image to run instead of memcached:<version>"),
        "memory_mb": Option(int, 64, "cache size in megabytes (memcached -m)"),
        "bin": Option(str, None, "path of memcached for the native runtime"),
    }
    ports = {"port": Port(11211)}
    # MEMCACHE_SERVERS: what Rails' Dalli reads; MEMCACHED_SERVERS: the other common spelling.
    default_env = {"MEMCACHED_SERVERS": "{{ servers }}", "MEMCACHE_SERVERS": "{{ servers }}"}
    output_help = {
        "servers": "host:port, the server list MEMCACHED_SERVERS and MEMCACHE_SERVERS carry",
        "host": "address the server listens on",
        "port": "TCP port of the server (UDP is off)",
    }
    secret_outputs = ()
    docker = "memcached:<version>, the official image (or `image:`); UDP off, nothing kept (it is a cache)"
    native_binary = "the host's memcached (Debian: apt-get install memcached); as the `memcache` user when devstack runs as root"

    def image(self, svc):
        return svc.options["image"] or f"memcached:{svc.options['version']}"

    def outputs(self, svc, stack):
        return {"servers": f"{svc.host}:{svc.ports['port']}", "host": svc.host, "port": svc.ports["port"]}

    def external_outputs(self, svc):
        values = super().external_outputs(svc)
        return {"servers": f"{values['host']}:{values['port'] or 11211}", "host": values["host"], "port": values["port"] or 11211}

    def check(self, options):
        problems = version_problems(self, options)
        if not 8 <= options["memory_mb"] <= 65536:
            problems.append(("memory_mb", f"expected 8 to 65536 (megabytes), got {options['memory_mb']}"))
        return problems

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        return (Wanted(names=("memcached",), what="Memcached (memcached)", apt="memcached", brew="memcached",
                       dirs=("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"), version_args=("-V",)),)

    def native(self, svc, stack, host):
        from devstack.services.spec import NativeSpec

        binary = host.find(self.wanted(svc)[0], svc.options["bin"])
        return NativeSpec(
            # -U 0: no UDP (an amplification vector, and nothing uses it here).
            argv=[binary, "-l", svc.host, "-p", str(svc.ports["port"]), "-U", "0", "-m", str(svc.options["memory_mb"])],
            implementation=f"memcached ({binary})",
            user=host.run_as("memcache"),  # memcached refuses to run as root
            cwd=svc.state_dir,
        )

    def ready(self, svc, stack):
        o = svc.outputs
        version(o["host"], o["port"])


def version(host: str, port) -> str:
    """Readiness: memcached's `version` command over its text protocol."""
    try:
        with socket.create_connection((host, int(port)), timeout=1) as sock:
            sock.settimeout(2)
            sock.sendall(b"version\r\n")
            answer = sock.recv(256)
    except OSError as exc:
        raise NotReady(f"no connection ({exc.strerror or exc})") from None
    if not answer.startswith(b"VERSION "):
        raise NotReady(f"`version` answered {answer[:40]!r}")
    return answer[8:].strip().decode(errors="replace")
