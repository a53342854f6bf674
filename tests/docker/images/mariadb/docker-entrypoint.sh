#!/bin/bash
# Stand-in for the official mariadb image's entrypoint (Debian mariadb-server).
# Honours MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD, MARIADB_ROOT_PASSWORD (and the
# MYSQL_* spellings); makes the healthcheck user that healthcheck.sh logs in as.
set -Eeuo pipefail
log() { printf 'entrypoint: %s\n' "$*" >&2; }

if [ "${1:0:1}" = '-' ]; then
    set -- mariadbd "$@"
fi
if [ "$1" != 'mariadbd' ] && [ "$1" != 'mysqld' ]; then
    exec "$@"
fi
if [ "$(id -u)" = '0' ]; then
    chown -R mysql:mysql /var/lib/mysql /run/mysqld
    exec setpriv --reuid=mysql --regid=mysql --init-groups -- "$0" "$@"
fi

DATABASE=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
USER_NAME=${MARIADB_USER:-${MYSQL_USER:-}}
PASSWORD=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
ROOT_PASSWORD=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

# SQL string literal: backslashes and quotes escaped.
lit() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

if [ ! -d "$DATADIR/mysql" ]; then
    [ -n "$ROOT_PASSWORD" ] || { log 'Error: database is uninitialized and MARIADB_ROOT_PASSWORD is not set'; exit 1; }
    log "initializing $DATADIR"
    mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" --skip-test-db >/dev/null
    "$@" --skip-networking --socket="$SOCKET" &
    pid=$!
    for _ in $(seq 1 300); do mariadb --protocol=socket --socket="$SOCKET" -u"$(id -un)" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
    health_pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    {
        echo "CREATE USER 'root'@'%' IDENTIFIED BY $(lit "$ROOT_PASSWORD");"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD($(lit "$ROOT_PASSWORD"));"
        echo "CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY '$health_pw';"
        echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY '$health_pw';"
        echo "GRANT USAGE ON *.* TO 'healthcheck'@'127.0.0.1', 'healthcheck'@'localhost';"
        if [ -n "$DATABASE" ]; then echo "CREATE DATABASE IF NOT EXISTS \`${DATABASE//\`/\`\`}\`;"; fi
        if [ -n "$USER_NAME" ] && [ -n "$PASSWORD" ]; then
            echo "CREATE USER $(lit "$USER_NAME")@'%' IDENTIFIED BY $(lit "$PASSWORD");"
            if [ -n "$DATABASE" ]; then echo "GRANT ALL ON \`${DATABASE//\`/\`\`}\`.* TO $(lit "$USER_NAME")@'%';"; fi
        fi
    } | mariadb --protocol=socket --socket="$SOCKET" -u"$(id -un)"
    printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' "$SOCKET" "$health_pw" > "$DATADIR/.my-healthcheck.cnf"
    chmod 0600 "$DATADIR/.my-healthcheck.cnf"
    kill "$pid"; wait "$pid" || :
    log 'initialized'
fi

exec "$@" --datadir="$DATADIR" --socket="$SOCKET" --bind-address=0.0.0.0 --port=3306 --skip-name-resolve
