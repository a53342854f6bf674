"""devstack kind `echo`: an HTTP server that answers GET / with a greeting.

The Kind declares; devstack runs it. Natively this module is the server
(`python -m devstack_echo.kind HOST PORT FILE`); under Docker, echo.yaml.j2
beside it runs the same few lines in the official Python image.
"""

from __future__ import annotations

import sys

from devstack.errors import NotReady
from devstack.services.base import Kind, Option, Port
from devstack.services.spec import FileSpec, NativeSpec, python_env, python_module


class Echo(Kind):
    name = "echo"
    summary = "HTTP server that answers GET / with a greeting"
    options = {
        "greeting": Option(str, "hello", "what GET / answers"),
        "image": Option(str, "python:3.12-alpine", "image the docker runtime runs the server in"),
    }
    ports = {"port": Port(8080)}
    output_help = {
        "url": "http://host:port, the server's base URL",
        "host": "address it listens on",
        "port": "its HTTP port",
    }
    default_env = {"ECHO_URL": "{{ url }}"}
    docker = "python:3.12-alpine (or `image:`) running the server below"
    native_binary = "this Python, running devstack_echo.kind"

    def outputs(self, svc, stack):
        return {"url": f"http://{svc.host}:{svc.ports['port']}", "host": svc.host, "port": svc.ports["port"]}

    def check(self, options):
        return [("greeting", "must not be empty")] if not options["greeting"] else []

    def native(self, svc, stack, host):
        # Only a description: devstack writes the file (0644) and starts the process.
        greeting = svc.state_dir / "greeting.txt"
        return NativeSpec(
            argv=python_module(__name__, svc.host, svc.ports["port"], greeting),
            implementation="echo server (devstack-echo)",
            env=python_env(),
            cwd=svc.state_dir,
            files=[FileSpec(greeting, svc.options["greeting"], 0o644)],
        )

    def ready(self, svc, stack):
        from devstack import probes

        body = probes.http(svc.outputs["url"] + "/")
        if body.decode() != svc.options["greeting"]:
            raise NotReady(f"GET / answered {body[:40]!r}")


def serve(host: str, port: int, greeting_file: str) -> None:
    import http.server
    import signal

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = open(greeting_file, "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `devstack down` sends SIGTERM
    print(f"echo: listening on http://{host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
