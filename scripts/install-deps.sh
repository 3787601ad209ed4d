#!/usr/bin/env bash
# Installs, from Debian/Ubuntu packages, everything reelscale needs to build, test and run.
# Idempotent: packages already present are skipped by apt. Needs root (or sudo).
# Extra Tesseract languages: REELSCALE_OCR_LANGS="deu fra" scripts/install-deps.sh
# Headless Chromium for the report test: REELSCALE_WITH_CHROMIUM=1 scripts/install-deps.sh
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(
  build-essential cmake ninja-build pkg-config git
  libavformat-dev libavcodec-dev libavfilter-dev libavutil-dev libswscale-dev libswresample-dev
  ffmpeg
  libdvdread-dev
  dvdauthor genisoimage xorriso
  libzmq3-dev cppzmq-dev libsodium-dev
  libyaml-cpp-dev
  libopencv-dev
  libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu
  iso-codes
  libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
  libtorch-dev
  fonts-dejavu-core
  prometheus           # promtool, for the report suite's lint of /metrics (~20 MB download)
)
for l in ${REELSCALE_OCR_LANGS:-}; do pkgs+=("tesseract-ocr-${l//_/-}"); done
# Headless Chromium for the browser tests (the report in tests/coordinator/report, the live
# page in tests/fault; they skip without it): ~350 MB, so only on request (development, CI - .ci/run
# asks for it), never in the images: REELSCALE_WITH_CHROMIUM=1
if [ "${REELSCALE_WITH_CHROMIUM:-0}" = 1 ]; then pkgs+=(chromium); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
