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

# NATS with JetStream: the cluster tests (crates/palmsig-cluster/tests) run against it
# (127.0.0.1:4222); started here when installed but not running.
if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  if command -v nats-server >/dev/null; then
    nats-server -a 127.0.0.1 -p 4222 -js -sd "${TMPDIR:-/tmp}/palmsig-nats" >/dev/null 2>&1 &
    for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.2; done
  else
    echo "NATS is not running at 127.0.0.1:4222 and nats-server is not installed" >&2
  fi
fi

# Browser test of the web pages (crates/palmsig-service/tests/browser.rs): Debian chromium and
# playwright-core and axe-core (web-tests/package-lock.json); skipped only with PALMSIG_SKIP_BROWSER=1.
if [ "${PALMSIG_SKIP_BROWSER:-}" != "1" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
  pkgs=""
  command -v chromium >/dev/null || pkgs="chromium chromium-driver"
  command -v node >/dev/null || pkgs="$pkgs nodejs npm"
  if [ -n "$pkgs" ]; then
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $pkgs
  fi
  [ -d web-tests/node_modules/playwright-core ] && [ -d web-tests/node_modules/axe-core ] \
    || npm ci --prefix web-tests --no-audit --no-fund
fi

cargo test --workspace --locked "$@"
