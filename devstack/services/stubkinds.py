"""Stub-only kinds: services apps skip in dev, answered by devstack's stand-ins.

Each runs a devstack.stubs server (or nothing, with `mode: off`) and exports
the variables the app's SDK reads.
"""

from __future__ import annotations

from devstack.services.base import Kind, Option, Port


class HttpStub(Kind):
    """Stand-ins that answer GET /healthz once serving, and log the requests they get."""

    records_requests = True

    def ready(self, svc, stack):
        from devstack import probes

        probes.http(f"http://{svc.host}:{svc.ports['port']}/healthz")


class Flags(HttpStub):
    name = "flags"
    summary = "feature-flag config server serving a JSON file"
    modes = ("stub", "off", "external")
    options = {
        "config": Option(str, None, "JSON file served as the config (relative to the manifest)"),
        "flags": Option(dict, {}, "inline config when no file is given"),
    }
    ports = {"port": Port(0)}
    default_env = {"FEATURE_FLAGS_URL": "{{ url }}"}
    output_help = {"url": "http://host:port, serving the flags as JSON", "host": "address it listens on", "port": "its HTTP port"}
    standin = "devstack's flags server (python -m devstack.stubs.flags): one JSON file (`config:`) or inline `flags:`, re-read when it changes"
    standin_lacks = "targeting, rollouts and any vendor's SDK protocol: it serves one JSON document"

    def outputs(self, svc, stack):
        return {"url": f"http://{svc.host}:{svc.ports['port']}", "host": svc.host, "port": svc.ports["port"]}

    def native(self, svc, stack, host):
        import json

        from devstack.services.spec import FileSpec, NativeSpec, python_env, python_module

        files = []
        if svc.options["config"]:
            config = (stack.root / svc.options["config"]).resolve()
        else:  # inline `flags:` from the manifest
            config = svc.state_dir / "flags.json"
            files.append(FileSpec(config, json.dumps(svc.options["flags"], indent=2) + "\n", 0o600))
        return NativeSpec(
            argv=python_module("devstack.stubs.flags", "--host", svc.host, "--port", svc.ports["port"], "--config", config),
            implementation=f"devstack flags server ({config.name})",
            env=python_env(), cwd=svc.state_dir, files=files,
        )


class SinkStub(HttpStub):
    """PostHog / Sentry: devstack's event sink records what the SDK sends."""

    def native(self, svc, stack, host):
        from devstack.services.spec import NativeSpec, python_env, python_module

        return NativeSpec(
            argv=python_module("devstack.stubs.sink", "--host", svc.host, "--port", svc.ports["port"],
                                       "--state-dir", svc.state_dir / "data"),
            implementation="devstack event sink",
            env=python_env(), cwd=svc.state_dir,
        )


class Posthog(SinkStub):
    name = "posthog"
    summary = "analytics sink that records PostHog events"
    modes = ("stub", "off", "external")
    options = {"api_key": Option(str, None, "project API key; generated when unset", generate="stripe:phc_local")}
    ports = {"port": Port(0)}
    default_env = {"POSTHOG_HOST": "{{ url }}", "POSTHOG_API_KEY": "{{ api_key }}"}
    output_help = {"url": "http://host:port, the PostHog host the SDK is given", "host": "address it listens on", "port": "its HTTP port",
                   "api_key": "project API key the SDK sends", "events_url": "where tests read the recorded events (JSON)"}
    standin = "devstack's event sink (python -m devstack.stubs.sink): records what the SDK sends"
    standin_lacks = "feature flags, analytics queries and a UI: events are only recorded"

    def outputs(self, svc, stack):
        url = f"http://{svc.host}:{svc.ports['port']}"
        return {"url": url, "host": svc.host, "port": svc.ports["port"], "api_key": svc.options["api_key"], "events_url": f"{url}/api/events"}


