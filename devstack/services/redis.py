"""Redis: the official image in Docker, host redis-server natively."""

from __future__ import annotations

from devstack.services.base import Kind, NotReady, Option, Port, url_quote


class Redis(Kind):
    name = "redis"
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

    def image(self, svc):
        return svc.options["image"] or f"redis:{svc.options['version']}"

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

    def ready(self, svc, stack):
        import redis

        o = svc.outputs
        try:
            redis.Redis(host=o["host"], port=o["port"], password=o["password"], socket_timeout=2, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            raise NotReady(str(exc)) from None
