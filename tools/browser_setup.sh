#!/usr/bin/env bash
# Install the Debian packages the tests need: headless Chromium for the real-browser
# tests (tests/test_browser.py, test_site.py, test_rf_explorer_browser.py) and bubblewrap,
# the grader's isolation (src/grade: network / pid namespaces). Called by .ci/run before
# `make test`; safe to run again.
# The test itself uses Python `playwright` (from requirements.txt) with
# executable_path=/usr/bin/chromium, so no `playwright install` download is needed.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/bwrap ]; then
    echo "browser_setup: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) and bubblewrap already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "browser_setup: need root (or sudo) to apt-get install chromium and bubblewrap" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core bubblewrap
/usr/bin/chromium --version
/usr/bin/bwrap --version
