# Everyday commands. `just` is a convenience; the README's scripts are the supported path.

# Start the three services on the embedded defaults
up:
    ./scripts/up

# Every check and test (PostgreSQL too when reachable)
test:
    ./scripts/test

# Tests with PostgreSQL explicitly enabled
test-pg:
    LANYARD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres ./scripts/test

# Formatting and clippy only
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks (release build; SQLite and PostgreSQL)
bench:
    LANYARD_TEST_POSTGRES_URL=${LANYARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres} cargo run --release -p lanyard-bench
