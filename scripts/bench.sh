#!/usr/bin/env bash
# `make bench`: backfill vs INSERT ... SELECT, and write latency, side by side
# on one private Postgres (or DATABASE_URL). Not part of `make test`.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
scripts/setup.sh build
PGDIR="$ROOT/.switchyard/pg-bench"
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(PG_EXTRA_OPTS="-c shared_buffers=512MB -c max_wal_size=4GB" scripts/pg.sh start "$PGDIR")"
  export DATABASE_URL
  trap 'scripts/pg.sh stop "$PGDIR"' EXIT
fi
cargo bench --features ssr --bench backfill
# Then the pages over HTTP: bundle size and requests/s (scripts/bench-http.sh).
scripts/bench-http.sh
