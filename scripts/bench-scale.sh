#!/usr/bin/env bash
# bench-scale.sh — the hot path of `eventual serve` on a large table against an empty one, in one run:
#
#   scripts/bench-scale.sh [ROWS]        default ROWS=1000000
#
# Two fresh servers (SQLite, placeholders off): one empty, one loaded with ROWS accounts through
# UpsertMultiple. On each, the load generator `dvload` (a separate process, 8 keep-alive
# connections) measures upsert by alternate key and retrieve by key; the script reads the server's
# CPU time around each run (/proc/PID/stat) and prints CPU µs per request. On the loaded one it also
# times $filter on an indexed column (the alternate key accountnumber, and versionnumber) with curl and
# prints their p50/p99, and the server's peak RSS (VmHWM) over the whole run.
# Needs the workplace's load tools (BENCH, default ../shared/bench). Env: D (load run, 5s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(cd "${BENCH:-$ROOT/../shared/bench}" && pwd)
ROWS=${1:-1000000}; D=${D:-5s}
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
measure() { # label mode
  local c0 c1 n
  c0=$(cpu "$pid")
  "$W/dvload" -url "$url" -mode "$2" -keys 1000 -c 8 -d "$D" -prefix S >"$W/m.txt" 2>&1
  c1=$(cpu "$pid")
  n=$(awk -v r="$(metric records_per_s "$W/m.txt")" -v d="${D%s}" 'BEGIN{print r*d}')
  printf '%-6s %-8s %8s req/s  p99 %8s us  errors %s  server CPU %6.1f us/request\n' "$1" "$2" \
    "$(metric records_per_s "$W/m.txt")" "$(metric p99_us "$W/m.txt")" "$(metric errors "$W/m.txt")" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" -v t="$ticks" 'BEGIN{print (b-a)*1e6/t/n}')"
}
filter() { # label filter
  local f="$W/f.txt"; : >"$f"
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null -w '%{time_total}\n' -G "$url/api/data/v9.2/accounts" \
      --data-urlencode "\$select=name" --data-urlencode "\$filter=$(printf "$2" $((i % 50 + 1)) $((i * 7919 % 1000)))" >>"$f"
  done
  sort -n "$f" | awk -v l="$1" '{a[NR]=$1} END{printf "%-6s $filter %-22s p50 %6.2f ms  p99 %6.2f ms\n", "big", l, 1000*a[int(NR*0.5)], 1000*a[int(NR*0.99)]}'
}

start empty
measure empty upsert
measure empty get
kill "$pid"; wait "$pid" 2>/dev/null || true

start big
loaded=0; round=0
while [ "$loaded" -lt "$ROWS" ]; do
  round=$((round + 1))
  "$W/dvload" -url "$url" -mode bulk -batch 1000 -c 2 -d 5s -prefix "L$round" >"$W/load.txt" 2>&1
  loaded=$((loaded + $(awk -v r="$(metric records_per_s "$W/load.txt")" 'BEGIN{printf "%d", r*5}')))
done
echo "big    loaded about $loaded accounts in $round rounds of UpsertMultiple"
measure big upsert
measure big get
filter "accountnumber (key)" "accountnumber eq 'L1-b%d-%d'"
filter "versionnumber" "versionnumber eq %d%03d"
echo "big    peak RSS $(awk '/VmHWM/{print $2/1024}' "/proc/$pid/status") MB"
