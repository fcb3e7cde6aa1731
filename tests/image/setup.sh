#!/usr/bin/env bash
# Debian's buildah, for the container image's build-and-start test (scripts/image).
set -euo pipefail
command -v buildah >/dev/null && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "tests/image/setup.sh: buildah is missing; install it (apt-get install buildah)" >&2
  exit 1
fi
apt-get install -y -qq buildah >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq buildah >/dev/null; }
