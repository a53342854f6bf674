"""Doctor's pure parts: version ranges, install lines, the host checks' verdicts."""

from __future__ import annotations

import shutil

import pytest

from devstack.doctor import hostcheck, install, versions


@pytest.mark.parametrize("version, spec, ok", [
    ("20.11.1", ">= 20", True),
    ("18.19.0", ">= 20", False),
    ("1.4.2", ">=1.2, <2", True),
    ("2.0.0", ">=1.2, <2", False),
    ("6.1", "==6", True),
    ("7.0.15", "==7", True),
    ("15.18", "==16", False),
    ("7.0", "^6.1", False),
    ("15.4", "~=15.2", True),
    ("20.1.0", "> 20", False),  # npm's reading: >20 is >=21
    ("3.11.7", "*", True),
])
def test_version_ranges(version, spec, ok):
    assert versions.satisfies(version, spec) is ok


@pytest.mark.parametrize("text, version", [
    ("v18.19.0\n", "18.19.0"),
    ("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0", "7.0.15"),
    ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", "15.18"),
    ("go version go1.22.1 linux/amd64", "1.22.1"),
    ("openjdk version \"17.0.9\" 2023-10-17", "17.0.9"),
    ("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024", "5.1.6"),
])
def test_version_parsing(text, version):
    assert versions.parse(text) == version


def test_debian_versions_and_lowest_major():
    assert versions.debian_upstream("7:5.1.4-0+deb12u1") == "5.1.4"
    assert versions.debian_upstream("18.20.4+dfsg-1~deb12u2") == "18.20.4"
    assert versions.lowest_major(">= 20") == 20
    assert versions.lowest_major(">18, <23") == 19
    assert versions.lowest_major("< 3") is None


@pytest.mark.skipif(not shutil.which("apt-cache"), reason="apt platforms only (Debian/Ubuntu)")
def test_node_install_line_follows_what_apt_offers():
    """Debian 12's nodejs is 18: for node >= 20 the line must not be `apt-get install nodejs`."""
    route = install.KNOWN_TOOLS["node"]
    line = install.install_line(route.apt, route.brew, route.pip, ">= 20", route.other)
    offered = install.apt_versions("nodejs")
    assert offered, "apt knows no nodejs package here"
    if any(versions.satisfies(v, ">= 20") for v, _ in offered):
        assert line.startswith("`apt-get install -y")
    else:
        assert "apt-get install -y nodejs`" not in line.split("NodeSource")[0]
        assert "setup_20.x" in line and "nvm install 20" in line
        assert f"(apt's nodejs is {offered[0][0]}, outside >= 20)" in line
    old_enough = install.install_line(route.apt, route.brew, route.pip, ">= 12", route.other)
    assert old_enough.startswith("`apt-get install -y nodejs`")


class _Ctx:
    class rt:
        name = "native"

    @staticmethod
    def runs():
        return []


def test_clock_verdicts():
    year_2000 = 946684800.0
    [wrong] = hostcheck.clock(_Ctx, ["turn: why"], state=0, now=year_2000)
    assert wrong.level == "fail" and "2000-01-01" in wrong.message and "timedatectl set-ntp true" in wrong.fix
    [unsynced] = hostcheck.clock(_Ctx, ["turn: why"], state=hostcheck.TIME_ERROR)
    assert unsynced.level == "ok" and "share this machine's clock" in unsynced.message
    [synced] = hostcheck.clock(_Ctx, ["turn: why"], state=0)
    assert synced.level == "ok" and synced.message == "synchronized"

    class Remote(_Ctx):
        class rt:
            name, context = "docker", "nowhere"

            class endpoint:
                remote = True

    unsynced, *_ = hostcheck.clock(Remote, ["turn: why"], state=hostcheck.TIME_ERROR)
    assert unsynced.level == "warn" and "services run on another machine" in unsynced.message
    assert "timedatectl set-ntp true" in unsynced.fix


def test_dns_verdicts():
    [bad] = hostcheck.dns(_Ctx, ["sfu: why"], resolve=lambda name: {"::1"})
    assert bad.level == "fail" and "resolves to ::1, not 127.0.0.1" in bad.message
    assert bad.fix == "add `127.0.0.1 localhost` to /etc/hosts"
    [good] = hostcheck.dns(_Ctx, ["sfu: why"])  # this machine's resolver
    assert good.level == "ok"
