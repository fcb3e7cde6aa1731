#!/usr/bin/env bash
# Installs what the interop checkers run on: the official Alipay SDKs, npm alipay-sdk (node/),
# PyPI alipay-sdk-python (python/.venv), Maven alipay-sdk-java (java/target) and alipay-sdk-java-v3
# (java-v3/target), the Go library (go/bin), npm alipay-sdk for the reference backend (../backend), and the WeChat backend
# libraries (wechat/: wechatpy, wechat-oauth and node-easywechat, WxJava, silenceper/wechat). Idempotent and quick when already done: each step is
# skipped while a stamp holding the hash of its lock/requirements/build files still matches.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# Node: npm ci wipes node_modules, so only run it when the lock changed since the last run.
node_dir="$here/node"
node_stamp="$node_dir/node_modules/.interop-stamp"
want="$(hash_of "$node_dir/package-lock.json")"
if [[ ! -f "$node_stamp" || "$(cat "$node_stamp")" != "$want" ]]; then
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$node_stamp"
fi

# The reference backend (and its broken variants) for `alipay-sim play`: npm ci, stamped as above.
backend_dir="$(cd "$here/../backend" && pwd)"
backend_stamp="$backend_dir/node_modules/.backend-stamp"
want="$(hash_of "$backend_dir/package-lock.json")"
if [[ ! -f "$backend_stamp" || "$(cat "$backend_stamp")" != "$want" ]]; then
  (cd "$backend_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$backend_stamp"
fi

# Python: a private venv, so the pinned versions never touch the system Python.
py_dir="$here/python"
venv="$py_dir/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  rm -rf "$venv"  # a half-made venv (ensurepip missing) would otherwise stick around
  if ! python3 -m venv "$venv"; then
    rm -rf "$venv"
    echo "setup.sh: 'python3 -m venv' failed; on Debian/Ubuntu install the python3-venv package (apt-get install python3-venv)" >&2
    exit 1
  fi
fi
py_stamp="$venv/.interop-stamp"
want="$(hash_of "$py_dir/requirements.txt")"
if [[ ! -f "$py_stamp" || "$(cat "$py_stamp")" != "$want" ]]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$py_dir/requirements.txt"
  echo "$want" >"$py_stamp"
fi

# Java: Check.java and GatewayLogin.java compiled against the pinned Maven artifacts, which are
# copied beside them, so a check is one `java -cp target/classes:target/lib/* Check DIR` (no mvn
# per run). The first run downloads from Maven Central into ~/.m2; later builds, if pom.xml,
# Check.java or GatewayLogin.java change, reuse it.
java_dir="$here/java"
java_stamp="$java_dir/target/.interop-stamp"
want="$(cat "$java_dir/pom.xml" "$java_dir/Check.java" "$java_dir/GatewayLogin.java" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$java_stamp" || "$(cat "$java_stamp")" != "$want" ]]; then
  for tool in java mvn; do
    if ! command -v "$tool" >/dev/null; then
      echo "setup.sh: '$tool' not found; the Java checker needs a JDK (17 or newer) and Maven" >&2
      exit 1
    fi
  done
  rm -rf "$java_dir/target"  # no stale classes or jars from an older pom
  if ! log="$(cd "$java_dir" && mvn -q -B -Dstyle.color=never compile dependency:copy-dependencies 2>&1)"; then
    echo "$log" >&2
    echo "setup.sh: the Maven build of tests/interop/java failed" >&2
    exit 1
  fi
  echo "$want" >"$java_stamp"
fi

# Java v3: GatewayLoginV3.java on Maven com.alipay.sdk:alipay-sdk-java-v3 3.1.15.ALL, its own
# project (java-v3/pom.xml: the v3 SDK's okhttp 4 and the v2 SDK's okhttp 3 cannot share one
# classpath), built and stamped the same way into java-v3/target (ignored).
java_v3_dir="$here/java-v3"
java_v3_stamp="$java_v3_dir/target/.interop-stamp"
want="$(cat "$java_v3_dir/pom.xml" "$java_v3_dir/GatewayLoginV3.java" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$java_v3_stamp" || "$(cat "$java_v3_stamp")" != "$want" ]]; then
  for tool in java mvn; do
    if ! command -v "$tool" >/dev/null; then
      echo "setup.sh: '$tool' not found; the Java v3 checker needs a JDK (17 or newer) and Maven" >&2
      exit 1
    fi
  done
  rm -rf "$java_v3_dir/target"
  if ! log="$(cd "$java_v3_dir" && mvn -q -B -Dstyle.color=never compile dependency:copy-dependencies 2>&1)"; then
    echo "$log" >&2
    echo "setup.sh: the Maven build of tests/interop/java-v3 failed" >&2
    exit 1
  fi
  echo "$want" >"$java_v3_stamp"
