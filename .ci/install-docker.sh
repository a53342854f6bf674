#!/usr/bin/env bash
# Install and start a Docker engine plus the compose v2 plugin for CI.
#
# Idempotent: every step is skipped when its result is already there.
#   - docker.io from Debian (bookworm) via apt
#   - dockerd started in the background when the socket does not answer
#     (log: /tmp/dockerd.log, PID: /tmp/devstack-dockerd.pid); .ci/stop-docker.sh stops it
#   - compose v2 plugin: bookworm has none, so Debian trixie's docker-compose .deb is
#     downloaded with apt from a throw-away source list in a temp dir (the system's
#     apt sources are NOT changed) and its plugin binary copied to ~/.docker/cli-plugins.
# All progress goes to stderr.
set -euo pipefail

log() { printf '[install-docker] %s\n' "$*" >&2; }

DOCKERD_LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/tmp/devstack-dockerd.pid}
DOCKERD_WAIT=${DOCKERD_WAIT:-60}
export DEBIAN_FRONTEND=noninteractive

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi

# --- 1. docker.io -----------------------------------------------------------
if dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q 'install ok installed'; then
    log "docker.io already installed"
else
    log "installing docker.io"
    if ! $SUDO apt-get install -y --no-install-recommends docker.io >&2; then
        log "apt-get install failed; running apt-get update and retrying"
        $SUDO apt-get update >&2
        $SUDO apt-get install -y --no-install-recommends docker.io >&2
    fi
fi
command -v docker >/dev/null || { log "no docker CLI on PATH after install"; exit 1; }

# --- 2. dockerd ------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    log "docker daemon already answering"
else
    if [ -f "$DOCKERD_PIDFILE" ] && kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null; then
        log "dockerd (pid $(cat "$DOCKERD_PIDFILE")) is running but not answering yet; waiting"
    else
        command -v dockerd >/dev/null || { log "dockerd not found"; exit 1; }
        log "starting dockerd in the background (log: $DOCKERD_LOG)"
        # setsid: own session, so it survives the caller's process group / job control.
        $SUDO setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
        echo $! > "$DOCKERD_PIDFILE"
        log "dockerd pid $(cat "$DOCKERD_PIDFILE")"
    fi
    deadline=$((SECONDS + DOCKERD_WAIT))
    until docker info >/dev/null 2>&1; do
        if [ -f "$DOCKERD_PIDFILE" ] && ! kill -0 "$(cat "$DOCKERD_PIDFILE")" 2>/dev/null; then
            log "dockerd exited; last log lines:"; tail -n 30 "$DOCKERD_LOG" >&2 || true
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "docker info still failing after ${DOCKERD_WAIT}s; last log lines:"
            tail -n 30 "$DOCKERD_LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
    log "docker daemon is up"
fi

# --- 3. compose v2 plugin --------------------------------------------------
compose_is_v2() {
    local v
    v=$(docker compose version 2>/dev/null) || return 1
    printf '%s\n' "$v" | grep -Eq 'version v?2\.'
}

if compose_is_v2; then
    log "docker compose already available: $(docker compose version 2>&1)"
else
    # Use the same mirror this machine's apt uses for bookworm.
    mirror=$(bash "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh")
    log "fetching docker-compose (v2) from trixie at $mirror (temp apt state, system sources untouched)"

    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/etc/preferences.d" "$tmp/state/lists/partial" "$tmp/cache/archives/partial" "$tmp/dl" "$tmp/x"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    echo "deb [signed-by=$keyring] $mirror trixie main" > "$tmp/etc/sources.list"
    : > "$tmp/state/status"
    arch=$(dpkg --print-architecture)
    apt_tmp=(
        -o "Dir::Etc::SourceList=$tmp/etc/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::Etc::PreferencesParts=$tmp/etc/preferences.d"
        -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::State=$tmp/state"
        -o "Dir::State::Lists=$tmp/state/lists"
        -o "Dir::State::status=$tmp/state/status"
        -o "Dir::Cache=$tmp/cache"
        -o "APT::Architecture=$arch"
        -o "APT::Architectures=$arch"
        -o "Acquire::Languages=none"
        -o "APT::Sandbox::User=root"
    )
    apt-get "${apt_tmp[@]}" update >&2
    (cd "$tmp/dl" && apt-get "${apt_tmp[@]}" download docker-compose >&2)
    deb=$(ls "$tmp"/dl/docker-compose_*.deb)
    log "downloaded $(basename "$deb")"
    dpkg-deb -x "$deb" "$tmp/x"
    plugin="$tmp/x/usr/libexec/docker/cli-plugins/docker-compose"
    [ -x "$plugin" ] || { log "plugin binary not found in $deb"; exit 1; }

    plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
    mkdir -p "$plugin_dir"
    install -m 0755 "$plugin" "$plugin_dir/docker-compose"
    log "installed $plugin_dir/docker-compose"
    # Also system-wide when root, so it works whatever HOME/DOCKER_CONFIG a later step has.
    if [ "$(id -u)" -eq 0 ]; then
        mkdir -p /usr/local/lib/docker/cli-plugins
        install -m 0755 "$plugin" /usr/local/lib/docker/cli-plugins/docker-compose
        log "installed /usr/local/lib/docker/cli-plugins/docker-compose"
    fi

    if ! compose_is_v2; then
        log "docker compose version does not report v2:"
        docker compose version >&2 || true
        exit 1
    fi
    log "docker compose ready: $(docker compose version 2>&1)"
fi

log "done: $(docker version --format 'client {{.Client.Version}} / server {{.Server.Version}}' 2>/dev/null || echo '?')"
