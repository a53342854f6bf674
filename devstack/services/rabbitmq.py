"""RabbitMQ: the official -management image in Docker, the host's rabbitmq-server
(Debian: rabbitmq-server) natively, with everything it keeps in the project's state."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from devstack.services.base import Kind, NotReady, Option, Port, url_quote, version_problems

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Rabbitmq(Kind):
    name = "rabbitmq"
    seeder = "devstack.seed.rabbitmq"
    seed_spec = "devstack.seed.specs:RabbitmqSpec"
    summary = "RabbitMQ message broker (AMQP 0-9-1, management API)"
    options = {
        "version": Option((str, int), "4.1", "version; picks the image tag rabbitmq:<version>-management"),
        "image": Option(str, None, "image to run instead of rabbitmq:<version>-management"),
        "user": Option(str, "app", "user the app connects as (administrator; the guest user is never created)"),
        "password": Option(str, None, "password of `user`; generated when unset", generate="password"),
        "vhost": Option(str, "/", "virtual host the app uses (created, `user` has all permissions on it)"),
        "erlang_cookie": Option(str, None, "Erlang cookie of the native node (for rabbitmqctl); generated when unset", generate="alnum:32"),
        "bin": Option(str, None, "path of rabbitmq-server for the native runtime"),
    }
    ports = {
        "port": Port(5672),
        "management_port": Port(15672),
        "dist_port": Port(25672),  # Erlang distribution (rabbitmqctl), native runtime only
        "epmd_port": Port(4369),  # the node's own epmd, native runtime only: two stacks never share one
    }
    default_env = {"AMQP_URL": "{{ url }}", "RABBITMQ_URL": "{{ url }}"}
    output_help = {
        "url": "amqp://user:password@host:port/vhost (vhost URL-encoded), what AMQP_URL and RABBITMQ_URL carry",
        "host": "address the broker listens on",
        "port": "AMQP port",
        "user": "user the app connects as",
        "password": "that user's password",
        "vhost": "the app's virtual host",
        "management_url": "http://host:management_port, the management UI and HTTP API (log in as user)",
        "management_port": "port of the management UI and HTTP API",
    }
    docker = ("rabbitmq:<version>-management, the official image (or `image:`); RABBITMQ_DEFAULT_USER/PASS/VHOST, "
              "`rabbitmq-diagnostics -q ping`, data in a named volume")
    native_binary = ("the host's rabbitmq-server (Debian: apt-get install rabbitmq-server), with its node, epmd, "
                     "config, plugins file and cookie in the project's state; as the `rabbitmq` user when devstack runs as root")

    def image(self, svc):
        return svc.options["image"] or f"rabbitmq:{svc.options['version']}-management"

    def outputs(self, svc, stack):
        o = svc.options
        return {
            "url": f"amqp://{url_quote(o['user'])}:{url_quote(o['password'])}@{svc.host}:{svc.ports['port']}/{url_quote(o['vhost'])}",
            "host": svc.host,
            "port": svc.ports["port"],
            "user": o["user"],
            "password": o["password"],
            "vhost": o["vhost"],
            "management_url": f"http://{svc.host}:{svc.ports['management_port']}",
            "management_port": svc.ports["management_port"],
        }

    def external_outputs(self, svc):
        import urllib.parse

        values = super().external_outputs(svc)
        vhost = urllib.parse.unquote(urllib.parse.urlsplit(svc.options["url"]).path[1:]) or "/"
        values.pop("database")
        return {**values, "vhost": vhost, "management_url": "", "management_port": ""}

    def check(self, options):
        problems = version_problems(self, options)
        if not NAME_RE.match(options["user"]) or options["user"] == "guest":
            problems.append(("user", f"invalid user {options['user']!r}: letters, digits, `_.-`, at most 64, not guest"))
        vhost = options["vhost"]
        if not vhost or len(vhost) > 255:
            problems.append(("vhost", "must be 1 to 255 characters"))
        password = options.get("password")
        if password is not None and (not password or password != password.strip()):
            problems.append(("password", "must be non-empty, without leading or trailing spaces (rabbitmq.conf trims them)"))
        cookie = options.get("erlang_cookie")
        if cookie is not None and not re.match(r"^[A-Za-z0-9]{16,255}$", cookie):
            problems.append(("erlang_cookie", "expected 16 to 255 letters and digits"))
        return problems

    # -- native ----------------------------------------------------------------------
    def wanted(self, svc):
        from devstack.services.spec import Wanted

        # No version probe: rabbitmq-server has no --version, it would start a node.
        return (Wanted(names=("rabbitmq-server",), what="RabbitMQ server (rabbitmq-server)", apt="rabbitmq-server", brew="rabbitmq",
                       dirs=("/usr/lib/rabbitmq/bin", "/opt/homebrew/sbin", "/usr/local/sbin"), version_args=(),
                       elsewhere="RabbitMQ's own apt repositories: https://www.rabbitmq.com/docs/install-debian"),
                Wanted(names=("epmd",), what="Erlang's epmd (comes with rabbitmq-server)", apt="erlang-base", brew="erlang",
                       dirs=("/usr/lib/erlang/bin", "/opt/homebrew/bin", "/usr/local/bin"), version_args=()))

    def native(self, svc, stack, host):
        from devstack.services.spec import FileSpec, NativeSpec

        server_wanted, epmd_wanted = self.wanted(svc)
        server = real_server(host.find(server_wanted, svc.options["bin"]))
        epmd = host.find(epmd_wanted)
        user = host.run_as("rabbitmq")
        placed = host.data_dir(svc, stack, user)
        base = placed.path
        etc, home = base / "etc", base / "home"
        o = svc.outputs
        node = f"devstack-{hashlib.sha256(str(base).encode()).hexdigest()[:10]}@localhost"
        env = {
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": node,
            "RABBITMQ_NODE_IP_ADDRESS": svc.host,
            "RABBITMQ_NODE_PORT": str(svc.ports["port"]),
            "RABBITMQ_DIST_PORT": str(svc.ports["dist_port"]),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            "RABBITMQ_CONFIG_FILE": str(etc / "rabbitmq.conf"),
            "RABBITMQ_CONFIG_FILES": str(etc / "conf.d"),  # not /etc/rabbitmq/conf.d
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(etc / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(etc / "rabbitmq-env.conf"),  # not /etc/rabbitmq/rabbitmq-env.conf
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(etc / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": svc.host,
            "ERL_EPMD_PORT": str(svc.ports["epmd_port"]),
            # The node must not start a daemonized epmd (it would outlive `down`): the
            # wrapper runs one in the service's process group. Distribution on loopback.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
        }
        files = [
            FileSpec(etc / "rabbitmq.conf", rabbitmq_conf(svc, etc), 0o600, owned_by_user=True),
            FileSpec(etc / "definitions.json", definitions(o), 0o600, owned_by_user=True),
            FileSpec(etc / "enabled_plugins", "[rabbitmq_management].\n", 0o600, owned_by_user=True),
            FileSpec(etc / "rabbitmq-env.conf", "", 0o600, owned_by_user=True),
            FileSpec(home / ".erlang.cookie", svc.options["erlang_cookie"], 0o400, owned_by_user=True),
        ]
        return NativeSpec(
            argv=["sh", "-c", WRAPPER, "devstack-rabbitmq", str(home), epmd, server],
            implementation=f"rabbitmq-server ({server})",
            env=env,
            user=user,
            cwd=base,
            data=placed,
            dirs=[etc, home, base / "mnesia", base / "log"],
            files=files,
            bootstrap=lambda: drop_guest(o),
            stale_pidfiles=[base / "rabbitmq.pid"],
            hint="RabbitMQ logs its reason at the end of `devstack logs <service>`; `devstack down --volumes` starts over (deletes the data)",
            ready_timeout=180.0,  # an Erlang node boots in 5-20 s; more on a busy machine
            start_first=True,
        )

    def ready(self, svc, stack):
        o = svc.outputs
        amqp_login(o["host"], o["port"], o["user"], o["password"], o["vhost"])
        management(o, "GET", "/api/whoami")


# $1 HOME (the cookie's dir), $2 epmd, $3 rabbitmq-server. epmd runs in the
# foreground of this process group (stopped with it by `down`); the node starts
# once epmd answers, so it never launches a daemonized one of its own.
WRAPPER = """set -e
export HOME="$1"
"$2" -address "$ERL_EPMD_ADDRESS" -port "$ERL_EPMD_PORT" &
i=0
until "$2" -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -le 200 ] || { echo "devstack: epmd did not start on port $ERL_EPMD_PORT" >&2; exit 1; }
  sleep 0.05
