#!/usr/bin/env bash
# bench-ab.sh — the hot path of `eventual serve` at two revisions, in interleaved rounds, so that a
# change is judged against its parent on the same machine at the same time (a shared machine's
# absolute rates drift by half within minutes; rounds that alternate the two builds cancel it out).
#
#   scripts/bench-ab.sh [BASE [HEAD]]     default: BASE=HEAD~1, HEAD=the working tree
#
# Each round (the builds take turns going first) measures raw SQLite one row per transaction, the HTTP ceiling (the workplace's
# trivial net/http server under the same load generator: the base of retrieve), then for each build a fresh
# `eventual serve` (SQLite, placeholders off) under the load generator `dvload` (a separate
# process, 8 keep-alive connections): upsert by alternate key, create, retrieve by key, and
# UpsertMultiple of 1000 (2 connections; against raw SQLite 1000 rows per transaction). It prints
# one line per figure, then the median of each (rate and p99) over the rounds and the ratio B/A.
# Needs the workplace's load tools (BENCH, default ../shared/bench). Env: ROUNDS (4: even, so each build goes first as often), D (4s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "${BENCH:-$ROOT/../shared/bench}" && pwd)
BASE=${1:-HEAD~1}; HEADREV=${2:-}
ROUNDS=${ROUNDS:-4}; D=${D:-4s}
W=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for wt in base headwt; do git -C "$ROOT" worktree remove --force "$W/$wt" >/dev/null 2>&1 || true; done; rm -rf "$W"; }
trap cleanup EXIT
(cd "$BENCH" && go build -o "$W/" ./cmd/dvload ./cmd/sqlite-modernc ./cmd/httpserver)
build() { # rev dir out
  if [ -z "$1" ]; then (cd "$ROOT" && go build -o "$3" ./cmd/eventual); return; fi
  git -C "$ROOT" worktree add -q --detach "$2" "$1" && (cd "$2" && go build -o "$3" ./cmd/eventual)
}
build "$BASE" "$W/base" "$W/A"
if [ -n "$HEADREV" ]; then build "$HEADREV" "$W/headwt" "$W/B"; else build "" "" "$W/B"; fi
metric() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$W/raw"; (cd "$W" && ./sqlite-modernc -rows 30000 -batch 1 -sync NORMAL -passes insert -dir raw) >"$W/raw.txt" 2>&1
  echo "round $r raw - $(metric rows_per_s "$W/raw.txt")" | tee -a "$W/all"
  rm -rf "$W/raw"; (cd "$W" && ./sqlite-modernc -rows 100000 -batch 1000 -sync NORMAL -passes insert -dir raw) >"$W/raw.txt" 2>&1
  echo "round $r rawbatch - $(metric rows_per_s "$W/raw.txt")" | tee -a "$W/all"
  port=$(freeport); "$W/httpserver" -addr "127.0.0.1:$port" >"$W/h.log" 2>&1 &
  pid=$!; pids+=("$pid")
  for _ in $(seq 1 50); do curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
  "$W/dvload" -url "http://127.0.0.1:$port" -mode create -c 8 -d "$D" >"$W/ceiling.txt" 2>&1
  echo "round $r ceiling - $(metric records_per_s "$W/ceiling.txt")" | tee -a "$W/all"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  order="A B"; [ $((r % 2)) -eq 0 ] && order="B A" # alternate who goes first: the second run of a round is favoured
  for b in $order; do
    port=$(freeport); rm -f "$W/$b.db"*
    "$W/$b" serve --listen "127.0.0.1:$port" --db "$W/$b.db" --placeholders off >"$W/$b.log" 2>&1 &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    for m in upsert create get bulk; do
      c=8; [ $m = bulk ] && c=2
      "$W/dvload" -url "http://127.0.0.1:$port" -mode $m -keys 1000 -batch 1000 -c $c -d "$D" -prefix "R$r" >"$W/$m.txt" 2>&1
      echo "round $r $b $m $(metric records_per_s "$W/$m.txt") p99_us=$(metric p99_us "$W/$m.txt") errors=$(metric errors "$W/$m.txt")" | tee -a "$W/all"
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
raw=$(awk '$3=="raw"{print $5}' "$W/all" | median)
rawbatch=$(awk '$3=="rawbatch"{print $5}' "$W/all" | median)
ceiling=$(awk '$3=="ceiling"{print $5}' "$W/all" | median)
echo "medians over $ROUNDS rounds (raw SQLite 1 row/txn: $raw rows/s; 1000 rows/txn: $rawbatch rows/s, the base of bulk; HTTP ceiling: $ceiling req/s, the base of get):"
for m in upsert create get bulk; do
  base=$raw; [ $m = bulk ] && base=$rawbatch; [ $m = get ] && base=$ceiling
  a=$(awk -v m=$m '$3=="A" && $4==m {print $5}' "$W/all" | median)
  b=$(awk -v m=$m '$3=="B" && $4==m {print $5}' "$W/all" | median)
  pa=$(awk -v m=$m '$3=="A" && $4==m {sub("p99_us=","",$6); print $6}' "$W/all" | median)
  pb=$(awk -v m=$m '$3=="B" && $4==m {sub("p99_us=","",$6); print $6}' "$W/all" | median)
  awk -v m=$m -v a="$a" -v b="$b" -v raw="$base" -v pa="$pa" -v pb="$pb" 'BEGIN{printf "%-7s A %6d/s (%3.0f%% of base)  B %6d/s (%3.0f%% of base)  B/A %.2f   p99 A %.2f ms  B %.2f ms\n", m, a, 100*a/raw, b, 100*b/raw, b/a, pa/1000, pb/1000}'
done
