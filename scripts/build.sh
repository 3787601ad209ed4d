#!/usr/bin/env bash
# Configures and builds reelscale (Release) into ./build. Used by demo.sh and test.sh.
# BUILD_DIR and CMAKE_ARGS may be set by the caller.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
gen=""; command -v ninja >/dev/null && gen="-G Ninja"
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" $gen -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$build" --parallel "$(nproc)" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