done
exec "$3"
"""


def real_server(found: str) -> str:
    """Debian's /usr/sbin/rabbitmq-server is a link to rabbitmq-script-wrapper (su to
    rabbitmq, logs in /var/log): the script it runs is beside the wrapper."""
    from pathlib import Path

    path = Path(found).resolve()
    if path.name == "rabbitmq-script-wrapper" and (path.parent / "rabbitmq-server").exists():
        return str(path.parent / "rabbitmq-server")
    return found


def rabbitmq_conf(svc, etc) -> str:
    o = svc.outputs
    return "\n".join([
        f"listeners.tcp.1 = {svc.host}:{svc.ports['port']}",
        f"management.tcp.ip = {svc.host}",
        f"management.tcp.port = {svc.ports['management_port']}",
        # Used only on the first boot of an empty node: the app's user instead of guest.
        f"default_user = {o['user']}",
        f"default_pass = {o['password']}",
        f"default_vhost = {o['vhost']}",
        "default_user_tags.administrator = true",
        "default_permissions.configure = .*",
        "default_permissions.read = .*",
        "default_permissions.write = .*",
        "loopback_users.guest = true",
        # Imported at every boot: the user's current password, the vhost, permissions.
        f"load_definitions = {etc / 'definitions.json'}",
        "log.file = false",
        "log.console = true",
        "log.console.level = warning",
        "log.console.use_colors = off",
        "",
    ])


def password_hash(user: str, password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password)).
    The salt is derived, so the file is the same on every start."""
    salt = hashlib.sha256(f"devstack|{user}|{password}".encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(o) -> str:
    return json.dumps({
        "users": [{"name": o["user"], "password_hash": password_hash(o["user"], o["password"]),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]}],
        "vhosts": [{"name": o["vhost"]}],
        "permissions": [{"user": o["user"], "vhost": o["vhost"], "configure": ".*", "write": ".*", "read": ".*"}],
    }, indent=1) + "\n"


