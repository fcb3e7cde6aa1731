#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (as root, when missing) and the npm
# packages playwright-core and alipay-sdk (into node_modules, git-ignored). Quick when done.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "tests/browser/setup.sh: Chromium is missing; install Debian's package: apt-get install chromium" >&2
    exit 1
  fi
fi

stamp="$here/node_modules/.browser-stamp"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
fi
