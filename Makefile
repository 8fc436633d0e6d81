# Developer entry points. `make test` is the one command that runs every test.
.PHONY: test demo fmt lint

test:
	./scripts/test.sh

demo:
	cargo run --release -p recon -- run --config fixtures/demo/recon.toml

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings
