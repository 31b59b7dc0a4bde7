#!/usr/bin/env bash
# The one test command (see README): starts what the tests need on this machine, then runs every
# crate's unit, integration and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL: the production storage backend's tests run against it (127.0.0.1:5432, trust auth).
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

cargo test --workspace --locked "$@"
