#!/usr/bin/env bash
# bench-pg.sh — `eventual serve` on PostgreSQL against raw pgx, in one run:
#
#   scripts/bench-pg.sh [PGURL]     default PGURL=postgres://postgres@127.0.0.1:5432
#
# Creates two scratch databases (dropped at the end): one for the raw baseline, `pgupsert` of the
# workplace's load tools (github.com/jackc/pgx/v5, one connection: single-row autocommit upserts,
# and multi-row upserts of 1000 per transaction), and one for a fresh `eventual serve` under the
# load generator `dvload` (a separate process; upsert by alternate key at 8 connections, and
# UpsertMultiple of 1000 at 2). Prints each rate and the ratios. Needs psql's createdb/dropdb.
# Env: BENCH (../shared/bench), D (load run, 5s), ROWS (raw rows per pass, 20000).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "${BENCH:-$ROOT/../shared/bench}" && pwd)
PG=${1:-postgres://postgres@127.0.0.1:5432}; D=${D:-5s}; ROWS=${ROWS:-20000}
W=$(mktemp -d); pids=(); dbs=()
raw_db=eventual_bench_raw_$$; srv_db=eventual_bench_srv_$$
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${dbs[@]}"; do dropdb --if-exists --maintenance-db="$PG/postgres" "$d" || true; done
  rm -rf "$W"
}
trap cleanup EXIT
for d in "$raw_db" "$srv_db"; do createdb --maintenance-db="$PG/postgres" "$d"; dbs+=("$d"); done
(cd "$BENCH" && go build -o "$W/" ./cmd/dvload ./cmd/pgupsert)
(cd "$ROOT" && go build -o "$W/eventual" ./cmd/eventual)
metric() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

"$W/pgupsert" -dsn "$PG/$raw_db?sslmode=disable" -mode single -rows "$ROWS" -passes insert >"$W/raw1.txt" 2>&1
"$W/pgupsert" -dsn "$PG/$raw_db?sslmode=disable" -mode multirow -batch 1000 -rows $((ROWS * 10)) -passes insert >"$W/rawb.txt" 2>&1
raw1=$(metric rows_per_s "$W/raw1.txt"); rawb=$(metric rows_per_s "$W/rawb.txt")

port=$(freeport)
"$W/eventual" serve --listen "127.0.0.1:$port" --db "$PG/$srv_db?sslmode=disable" --placeholders off >"$W/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$W/dvload" -url "http://127.0.0.1:$port" -mode upsert -c 8 -d "$D" -prefix G >"$W/upsert.txt" 2>&1
"$W/dvload" -url "http://127.0.0.1:$port" -mode bulk -batch 1000 -c 2 -d "$D" -prefix G >"$W/bulk.txt" 2>&1
up=$(metric records_per_s "$W/upsert.txt"); bulk=$(metric records_per_s "$W/bulk.txt")
printf 'raw pgx single-row upsert      %8s rows/s\n' "$raw1"
printf 'raw pgx 1000 rows per txn      %8s rows/s\n' "$rawb"
printf 'HTTP upsert by key (8 conns)   %8s req/s  p99 %s us  errors %s  = %.2f x raw single-row\n' \
  "$up" "$(metric p99_us "$W/upsert.txt")" "$(metric errors "$W/upsert.txt")" "$(awk -v a="$up" -v b="$raw1" 'BEGIN{print a/b}')"
printf 'HTTP UpsertMultiple 1000 (2)   %8s rows/s errors %s  = %.2f x raw batched\n' \
  "$bulk" "$(metric errors "$W/bulk.txt")" "$(awk -v a="$bulk" -v b="$rawb" 'BEGIN{print a/b}')"
