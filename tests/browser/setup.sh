#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium and a CJK font (as root, when missing;
# without the font the pages' Chinese renders as boxes of another width, which the layout checks
# would measure) and the npm packages playwright-core, axe-core and alipay-sdk (into
# node_modules, git-ignored). Quick when done.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
[[ -d /usr/share/fonts/opentype/noto ]] && fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if (( ${#missing[@]} )); then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  else
    echo "tests/browser/setup.sh: missing ${missing[*]}; install Debian's packages: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

stamp="$here/node_modules/.browser-stamp"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
fi
