#!/usr/bin/env bash
# The model's GPU check, one device run (see docs/model.md):
#   1. builds rs_model + test_model + bench_model with CUDA (scripts/gpu/model/CMakeLists.txt),
#   2. runs the model tests on CPU and CUDA (fp32 equal to the fixtures, TF32 off; DCN kernel),
#      the measurements (fp16/bf16 vs fp32, chunked vs whole PSNR),
#   3. times ours and the official code (fetch_official.sh) at 1024x432, T = 32/64/96, fp16:
#      ours with a per-stage GPU profile (T = 32), the peak memory at T = 32/64/96/160 with
#      8 context frames each side under a 22 GiB cap (offload auto), JSON in $OUT/bench_*.json.
# Prepare on the development machine, from the project root:
#   .gpu-model/ (GoogleTest + nlohmann-json headers/libs), .fixtures/shared/fixtures/basicvsrpp/
#   (the fixtures that fit the carry limit) and .fixtures/demo_lr_u8.npy, .official/
# then: run(command="bash scripts/gpu/model_check.sh", carry=[".gpu-model", ".fixtures", ".official"])
# Logs go to $OUT (or /tmp/model-check when unset).
set -uo pipefail
STEPS=${STEPS:-build,test,measure,bench,official,debug}
# shellcheck source=scripts/gpu/check_common.sh
source "$(dirname "$0")/check_common.sh"
check_init /tmp/model-check
fx=.fixtures/shared/fixtures/basicvsrpp
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$OUT/summary.txt"
python3 -c 'import torchvision; print("torchvision", torchvision.__version__)' 2>&1 | tail -1 | tee -a "$OUT/summary.txt"

if want build; then
  standalone_build torch model test_model bench_model
fi

if want test; then
  ./build-gpu-model/test_model --gtest_filter='-Measure.*:Npy.RoundTrips*' > "$OUT/test_model.txt" 2>&1
  say "test_model exit $?"
  grep -E "^\[ (fixture|measure) \]|FAILED|PASSED|SKIPPED" "$OUT/test_model.txt" | tee -a "$OUT/summary.txt"
fi

if want measure; then
  REELSCALE_PSNR_FRAMES=.fixtures/demo_lr_u8.npy REELSCALE_PSNR_CKPT=$fx/tiny_c16n2.pth \
  REELSCALE_PRECISION_CKPT=$fx/full_c64n7_random.pth REELSCALE_PRECISION_INPUT=.fixtures/demo_lr_u8.npy \
    ./build-gpu-model/test_model --gtest_filter='Measure.*' > "$OUT/measure.txt" 2>&1
  say "measure exit $?"
  grep -E "^\[ measure \]|FAILED|PASSED" "$OUT/measure.txt" | tee -a "$OUT/summary.txt"
fi

if want bench; then
  # BENCH_FLAGS: extra bench_model flags for every row (e.g. "--channels-last").
  B="./build-gpu-model/bench_model --precision fp16 --device cuda ${BENCH_FLAGS:-}"
  say "ours, profile: bench_model --chunk 32 --profile (GPU ms per frame per stage)"
  $B --chunk 32 --profile --json "$OUT/bench_profile.json" 2>&1 | tee -a "$OUT/summary.txt"
  say "ours, channels-last + fused kernels, profile: --channels-last --chunk 32 --profile"
  $B --channels-last --chunk 32 --profile --json "$OUT/bench_profile_cl.json" 2>&1 | tee -a "$OUT/summary.txt"
  say "ours, speed: --offload off --chunk 64 --chunk 96 --no-warm-each"
  $B --offload off --chunk 64 --chunk 96 --no-warm-each --json "$OUT/bench_speed.json" 2>&1 | tee -a "$OUT/summary.txt"
  # An RTX 4090 (24 GB): the allocator capped at 22 GiB, offload auto plans for it; T emitted
  # frames + 8 context frames each side. Goal: T = 96 with peak_gib <= 22.
  say "ours, memory: --memory-limit 22 --offload auto --overlap 8 --chunk 32/64/96/160"
  $B --memory-limit 22 --offload auto --overlap 8 --chunk 32 --chunk 64 --chunk 96 --chunk 160 --no-warm-each \
    --json "$OUT/bench_memory.json" 2>&1 | tee -a "$OUT/summary.txt"
  say "ours, memory without offload: --offload off --overlap 8 --chunk 96 --no-warm-each"
  $B --offload off --overlap 8 --chunk 96 --no-warm-each 2>&1 | grep -E "^T " | tee -a "$OUT/summary.txt"
fi

if want official; then
  say "official: python3 scripts/gpu/official_bench.py --chunks 32 64 96 --precision fp16"
  python3 scripts/gpu/official_bench.py --dir .official --chunks 32 64 96 --precision fp16 --precision-check $fx/full_c64n7_random.pth .fixtures/demo_lr_u8.npy 2>&1 | grep -v -i warn | tail -8 | tee -a "$OUT/summary.txt"
fi

if want debug; then
  # Runs the file-writing tests one by one, under gdb when present (a crash seen only there).
  for t in Npy.RoundTripsShapeAndData Npy.OneDimensionalShapeKeepsTheTupleComma Npy.RejectsWhatItCannotRead; do
    if command -v gdb > /dev/null; then
      gdb -q -batch -ex run -ex bt --args ./build-gpu-model/test_model --gtest_filter=$t 2>&1 | tail -25 | tee -a "$OUT/summary.txt"
    else
      ./build-gpu-model/test_model --gtest_filter=$t 2>&1 | tail -5 | tee -a "$OUT/summary.txt"
    fi
  done
fi
