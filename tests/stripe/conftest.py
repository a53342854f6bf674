"""The Stripe emulator in a real stack (`devstack up`, native runtime), a webhook receiver that
verifies every delivery with stripe-python, and stripe-node / playwright-core from npm.

The receiver answers 200 only to a delivery that stripe.Webhook.construct_event accepts with
the project's webhook secret, and checks the same delivery is refused under a wrong secret.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.runtime.conftest import finish, make_stack

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = "/usr/bin/chromium"
WEBHOOK_PATH = "/billing/webhook"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """The app's webhook route (+ a success page for Checkout redirects) on 127.0.0.1."""

    def __init__(self, secret: str | None = None, port: int | None = None):
        self.secret = secret
        self.port = port or free_port()
        self.events: list[dict] = []
        self.refused_wrong_secret = 0
        self.bad: list[str] = []
        self.pages: list[str] = []
        self.answer = 200  # what a verified delivery gets (500: the app is failing)
        self.lock = threading.Condition()
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.verify(body, self.headers.get("Stripe-Signature"))
                self.send_response(status)
                self.end_headers()
                self.wfile.write({200: b'{"received": true}', 400: b'{"error": "bad signature"}'}.get(status, b'{"error": "app failed"}'))

            def do_GET(self):  # success_url / cancel_url / pages for the browser tests
                receiver.pages.append(self.path)
                page = receiver.static.get(self.path.split("?")[0])
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if page else "text/plain")
                self.end_headers()
                self.wfile.write((page or f"landed on {self.path}").encode())

            def log_message(self, *args):
                pass

        self.static = getattr(self, "static", {})
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def verify(self, body: bytes, header: str | None) -> int:
        import stripe

        try:
            event = stripe.Webhook.construct_event(body, header, self.secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            self.bad.append(str(exc))
            return 400
        try:
            stripe.Webhook.construct_event(body, header, "whsec_not_the_projects")
        except stripe.SignatureVerificationError:
            self.refused_wrong_secret += self.answer == 200
        if self.answer != 200:
            return self.answer
        with self.lock:
            self.events.append(json.loads(body))
            self.lock.notify_all()
        assert event.id
        return 200

    def types(self) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events]

    def wait(self, type_: str, where=lambda obj: True, timeout: float = 15.0) -> dict:
        """The first event of that type whose data.object satisfies `where`."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for event in self.events:
                    if event["type"] == type_ and where(event["data"]["object"]):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {type_} event arrived in {timeout}s; got {[e['type'] for e in self.events]}")
                self.lock.wait(left)


class StripeStack:
    """A project whose only service is the emulator, run by `devstack up` (native runtime)."""

    def __init__(self, stack, receiver: Receiver):
        self.stack, self.receiver = stack, receiver
        out = stack.outputs()["stripe"]
        self.api_base, self.secret_key = out["api_base"], out["secret_key"]
        self.publishable_key, self.webhook_secret = out["publishable_key"], out["webhook_secret"]
        self.port = int(out["port"])
        receiver.secret = self.webhook_secret

    def client(self):
        import stripe

        return stripe.StripeClient(self.secret_key, base_addresses={"api": self.api_base}, max_network_retries=0)

    def cli(self, *args, check: bool = True):
        result = self.stack.cli("stripe", *args, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"devstack stripe {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}\n"
                                 f"emulator log (port {self.port}):\n{self.log()[-3000:]}")
        return result

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until no delivery is pending (e.g. the seed's events), so a test starts from quiet."""
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            req = urllib.request.Request(f"{self.api_base}/_devstack/stripe/events?limit=500",
                                         headers={"Authorization": f"Bearer {self.secret_key}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                pending = [d for e in json.load(r)["data"] for d in e["deliveries"] if d["state"] == "pending"]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"deliveries still pending after {timeout}s: {pending[:3]}")
            time.sleep(0.1)

    def log(self) -> str:
        path = self.stack.state / "stripe" / "log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


MANIFEST = """\
project: {project}
services:
  stripe:
    port: {port}  # not the well-known 12111: other stacks on this machine may want it
    seed: [seed/stripe.yaml]
    webhooks:
      - url: {url}
        events: ["*"]
"""


def railgun_seed() -> str:
    return (REPO / "fixtures" / "railgun" / "seed" / "stripe.yaml").read_text()


@pytest.fixture(scope="module")
def stripe_stack(tmp_path_factory):
    """One running emulator per test module (up with the Rail Gun seed), torn down with `down --volumes`."""
    root = tmp_path_factory.mktemp("stripe-app")
    home = tmp_path_factory.mktemp("stripe-home")
    receiver = Receiver().start()
    stack = make_stack(root / "app", home, MANIFEST.format(project="billing", url=receiver.url, port=free_port()))
    (stack.root / "seed").mkdir()
    (stack.root / "seed" / "stripe.yaml").write_text(railgun_seed())
    try:
        billing = StripeStack(stack, receiver)  # plans first: the receiver knows the webhook secret before `up` seeds
        stack.cli("up")
        billing.settle()  # the seed's events are delivered before the first test
        yield billing
    finally:
        try:
            finish(stack)
        finally:
            receiver.stop()


@pytest.fixture
def receiver(stripe_stack):
    """The module's receiver, emptied for this test."""
    r = stripe_stack.receiver
    with r.lock:
        r.events.clear()
        r.bad.clear()
        r.refused_wrong_secret = 0
    yield r
    assert not r.bad, f"deliveries failed verification: {r.bad}"
    assert r.refused_wrong_secret == len(r.events), "a wrong secret verified a delivery"


def node_modules() -> Path:
    """npm ci into tests/stripe/node (git-ignored node_modules) once; node 20+ is required."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node (20 or later) is required for the stripe-node tests: install nodejs")
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"stripe-node needs node 20 or later, found {major}")
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True, timeout=600)
    return NODE_DIR


@pytest.fixture(scope="session")
def node_dir():
    return node_modules()


def run_node(script: str, env: dict, timeout: float = 120) -> dict:
    """Run a script of tests/stripe/node; its last stdout line is a JSON result."""
    result = subprocess.run(["node", str(NODE_DIR / script)], cwd=NODE_DIR, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"node {script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: apt-get install chromium")
    return CHROMIUM
