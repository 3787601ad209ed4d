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
  libopenblas0-openmp  # LibTorch recommends an optimised BLAS; without it, the reference libblas3 (CPU runs)
  fonts-dejavu-core
  prometheus           # promtool, for the report suite's lint of /metrics (~20 MB download)
  # PySceneDetect's dependencies, for the scenes suite's comparison with it and scripts/bench-scenes.sh
  python3-opencv python3-av python3-numpy python3-click python3-platformdirs python3-tqdm python3-pip
  time bc             # scripts/bench-scenes.sh
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

# PySceneDetect 0.7.1 itself (Debian has no python3-scenedetect): from PyPI without its
# dependencies (Debian's python3-opencv/python3-av above serve them), else from a source tree
# (REELSCALE_SCENEDETECT_SRC: a checkout of Breakthrough/PySceneDetect at tag v0.7.1, whose
# scenedetect/ package is copied beside Debian's modules), else a note: the comparison test
# then skips.
if ! /usr/bin/python3 -c 'import scenedetect' 2>/dev/null; then
  if $SUDO /usr/bin/python3 -m pip install -q --retries 1 --timeout 15 --no-deps --break-system-packages scenedetect==0.7.1 2>/dev/null; then
    echo "installed PySceneDetect 0.7.1 from PyPI"
  elif [ -n "${REELSCALE_SCENEDETECT_SRC:-}" ] && [ -d "$REELSCALE_SCENEDETECT_SRC/scenedetect" ]; then
    site=$(/usr/bin/python3 -c 'import sys; print(next(p for p in sys.path if p.startswith("/usr/local/lib/python3") and p.endswith("dist-packages")))')
    $SUDO mkdir -p "$site"
    $SUDO cp -r "$REELSCALE_SCENEDETECT_SRC/scenedetect" "$site/"
    echo "installed PySceneDetect from $REELSCALE_SCENEDETECT_SRC into $site"
  else
    echo "note: PySceneDetect 0.7.1 not installed (no network for pip; set REELSCALE_SCENEDETECT_SRC" \
         "to its source tree): the scenes suite's comparison with it will skip" >&2
  fi
fi
