#!/bin/bash
# Stand-in for the official image's healthcheck.sh: the --connect and --innodb_initialized tests.
set -eo pipefail
extra=()
[ -f /var/lib/mysql/.my-healthcheck.cnf ] && extra=(--defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf)
sql() { mariadb "${extra[@]}" --skip-column-names -B "$@"; }
[ $# -gt 0 ] || { echo "At least one argument required" >&2; exit 1; }
for arg; do
    case "$arg" in
        --connect)  # the real server listens on TCP (the init one has networking off)
            [ "$(sql -h 127.0.0.1 --protocol tcp -e 'select @@skip_networking')" = 0 ] ;;
        --innodb_initialized)
            [ "$(sql --protocol socket -e "select 1 from information_schema.ENGINES where engine='innodb' and support in ('YES','DEFAULT','ENABLED')")" = 1 ] ;;
        *) echo "healthcheck: unknown test $arg" >&2; exit 1 ;;
    esac
done
