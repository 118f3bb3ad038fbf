#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test lane and the benchmarks.
#
#   scripts/postgres.sh start    install Debian's postgresql if missing, create the cluster once, start it,
#                                create the role and database; prints the DATABASE_URL (safe to run again)
#   scripts/postgres.sh url      prints the DATABASE_URL of the cluster
#   scripts/postgres.sh stop     stops the server (the cluster stays for the next start)
#   scripts/postgres.sh status   exit 0 when the server is running
#   scripts/postgres.sh destroy  stops the server and removes the cluster
#
# Settings (environment):
#   MUSTAFEED_PG_DIR    the cluster's folder                         (/dev/shm/mustafeed-pg, else /tmp/…)
#   MUSTAFEED_PG_PORT   the TCP port on 127.0.0.1                   (a free one, chosen at the first start)
#   MUSTAFEED_PG_FAST   1: fsync and synchronous_commit off (tests;  (0)
#                       data is lost on a machine crash, never on a server stop)
#
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` user that the Debian
# package creates; as another user it runs as that user. It listens on 127.0.0.1 only, with trust
# authentication for the local test role: this cluster is for tests and benchmarks, never for data.
set -euo pipefail

# In memory when the machine has /dev/shm: the cluster is throw-away, and on this machine's disk every file
# open costs ~0.2 ms, which makes CREATE DATABASE (one per test) take 0.7 s instead of 0.05 s.
if [ -z "${MUSTAFEED_PG_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    PGDIR=/dev/shm/mustafeed-pg
else
    PGDIR=${MUSTAFEED_PG_DIR:-/tmp/mustafeed-pg}
fi
DATA=$PGDIR/data
ROLE=mustafeed
DATABASE=mustafeed

die() { echo "postgres.sh: $*" >&2; exit 1; }

# The newest installed server's bin folder (Debian keeps them under /usr/lib/postgresql/<version>/bin).
bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        echo "$dir"
    fi
}

install_server() {
    if [ -n "$(bindir)" ]; then
        return
    fi
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; install Debian's postgresql package (needs root)"
    echo "postgres.sh: installing Debian's postgresql" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    [ -n "$(bindir)" ] || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
}

# Run a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port() {
    if [ -f "$PGDIR/port" ]; then
        cat "$PGDIR/port"
    else
        die "no cluster in $PGDIR: run scripts/postgres.sh start"
    fi
}

url() {
    echo "postgresql://$ROLE@127.0.0.1:$(port)/$DATABASE"
}

running() {
    [ -d "$DATA" ] && as_owner "$(bindir)/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_admin() {
    as_owner "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$(port)" -d postgres "$@"
}

create_cluster() {
    mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PGDIR"
    fi
    chmod 700 "$PGDIR"
    echo "${MUSTAFEED_PG_PORT:-$(free_port)}" | as_owner tee "$PGDIR/port" >/dev/null
    as_owner "$(bindir)/initdb" -D "$DATA" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        --username=postgres >/dev/null
}

start() {
    install_server
    if [ -n "${MUSTAFEED_PG_PORT:-}" ] && [ -f "$PGDIR/port" ] && [ "$(cat "$PGDIR/port")" != "$MUSTAFEED_PG_PORT" ]; then
        running && die "the cluster in $PGDIR is running on port $(port), not $MUSTAFEED_PG_PORT: stop it first"
        echo "$MUSTAFEED_PG_PORT" | as_owner tee "$PGDIR/port" >/dev/null
    fi
    [ -f "$DATA/PG_VERSION" ] || create_cluster
    if ! running; then
        local fast=""
        if [ "${MUSTAFEED_PG_FAST:-0}" = 1 ]; then
            # Autovacuum off too: its worker on a test database would hold up DROP DATABASE.
            fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off"
        fi
        # The unix socket lives in the cluster's folder, so nothing outside it is needed (no /run/postgresql).
        as_owner "$(bindir)/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w -t 60 start \
            -o "-p $(port) -c listen_addresses=127.0.0.1 -k $PGDIR -c max_connections=200 $fast" >/dev/null \
            || { tail -n 20 "$PGDIR/server.log" >&2; die "the server did not start"; }
    fi
    # The test role creates a database per test from a migrated template: it needs CREATEDB, and
    # pg_signal_backend for DROP DATABASE … WITH (FORCE) to end a background worker still connected to it.
    psql_admin <<SQL
SET client_min_messages = warning;
SELECT 'CREATE ROLE $ROLE LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')\\gexec
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE')\\gexec
GRANT pg_signal_backend TO $ROLE;
SQL
    url
}

stop() {
    if running; then
        as_owner "$(bindir)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
}

case "${1:-}" in
    start) start ;;
    url) url ;;
    stop) stop ;;
    status) running ;;
    destroy) stop; rm -rf "$PGDIR" ;;
    *) echo "usage: $0 start|url|stop|status|destroy" >&2; exit 2 ;;
esac
