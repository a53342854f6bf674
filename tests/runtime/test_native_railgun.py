"""The README's first command on a machine with no Docker engine: `devstack up`
on the Rail Gun example brings the whole stack up as local processes."""

from __future__ import annotations

import shutil
import smtplib
import stat
import urllib.request

from tests.conftest import ROOT
from tests.runtime.conftest import finish, make_stack, needs_servers

pytestmark = needs_servers


def test_railgun_up_from_a_fresh_copy_with_no_docker_engine(tmp_path, devstack_home):
    project = tmp_path / "railgun"
    shutil.copytree(ROOT / "fixtures" / "railgun", project, ignore=shutil.ignore_patterns(".devstack", ".env"))
    stack = make_stack(project, devstack_home, (project / "devstack.yaml").read_text())
    no_engine = {"DEVSTACK_RUNTIME": "", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    try:
        result = stack.cli("up", env=no_engine, timeout=180)  # as the README runs it: seeds too
        assert "railgun on native" in result.stderr and "ready in" in result.stderr
        env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines() if "=" in line and not line.startswith("#"))
        assert env["DATABASE_URL"].startswith("postgresql://railgun:") and env["ANALYTICS_ENABLED"] == "false"
        states = stack.status()
        running = {n: s["state"] for n, s in states.items() if s["mode"] != "off"}
        assert set(running.values()) == {"ready"}, running
        assert states["analytics"]["state"] == "off"
        assert "already up" in stack.cli("up", env=no_engine).stderr
        with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=10) as smtp:  # a stored mail too
            smtp.login(env["SMTP_USER"], env["SMTP_PASS"])
            smtp.sendmail(env["EMAIL_FROM"], ["someone@example.test"], "Subject: hi\r\n\r\nprivate\r\n")
        assert_private(stack)
        # the seeded assets, as the app's pages link them: anonymous GETs under CDN_BASE_URL
        with urllib.request.urlopen(env["CDN_BASE_URL"] + "/community-icons/synthwave.png", timeout=10) as response:
            assert response.status == 200 and response.read() == (project / "seed/s3/railgun-assets/community-icons/synthwave.png").read_bytes()
            assert response.headers["Content-Type"] == "image/png"
    finally:
        finish(stack)


def assert_private(stack) -> None:
    """Nothing under the state dir or the project's dir in the data root is
    readable or writable by other users: files 0600 (or 0400/0700), dirs 0700.

    One exception, by need: dirs in the data root on the way to a server's data
    dir (the data root, its cache and the project's dir there) are 0711, so the
    unprivileged account postgres runs as can pass through them to its own
    0700 data dir; that bit lets nobody list or read them.
    """
    roots = [stack.state, *stack.data_root_dirs()]
    assert len(roots) == 2, roots  # postgres's data lives in the data root (tests run as root)
    traversed = {roots[1], roots[1].parent, roots[1].parent / "cache"}
    found, loose = 0, []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            if path.is_symlink():
                continue  # .devstack/db/data -> the data root: a link's own mode means nothing
            mode = stat.S_IMODE(path.lstat().st_mode)
            found += 1
            allowed = 0o011 if path in traversed else 0
            if mode & 0o077 & ~allowed:
                loose.append(f"{oct(mode)} {path}")
    for path in traversed:
        assert stat.S_IMODE(path.stat().st_mode) & 0o066 == 0, path
    kinds = {p.name for p in stack.state.rglob("*")}
    assert {"pid", "log", "redis.redis", "index.sqlite3", "state.json"} <= kinds, kinds  # the stores were there
    assert list(stack.state.glob("mail/data/messages/*.eml")) and list(stack.state.glob("s3/data/blobs/*/*"))
    assert found > 100 and not loose, "readable or writable by other users:\n" + "\n".join(loose)
