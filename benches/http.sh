#!/usr/bin/env bash
# HTTP benchmark of the simulator server, with its references measured in the same run:
# the engine's single-core signing rate (Criterion, success_rsa2) and `openssl speed rsa2048`.
# Installs wrk (Debian package) if missing. Loopback only; every load is bounded in time.
# Usage: benches/http.sh [seconds per load, default 10]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-10}"
port=18099
base="http://127.0.0.1:$port"

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)..." >&2
  apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

cargo build --release --quiet
bin=target/release/alipay-sim
work="$(mktemp -d)"
wrk_scripts="$PWD/benches/wrk"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== references"
openssl_rate=$(openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $6}')
echo "openssl speed rsa2048, one core: $openssl_rate sign/s"
cargo bench --quiet --bench envelope -- --noplot success_rsa2 2>/dev/null | tee "$work/criterion.txt" | grep -E "time:" || true
engine_us=$(awk '/success_rsa2/ && /time:/ {gsub(/\[/, ""); print $5, $6}' "$work/criterion.txt" | head -1)
engine_rate=$(echo "$engine_us" | awk '{v=$1; u=$2; if (u=="ms") v*=1000; if (u=="ns") v/=1000; printf "%.0f", 1000000/v}')
echo "engine success_rsa2, one core: $engine_rate envelopes/s ($(awk -v a="$engine_rate" -v b="$openssl_rate" 'BEGIN {printf "%.2f", a/b}') x openssl)"

start_server() {
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --seed 0 >"$work/banner.txt" 2>"$work/log.txt" &
  pid=$!
}
wait_ready() {
  for _ in $(seq 1 200); do curl -fs "$base/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server did not start" >&2; cat "$work/log.txt" >&2; exit 1
}

echo "== start-up"
start_server; wait_ready   # first start: creates the data directory and the first app
app=$(curl -fs "$base/api/v1/apps" | sed -E 's/.*"app_id":"([^"]+)".*/\1/' | head -1)
kill "$pid"; wait "$pid" 2>/dev/null || true
startup_ms=$(python3 - "$bin" "$port" "$work/data" <<'PY'
import socket, subprocess, sys, time
bin, port, data = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.monotonic()
p = subprocess.Popen([bin, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        if s.recv(64).startswith(b"HTTP/1.1 200"):
            break
    except OSError:
        time.sleep(0.001)
print(f"{(time.monotonic() - t0) * 1000:.0f}")
p.terminate(); p.wait()
PY
)
echo "start to first answered request, existing data directory: ${startup_ms} ms"

start_server; wait_ready
sleep 1
idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "idle resident memory: $((idle_kb / 1024)) MB"


run_wrk() { # name, then wrk arguments
  local name=$1; shift
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" >"$work/$name.txt"
  local rps p99
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/$name.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$name.txt")
  local errors; errors=$(grep -E "Non-2xx|Socket errors" "$work/$name.txt" || true)
  echo "$name: $rps req/s, p99 $p99 ${errors:+($errors)}"
  eval "${name}_rps=$rps"
}

echo "== load: 64 connections, ${seconds} s each, wrk on the same 2 cores"
run_wrk healthz "$base/healthz"
run_wrk new_mobile -s "$wrk_scripts/new_mobile.lua" "$base/api/v1/apps/$app/getPhoneNumber"
run_wrk same_scenario -s "$wrk_scripts/repeated.lua" "$base/api/v1/apps/$app/getPhoneNumber"
# WeChat: a backend checking its user's session key (GET /wxa/checksession, a valid signature
# over a cached token), each call answered and journaled.
wx=$(curl -fs -X POST "$base/api/v1/wechat/apps" -d '{"seed": 9}')
wx_appid=$(echo "$wx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["appid"])')
wx_secret=$(echo "$wx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
wx_openid=$(echo "$wx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["openid"])')
wx_code=$(curl -fs -X POST "$base/api/v1/wechat/apps/$wx_appid/wx.login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
wx_key=$(curl -fs "$base/sns/jscode2session?appid=$wx_appid&secret=$wx_secret&js_code=$wx_code" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session_key"])')
wx_token=$(curl -fs "$base/cgi-bin/token?grant_type=client_credential&appid=$wx_appid&secret=$wx_secret" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
wx_sig=$(printf '' | openssl dgst -sha256 -hmac "$wx_key" | awk '{print $NF}')
checksession="$base/wxa/checksession?access_token=$wx_token&openid=$wx_openid&signature=$wx_sig&sig_method=hmac_sha256"
curl -fs "$checksession" | grep -q '"errcode":0' || { echo "checksession did not answer 0" >&2; exit 1; }
run_wrk wechat_checksession "$checksession"
busy_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "resident memory after the loads: $((busy_kb / 1024)) MB"

cores=$(nproc)
echo "== against the goals"
awk -v r="$new_mobile_rps" -v e="$engine_rate" -v c="$cores" \
  'BEGIN {printf "new mobile: %.2f x (cores x engine single-core rate = %d x %d); goal >= 0.80\n", r/(c*e), c, e}'
awk -v r="$same_scenario_rps" -v h="$healthz_rps" \
  'BEGIN {printf "same scenario: %.2f x healthz; goal >= 0.50\n", r/h}'
awk -v r="$wechat_checksession_rps" -v h="$healthz_rps" \
  'BEGIN {printf "WeChat checksession: %.2f x healthz (no goal set; measured)\n", r/h}'