fi

# Go: github.com/smartwalle/alipay/v3 (pinned in go/go.mod + go.sum), built into go/bin (ignored):
# check.go as go/bin/check, and the second command cmd/gateway_login as go/bin/gateway_login.
# `go build` fetches the modules through the Go module proxy into the module cache. Stamped with
# the hash of go.mod, go.sum and both sources, so a warm run does not even start the go command.
go_dir="$here/go"
go_bin="$go_dir/bin/check"
go_login_bin="$go_dir/bin/gateway_login"
go_stamp="$go_dir/bin/.interop-stamp"
want="$(cd "$go_dir" && sha256sum go.mod go.sum check.go cmd/gateway_login/main.go | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$go_bin" || ! -x "$go_login_bin" || ! -f "$go_stamp" || "$(cat "$go_stamp")" != "$want" ]]; then
  if ! command -v go >/dev/null; then
    echo "setup.sh: the Go checker needs the go command (Go >= 1.22)" >&2
    exit 1
  fi
  (cd "$go_dir" && go build -buildvcs=false -o "$go_bin" . && go build -buildvcs=false -o "$go_login_bin" ./cmd/gateway_login)
  echo "$want" >"$go_stamp"
fi

# WeChat (tests/interop/wechat, see its README): the same four steps for the WeChat backend
# libraries, each stamped with the hash of its inputs and installed into ignored folders.
wx="$here/wechat"

# Node: npm wechat-oauth 1.5.0 + node-easywechat 3.6.2 (node-socialite held at 1.4.1 by `overrides`).
wx_node_stamp="$wx/node/node_modules/.interop-stamp"
want="$(hash_of "$wx/node/package-lock.json")"
if [[ ! -f "$wx_node_stamp" || "$(cat "$wx_node_stamp")" != "$want" ]]; then
  (cd "$wx/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$wx_node_stamp"
fi

# Python: PyPI wechatpy 1.8.18 + cryptography in a private venv.
wx_venv="$wx/python/.venv"
if [[ ! -x "$wx_venv/bin/python" ]]; then
  rm -rf "$wx_venv"
  if ! python3 -m venv "$wx_venv"; then
    rm -rf "$wx_venv"
    echo "setup.sh: 'python3 -m venv' failed; on Debian/Ubuntu install the python3-venv package (apt-get install python3-venv)" >&2
    exit 1
  fi
fi
wx_py_stamp="$wx_venv/.interop-stamp"
want="$(hash_of "$wx/python/requirements.txt")"
if [[ ! -f "$wx_py_stamp" || "$(cat "$wx_py_stamp")" != "$want" ]]; then
  "$wx_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$wx/python/requirements.txt"
  echo "$want" >"$wx_py_stamp"
fi

# Java: WxJava weixin-java-miniapp 4.7.9.B, compiled with Check.java into wechat/java/target.
wx_java="$wx/java"
wx_java_stamp="$wx_java/target/.interop-stamp"
want="$(cat "$wx_java/pom.xml" "$wx_java/Check.java" | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$wx_java_stamp" || "$(cat "$wx_java_stamp")" != "$want" ]]; then
  for tool in java mvn; do
    if ! command -v "$tool" >/dev/null; then
      echo "setup.sh: '$tool' not found; the WeChat Java checker needs a JDK (17 or newer) and Maven" >&2
      exit 1
    fi
  done
  rm -rf "$wx_java/target"
  if ! log="$(cd "$wx_java" && mvn -q -B -Dstyle.color=never compile dependency:copy-dependencies 2>&1)"; then
    echo "$log" >&2
    echo "setup.sh: the Maven build of tests/interop/wechat/java failed" >&2
    exit 1
  fi
  echo "$want" >"$wx_java_stamp"
fi

# Go: github.com/silenceper/wechat/v2 v2.1.10 (wechat/go/go.mod + go.sum), built into wechat/go/bin.
wx_go="$wx/go"
wx_go_stamp="$wx_go/bin/.interop-stamp"
want="$(cd "$wx_go" && sha256sum go.mod go.sum check.go | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$wx_go/bin/check" || ! -f "$wx_go_stamp" || "$(cat "$wx_go_stamp")" != "$want" ]]; then
  if ! command -v go >/dev/null; then
    echo "setup.sh: the WeChat Go checker needs the go command (Go >= 1.22)" >&2
    exit 1
  fi
  (cd "$wx_go" && go build -buildvcs=false -o bin/check .)
  echo "$want" >"$wx_go_stamp"
fi
