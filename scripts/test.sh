#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (CTest + GoogleTest). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests (report, live page) need Chromium: the tests install it so they run, not skip.
REELSCALE_WITH_CHROMIUM=${REELSCALE_WITH_CHROMIUM:-1} scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)" --timeout 900
