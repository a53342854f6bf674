#!/bin/sh
# Stand-in for the official redis image's entrypoint (Debian redis-server).
set -eu

# "docker run image --foo" or "docker run image /path/redis.conf" -> redis-server ...
case "${1:-}" in
    -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' + 2>/dev/null || :
    um="$(umask)"
    if [ "$um" = '0022' ]; then umask 0077; fi
    exec setpriv --reuid=redis --regid=redis --init-groups -- "$0" "$@"
fi

# Like the official image: without a config that sets protected-mode, turn it off
# (the container's network is the boundary; use --requirepass for auth).
if [ "${1:-}" = 'redis-server' ]; then
    do_protected=1
    case "${2:-}" in -v|--version|-h|--help|--test-memory|--check-system) do_protected= ;; esac
    config=
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        config="$2"
        if grep -q '^protected-mode' "$config"; then do_protected=; fi
    fi
    if [ -n "$do_protected" ]; then
        shift
        if [ -n "$config" ]; then shift; fi
        set -- --protected-mode no "$@"
        if [ -n "$config" ]; then set -- "$config" "$@"; fi
        set -- redis-server "$@"
    fi
fi

exec "$@"
