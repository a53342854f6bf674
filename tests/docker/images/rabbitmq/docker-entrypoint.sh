#!/bin/bash
# Stand-in for the official rabbitmq image's entrypoint (Debian rabbitmq-server).
set -Eeuo pipefail
if [ "$1" != 'rabbitmq-server' ]; then
    exec "$@"
fi
conf=/etc/rabbitmq/rabbitmq.conf
{
    echo "listeners.tcp.default = 5672"
    echo "management.tcp.port = 15672"
    echo "log.file = false"
    echo "log.console = true"
    echo "log.console.level = warning"
    [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER"
    [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS"
    [ -n "${RABBITMQ_DEFAULT_VHOST:-}" ] && echo "default_vhost = $RABBITMQ_DEFAULT_VHOST"
    echo "default_user_tags.administrator = true"
} > "$conf"
chown rabbitmq:rabbitmq "$conf" /var/lib/rabbitmq; chmod 0600 "$conf"
unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST
cd /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