class Sentry(SinkStub):
    name = "sentry"
    summary = "error-tracking sink that records Sentry envelopes"
    modes = ("stub", "off", "external")
    options = {"key": Option(str, None, "DSN public key; generated when unset", generate="hex:16")}
    ports = {"port": Port(0)}
    default_env = {"SENTRY_DSN": "{{ dsn }}"}
    output_help = {"dsn": "http://key@host:port/1, what SENTRY_DSN carries", "url": "http://host:port", "host": "address it listens on",
                   "port": "its HTTP port", "events_url": "where tests read the recorded envelopes (JSON)"}
    standin = "devstack's event sink (python -m devstack.stubs.sink): records the envelopes the SDK sends"
    standin_lacks = "grouping, alerts and a UI: envelopes are only recorded"

    def outputs(self, svc, stack):
        url = f"http://{svc.host}:{svc.ports['port']}"
        return {"dsn": f"http://{svc.options['key']}@{svc.host}:{svc.ports['port']}/1", "url": url, "host": svc.host,
                "port": svc.ports["port"], "events_url": f"{url}/api/events"}

    def external_outputs(self, svc):
        return {"dsn": svc.options["url"], "url": svc.options["url"]}


class EmailApi(HttpStub):
    name = "email_api"
    summary = "SendGrid/Resend/Postmark/Mailgun-shaped HTTP API delivering into the local inbox"
    modes = ("stub", "off", "external")
    options = {
        "provider": Option(str, "sendgrid", "API shape the app's SDK speaks", choices=("sendgrid", "resend", "postmark", "mailgun")),
        "api_key": Option(str, None, "API key the app sends; generated when unset", generate="token:24"),
        "inbox": Option(str, "mailpit", "mailpit service that receives the mail"),
        "from_address": Option(str, None, "sender address; defaults to noreply@<project>.test"),
    }
    ports = {"port": Port(0)}
    default_env = {"EMAIL_PROVIDER": "{{ provider }}", "EMAIL_API_KEY": "{{ api_key }}", "EMAIL_API_BASE": "{{ url }}"}
    output_help = {"url": "http://host:port, the API base URL the SDK is pointed at", "host": "address it listens on", "port": "its HTTP port",
                   "provider": "sendgrid, resend or postmark", "api_key": "API key the app sends", "from": "sender address the app should use"}
    standin = "devstack's email API (python -m devstack.stubs.email_api): the provider's send endpoint, delivering over SMTP into the `inbox:` mailpit service"
    standin_lacks = "templates, batch sends, webhooks and every endpoint but sending"
    secret_outputs = ("api_key",)

    def outputs(self, svc, stack):
        return {"url": f"http://{svc.host}:{svc.ports['port']}", "host": svc.host, "port": svc.ports["port"],
                "provider": svc.options["provider"], "api_key": svc.options["api_key"],
                "from": svc.options["from_address"] or f"noreply@{stack.project.lower()}.test"}

    def native(self, svc, stack, host):
        from devstack.errors import UserError
        from devstack.services.spec import NativeSpec, python_env, python_module

        inbox = self.inbox(svc, stack)
        if inbox is None or inbox.mode == "off" or "smtp_port" not in inbox.outputs:
            raise UserError(f"{svc.name}: its inbox `{svc.options['inbox']}` is not a running mailpit service of this stack",
                            "set `inbox:` to the name of a mailpit service")
        return NativeSpec(
            argv=python_module("devstack.stubs.email_api", "--host", svc.host, "--port", svc.ports["port"],
                                       "--smtp-host", inbox.outputs["smtp_host"], "--smtp-port", inbox.outputs["smtp_port"]),
            implementation=f"devstack {svc.options['provider']}-shaped email API -> {inbox.name}",
            env={**python_env(), "EMAIL_API_KEY": svc.options["api_key"],  # env, not argv
                 "DEVSTACK_SMTP_USER": inbox.outputs["smtp_user"], "DEVSTACK_SMTP_PASSWORD": inbox.outputs["smtp_password"]},
            cwd=svc.state_dir,
        )

    def inbox(self, svc, stack):
        """The mailpit service this API delivers to (must run in this stack)."""
        return stack.services.get(svc.options["inbox"])


KINDS = [Flags, Posthog, Sentry, EmailApi]
