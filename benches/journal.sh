#!/usr/bin/env bash
# The durable journal's cost on the request path: two builds of alipay-sim side by side in one
# run, each with a data directory, interleaved rounds of wrk (64 connections) on /healthz, a
# repeated scenario and a new mobile per request. Loopback only.
# Usage: benches/journal.sh BIN_BEFORE BIN_AFTER [seconds per load, default 8] [rounds, default 3]
set -euo pipefail
before=$1 after=$2 seconds=${3:-8} rounds=${4:-3}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work="$(mktemp -d)"
wrk_scripts="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wrk"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18123
for round in $(seq "$rounds"); do
  for which in before after; do
    bin=${!which}
    rm -rf "$work/data"
    "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --seed 0 >"$work/banner.txt" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    app=$(awk '/^app / {print $2; exit}' "$work/banner.txt")
    for load in healthz same new_mobile; do
      case $load in
        healthz) args=("http://127.0.0.1:$port/healthz") ;;
        same) args=(-s "$wrk_scripts/repeated.lua" "http://127.0.0.1:$port/api/v1/apps/$app/getPhoneNumber") ;;
        new_mobile) args=(-s "$wrk_scripts/new_mobile.lua" "http://127.0.0.1:$port/api/v1/apps/$app/getPhoneNumber") ;;
      esac
      wrk -t2 -c64 -d"${seconds}s" --latency "${args[@]}" >"$work/out.txt"
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/out.txt")
      p99=$(awk '$1 == "99%" {print $2}' "$work/out.txt")
      echo "round $round $which $load $rps req/s p99 $p99"
    done
    if [ "$which" = after ] && [ -f "$work/data/journal.sqlite" ]; then
      echo "round $round after: journal rows $(curl -fs "http://127.0.0.1:$port/api/v1/journal/history?limit=100000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
