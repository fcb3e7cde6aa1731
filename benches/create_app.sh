#!/usr/bin/env bash
# What creating an app costs, with its reference measured in the same run: one RSA-2048 key
# generation by `openssl genpkey`. Measures, on loopback with the release binary:
#   - start to first answered GET /healthz: `serve --ephemeral` (seed 0, whose keys are built
#     in), `serve --ephemeral --seed 7` (keys generated at start), and an existing data directory;
#   - POST /api/v1/apps, p50 and p99 (nearest rank): seed 0's apps 1 to 32 back to back (keys
#     built in); spaced (a pause before each, as a test suite's tests leave between their apps:
#     the pool refills) and back to back (faster than keys can be made: the pool runs dry), on a
#     seed-7 server and on a --random-keys one.
# Usage: benches/create_app.sh [apps, default 40] [pause in seconds, default 1]
# BIN=path/to/alipay-sim measures that binary instead of building this checkout's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
apps="${1:-40}"
pause="${2:-1}"
if [[ -z "${BIN:-}" ]]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/alipay-sim"
fi
command -v openssl >/dev/null || { echo "openssl is needed for the reference" >&2; exit 1; }

python3 - "$BIN" "$apps" "$pause" <<'PY'
import http.client, json, math, os, shutil, socket, statistics, subprocess, sys, tempfile, time

binary, apps, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
work = tempfile.mkdtemp()

def percentile(values, p):  # nearest rank
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False

def start(args):
    """Starts the server; gives it and the milliseconds to its first answer."""
    port = free_port()
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "serve", "--addr", f"127.0.0.1:{port}", *args],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthy(port):
        if p.poll() is not None:
            sys.exit(f"the server exited: {args}")
        time.sleep(0.001)
    return p, port, (time.monotonic() - t0) * 1000

def stop(p):
    p.terminate(); p.wait()

print("== reference: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
keygen = []
for _ in range(15):
    t0 = time.monotonic()
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", os.devnull], check=True, stderr=subprocess.DEVNULL)
    keygen.append((time.monotonic() - t0) * 1000)
ref = statistics.median(keygen)
print(f"one key generation: p50 {ref:.0f} ms (min {min(keygen):.0f}, max {max(keygen):.0f}, 15 runs)")

print("== start to first answered GET /healthz (median of 5)")
data = os.path.join(work, "data")
stop(start(["--data-dir", data])[0])  # creates the data directory and its first app
for name, args in [("serve --ephemeral", ["--ephemeral"]),
                   ("serve --ephemeral --seed 7", ["--ephemeral", "--seed", "7"]),
                   ("serve --data-dir (existing)", ["--data-dir", data])]:
    times = []
    for _ in range(5):
        p, _, ms = start(args)
        times.append(ms)
        stop(p)
    print(f"{name}: {statistics.median(times):.0f} ms")

def create_apps(args, count, wait):
    p, port, _ = start(args)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(count):
        time.sleep(wait)
        t0 = time.monotonic()
        conn.request("POST", "/api/v1/apps", body=b"{}", headers={"Content-Type": "application/json"})
        response = conn.getresponse(); response.read()
        times.append((time.monotonic() - t0) * 1000)
        assert response.status == 201, response.status
    conn.close(); stop(p)
    return times

print(f"== POST /api/v1/apps, {apps} apps per line (p99: nearest rank)")
burst = min(apps, 16)
for name, args, count, wait in [
        ("seed 0, back to back (32 after the first, keys built in)", ["--ephemeral"], 32, 0),
        (f"seed 7, {pause:g} s apart", ["--ephemeral", "--seed", "7"], apps, pause),
        (f"random keys, {pause:g} s apart", ["--ephemeral", "--random-keys"], apps, pause),
        (f"seed 7, back to back ({burst})", ["--ephemeral", "--seed", "7"], burst, 0),
        (f"random keys, back to back ({burst})", ["--ephemeral", "--random-keys"], burst, 0)]:
    t = create_apps(args, count, wait)
    p50, p99 = percentile(t, 50), percentile(t, 99)
    print(f"{name}: p50 {p50:.1f} ms ({p50 / ref:.3f} x keygen), p99 {p99:.1f} ms ({p99 / ref:.3f} x keygen)")
shutil.rmtree(work)
PY
