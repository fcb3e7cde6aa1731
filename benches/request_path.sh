#!/usr/bin/env bash
# The request path against its limit: a bare axum route (examples/bare_route.rs: the same
# runtime, allocator and worker count, none of the simulator's layers) serving the exact body
# of the repeated scenario, side by side in one run with alipay-sim's /healthz, the repeated
# scenario and a new mobile per request (signing-bound, against cores x `openssl speed
# rsa2048`). alipay-sim runs with a data directory: journal and durable commit included; a
# second instance with --ephemeral (the journal in memory only) gives the durable journal's
# own cost in the same run.
# With BEFORE_BIN, an earlier build (say, one made with `git worktree` at an older commit)
# runs the same loads with a data directory too, in the same rounds: before and after.
# wrk, 64 connections, interleaved rounds. Loopback only.
# Usage: benches/request_path.sh [seconds per load, default 8] [rounds, default 3] [SIM_BIN] [BEFORE_BIN]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-8} rounds=${2:-3} sim=${3:-} before=${4:-}
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin alipay-sim --example bare_route
sim=${sim:-target/release/alipay-sim}
bare=target/release/examples/bare_route
work="$(mktemp -d)"
wrk_scripts="$PWD/benches/wrk"
trap 'kill "${sim_pid:-0}" "${bare_pid:-0}" "${mem_pid:-0}" "${before_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
sim_port=18123 bare_port=18124 mem_port=18125 before_port=18126
"$sim" serve --addr "127.0.0.1:$sim_port" --data-dir "$work/data" --seed 0 >"$work/banner.txt" 2>"$work/log.txt" &
sim_pid=$!
"$sim" serve --addr "127.0.0.1:$mem_port" --ephemeral --seed 0 >"$work/mem_banner.txt" 2>/dev/null &
mem_pid=$!
ports="$sim_port $mem_port"
if [ -n "$before" ]; then
  "$before" serve --addr "127.0.0.1:$before_port" --data-dir "$work/before" --seed 0 >"$work/before_banner.txt" 2>/dev/null &
  before_pid=$!
  ports="$ports $before_port"
fi
for port in $ports; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done
app=$(awk '/^app / {print $2; exit}' "$work/banner.txt")
scenario="http://127.0.0.1:$sim_port/api/v1/apps/$app/getPhoneNumber"
in_memory="http://127.0.0.1:$mem_port/api/v1/apps/$(awk '/^app / {print $2; exit}' "$work/mem_banner.txt")/getPhoneNumber"
loads="bare healthz repeated repeated_mem new_mobile new_mobile_mem"
if [ -n "$before" ]; then
  before_scenario="http://127.0.0.1:$before_port/api/v1/apps/$(awk '/^app / {print $2; exit}' "$work/before_banner.txt")/getPhoneNumber"
  loads="$loads before_healthz before_repeated before_new_mobile"
fi
curl -fs -X POST -H 'Content-Type: application/json' -H 'X-Alipay-Sim-Scenario: success' -d '{}' "$scenario" >"$work/body.json"
echo "repeated scenario's body: $(wc -c <"$work/body.json") bytes, served by the bare route too"
"$bare" "127.0.0.1:$bare_port" "$work/body.json" &
bare_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$bare_port/" >/dev/null 2>&1 && break; sleep 0.1; done
cores=$(nproc)
openssl_rate=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
echo "openssl speed rsa2048, one core: $openssl_rate sign/s; cores: $cores"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # name pid wrk-arguments...
  local name=$1 pid=$2; shift 2
  local before; before=$(cpu_ticks "$pid")
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" >"$work/out.txt"
  local after; after=$(cpu_ticks "$pid")
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/out.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/out.txt")
  errors=$(grep -E "Non-2xx|Socket errors" "$work/out.txt" | tr -s ' ' || true)
  # Server CPU per request, from the process's user + system ticks (100 per second).
  local us; us=$(awk -v t=$((after - before)) -v r="$rps" -v s="$seconds" 'BEGIN {printf "%.1f", t * 10000 / (r * s)}')
  echo "$name $rps $p99 $us${errors:+ ($errors)}"
}
results="$work/results.txt"
# Warm-up, not reported: connections, caches, and the journal grown to its retention.
for target in "http://127.0.0.1:$bare_port/" "http://127.0.0.1:$sim_port/healthz"; do
  wrk -t2 -c64 -d2s "$target" >/dev/null
done
for url in "$scenario" "$in_memory" ${before_scenario:-}; do
  for script in repeated new_mobile; do wrk -t2 -c64 -d2s -s "$wrk_scripts/$script.lua" "$url" >/dev/null; done
