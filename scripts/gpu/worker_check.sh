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
OUT=${OUT:-/tmp/worker-check}
mkdir -p "$OUT"
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/summary.txt"

start=$(date +%s)
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S scripts/gpu/worker -B build-gpu-worker -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/cmake.log" 2>&1 || { tail -40 "$OUT/cmake.log"; exit 1; }
ninja -C build-gpu-worker test_worker_gpu bench_upscaler > "$OUT/build.log" 2>&1 \
  || { grep -E "error|Error" -A4 "$OUT/build.log" | head -120; exit 1; }
say "build: $(( $(date +%s) - start )) s"

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
