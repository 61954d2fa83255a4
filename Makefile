# Switchyard — the two commands a new machine needs are `make run` and `make test`.
.PHONY: notion-fake run test bench bench-http proof golden fmt lint clean-db help

help:
	@echo "make run    install what is missing, start a private Postgres (unless DATABASE_URL is set),"
	@echo "            apply the schema, seed the demo and serve on http://127.0.0.1:3000"
	@echo "make test   everything: lint, unit + integration tests (real Postgres), browser tests (Chromium)"
	@echo "make bench  backfill vs INSERT ... SELECT (1M users) and write p99, side by side;"
	@echo "            then the pages: hydrate bundle size (gzip, brotli) and requests/s"
	@echo "make bench-http  only the pages part of make bench"
	@echo "make proof  the engine's full proof suite (model, concurrent writes, crashes; ~3 min)"
	@echo "make golden rewrite tests/golden/*.sql from the generator (review the diff first)"
	@echo "make notion-fake  a fake Notion on http://127.0.0.1:3900 (token secret_fake) with the demo spec;"
	@echo "            run the app with NOTION_API_BASE=http://127.0.0.1:3900 NOTION_TOKEN=secret_fake"
	@echo "make fmt    format the code"
	@echo "make clean-db  delete the private Postgres clusters under .switchyard/"

run:
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

bench-http:
	@scripts/bench-http.sh

proof:
	@scripts/proof.sh

golden:
	UPDATE_GOLDEN=1 cargo test --features ssr --test it golden::

notion-fake:
	cargo run --features ssr --bin switchyard -- notion-fake

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --features ssr --all-targets -- -D warnings

clean-db:
	@scripts/pg.sh stop .switchyard/pg || true
	@scripts/pg.sh stop .switchyard/pg-test || true
	rm -rf .switchyard