def amqp_login(host, port, user, password, vhost) -> None:
    """Readiness: an AMQP connection to the vhost with the app's credentials (pika)."""
    import pika
    import pika.exceptions

    params = pika.ConnectionParameters(host=host, port=int(port), virtual_host=vhost,
                                       credentials=pika.PlainCredentials(user, password),
                                       connection_attempts=1, socket_timeout=2, blocked_connection_timeout=2,
                                       stack_timeout=5)
    try:
        pika.BlockingConnection(params).close()
    except pika.exceptions.ProbableAuthenticationError:
        raise NotReady("AMQP login refused (the user or its password is not set up yet)") from None
    except pika.exceptions.AMQPError as exc:
        raise NotReady(f"AMQP: {type(exc).__name__} {exc}".strip()) from None


def management(o, method: str, path: str, timeout: float = 3):
    """A management API call as the app's user -> (status, parsed JSON or None)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(o["management_url"] + path, method=method)
    token = base64.b64encode(f"{o['user']}:{o['password']}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own loopback URL
            body = response.read()
            return response.status, (json.loads(body) if body else None)
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and method == "DELETE":
            return 404, None
        raise NotReady(f"management API {method} {path}: HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise NotReady(f"management API: {exc}") from None


def drop_guest(o) -> None:
    """The guest user must not exist (a data dir from elsewhere may have one)."""
    management(o, "DELETE", "/api/users/guest")