done
for round in $(seq "$rounds"); do
  for load in $loads; do
    case $load in
      bare) line=$(measure bare "$bare_pid" "http://127.0.0.1:$bare_port/") ;;
      healthz) line=$(measure healthz "$sim_pid" "http://127.0.0.1:$sim_port/healthz") ;;
      repeated) line=$(measure repeated "$sim_pid" -s "$wrk_scripts/repeated.lua" "$scenario") ;;
      new_mobile) line=$(measure new_mobile "$sim_pid" -s "$wrk_scripts/new_mobile.lua" "$scenario") ;;
      repeated_mem) line=$(measure repeated_mem "$mem_pid" -s "$wrk_scripts/repeated.lua" "$in_memory") ;;
      new_mobile_mem) line=$(measure new_mobile_mem "$mem_pid" -s "$wrk_scripts/new_mobile.lua" "$in_memory") ;;
      before_healthz) line=$(measure before_healthz "$before_pid" "http://127.0.0.1:$before_port/healthz") ;;
      before_repeated) line=$(measure before_repeated "$before_pid" -s "$wrk_scripts/repeated.lua" "$before_scenario") ;;
      before_new_mobile) line=$(measure before_new_mobile "$before_pid" -s "$wrk_scripts/new_mobile.lua" "$before_scenario") ;;
    esac
    read -r name rps p99 us errors <<<"$line"
    printf "round %s: %-10s %7s req/s  p99 %-8s server CPU %s us/request %s\n" "$round" "$name" "$rps" "$p99" "$us" "$errors"
    echo "$round $line" >>"$results"
  done
done
# The median round of each ratio: the machines are shared, and one round can meet a neighbour.
median='
  function median(values, n,    sorted, i, j, v) {
    for (i = 1; i <= n; i++) sorted[i] = values[i]
    for (i = 2; i <= n; i++) { v = sorted[i]; for (j = i - 1; j >= 1 && sorted[j] > v; j--) sorted[j + 1] = sorted[j]; sorted[j + 1] = v }
    return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
  }'
echo "== side by side (per round, against that round's bare route)"
awk -v cores="$cores" -v ossl="$openssl_rate" '
  $2 == "bare" {bare[$1] = $3}
  $2 != "bare" {rps[$1, $2] = $3}
  END {
    printf "%-6s %8s %8s %6s %8s %6s %8s %6s %8s %6s %8s %6s\n", "round", "bare", "healthz", "ratio", "repeated", "ratio", "in mem", "ratio", "new mob", "x rsa", "in mem", "x rsa"
    for (r = 1; r in bare; r++) {
      printf "%-6s %8d %8d %5.2fx %8d %5.2fx %8d %5.2fx %8d %5.2fx %8d %5.2fx\n", r, bare[r], rps[r, "healthz"], rps[r, "healthz"] / bare[r], rps[r, "repeated"], rps[r, "repeated"] / bare[r], rps[r, "repeated_mem"], rps[r, "repeated_mem"] / bare[r], rps[r, "new_mobile"], rps[r, "new_mobile"] / (cores * ossl), rps[r, "new_mobile_mem"], rps[r, "new_mobile_mem"] / (cores * ossl)
      n = r
      h[r] = rps[r, "healthz"] / bare[r]; p[r] = rps[r, "repeated"] / bare[r]; pm[r] = rps[r, "repeated_mem"] / bare[r]
      m[r] = rps[r, "new_mobile"] / (cores * ossl); mm[r] = rps[r, "new_mobile_mem"] / (cores * ossl)
    }
    printf "%-6s %8s %8s %5.2fx %8s %5.2fx %8s %5.2fx %8s %5.2fx %8s %5.2fx\n", "median", "", "", median(h, n), "", median(p, n), "", median(pm, n), "", median(m, n), "", median(mm, n)
  }
  '"$median" "$results"
echo "goals: healthz >= 0.90x, repeated >= 0.50x of the bare route; new mobile 0.80-0.92x of cores x openssl"
echo "in mem: the same loads on a --ephemeral instance (journal in memory only)"
if [ -n "$before" ]; then
  echo "== before ($before) and after, same rounds, both with a data directory"
  awk -v cores="$cores" -v ossl="$openssl_rate" '
    $2 == "bare" {bare[$1] = $3}
    $2 != "bare" {rps[$1, $2] = $3; cpu[$1, $2] = $5}
    END {
      printf "%-6s %8s %8s %6s %8s %8s %6s %8s %8s %6s\n", "round", "healthz", "before", "after", "repeated", "before", "after", "new mob", "before", "after"
      for (r = 1; r in bare; r++) {
        printf "%-6s %7.2fx %7.2fx %5.2fx %7.2fx %7.2fx %5.2fx %7.2fx %7.2fx %5.2fx\n", r, rps[r, "healthz"] / bare[r], rps[r, "before_healthz"] / bare[r], rps[r, "healthz"] / rps[r, "before_healthz"], rps[r, "repeated"] / bare[r], rps[r, "before_repeated"] / bare[r], rps[r, "repeated"] / rps[r, "before_repeated"], rps[r, "new_mobile"] / (cores * ossl), rps[r, "before_new_mobile"] / (cores * ossl), rps[r, "new_mobile"] / rps[r, "before_new_mobile"]
        n = r
        h[r] = rps[r, "healthz"] / rps[r, "before_healthz"]; p[r] = rps[r, "repeated"] / rps[r, "before_repeated"]; m[r] = rps[r, "new_mobile"] / rps[r, "before_new_mobile"]
      }
      printf "%-6s %8s %8s %5.2fx %8s %8s %5.2fx %8s %8s %5.2fx\n", "median", "", "", median(h, n), "", "", median(p, n), "", "", median(m, n)
    }
    '"$median" "$results"
  echo "healthz and repeated against the bare route, new mobile against cores x openssl; after: after / before"
fi
echo "journal rows: $(curl -fs "http://127.0.0.1:$sim_port/api/v1/journal/history?limit=100000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
