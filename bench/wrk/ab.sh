#!/bin/bash
# One wrk run against one Inlet, for A/B measurements of a single change: the
# server started from a checkout (default: this one) on a fresh database, warmed
# up for 3 s, then measured. Prints req/s, p99, the server's CPU µs per request,
# Postgres's (every postgres process, exited backends included) per request,
# events per transaction, the server's peak RSS and how busy the machine was.
#
#   bench/wrk/ab.sh [seconds=10] [connections=64] [script=single] [checkout=.]
#   INLET_ENV="RECEIPT_EVENTS_MAX=0" bench/wrk/ab.sh     # any Inlet setting
#
# Alternate A and B at least twice each: runs on this shared 2-core box vary
# ±10% (the bench reports the spread of its own phases). Run it under the bench
# lock (mkdir /tmp/inlet-bench.lock; rmdir after) so no other benchmark overlaps.
# Needs wrk, psql and a Postgres at BENCH_DATABASE_URL (default 127.0.0.1:5432).
set -eu
SECONDS_=${1:-10}; CONNECTIONS=${2:-64}; SCRIPT=${3:-single}
HERE=$(cd "$(dirname "$0")" && pwd)
CHECKOUT=$(cd "${4:-$HERE/../..}" && pwd)
PG=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=inlet_ab_$$
PORT=${PORT:-18123}
TOKEN=ab-admin-token-0123456789abcdef
WORK=$(mktemp -d)
psql -q "$PG" -c "create database $DB"
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  psql -q "$PG" -c "drop database if exists $DB with (force)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
URL=${PG%/*}/$DB
(cd "$CHECKOUT" && exec env DATABASE_URL="$URL" INLET_ADMIN_TOKEN=$TOKEN INLET_DATA_DIR="$WORK/data" PORT=$PORT LOG_LEVEL=warn \
  ${INLET_ENV:-} bun src/main.ts) > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 150); do curl -sf "localhost:$PORT/health" > /dev/null && break; sleep 0.2; done
KEY=$(curl -sf -XPOST "localhost:$PORT/admin/projects" -H "authorization: Bearer $TOKEN" \
  -d '{"name":"ab","plan":"enterprise","rate_limit_rpm":10000000}' | sed 's/.*"api_key":"\([^"]*\)".*/\1/')
# Some events to read, for the read scripts.
wrk -t1 -c8 -d2s -s "$HERE/single.lua" "http://127.0.0.1:$PORT" -- "$KEY" warm > /dev/null
wrk -t1 -c"$CONNECTIONS" -d3s -s "$HERE/$SCRIPT.lua" "http://127.0.0.1:$PORT" -- "$KEY" warmup > /dev/null

ticks() { local t=0 a; for p in "$@"; do read -r -a a < "/proc/$p/stat" 2>/dev/null || continue; t=$((t + a[13] + a[14])); done; echo $t; }
postgres_ticks() {
  local master a
  master=$(pgrep -o -x postgres)
  read -r -a a < "/proc/$master/stat"
  echo $(( $(ticks $(pgrep -x postgres)) + a[15] + a[16] ))
}
machine() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
flushes() { curl -s "localhost:$PORT/metrics" | awk '/^inlet_flush_batch_events_sum/{s=$2} /^inlet_flush_batch_events_count/{c=$2} END{print s+0, c+0}'; }

( while kill -0 "$SERVER" 2>/dev/null; do awk '/VmRSS/{print $2}' "/proc/$SERVER/status"; sleep 0.1; done ) > "$WORK/rss" 2>/dev/null &
SAMPLER=$!
s0=$(ticks "$SERVER"); p0=$(postgres_ticks); read -r b0 i0 <<< "$(machine)"; read -r e0 t0 <<< "$(flushes)"
wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_}s" -s "$HERE/$SCRIPT.lua" "http://127.0.0.1:$PORT" -- "$KEY" "run$$" > "$WORK/wrk"
s1=$(ticks "$SERVER"); p1=$(postgres_ticks); read -r b1 i1 <<< "$(machine)"; read -r e1 t1 <<< "$(flushes)"
kill $SAMPLER 2>/dev/null || true
HZ=$(getconf CLK_TCK)
grep WRK_JSON "$WORK/wrk" | sed 's/WRK_JSON //' | python3 -c "
import json, sys
d = json.load(sys.stdin)
n, s = d['requests'], d['duration_us'] / 1e6
tx = $t1 - $t0
print(f\"{n / s:,.0f} req/s  p99 {d['latency_us']['p99'] / 1000:.1f} ms  errors {d['errors']['status']}  \"
      f\"server {($s1 - $s0) * 1e6 / $HZ / n:.1f} µs/req  Postgres {($p1 - $p0) * 1e6 / $HZ / n:.1f} µs/req  \"
      f\"{(($e1 - $e0) / tx) if tx else 0:.1f} events/tx  peak RSS {max(int(l) for l in open('$WORK/rss') if l.strip()) // 1024} MiB  \"
      f\"machine {($b1 - $b0) * 100 // max(1, ($b1 - $b0) + ($i1 - $i0))}% busy\")
"
