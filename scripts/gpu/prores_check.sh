#!/usr/bin/env bash
# The CUDA ProRes encoder's GPU check, one device run (docs/prores.md, "GPU encoder"):
#   1. builds rs_prores_cuda, test_prores_cuda and bench_prores_cuda standalone
#      (scripts/gpu/prores/CMakeLists.txt: no OpenCV/Tesseract/SQLite needed),
#   2. runs the tests: GPU packets byte-identical to the reference encoder (flat, black, noise,
#      gradient, checkerboard, 1918x1078, 720x576, 100x50, 17x9, 1x1, 4096x1728, three profiles,
#      a tiny budget), costs and picks equal, libavcodec decode + headers + PSNR,
#   3. runs the small-frame test under compute-sanitizer (memcheck, racecheck, synccheck): the
#      CPU emulation of the kernels cannot see races or out-of-bounds accesses,
#   4. measures frames/s at 4096x1728 HQ (frame on the GPU; goal >= 100) next to prores_ks.
# Needs FFmpeg's libraries and GoogleTest: the script sources .gpu/build-deps.sh itself when
# pkg-config cannot find libavcodec (.gpu-model/'s GoogleTest is used when carried).
#   run(command="bash scripts/gpu/prores_check.sh", carry=[".gpu"])
# Logs go to $OUT (or /tmp/prores-check when unset); summary.txt has what matters.
set -uo pipefail
STEPS=${STEPS:-build,test,sanitize,bench}
SIZE=${SIZE:-4096x1728}
# shellcheck source=scripts/gpu/check_common.sh
source "$(dirname "$0")/check_common.sh"
if ! pkg-config --exists libavcodec 2> /dev/null && [[ -f .gpu/build-deps.sh ]]; then
  # shellcheck disable=SC1091
  source .gpu/build-deps.sh
fi
check_init /tmp/prores-check
nvcc --version | tail -1 | tee -a "$OUT/summary.txt"
echo "libavcodec $(pkg-config --modversion libavcodec 2> /dev/null || echo missing)" | tee -a "$OUT/summary.txt"

if want build; then
  standalone_build plain prores test_prores_cuda bench_prores_cuda
fi

if want test; then
  ./build-gpu-prores/test_prores_cuda > "$OUT/test_prores_cuda.txt" 2>&1
  say "test_prores_cuda exit $?"
  grep -E "identical:|PSNR|FAILED|PASSED|SKIPPED|Failure|Expected|Which is|byte [0-9]" "$OUT/test_prores_cuda.txt" \
    | head -80 | tee -a "$OUT/summary.txt"
fi

if want sanitize; then
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [[ -x "$san" ]]; then
    for tool in memcheck racecheck synccheck; do
      "$san" --tool $tool --error-exitcode 9 ./build-gpu-prores/test_prores_cuda \
        --gtest_filter='ProresCuda.SmallFramesIdentical' > "$OUT/sanitize_$tool.txt" 2>&1
      say "compute-sanitizer $tool exit $? ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize_$tool.txt" | tail -1))"
      grep -E "^=========" "$OUT/sanitize_$tool.txt" | head -20 | tee -a "$OUT/summary.txt"
    done
  else
    say "compute-sanitizer: not found"
  fi
fi

if want bench; then
  say "bench_prores_cuda --size $SIZE --frames 200 --ks-frames 16"
  ./build-gpu-prores/bench_prores_cuda --size "$SIZE" --frames 200 --ks-frames 16 2>&1 | tee -a "$OUT/summary.txt"
  if command -v nsys > /dev/null && [[ -n "${PROFILE:-}" ]]; then
    nsys profile -o "$OUT/prores" --force-overwrite true ./build-gpu-prores/bench_prores_cuda \
      --size "$SIZE" --frames 20 --ks-frames 0 > /dev/null 2>&1
    nsys stats --report cuda_gpu_kern_sum "$OUT/prores.nsys-rep" 2>&1 | head -20 | tee -a "$OUT/summary.txt"
  fi
fi
