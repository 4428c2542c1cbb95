#!/usr/bin/env bash
# bench-scale.sh — the hot path of `eventual serve` on a large table against an empty one, in one run:
#
#   scripts/bench-scale.sh [ROWS]        default ROWS=1000000; env ROUNDS (4), D (each run, 3s)
#
# Two servers (SQLite, placeholders off): one loaded with ROWS accounts through UpsertMultiple, then
# one empty, both kept up. In each round the load generator `dvload` (a separate process, 8
# keep-alive connections) measures upsert by alternate key, then retrieve by key, on the two back to
# back (the empty one first in odd rounds, second in even ones), so that the machine's drift falls
# on both halves of a ratio alike; the script reads each server's CPU time around each run
# (/proc/PID/stat) and prints CPU µs per request. It ends with each figure's big/empty ratio (the
# geometric mean over the rounds, with the lowest and highest pair), $filter on indexed columns of
# the loaded table (the alternate key accountnumber, and versionnumber) timed with curl (p50/p99),
# and the loaded server's peak RSS (VmHWM) over the whole run.
# Needs the workplace's load tools (BENCH, default ../shared/bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "${BENCH:-$ROOT/../shared/bench}" && pwd)
ROWS=${1:-1000000}; D=${D:-3s}; ROUNDS=${ROUNDS:-4}
W=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
(cd "$BENCH" && go build -o "$W/" ./cmd/dvload)
(cd "$ROOT" && go build -o "$W/eventual" ./cmd/eventual)
metric() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; } # user+system, in clock ticks
ticks=$(getconf CLK_TCK)
start() { # name -> sets pid, url
  local port; port=$(freeport)
  "$W/eventual" serve --listen "127.0.0.1:$port" --db "$W/$1.db" --placeholders off >"$W/$1.log" 2>&1 &
  pid=$!; pids+=("$pid"); url="http://127.0.0.1:$port"
  for _ in $(seq 1 150); do curl -fsS "$url/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server $1 did not start" >&2; cat "$W/$1.log" >&2; exit 1
}
measure() { # round label mode prefix: on server label (its pid and url in pid_LABEL, url_LABEL)
  local c0 c1 n p u; p=$(eval echo "\$pid_$2"); u=$(eval echo "\$url_$2")
  c0=$(cpu "$p")
  "$W/dvload" -url "$u" -mode "$3" -keys 1000 -c 8 -d "$D" -warmup 300ms -prefix "$4" >"$W/m.txt" 2>&1
  c1=$(cpu "$p")
  n=$(awk -v r="$(metric records_per_s "$W/m.txt")" -v d="${D%s}" 'BEGIN{print r*d}')
  printf 'round %d %-6s %-8s %8s req/s  p99 %8s us  errors %s  server CPU %6.1f us/request\n' "$1" "$2" "$3" \
    "$(metric records_per_s "$W/m.txt")" "$(metric p99_us "$W/m.txt")" "$(metric errors "$W/m.txt")" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" -v t="$ticks" 'BEGIN{print (b-a)*1e6/t/n}')" | tee -a "$W/all"
}
filter() { # label filter
  local f="$W/f.txt"; : >"$f"
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null -w '%{time_total}\n' -G "$url/api/data/v9.2/accounts" \
      --data-urlencode "\$select=name" --data-urlencode "\$filter=$(printf "$2" $((i % 50 + 1)) $((i * 7919 % 1000)))" >>"$f"
  done
  sort -n "$f" | awk -v l="$1" '{a[NR]=$1} END{printf "%-6s $filter %-22s p50 %6.2f ms  p99 %6.2f ms\n", "big", l, 1000*a[int(NR*0.5)], 1000*a[int(NR*0.99)]}'
}

start big
pid_big=$pid; url_big=$url
loaded=0; round=0
while [ "$loaded" -lt "$ROWS" ]; do
  round=$((round + 1))
  "$W/dvload" -url "$url" -mode bulk -batch 1000 -c 2 -d 5s -prefix "L$round" >"$W/load.txt" 2>&1
  loaded=$((loaded + $(awk -v r="$(metric records_per_s "$W/load.txt")" 'BEGIN{printf "%d", r*5}')))
done
echo "big    loaded about $loaded accounts in $round rounds of UpsertMultiple"
start empty
pid_empty=$pid; url_empty=$url
for r in $(seq 1 "$ROUNDS"); do
  order="empty big"; [ $((r % 2)) -eq 0 ] && order="big empty"
  for m in upsert get; do
    prefix=S$r; [ $m = get ] && prefix=S1 # retrieve reads the keys round 1's upserts made
    for s in $order; do measure "$r" "$s" "$m" "$prefix"; done
  done
done
for m in upsert get; do
  awk -v m="$m" '$4==m {v[$2" "$3]=$5; c[$2" "$3]=$(NF-1)} END {
      for (k in v) { split(k, a, " "); if (a[2]=="big") { r=a[1]; x=v[r" big"]/v[r" empty"]; n++; s+=log(x); if (n==1||x<lo) lo=x; if (n==1||x>hi) hi=x; cb+=c[r" big"]; ce+=c[r" empty"] } }
      printf "%-8s big/empty %.2f (lowest %.2f, highest %.2f) over %d rounds; server CPU %.1f us/request big, %.1f empty\n", m, exp(s/n), lo, hi, n, cb/n, ce/n }' "$W/all"
done
pid=$pid_big; url=$url_big
filter "accountnumber (key)" "accountnumber eq 'L1-b%d-%d'"
filter "versionnumber" "versionnumber eq %d%03d"
echo "big    peak RSS $(awk '/VmHWM/{print $2/1024}' "/proc/$pid/status") MB"
