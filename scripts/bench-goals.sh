#!/usr/bin/env bash
# bench-goals.sh — the hot path's goals (issue 13) as ratios of paired runs, each pair measured
# back to back while every server stays up, so that the machine's drift (its speed swings by half
# within minutes when it is shared) falls on both halves of a ratio alike:
#
#   scripts/bench-goals.sh [ROUNDS]      default 8; env D (each run, 2s), SETTLE (seconds of quiet
#                                        after the bulk pairs, 2: the server's checkpoint of their WAL
#                                        would otherwise load the next pair), PG (a PostgreSQL URL
#                                        without the database, e.g. postgres://postgres@127.0.0.1:5432;
#                                        adds the PostgreSQL pairs; needs createdb/dropdb)
#
# Pairs, each round (the baseline goes first in odd rounds and second in even ones):
#   upsert, create  `eventual serve` (SQLite, placeholders off) under the workplace's `dvload`
#                   (8 keep-alive connections)  against raw SQLite one row per transaction
#                   (`sqlite-modernc`, same driver, WAL, synchronous NORMAL);
#   get             retrieve by key under `dvload`  against the trivial net/http server (the HTTP
#                   ceiling) under the same load generator;
#   bulk            UpsertMultiple of 1000 (2 connections)  against raw SQLite 1000 rows per transaction;
#   pg-upsert, pg-bulk (with PG)  `eventual serve` on PostgreSQL  against raw pgx (`pgupsert`):
#                   single-row autocommit upserts, and 1000 rows per multi-row upsert.
# Prints each pair's ratio, then per figure the geometric mean, the lowest and the highest ratio,
# and the median p99, and the HTTP ceiling's own p99 (the floor under every p99 on the machine). Needs the workplace's load tools (BENCH, default ../shared/bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "${BENCH:-$ROOT/../shared/bench}" && pwd)
ROUNDS=${1:-8}; D=${D:-2s}; PG=${PG:-}; SETTLE=${SETTLE:-2}
W=$(mktemp -d); pids=(); dbs=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${dbs[@]}"; do dropdb --if-exists --maintenance-db="$PG/postgres" "$d" || true; done
  rm -rf "$W"
}
trap cleanup EXIT
(cd "$BENCH" && go build -o "$W/" ./cmd/dvload ./cmd/sqlite-modernc ./cmd/httpserver ./cmd/pgupsert)
(cd "$ROOT" && go build -o "$W/eventual" ./cmd/eventual)
metric() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
up() { # name url: wait for /healthz (or any answer)
  for _ in $(seq 1 150); do curl -fsS -o /dev/null "$2/healthz" 2>/dev/null && return; curl -fsS -o /dev/null -X POST "$2/" 2>/dev/null && return; sleep 0.1; done
  echo "$1 did not start" >&2; exit 1
}
serve() { # url db log
  local port=${1##*:}
  "$W/eventual" serve --listen "127.0.0.1:$port" --db "$2" --placeholders off >"$3" 2>&1 &
  pids+=($!); up eventual "$1"
}
EV=http://127.0.0.1:$(freeport); serve "$EV" "$W/e.db" "$W/serve.log"
CEIL=http://127.0.0.1:$(freeport); "$W/httpserver" -addr "${CEIL#http://}" >"$W/h.log" 2>&1 &
pids+=($!); up httpserver "$CEIL"
if [ -n "$PG" ]; then
  raw_db=eventual_goals_raw_$$; srv_db=eventual_goals_srv_$$
  for d in "$raw_db" "$srv_db"; do createdb --maintenance-db="$PG/postgres" "$d"; dbs+=("$d"); done
  PGEV=http://127.0.0.1:$(freeport); serve "$PGEV" "$PG/$srv_db?sslmode=disable" "$W/pgserve.log"
fi
# The keys retrieve reads (accountnumber G-1 … G-1000).
"$W/dvload" -url "$EV" -mode upsert -c 8 -d 2s -prefix G >/dev/null 2>&1

load() { # out url mode conns prefix
  "$W/dvload" -url "$2" -mode "$3" -keys 1000 -batch 1000 -c "$4" -d "$D" -warmup 300ms -prefix "$5" >"$1" 2>&1
  echo "$(metric records_per_s "$1") $(metric p99_us "$1") $(metric errors "$1")"
}
raw() { # out rows batch
  rm -rf "$W/raw"; (cd "$W" && ./sqlite-modernc -rows "$2" -batch "$3" -sync NORMAL -passes insert -dir raw) >"$1" 2>&1
  metric rows_per_s "$1"
}
pgraw() { # out mode rows
  "$W/pgupsert" -dsn "$PG/$raw_db?sslmode=disable" -mode "$2" -batch 1000 -rows "$3" -passes insert >"$1" 2>&1
  metric rows_per_s "$1"
}
pair() { # round figure "baseline command" "eventual command"
  local base ev
  if [ $(($1 % 2)) -eq 1 ]; then base=$(eval "$3"); ev=$(eval "$4"); else ev=$(eval "$4"); base=$(eval "$3"); fi
  set -- "$1" "$2" "$base" $ev
  awk -v r="$1" -v f="$2" -v b="$3" -v e="$4" -v p="$5" -v x="$6" \
    'BEGIN{printf "round %d %-9s %7.0f/s against %7.0f/s = %.2f  p99 %.2f ms  errors %s\n", r, f, e, b, e/b, p/1000, x}' | tee -a "$W/all"
}
for r in $(seq 1 "$ROUNDS"); do
  pair "$r" upsert "raw $W/raw.txt 20000 1" "load $W/u.txt $EV upsert 8 U$r"
  pair "$r" create "raw $W/raw.txt 20000 1" "load $W/c.txt $EV create 8 C$r"
  pair "$r" get "load $W/ceil.txt $CEIL create 8 H$r | cut -d' ' -f1" "load $W/g.txt $EV get 8 G"
  metric p99_us "$W/ceil.txt" >>"$W/ceilp99" # the HTTP ceiling's own tail, the floor of every p99
  pair "$r" bulk "raw $W/rawb.txt 100000 1000" "load $W/b.txt $EV bulk 2 B$r"
  sleep "$SETTLE" # the server checkpoints the bulk's WAL: not the next pair's load
  if [ -n "$PG" ]; then
    pair "$r" pg-upsert "pgraw $W/pgr.txt single 8000" "load $W/pu.txt $PGEV upsert 8 U$r"
    pair "$r" pg-bulk "pgraw $W/pgb.txt multirow 100000" "load $W/pb.txt $PGEV bulk 2 B$r"
    sleep "$SETTLE"
  fi
done
echo "over $ROUNDS rounds (each ratio: eventual's rate over its baseline's, measured back to back):"
sort -n "$W/ceilp99" | awk '{a[NR]=$1} END{printf "the HTTP ceiling itself (trivial server, same load): median p99 %.2f ms, highest %.2f ms\n", a[int((NR+1)/2)]/1000, a[NR]/1000}'

for f in upsert create get bulk pg-upsert pg-bulk; do
  grep -q " $f " "$W/all" || continue
  p99=$(awk -v f="$f" '$3==f {print $10}' "$W/all" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  awk -v f="$f" -v p99="$p99" '$3==f { n++; r=$8; s+=log(r); if (n==1||r<lo) lo=r; if (n==1||r>hi) hi=r }
    END { printf "%-9s geometric mean %.2f  (lowest %.2f, highest %.2f)  median p99 %.2f ms\n", f, exp(s/n), lo, hi, p99 }' "$W/all"
done
