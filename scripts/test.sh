#!/usr/bin/env bash
# `make test`: everything. Lint, unit and integration tests against a real
# Postgres, then the browser tests in Chromium against the release build
# (the one `make run` serves). Stops what it started; non-zero on any failure.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

scripts/setup.sh test

PGDIR="$ROOT/.switchyard/pg-test"
SERVER_PID=""
FAKE_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
  if [ -n "${STARTED_PG:-}" ]; then scripts/pg.sh stop "$PGDIR"; fi
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  # Durability is irrelevant for a throwaway test cluster; speed is not.
  DATABASE_URL="$(PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    scripts/pg.sh start "$PGDIR")"
  export DATABASE_URL
  STARTED_PG=1
fi

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --features ssr --all-targets -- -D warnings
cargo clippy --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

log "cargo test (unit and integration, real Postgres)"
cargo test --features ssr

log "building the app the way make run does (release)"
build_release

# The browser tests get a database of their own, seeded by the app itself.
E2E_URL="${DATABASE_URL%/*}/switchyard_e2e"
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS switchyard_e2e WITH (FORCE)" >/dev/null
psql "$DATABASE_URL" -qc "CREATE DATABASE switchyard_e2e" >/dev/null

# A fake Notion for the mirror's browser tests (nothing reaches the internet).
NOTION_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
NOTION_FAKE_URL="http://127.0.0.1:$NOTION_PORT"
"$ROOT/target/release/switchyard" notion-fake --addr "127.0.0.1:$NOTION_PORT" --token secret_e2e --seed false \
  >"$ROOT/target/e2e-notion.log" 2>&1 &
FAKE_PID=$!
for _ in $(seq 1 60); do
  if curl -fsS "$NOTION_FAKE_URL/_admin/requests" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
curl -fsS "$NOTION_FAKE_URL/_admin/requests" >/dev/null || { cat "$ROOT/target/e2e-notion.log" >&2; die "the fake Notion did not come up"; }

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export LEPTOS_SITE_ADDR="127.0.0.1:$PORT"
leptos_env
log "starting the app on http://$LEPTOS_SITE_ADDR"
DATABASE_URL="$E2E_URL" SWITCHYARD_DEMO_USERS="${SWITCHYARD_DEMO_USERS:-20000}" SWITCHYARD_SOAK_HOURS=0 \
  NOTION_API_BASE="$NOTION_FAKE_URL" NOTION_TOKEN=secret_e2e SWITCHYARD_NOTION_POLL_SECS=5 \
  "$ROOT/target/release/switchyard" serve >"$ROOT/target/e2e-server.log" 2>&1 &
SERVER_PID=$!
# Up when /login answers (public; every other page needs an account).
for _ in $(seq 1 120); do
  if curl -fsS "http://$LEPTOS_SITE_ADDR/login" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$ROOT/target/e2e-server.log" >&2; die "the app exited"; fi
  sleep 0.5
done
curl -fsS "http://$LEPTOS_SITE_ADDR/login" >/dev/null || { cat "$ROOT/target/e2e-server.log" >&2; die "the app did not come up"; }

log "browser tests (Playwright, Chromium)"
# Each test resets the demo in the server's database first (end2end/tests/fixtures.ts).
(cd end2end && BASE_URL="http://$LEPTOS_SITE_ADDR" E2E_DATABASE_URL="$E2E_URL" NOTION_FAKE_URL="$NOTION_FAKE_URL" \
  SWITCHYARD_BIN="$ROOT/target/release/switchyard" npx playwright test "$@")
log "all tests passed"
