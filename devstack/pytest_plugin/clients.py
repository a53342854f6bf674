"""What the per-test fixtures hand a test: connection values plus a ready client.

Clients are imported when a test asks for one (boto3, stripe, livekit-api are
slow to import and not every suite needs them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def http_json(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None, timeout: float = 10):
    import json
    import urllib.request

    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip()[:1] in (b"{", b"[") else raw


@dataclass
class Database:
    """devstack_postgres: this worker's database, in the seeded state when the test starts."""

    url: str
    name: str
    host: str
    port: int
    user: str
    password: str

    def connect(self, **kwargs):
        import psycopg

        return psycopg.connect(self.url, **kwargs)


@dataclass
class RedisDb:
    """devstack_redis: a logical database of this worker's own, holding the seeded keys."""

    url: str
    host: str
    port: int
    password: str
    db: int

    def client(self, **kwargs):
        import redis

        return redis.Redis.from_url(self.url, **kwargs)

    def __str__(self) -> str:
        return self.url


@dataclass
class Bucket:
    """devstack_bucket: a bucket of this test's own, holding the seeded objects."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    seeded_from: str | None = None  # the manifest's bucket whose seeded objects it holds

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region)

    def keys(self) -> list[str]:
        s3 = self.client()
        return [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.name)
                for item in page.get("Contents", [])]


class Inbox:
    """devstack_inbox: the mail the app sent during this test (mailpit's API).

    Without xdist the inbox is emptied before each test. Under xdist all workers
    share one inbox, so it shows only messages that arrived since this test
    began, and `wait_for(to=...)` with an address of the test's own picks its mail.
    """

    def __init__(self, url: str, clear: bool):
        self.url = url
        if clear:
            self.clear()
        self._before = set() if clear else {m["ID"] for m in self._all()}

    def _call(self, path: str, method: str = "GET"):
        return http_json(self.url + path, method=method)

    def _all(self) -> list[dict]:
        return self._call("/api/v1/messages?limit=0")["messages"]

    def messages(self) -> list[dict]:
        """Summaries of this test's messages, newest first."""
        return [m for m in self._all() if m["ID"] not in self._before]

    def latest(self) -> dict:
        """The newest message of this test, in full (Text, HTML, headers)."""
        found = self.messages()
        if not found:
            raise AssertionError(f"no mail arrived in the inbox at {self.url} during this test")
        return self.message(found[0]["ID"])

    def message(self, message_id: str) -> dict:
        import urllib.parse

        return self._call(f"/api/v1/message/{urllib.parse.quote(message_id)}")

    def clear(self) -> None:
        self._call("/api/v1/messages", method="DELETE")

    def wait_for(self, to: str | None = None, subject: str | None = None, timeout: float = 10.0) -> dict:
        """The first message of this test to `to` (any of To/Cc/Bcc) whose subject is `subject`
        (or contains it); waits up to `timeout` seconds for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.messages()
            for summary in reversed(seen):  # oldest first
                if _matches(summary, to, subject):
                    return self.message(summary["ID"])
            if time.monotonic() > deadline:
                wanted = " and ".join(x for x in (f"to {to}" if to else "", f"subject {subject!r}" if subject else "") if x)
                got = "; ".join(f"{_addresses(m)} {m['Subject']!r}" for m in seen) or "none"
                raise AssertionError(f"no mail {wanted or 'at all'} within {timeout:g}s (this test's mail: {got})")
            time.sleep(0.05)


def _addresses(summary: dict) -> list[str]:
    return [a["Address"].lower() for key in ("To", "Cc", "Bcc") for a in summary.get(key) or []]


def _matches(summary: dict, to: str | None, subject: str | None) -> bool:
    if to and to.lower() not in _addresses(summary):
        return False
    if subject and subject != summary.get("Subject") and subject not in (summary.get("Subject") or ""):
        return False
    return True


@dataclass
class Stripe:
    """devstack_stripe: the local Stripe, and the events this test caused.

    `client` is a stripe-python StripeClient on the local API; `api_base` and
    `secret_key` configure any other SDK the same way.
    """

    api_base: str
    secret_key: str
    publishable_key: str
    webhook_secret: str
    started: int = 0  # unix time the test began
    _before: set = field(default_factory=set)

    @property
    def client(self):
        import stripe

        return stripe.StripeClient(self.secret_key, base_addresses={"api": self.api_base, "files": self.api_base,
                                                                     "connect": self.api_base})

    def _list_events(self) -> list[dict]:
        import urllib.parse

        headers = {"Authorization": f"Bearer {self.secret_key}"}
        events, after = [], None
        while True:
            query = {"created[gte]": str(self.started), "limit": "100", **({"starting_after": after} if after else {})}
            page = http_json(f"{self.api_base}/v1/events?{urllib.parse.urlencode(query)}", headers=headers)
            events += page.get("data", [])
            if not page.get("has_more") or not page.get("data"):
                return events
            after = page["data"][-1]["id"]

    def mark(self) -> None:
        """Called as the test starts: events from before it are not this test's."""
        self.started = int(time.time())
        self._before = {event["id"] for event in self._list_events()}

    def events(self, type: str | None = None) -> list[dict]:
        """Events created since the test began (oldest first), optionally of one type."""
        found = [e for e in self._list_events() if e["id"] not in self._before and (type is None or e.get("type") == type)]
        return sorted(found, key=lambda e: (e.get("created", 0), e["id"]))


@dataclass
class LiveKit:
    """devstack_livekit: the local LiveKit: tokens, and a server API client (livekit-api)."""

    url: str  # ws://... for client SDKs
    http_url: str
    api_key: str
    api_secret: str
    room_prefix: str  # rooms named with room() are this test's; they are deleted afterwards

    def room(self, name: str = "room") -> str:
        return f"{self.room_prefix}-{name}"

    def token(self, identity: str, room: str | None = None, ttl: int = 3600, **grants) -> str:
        """An access token for a participant (video grants: room_join, can_publish, ...)."""
        from datetime import timedelta

        from livekit import api

        video = api.VideoGrants(room_join=True, room=room or self.room(), **grants)
        return (api.AccessToken(self.api_key, self.api_secret).with_identity(identity)
                .with_grants(video).with_ttl(timedelta(seconds=ttl)).to_jwt())

    def api(self):
        """livekit.api.LiveKitAPI on the local server (async: use it inside a coroutine)."""
        from livekit import api

        return api.LiveKitAPI(self.http_url, self.api_key, self.api_secret)

    def cleanup(self) -> None:
        import asyncio

        from livekit import api

        async def delete_mine():
            async with self.api() as lk:
                rooms = (await lk.room.list_rooms(api.ListRoomsRequest())).rooms
                for room in rooms:
                    if room.name.startswith(self.room_prefix + "-"):
                        await lk.room.delete_room(api.DeleteRoomRequest(room=room.name))

        asyncio.run(delete_mine())


def turn_credentials(outputs: dict, user: str, ttl: int = 3600) -> dict:
    """TURN REST API credentials (coturn's use-auth-secret), shaped as an RTCIceServer."""
    import base64
    import hashlib
    import hmac

    username = f"{int(time.time()) + ttl}:{user}"
    credential = base64.b64encode(hmac.new(str(outputs["secret"]).encode(), username.encode(), hashlib.sha1).digest()).decode()
    host, port = outputs["host"], outputs["port"]
    return {"urls": [f"turn:{host}:{port}?transport=udp", f"turn:{host}:{port}?transport=tcp", f"stun:{host}:{port}"],
            "username": username, "credential": credential, "ttl": ttl, "host": host, "port": int(port),
            "realm": outputs.get("realm")}


class StubLog:
    """The requests a devstack stand-in (flags, email API, analytics/error sinks) received during this test."""

    def __init__(self, service: str, url: str, after: int, events_url: str | None = None, started: float = 0.0):
        self.service, self.url, self.after = service, url, after
        self.events_url, self.started = events_url, started

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict]:
        """Oldest first: {"seq", "ts", "method", "path", "query", "headers", "body", "status"}."""
        found = http_json(f"{self.url}/_devstack/requests?after={self.after}")["requests"]
        return [r for r in found if (path is None or r["path"] == path) and (method is None or r["method"] == method.upper())]

    def events(self) -> list[dict]:
        """Analytics / error-tracking stand-ins: the events they decoded during this test."""
        if not self.events_url:
            raise AssertionError(f"{self.service} records requests, not events: use .requests()")
        return [e for e in http_json(self.events_url) if _after(e.get("ts"), self.started)]


def _after(stamp, started: float) -> bool:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() >= started
    except ValueError:
        return True


def last_request_seq(url: str) -> int:
    return int(http_json(f"{url}/_devstack/requests?after=-1&limit=0")["last"])
