#!/usr/bin/env bash
# Installs whatever is missing, skipping what is already there.
#   scripts/setup.sh build   — Rust wasm target, cargo-leptos, wasm-bindgen, wasm-opt, PostgreSQL
#   scripts/setup.sh test    — the above, plus Chromium and the Playwright package
source "$(dirname "$0")/lib.sh"

CARGO_LEPTOS_VERSION=0.3.10

ensure_build_tools() {
  command -v cargo >/dev/null || die "cargo not found: this machine needs a Rust toolchain (rustup)"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    # no_downloads: the default build fetches tools from GitHub, which this
    # machine cannot reach. 0.3.11 needs a newer rustc than we have.
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once)"
    cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  local want
  want="$(locked_wasm_bindgen)"
  [ -n "$want" ] || die "no wasm-bindgen in Cargo.lock"
  if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
    # Without --locked: with it, resolution fails on this registry.
    log "installing wasm-bindgen-cli $want (about 2 minutes, once)"
    cargo install wasm-bindgen-cli --version "$want"
  fi
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -x "$ROOT/tools/node_modules/.bin/wasm-opt" ]; then
    log "installing wasm-opt (binaryen, from npm)"
    (cd "$ROOT/tools" && npm ci --no-audit --no-fund >/dev/null)
  fi
  pg_bin >/dev/null || apt_install postgresql
  command -v psql >/dev/null || apt_install postgresql-client
}

ensure_test_tools() {
  [ -x /usr/bin/chromium ] || apt_install chromium
  if [ ! -x "$ROOT/end2end/node_modules/.bin/playwright" ]; then
    log "installing the Playwright package (no browser download; we use Debian's Chromium)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

case "${1:-build}" in
  build) ensure_build_tools ;;
  test) ensure_build_tools; ensure_test_tools ;;
  *) die "usage: $0 build|test" ;;
esac
