#!/usr/bin/env bash
# Stop the dockerd that .ci/install-docker.sh started (by its PID file) and wait for it to exit.
# Does nothing when there is no PID file or the process is already gone.
set -euo pipefail

log() { printf '[stop-docker] %s\n' "$*" >&2; }

DOCKERD_PIDFILE=${DOCKERD_PIDFILE:-/tmp/devstack-dockerd.pid}
DOCKERD_STOP_WAIT=${DOCKERD_STOP_WAIT:-30}

if [ ! -f "$DOCKERD_PIDFILE" ]; then
    log "no $DOCKERD_PIDFILE: nothing started by install-docker.sh"
    exit 0
fi
pid=$(cat "$DOCKERD_PIDFILE")
case "$pid" in ''|*[!0-9]*) log "bad pid file content: '$pid'"; rm -f "$DOCKERD_PIDFILE"; exit 1;; esac

if ! kill -0 "$pid" 2>/dev/null; then
    log "dockerd pid $pid not running"
    rm -f "$DOCKERD_PIDFILE"
    exit 0
fi
# Make sure the PID really is a dockerd before signalling it.
if ! grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
    log "pid $pid is not dockerd; leaving it alone"
    rm -f "$DOCKERD_PIDFILE"
    exit 1
fi

log "stopping dockerd pid $pid"
kill -TERM "$pid"
deadline=$((SECONDS + DOCKERD_STOP_WAIT))
while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        log "dockerd did not exit in ${DOCKERD_STOP_WAIT}s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
        break
    fi
    sleep 0.5
done
rm -f "$DOCKERD_PIDFILE"
log "dockerd stopped"
