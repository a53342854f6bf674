"""Clock, DNS and loopback sanity: only where a service in scope needs them
(the kinds declare it: Kind.host_needs, with the reason)."""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
import time

from devstack.doctor.findings import fail, ok, warn

TIME_ERROR = 5  # adjtimex(2): the kernel's clock is not synchronized
MAX_SKEW = 30.0  # seconds between this machine and a remote engine before tokens break
EARLIEST = time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, -1))  # a clock before this is plainly wrong


def checks(ctx):
    needs: dict[str, list[str]] = {}
    for svc in ctx.runs():
        for need, why in svc.kind.host_needs.items():
            needs.setdefault(need, []).append(f"{svc.name}: {why}")
    for need, reasons in needs.items():
        check = {"clock": clock, "dns": dns, "loopback": loopback}.get(need)
        if check is not None:
            yield from check(ctx, reasons)


def clock(ctx, reasons, state=None, now=None):
    now = time.time() if now is None else now
    why = "; ".join(reasons)
    if now < EARLIEST:
        yield fail("clock", "clock", f"the clock says {time.strftime('%Y-%m-%d', time.gmtime(now))} ({why})",
                   "set the time: `timedatectl set-ntp true` (or `date -s`)")
        return
    remote = ctx.rt.name == "docker" and ctx.rt.endpoint.remote
    # Sync matters only when the services run on another machine's clock.
    state = (kernel_clock_state() if remote else None) if state is None else state
    if state == TIME_ERROR and remote:
        yield warn("clock", "clock", f"this machine's clock is not synchronized with a time source, and the services run on another machine ({why})",
                   "turn time sync on: `timedatectl set-ntp true` (systemd-timesyncd), or install chrony")
    elif state == TIME_ERROR:
        # The app and the services read this same clock: tokens and credentials still agree.
        yield ok("clock", "clock", f"{time.strftime('%Y-%m-%d %H:%M:%S')}, not synchronized with a time source; "
                 "fine while the app and the services share this machine's clock")
    else:
        yield ok("clock", "clock", "synchronized" if state is not None else f"{time.strftime('%Y-%m-%d %H:%M:%S')}; the app and the services share this clock")
    if remote:
        yield from _engine_skew(ctx, now)


def kernel_clock_state() -> int | None:
    """adjtimex(2) with no changes: the kernel's clock state (5: unsynchronized); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)  # this process: libc included (find_library would run ldconfig)
        buffer = ctypes.create_string_buffer(512)  # struct timex (~208 bytes); modes = 0 only reads
        return libc.adjtimex(buffer)
    except (OSError, AttributeError):
        return None


def _engine_skew(ctx, now: float):
    import subprocess
    from datetime import datetime

    argv = ["docker"] + (["--context", ctx.rt.context] if ctx.rt.context else []) + ["info", "--format", "{{.SystemTime}}"]
    try:
        text = subprocess.run(argv, capture_output=True, text=True, timeout=15).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return
    # e.g. 2026-01-02T03:04:05.123456789Z or ...+01:00 (nanoseconds: too many digits for fromisoformat)
    match = re.match(r"(\S+?T\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        return
    skew = datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(2) in (None, "Z") else match.group(2))).timestamp() - now
    if abs(skew) > MAX_SKEW:
        yield fail("clock", "engine clock", f"the engine's clock is {skew:+.0f} s off this machine's: tokens minted here fail there",
                   "sync both clocks (`timedatectl set-ntp true` on each machine)")
    else:
        yield ok("clock", "engine clock", f"within {abs(skew):.0f} s of this machine's")


def dns(ctx, reasons, resolve=None):
    resolve = resolve or _addresses
    why = "; ".join(reasons)
    local = resolve("localhost")
    if "127.0.0.1" not in local:
        shown = ", ".join(sorted(local)) or "nothing"
        yield fail("dns", "localhost", f"`localhost` resolves to {shown}, not 127.0.0.1 ({why})",
                   "add `127.0.0.1 localhost` to /etc/hosts")
    else:
        yield ok("dns", "localhost", "resolves to 127.0.0.1")
    hosts = sorted({svc.host for svc in ctx.runs() if not _is_ip(svc.host)})
    for host in hosts:
        if not resolve(host):
            yield fail("dns", host, f"{host} (where the stack's ports are) does not resolve", f"fix DNS for {host}, or use its IP address in the docker context")


def _addresses(name: str) -> set[str]:
    try:
        return {info[4][0] for info in socket.getaddrinfo(name, None)}
    except (socket.gaierror, UnicodeError):
        return set()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def loopback(ctx, reasons):
    why = "; ".join(reasons)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            receiver.bind(("127.0.0.1", 0))
            receiver.settimeout(1.0)
            sender.sendto(b"devstack-doctor", receiver.getsockname())
            data, _ = receiver.recvfrom(64)
        if data != b"devstack-doctor":
            raise OSError("a different datagram came back")
    except OSError as exc:
        yield fail("loopback", "127.0.0.1", f"UDP over 127.0.0.1 does not work: {exc.strerror or exc} ({why})",
                   "bring the loopback interface up: `ip link set lo up` (and check the firewall lets UDP on lo through)")
        return
    yield ok("loopback", "127.0.0.1", "UDP round trip over 127.0.0.1 works")
