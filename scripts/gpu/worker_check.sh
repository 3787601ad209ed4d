#!/usr/bin/env bash
# The worker pipeline's GPU check, one device run (docs/worker.md):
#   1. builds rs_model + test_worker_gpu + bench_upscaler with CUDA (scripts/gpu/worker),
#   2. test_worker_gpu: the Y'CbCr conversion on CUDA equals the CPU's bit for bit, the pinned
#      staging delivers every frame in order under back-pressure, BasicVSR++'s device path
#      equals the CPU conversion of its float output,
#   3. bench_upscaler at 1024x432 fp16 (random c64n7 weights, T = 32): model-only vs the
#      Y'CbCr path (GPU conversion + D2H on the copy stream + a consumer thread), f32 and u8 in,
#   4. whether this image has what the full `reelscale bench worker` needs (FFmpeg et al.).
# Prepare on the development machine (as scripts/gpu/model_check.sh): .gpu-model/.
# Then: run(command="bash scripts/gpu/worker_check.sh", carry=[".gpu-model"])
set -uo pipefail
# shellcheck source=scripts/gpu/check_common.sh
source "$(dirname "$0")/check_common.sh"
check_init /tmp/worker-check

standalone_build torch worker test_worker_gpu bench_upscaler

./build-gpu-worker/test_worker_gpu > "$OUT/test_worker_gpu.txt" 2>&1
say "test_worker_gpu exit $?"
grep -E "FAILED|PASSED|SKIPPED|Failure|differs" "$OUT/test_worker_gpu.txt" | head -40 | tee -a "$OUT/summary.txt"

for args in "" "--u8" "--channels-last"; do
  say "bench_upscaler --size 1024x432 --precision fp16 --chunk 32 --chunks 3 $args"
  ./build-gpu-worker/bench_upscaler --size 1024x432 --precision fp16 --chunk 32 --chunks 3 $args 2>&1 | tee -a "$OUT/summary.txt"
done

say "full bench worker prerequisites (pkg-config):"
for p in libavcodec libavformat libavfilter libswscale libavutil dvdread yaml-cpp spdlog libsodium libzmq sqlite3 opencv4 tesseract; do
  printf '%s: %s\n' "$p" "$(pkg-config --modversion $p 2>/dev/null || echo missing)"
done | tee -a "$OUT/summary.txt"
