"""Memory of an idle Rail Gun stack (native), then under a bounded request loop.

1. `devstack up` of the Rail Gun example (seeded, as `make up` leaves it), a
   few seconds of quiet, then the proportional set size (PSS, from
   /proc/PID/smaps_rollup: private pages plus each shared page divided by the
   number of processes sharing it) of every process of every service: the
   leader in its pid file and every process of its session. The stand-ins fork
   from one pre-warmed helper, so the pages they share count once in their sum.
   Target: devstack's stand-ins (python -m devstack.stubs.*) under 64 MB together.
2. A request loop on loopback against every stand-in, one request in flight at
   a time with a pause between (bounded: a few hundred requests a second at
   most): Stripe lists, S3 GETs and signed listings, the inbox API and an SMTP
   EHLO/NOOP, signed LiveKit ListRooms calls, the flags document. First a
   warm-up (--warmup requests per stand-in: caches, allocator pools and the
   flags stand-in's request log, bounded at 2000 entries, fill), then PSS is
   sampled every --every seconds for --duration seconds (default 10 minutes).
   Target: no growth: the last samples within 1 MB of the first (per process,
   medians of three) and the stand-ins' total within 2 MB.

    python bench/memory.py [--duration 600] [--every 30] [--warmup 2500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import Verdict
from _native import command_name, pss_kib, railgun_project, service_processes

TOTAL_TARGET_MB = 64.0
GROWTH_PER_PROCESS_MB, GROWTH_TOTAL_MB = 1.0, 2.0


def stand_ins(root: Path) -> set[str]:
    """Services whose leader runs one of devstack's stand-ins (python -m devstack.stubs.X)."""
    found = set()
    for pid_file in (root / ".devstack").glob("*/pid"):
        argv = json.loads(pid_file.read_text()).get("argv", [])
        if any(str(a).startswith("devstack.stubs.") for a in argv):
            found.add(pid_file.parent.name)
    return found


def sample(root: Path) -> dict[tuple[str, int], int]:
    return {(svc, pid): kib for svc, pids in service_processes(root).items() for pid in pids if (kib := pss_kib(pid)) is not None}


def outputs(root: Path) -> dict:
    from devstack import manifest, plan

    here = os.getcwd()
    os.chdir(root)
    try:
        built = plan.build(manifest.load(root / "devstack.yaml"))
    finally:
        os.chdir(here)
    return {name: dict(svc.outputs) for name, svc in built.services.items()}


