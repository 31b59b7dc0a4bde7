#!/usr/bin/env bash
# A local cluster (docs/DEPLOY.md): 2 API nodes and 2 shards x 2 replicas against the local
# PostgreSQL (127.0.0.1:5432) and NATS JetStream (127.0.0.1:4222). Ctrl-C stops everything.
#   scripts/cluster-up.sh [serve flags for the first node, e.g. --demo]
#   env: PALMSIG=path/to/palmsig  DB=palmsig_cluster  SHARDS=2  PROFILE=synthetic (with --demo)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${PALMSIG:-target/release/palmsig}
[ -x "$bin" ] || cargo build --release -p palmsig
db=${DB:-palmsig_cluster}
shards=${SHARDS:-2}
pg=postgres://postgres@127.0.0.1:5432
url=$pg/$db
nats=nats://127.0.0.1:4222
dir=${DATA:-cluster-data}
mkdir -p "$dir"

# Reachability of the shared services (bash's /dev/tcp: no netcat needed).
for hp in 127.0.0.1/5432 127.0.0.1/4222; do
  (exec 3<>"/dev/tcp/$hp") 2>/dev/null || { echo "nothing listens on ${hp/\//:}" >&2; exit 1; }
done
psql "$pg/postgres" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
  || psql "$pg/postgres" -qc "CREATE DATABASE $db"

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

# The first API node creates the key file and the schema (service migrations + outbox trigger);
# every other process shares that key file (in production: PALMSIG_KEK from a secret store).
keys="$dir/keys.json"
# Scores and thresholds must agree: every node and matcher runs the same algorithm and profile.
engine=(${PROFILE:+--profile "$PROFILE"})
common=(--data "$dir/api" --database-url "$url" --nats "$nats" --shards "$shards" --key-file "$keys" "${engine[@]}")
"$bin" serve --listen 127.0.0.1:8081 "${common[@]}" "$@" &
pids+=($!)
for _ in $(seq 1 60); do [ -f "$keys" ] && curl -sf http://127.0.0.1:8081/healthz >/dev/null && break; sleep 1; done
"$bin" serve --listen 127.0.0.1:8082 "${common[@]}" &
pids+=($!)
for s in $(seq 0 $((shards - 1))); do
  for r in r1 r2; do
    "$bin" matcher --database-url "$url" --nats "$nats" --shard "$s/$shards" --replica "$r" \
      --key-file "$keys" "${engine[@]}" &
    pids+=($!)
  done
done
echo "API nodes: http://127.0.0.1:8081 and http://127.0.0.1:8082 (put a load balancer in front)"
wait
