#!/usr/bin/env bash
# Installs Debian's chromium when /usr/bin/chromium is missing: the example app's end-to-end test
# drives it through playwright-core, which never downloads a browser of its own. Idempotent.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "browser: installing Debian's chromium"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
