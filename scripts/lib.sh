# Shared helpers for the project scripts. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# tools/node_modules/.bin first: its wasm-opt (binaryen from npm) is the one
# cargo-leptos must find, not Debian's binaryen 108, which breaks our wasm.
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $* (install it by hand or run as root)"; fi
}

apt_install() {
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null
    as_root apt-get install -y --no-install-recommends "$@" >/dev/null
  }
}

# The newest installed PostgreSQL bin folder (initdb, pg_ctl, postgres).
pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# The exact wasm-bindgen version Cargo.lock pins (cargo-leptos needs the same CLI).
locked_wasm_bindgen() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# LEPTOS_* settings for running the server binary outside cargo-leptos.
leptos_env() {
  export LEPTOS_OUTPUT_NAME=switchyard
  export LEPTOS_SITE_ROOT="$ROOT/target/site"
  export LEPTOS_SITE_PKG_DIR=pkg
  export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
  export LEPTOS_ENV="${LEPTOS_ENV:-PROD}"
  # The bundle's files are named by their hash (Cargo.toml: hash-files);
  # their names are in target/release/hash.txt, beside the binary.
  export LEPTOS_HASH_FILES=true
}

# The release build `make run`, `make test` and the page bench serve: the
# bundle with hashed names, precompressed beside each file (.br, .gz) so the
# server sends them as they are. cargo-leptos's own .gz is larger than
# `gzip -9` (about 917 KB against 781 KB for our wasm): rewrite those.
build_release() {
  # --split: each island marked `#[island(lazy)]` is its own wasm file,
  # loaded (with the chunks it shares with others) by the pages that show
  # it; the loader fetches them by their hashed names (see README, "Serving,
  # caching and monitoring").
  cargo leptos build --release --precompress --split
  local f
  for f in "$ROOT"/target/site/pkg/*; do
    case "$f" in *.gz|*.br) continue ;; esac
    [ -f "$f" ] && gzip -9 -n -c "$f" >"$f.gz"
  done
}
