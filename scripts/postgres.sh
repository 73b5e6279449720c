#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite's PostgreSQL leg.
#
#   scripts/postgres.sh [start]   install PostgreSQL if absent (apt-get, needs root), start a
#                                 private cluster on 127.0.0.1:$PGPORT_TEST and print its
#                                 SQLAlchemy URL as the last line of stdout
#   scripts/postgres.sh stop      stop that cluster and delete its files
#   scripts/postgres.sh status    exit 0 and print the URL when it is running
#   scripts/postgres.sh restart [SECONDS]
#                                 stop the running cluster (fast shutdown: every connection is
#                                 cut), keep its files, stay down SECONDS (default 0), start
#                                 it again and print the URL (for tests of a database restart)
#
# Idempotent: start on a running cluster leaves it running, makes sure the role and database
# exist and prints the URL again. Everything but the URL goes to stderr, so `url=$(scripts/postgres.sh)` works.
# The cluster is tuned for tests (fsync off): never point it at data you want to keep.
#
# Environment: PGPORT_TEST (default 54329); PEERPULSE_PG_DIR, where the cluster lives
# (default /tmp/peerpulse-pg-$PGPORT_TEST: the postgres user must be able to reach it).
set -euo pipefail

PORT="${PGPORT_TEST:-54329}"
BASE="${PEERPULSE_PG_DIR:-/tmp/peerpulse-pg-${PORT}}"
[[ "$BASE" == /* ]] || BASE="$PWD/$BASE"
DATA="$BASE/data"
SOCKETS="$BASE/run"
LOG="$BASE/postgres.log"
ROLE=peerpulse
PASSWORD=peerpulse
DATABASE=peerpulse_test
URL="postgresql+psycopg://${ROLE}:${PASSWORD}@127.0.0.1:${PORT}/${DATABASE}"

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "PGPORT_TEST must be a port number, not '$PORT'"

# Newest installed server binaries, e.g. /usr/lib/postgresql/15/bin.
find_bindir() {
    local candidate
    for candidate in /usr/lib/postgresql/*/bin; do
        if [[ -x "$candidate/postgres" && -x "$candidate/initdb" ]]; then
            echo "$candidate"
        fi
    done | sort -V | tail -n 1
}

# Run a command as the cluster owner: `postgres` when we are root (initdb refuses root),
# otherwise ourselves.
as_owner() {
    # From / so that tools run as postgres never trip over an unreadable working directory;
    # without fd 9 so that the server never inherits (and holds forever) our lock.
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@") 9>&-
    else
        (cd / && "$@") 9>&-
    fi
}

install_postgres() {
    [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is missing"
    say "PostgreSQL not found: installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 postgresql >&2
}

ensure_owner_account() {
    [[ $EUID -eq 0 ]] || return 0
    id postgres >/dev/null 2>&1 && return 0
    say "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

is_running() {
    [[ -f "$DATA/PG_VERSION" ]] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

init_cluster() {
    say "creating a cluster in $BASE"
    rm -rf "$BASE"
    mkdir -p "$DATA" "$SOCKETS"
    chmod 700 "$BASE" "$DATA"
    if [[ $EUID -eq 0 ]]; then chown -R postgres:postgres "$BASE"; fi
    # Local (socket) connections are the owner's, by peer auth; TCP needs the password.
    as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --encoding=UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >"$BASE/initdb.log" 2>&1 \
        || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
    # A test cluster: durability off for speed, reachable only from this machine.
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- scripts/postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKETS'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

start_cluster() {
    say "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOG)"
    if ! as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null; then
        tail -n 20 "$LOG" >&2 || true
        die "PostgreSQL did not start"
    fi
}

wait_ready() {
    local i
    for i in $(seq 1 60); do
        "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" && return 0
        sleep 0.5
    done
    tail -n 20 "$LOG" >&2 || true
    die "PostgreSQL is not accepting connections on 127.0.0.1:$PORT"
}

psql_owner() {
    as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKETS" -p "$PORT" -U postgres "$@"
}

ensure_role_and_database() {
    # CREATEDB lets tests make their own scratch databases beside peerpulse_test.
    psql_owner -d postgres <<EOF >&2
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
EOF
    if [[ -z "$(psql_owner -d postgres -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]]; then
        psql_owner -d postgres -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
    fi
}

cmd_start() {
    BINDIR="$(find_bindir)"
    if [[ -z "$BINDIR" ]]; then
        install_postgres
        BINDIR="$(find_bindir)"
        [[ -n "$BINDIR" ]] || die "PostgreSQL was installed but no server binaries were found"
    fi
    ensure_owner_account
    if is_running; then
        say "already running on 127.0.0.1:$PORT"
    else
        # Something else listening there would make our server fail with a vaguer error.
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            die "port $PORT is taken by another process (set PGPORT_TEST to another port)"
        fi
        [[ -f "$DATA/PG_VERSION" ]] || init_cluster
        start_cluster
    fi
    wait_ready
    ensure_role_and_database
    echo "$URL"
}

cmd_stop() {
    if [[ ! -d "$BASE" ]]; then
        say "nothing to stop in $BASE"
        return 0
    fi
    BINDIR="$(find_bindir)"
    if [[ -n "$BINDIR" ]] && is_running; then
        say "stopping PostgreSQL on 127.0.0.1:$PORT"
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    fi
    rm -rf "$BASE"
    say "removed $BASE"
}

cmd_status() {
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] && is_running || { say "not running"; return 1; }
    echo "$URL"
}

cmd_restart() {
    local down="${1:-0}"
    [[ "$down" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "restart takes a number of seconds, not '$down'"
    BINDIR="$(find_bindir)"
    { [[ -n "$BINDIR" ]] && is_running; } || die "nothing running on 127.0.0.1:$PORT to restart"
    say "restarting PostgreSQL on 127.0.0.1:$PORT (down for ${down}s)"
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    sleep "$down"
    start_cluster
    wait_ready
    echo "$URL"
}

# One caller at a time: concurrent starts must not both run initdb.
LOCK="/tmp/peerpulse-pg-${PORT}.lock"
exec 9>"$LOCK"
flock -w 120 9 || die "another postgres.sh holds $LOCK"

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    restart) cmd_restart "${2:-0}" ;;
    *) die "usage: $0 [start|stop|status|restart [SECONDS]]" ;;
esac
