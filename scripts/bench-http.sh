#!/usr/bin/env bash
# The pages as browsers get them (benches/http.rs): builds the release app
# the way `make run` does, starts it on a database of its own (beside a
# private Postgres, or DATABASE_URL's), prints the hydrate bundle's size on
# the wire (plain, gzip, brotli) and each page's requests/s with N
# keep-alive connections, against their targets. Run by `make bench`, or
# alone as `make bench-http`.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/setup.sh build
PGDIR="$ROOT/.switchyard/pg-bench"
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(PG_EXTRA_OPTS="-c max_connections=200" scripts/pg.sh start "$PGDIR")"
  export DATABASE_URL
  trap 'scripts/pg.sh stop "$PGDIR"' EXIT
fi
log "building the app (release, precompressed bundle)"
build_release
leptos_env
SWITCHYARD_BIN="$ROOT/target/release/switchyard" cargo bench --features ssr --bench http