def requests(out: dict):
    """One callable per stand-in; each makes one request (or one short SMTP session)."""
    import smtplib
    import urllib.request

    from devstack import probes
    from devstack.services.livekit import room_list_token

    def get(url, headers=None, method="GET", body=None):
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    stripe, s3, mail, sfu, flags = out["stripe"], out["s3"], out["mail"], out["sfu"], out["flags"]
    bearer = {"Authorization": f"Bearer {stripe['secret_key']}"}
    bucket = f"{s3['endpoint']}/{s3['bucket']}"
    state = {"n": 0}

    def stripe_call():
        get(f"{stripe['api_base']}/v1/prices?limit=3" if state["n"] % 2 else f"{stripe['api_base']}/v1/customers?limit=3", bearer)

    def s3_call():
        if state["n"] % 2:
            get(f"{bucket}/avatars/{state['n'] % 10 + 1}.png")  # the public bucket: anonymous reads
        else:
            probes.s3_list_buckets(s3["endpoint"], s3["access_key"], s3["secret_key"], s3["region"])  # signed

    def mail_call():
        if state["n"] % 10 == 0:
            with smtplib.SMTP(mail["smtp_host"], mail["smtp_port"], timeout=10) as smtp:
                smtp.ehlo()
                smtp.noop()
        else:
            get(f"{mail['url']}/api/v1/messages?limit=5")

    def sfu_call():
        token = room_list_token(sfu)
        get(f"{sfu['http_url']}/twirp/livekit.RoomService/ListRooms", {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            "POST", b"{}")

    def flags_call():
        get(flags["url"] + "/")

    calls = {"stripe": stripe_call, "s3": s3_call, "mail": mail_call, "sfu": sfu_call, "flags": flags_call}

    def one_round():
        state["n"] += 1
        for call in calls.values():
            call()

    return one_round, list(calls)


def mb(kib: float) -> str:
    return f"{kib / 1024:6.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of the measured request loop (default 600)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between PSS samples")
    parser.add_argument("--warmup", type=int, default=2500, help="requests to each stand-in before the first sample")
    parser.add_argument("--pause", type=float, default=0.005, help="seconds between rounds of requests (bounds the rate)")
    args = parser.parse_args()
    verdict = Verdict("memory")
    with tempfile.TemporaryDirectory(prefix="devstack-bench-memory-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "DEVSTACK_HOME": str(base / "home"), "DEVSTACK_RUNTIME": "native"}
        project = railgun_project(base, env)
        try:
            project.cli("up")
            time.sleep(3)
            ours = stand_ins(project.root)
            idle = sample(project.root)
            print("idle Rail Gun stack, native: PSS of every process (MB)")
            for (svc, pid), kib in sorted(idle.items()):
                print(f"  {svc:<8} {pid:>7} {command_name(pid):<16} {mb(kib)}{'   stand-in' if svc in ours else ''}")
            standin_total = sum(kib for (svc, _), kib in idle.items() if svc in ours)
            print(f"  stand-ins ({len(ours)}): {mb(standin_total)}   every process: {mb(sum(idle.values()))}")
            verdict.check("idle stand-ins, PSS total", f"{standin_total / 1024:.1f} MB", f"< {TOTAL_TARGET_MB:.0f} MB",
                          standin_total / 1024 < TOTAL_TARGET_MB)

            one_round, names = requests(outputs(project.root))
            print(f"\nwarm-up: {args.warmup} requests to each of {', '.join(names)} ...", flush=True)
            t0 = time.monotonic()
            for _ in range(args.warmup):
                one_round()
                time.sleep(args.pause)
            rounds = args.warmup
            print(f"  {args.warmup * len(names)} requests in {time.monotonic() - t0:.0f} s")
            series = [sample(project.root)]
            print(f"request loop for {args.duration:.0f} s, PSS of the stand-ins every {args.every:.0f} s:", flush=True)
            start = next_sample = time.monotonic()
            next_sample += args.every
            while time.monotonic() - start < args.duration:
                one_round()
                rounds += 1
                time.sleep(args.pause)
                if time.monotonic() >= next_sample:
                    series.append(sample(project.root))
                    next_sample += args.every
                    total = sum(kib for (svc, _), kib in series[-1].items() if svc in ours)
                    print(f"  {time.monotonic() - start:5.0f} s  {rounds * len(names):>8} requests  stand-ins {mb(total)}", flush=True)
            series.append(sample(project.root))
        finally:
            project.down(volumes=True)

    first, last = series[:3], series[-3:]
    keys = sorted(k for k in series[0] if k[0] in ours and all(k in s for s in series))
    print("\nper stand-in process, after warm-up -> end (medians of three samples):")
    worst = 0.0
    for key in keys:
        before, after = statistics.median(s[key] for s in first), statistics.median(s[key] for s in last)
        worst = max(worst, (after - before) / 1024)
        print(f"  {key[0]:<8} {mb(before)} -> {mb(after)}   ({(after - before) / 1024:+.2f} MB)")
    total_before = statistics.median(sum(s[k] for k in keys) for s in first)
    total_after = statistics.median(sum(s[k] for k in keys) for s in last)
    growth = (total_after - total_before) / 1024
    print(f"  stand-ins total {mb(total_before)} -> {mb(total_after)} after {rounds * len(names)} requests")
    verdict.check("growth, worst stand-in", f"{worst:+.2f} MB", f"<= {GROWTH_PER_PROCESS_MB:.0f} MB", worst <= GROWTH_PER_PROCESS_MB)
    verdict.check("growth, stand-ins total", f"{growth:+.2f} MB", f"<= {GROWTH_TOTAL_MB:.0f} MB", growth <= GROWTH_TOTAL_MB)
    return verdict.exit_code()


if __name__ == "__main__":
    sys.exit(main())
