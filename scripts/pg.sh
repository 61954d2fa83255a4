#!/usr/bin/env bash
# A private PostgreSQL cluster under a project folder.
#   scripts/pg.sh start DIR   — init if needed, start, print the DATABASE_URL
#   scripts/pg.sh stop DIR    — stop it (no error when not running)
#   scripts/pg.sh crash DIR   — immediate stop (as a crash would), then start
#                               again on the same port (crash tests)
source "$(dirname "$0")/lib.sh"

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop|crash DIR"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
BIN="$(pg_bin)" || die "PostgreSQL server binaries not found; run scripts/setup.sh"

# initdb and postgres refuse to run as root: run them as `postgres` then.
pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
  start)
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      log "creating a private PostgreSQL cluster in $dir/data"
      pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      port="$(cat "$dir/port")"
      log "reusing the PostgreSQL already running on port $port"
    else
      port="$(free_port)"
      echo "$port" >"$dir/port"
      pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-k $dir/data -p $port -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" start >/dev/null \
        || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
      log "PostgreSQL started on 127.0.0.1:$port (log: $dir/postgres.log)"
    fi
    db="${PG_DATABASE:-switchyard}"
    if ! psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/$db"
    ;;
  crash)
    port="$(cat "$dir/port")"
    pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-k $dir/data -p $port -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" start >/dev/null \
      || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not restart"; }
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ] && pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null && log "PostgreSQL stopped"
    fi
    ;;
  *) die "usage: $0 start|stop|crash DIR" ;;
esac
