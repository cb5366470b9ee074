#!/usr/bin/env bash
# Ingest throughput with 0 and with N live-stream subscribers (curl -N readers),
# alternated, R runs each, then ack-to-stream latency. Holds /tmp/inlet-bench.lock.
# usage: bench/stream/run.sh [N=20] [R=3]   (needs wrk, curl, a Postgres on 127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")"
N=${1:-20}; R=${2:-3}; PORT=${PORT:-3411}
until mkdir /tmp/inlet-bench.lock 2>/dev/null; do echo "waiting for /tmp/inlet-bench.lock"; sleep 30; done
trap 'kill $(cat /tmp/stream-bench.readers 2>/dev/null) 2>/dev/null || true; kill ${SERVER:-} 2>/dev/null || true; rmdir /tmp/inlet-bench.lock' EXIT
DB=inlet_stream_bench
psql -q -h 127.0.0.1 -U postgres -c "drop database if exists $DB" -c "create database $DB"
DATA=$(mktemp -d /tmp/inlet-stream-bench.XXXXXX)
TOKEN=stream-bench-admin-token-0123
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB INLET_ADMIN_TOKEN=$TOKEN INLET_DATA_DIR=$DATA PORT=$PORT LOG_LEVEL=warn \
  bun ../../src/main.ts > "$DATA/server.log" 2>&1 &
SERVER=$!
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.2; done
KEY=$(curl -sf -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/admin/projects" \
  -d '{"name":"bench","plan":"enterprise","rate_limit_rpm":10000000}' | sed 's/.*"api_key":"\([^"]*\)".*/\1/')
echo "warm-up (5 s)"; wrk -t2 -c64 -d5s -s ../wrk/single.lua "http://127.0.0.1:$PORT" -- "$KEY" warm >/dev/null
for r in $(seq 1 "$R"); do
  for subs in 0 "$N"; do
    : > /tmp/stream-bench.readers
    for _ in $(seq 1 "$subs"); do
      curl -sN -H "authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/events/stream" > /dev/null & echo $! >> /tmp/stream-bench.readers
    done
    sleep 1
    open=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^inlet_stream_subscribers /{print $2}')
    cpu0=$(cpu)
    out=$(wrk -t2 -c64 -d15s -s ../wrk/single.lua "http://127.0.0.1:$PORT" -- "$KEY" "r$r-s$subs")
    cpu1=$(cpu)
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    total=$(echo "$out" | awk '/requests in/{print $1}')
    # Inlet's own CPU per request: less sensitive than requests/s to other load on the box.
    us=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (b-a)/hz*1e6/n}')
    echo "run $r: $subs subscribers (open: $open): $rps requests/s, Inlet CPU $us µs/request, load $(cut -d' ' -f1 /proc/loadavg)"
    kill $(cat /tmp/stream-bench.readers) 2>/dev/null || true
    sleep 1
  done
done
echo "ack-to-stream, idle server:"
bun latency.ts "http://127.0.0.1:$PORT" "$KEY" 500 10
echo "ack-to-stream with $N other subscribers and wrk at 64 connections:"
: > /tmp/stream-bench.readers
for _ in $(seq 1 "$N"); do curl -sN -H "authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/events/stream" > /dev/null & echo $! >> /tmp/stream-bench.readers; done
wrk -t2 -c64 -d20s -s ../wrk/single.lua "http://127.0.0.1:$PORT" -- "$KEY" lat-load > /dev/null &
WRK=$!
sleep 2
bun latency.ts "http://127.0.0.1:$PORT" "$KEY" 500 10
wait $WRK || true
grep -v '^$' "$DATA/server.log" | tail -5 || true
