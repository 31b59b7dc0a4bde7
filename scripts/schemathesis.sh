#!/usr/bin/env bash
# Schemathesis against the OpenAPI document of a local `palmsig serve --demo`, bounded in time.
#
#   scripts/schemathesis.sh [sqlite|postgres] [max-examples]     (default: sqlite 20)
#
# Needs the `schemathesis` CLI on PATH (`pip install schemathesis`; or SCHEMATHESIS=/path/to/st)
# and a built binary (PALMSIG=target/debug/palmsig by default; `cargo build -p palmsig`).
# postgres: a fresh database on 127.0.0.1:5432 (trust auth), dropped afterwards. Two runs: as
# the operator and as the demo tenant's API client (devices sign requests, which schemathesis
# cannot; their routes are checked for refusals only). Every check; exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-sqlite}"
examples="${2:-20}"
st="${SCHEMATHESIS:-schemathesis}"
bin="${PALMSIG:-${CARGO_TARGET_DIR:-target}/debug/palmsig}"
port="${PALMSIG_ST_PORT:-18181}"
work="$(mktemp -d)"
db=""
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [ -n "$db" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$db" || true
  rm -rf "$work"
}
trap cleanup EXIT

args=(serve --demo --listen "127.0.0.1:$port" --data "$work/data")
if [ "$backend" = postgres ]; then
  db="palmsig_st_$$"
  createdb -h 127.0.0.1 -U postgres "$db"
  args+=(--database-url "postgres://postgres@127.0.0.1:5432/$db")
fi
"$bin" "${args[@]}" >"$work/serve.out" 2>"$work/serve.err" &
server=$!
# `--demo` writes its secrets to DATA/demo-credentials.json (0600), never to stdout.
creds="$work/data/demo-credentials.json"
for _ in $(seq 1 120); do
  grep -q '"device_key"' "$creds" 2>/dev/null && grep -q '^palmsig service on' "$work/serve.out" && break
  sleep 0.5
done
admin="$(cat "$work/data/admin-token")"
field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$creds"; }
token="$(curl -sf "http://127.0.0.1:$port/v1/oauth/token" \
  -d "grant_type=client_credentials&client_id=$(field client_id)&client_secret=$(field client_secret)" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"

status=0
for who in operator tenant; do
  bearer="$admin"; [ "$who" = tenant ] && bearer="$token"
  echo "== schemathesis on $backend as the $who"
  # Run from the temporary dir: schemathesis keeps a cache folder where it runs.
  (cd "$work" && timeout 600 "$st" run "http://127.0.0.1:$port/openapi.json" --checks all \
    --max-examples "$examples" --workers 2 --seed 16 \
    -H "Authorization: Bearer $bearer") || status=1
done
exit "$status"
