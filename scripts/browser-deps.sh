#!/usr/bin/env bash
# Headless Chromium for the web UI's browser tests (tests/browser), from Debian's packages.
# Playwright drives it through executable_path; `playwright install` (which downloads its own
# browser builds) is never used. Without root, or without apt, the browser tests skip and say why.
set -euo pipefail
[[ -x /usr/bin/chromium ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "browser tests need Chromium (Debian/Ubuntu: sudo apt-get install chromium chromium-driver)" >&2
  exit 0
fi
echo "installing system packages: chromium chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
