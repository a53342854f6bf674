"""SMTP with an inbox API: mailpit in Docker; a mailpit binary or devstack's catcher natively."""

from __future__ import annotations

from devstack.services.base import Kind, Option, Port


class Mailpit(Kind):
    name = "mailpit"
    summary = "SMTP server that keeps every message in a local inbox"
    modes = ("run", "stub", "off", "external")
    standin_when_no_binary = True
    options = {
        "image": Option(str, "axllent/mailpit:v1.27.0", "mailpit image"),
        "user": Option(str, "devstack", "SMTP user the app logs in as (the only login accepted, as mailpit's MP_SMTP_AUTH)"),
        "password": Option(str, None, "SMTP password; generated when unset; a wrong one is refused (535)", generate="password"),
        "from_address": Option(str, None, "sender address exported as `from`; defaults to noreply@<project>.test"),
        "bin": Option(str, None, "path of a mailpit binary for the native runtime (else devstack's catcher)"),
    }
    ports = {"smtp_port": Port(1025), "http_port": Port(8025)}
    default_env = {
        "SMTP_HOST": "{{ smtp_host }}",
        "SMTP_PORT": "{{ smtp_port }}",
        "SMTP_USER": "{{ smtp_user }}",
        "SMTP_PASSWORD": "{{ smtp_password }}",
        "MAILPIT_URL": "{{ url }}",
    }
    output_help = {
        "host": "address the servers listen on",
        "smtp_host": "same as host",
        "smtp_port": "SMTP port (no TLS)",
        "smtp_user": "SMTP login",
        "smtp_password": "SMTP password",
        "password": "same as smtp_password",
        "smtp_url": "smtp://host:smtp_port",
        "url": "http://host:http_port, the inbox's HTTP API (mailpit's /api/v1)",
        "http_port": "port of the inbox's HTTP API",
        "from": "sender address the app should use",
    }
    docker = "axllent/mailpit, pinned release"
    native_binary = "a mailpit binary when one is installed (`bin:`, PATH)"
    standin = "devstack's mail catcher (python -m devstack.stubs.mailcatcher): SMTP that keeps every message on disk and checks the generated login like mailpit's MP_SMTP_AUTH, and mailpit's HTTP API"
    standin_lacks = "STARTTLS and the web UI; of mailpit's API (/api/v1) only listing, reading (parsed and raw) and deleting messages"

    def outputs(self, svc, stack):
        o = svc.options
        return {
            "host": svc.host,
            "smtp_host": svc.host,
            "smtp_port": svc.ports["smtp_port"],
            "smtp_user": o["user"],
            "smtp_password": o["password"],
            "password": o["password"],
            "smtp_url": f"smtp://{svc.host}:{svc.ports['smtp_port']}",
            "url": f"http://{svc.host}:{svc.ports['http_port']}",
            "http_port": svc.ports["http_port"],
            "from": o["from_address"] or f"noreply@{stack.project.lower()}.test",
        }

    def check(self, options):
        # mailpit reads credentials as space-separated user:password pairs (MP_SMTP_AUTH)
        problems = []
        if not options["user"] or any(c.isspace() or c == ":" for c in options["user"]):
            problems.append(("user", "must be non-empty, with no spaces and no `:`"))
        if options["password"] is not None and (not options["password"] or any(c.isspace() for c in options["password"])):
            problems.append(("password", "must be non-empty, with no spaces"))
        return problems

    def wanted(self, svc):
        from devstack.services.spec import Wanted

        return (Wanted(names=("mailpit",), what="mailpit", brew="mailpit", dirs=("/usr/local/bin", "/opt/homebrew/bin"),
                       version_args=("version",), elsewhere="mailpit's install script: https://mailpit.axllent.org/docs/install/"),)

    def native(self, svc, stack, host):
        from devstack.services.spec import NativeSpec, python_env, python_module

        o = svc.outputs
        state = svc.state_dir
        binary = host.optional_for(svc, self.wanted(svc)[0])
        if binary:
            return NativeSpec(
                argv=[binary, "--smtp", f"{svc.host}:{o['smtp_port']}", "--listen", f"{svc.host}:{o['http_port']}",
                      "--database", str(state / "mailpit.db"), "--smtp-auth-allow-insecure"],
                implementation=f"mailpit ({binary})",
                env={"MP_SMTP_AUTH": smtp_auth(o)},  # env, not argv: argv is world-readable
                cwd=state,
            )
        # devstack's catcher: SMTP (aiosmtpd) + the mailpit API subset, messages on disk.
        return NativeSpec(
            argv=python_module("devstack.stubs.mailcatcher", "--host", svc.host, "--smtp-port", o["smtp_port"],
                                       "--http-port", o["http_port"], "--state-dir", state / "data", "--smtp-user", o["smtp_user"]),
            implementation="devstack mail catcher (SMTP + mailpit API)",
            env={**python_env(), "DEVSTACK_SMTP_PASSWORD": o["smtp_password"]},
            cwd=state,
        )

    def ready(self, svc, stack):
        from devstack import probes

        o = svc.outputs
        probes.smtp_ehlo(o["smtp_host"], o["smtp_port"])
        probes.http(o["url"] + "/readyz")


def smtp_auth(outputs) -> str:
    """mailpit's MP_SMTP_AUTH: the one login it accepts (it then refuses mail without one)."""
    return f"{outputs['smtp_user']}:{outputs['smtp_password']}"
