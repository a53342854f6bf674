#!/bin/bash
# Stand-in for the official postgres image's entrypoint (Debian postgresql-15).
# Honours POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_HOST_AUTH_METHOD,
# POSTGRES_INITDB_ARGS, PGDATA and /docker-entrypoint-initdb.d/*.sh|*.sql.
set -Eeuo pipefail

log() { printf 'entrypoint: %s\n' "$*" >&2; }

# "docker run image -c foo=bar" -> "postgres -c foo=bar"
if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
    exec "$@"
fi

export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

as_postgres() {
    if [ "$(id -u)" = '0' ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

if [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 00700 "$PGDATA" || :
    chown postgres:postgres /var/run/postgresql
    chmod 03775 /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
        log 'Error: database is uninitialized and superuser password is not specified.'
        log '  Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust).'
        exit 1
    fi

    log "initializing database in $PGDATA (user $POSTGRES_USER, db $POSTGRES_DB)"
    initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD"
                 --encoding=UTF8 --locale=C.UTF-8)
    pwdir=
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        pwdir=$(mktemp -d)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwdir/pw"
        chown -R postgres:postgres "$pwdir" 2>/dev/null || :
        chmod 0700 "$pwdir"; chmod 0600 "$pwdir/pw"
        initdb_args+=(--pwfile="$pwdir/pw")
    fi
    # shellcheck disable=SC2086
    as_postgres initdb -D "$PGDATA" "${initdb_args[@]}" ${POSTGRES_INITDB_ARGS:-} >&2
    [ -n "$pwdir" ] && rm -rf "$pwdir"

    {
        echo
        echo "listen_addresses = '*'"
        echo "port = 5432"
    } >> "$PGDATA/postgresql.conf"
    {
        echo
        echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
    } >> "$PGDATA/pg_hba.conf"

    # Temporary server on the unix socket only, for POSTGRES_DB and init scripts.
    as_postgres pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start >&2
    psql_cmd=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" -h /var/run/postgresql -p 5432)
    if [ "$POSTGRES_DB" != 'postgres' ]; then
        exists=$(as_postgres "${psql_cmd[@]}" --dbname postgres -tA \
                 --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
        if [ -z "$exists" ]; then
            as_postgres "${psql_cmd[@]}" --dbname postgres --set db="$POSTGRES_DB" \
                <<<'CREATE DATABASE :"db";' >&2
        fi
    fi
    if [ -d /docker-entrypoint-initdb.d ]; then
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh)  log "running $f"; . "$f" ;;
                *.sql) log "running $f"; as_postgres "${psql_cmd[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
                *)     [ -e "$f" ] && log "ignoring $f" ;;
            esac
        done
    fi
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >&2
    log 'init done; ready for start up'
else
    log "database directory $PGDATA already initialized; skipping init"
fi

if [ "$(id -u)" = '0' ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
