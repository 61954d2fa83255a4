#!/usr/bin/env bash
# `make run`: install what is missing, start a private Postgres unless
# DATABASE_URL is set, build, apply the schema, seed the demo and serve.
# Ctrl-C stops the server and the cluster this script started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

scripts/setup.sh build

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL="$(scripts/pg.sh start "$ROOT/.switchyard/pg")"
  export DATABASE_URL
  trap 'scripts/pg.sh stop "$ROOT/.switchyard/pg"' EXIT
fi

log "building (release)"
build_release

leptos_env
log "serving on http://$LEPTOS_SITE_ADDR (Ctrl-C to stop)"
log "no account yet? open http://$LEPTOS_SITE_ADDR/setup to create the admin, or run:"
log "  DATABASE_URL=$DATABASE_URL target/release/switchyard user add EMAIL --role admin"
"$ROOT/target/release/switchyard" serve
