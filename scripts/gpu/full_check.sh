#!/usr/bin/env bash
# The whole project on the GPU machine, one device run (docs/development.md, "GPU runs"):
#   build    reelscale + the suites below with CUDA (-DREELSCALE_WITH_OCR=OFF: no Tesseract there)
#   tests    the suites that have CUDA tests (skipped on CI): model kernels, GPU ProRes, pipeline
#   bench    bench model --profile, bench worker (source in -> ProRes shard out), bench encode
#            (CPU encoders on all cores, and the GPU ProRes encoder)
#   official the official BasicVSR++ code timed in the same run (ratios come from one run)
#   multi    issue 10 on one GPU: two workers sharing it, a clean run and a kill -9 run
# Prepare on the development machine: bash scripts/gpu/prepare_full.sh; bash scripts/gpu/fetch_official.sh
# then: run(command="bash scripts/gpu/full_check.sh", carry=[".gpu", ".gpu-full", ".official"])
# Environment: STEPS (comma list), TESTS (ctest-free list of suite binaries), SECONDS_FILM,
#   BENCH (model,memory,worker,encode), MODEL_VARIANTS / WORKER_VARIANTS (';' lists; a worker
#   variant may begin with VAR=value words), MEMORY_SWEEP=0 (only the 22 GiB row), MODEL_ONLY=1
#   (build and bench the model alone: bench_model instead of the CLI; ReproducibleBits then
#   skips, since it runs the CLI twice).
# One call holds 10 minutes: build + tests is one (~4 min), the benches another (~7 min).
set -uo pipefail
STEPS=${STEPS:-build,tests,bench,official,multi}
# shellcheck source=scripts/gpu/check_common.sh
source "$(dirname "$0")/check_common.sh"
B=build-gpu
R=$PWD/$B/cli/reelscale
check_init /tmp/full-check
nproc | sed 's/^/cores: /' | tee -a "$OUT/summary.txt"

start=$(date +%s)
source scripts/gpu/full_env.sh > "$OUT/env.log" 2>&1 || { tail -30 "$OUT/env.log"; exit 1; }
tail -1 "$OUT/env.log" | tee -a "$OUT/summary.txt"
# std:: symbols the LibTorch libraries export: a process linking them may bind its own calls
# there (shared/util/remove_tree.hpp says why that matters).
tl=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null)/lib
for so in libtorch.so libc10.so libtorch_cpu.so libtorch_cuda.so; do
  [ -f "$tl/$so" ] && echo "$so exports $(nm -D --defined-only "$tl/$so" 2>/dev/null | c++filt | grep -c ' std::') std:: symbols, std::filesystem: $(nm -D --defined-only "$tl/$so" 2>/dev/null | c++filt | grep ' std::filesystem' | sed 's/.* std::filesystem::/ /; s/(.*//' | sort -u | tr '\n' ',')"
done | tee -a "$OUT/summary.txt"
say "deps (FFmpeg build): $(( $(date +%s) - start )) s"

TESTS=${TESTS:-test_model test_prores_cuda test_pipeline test_encode test_prores}
if want build; then
  start=$(date +%s)
  # -g: a crash report (shared/util/crash_handler.cpp) is symbolised with file:line here.
  cmake -S . -B $B -G Ninja -DREELSCALE_WITH_CUDA=ON -DREELSCALE_WITH_OCR=OFF -DCMAKE_CXX_FLAGS=-g \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DOpenCV_DIR="$PWD/.gpu-full/lib/cmake/opencv4" > "$OUT/cmake.log" 2>&1 \
    || { tail -40 "$OUT/cmake.log"; exit 1; }
  # MODEL_ONLY=1: the model's suites and bench_model without the CLI (kernel work: ~1 min less).
  targets=$([ "${MODEL_ONLY:-0}" = 1 ] && echo bench_model || echo reelscale)
  for t in $TESTS; do ninja -C $B -t query $t > /dev/null 2>&1 && targets="$targets $t"; done
  ninja -C $B -j${NINJA_JOBS:-12} $targets > "$OUT/build.log" 2>&1 || { grep -E "error|Error" -A4 "$OUT/build.log" | head -150; exit 1; }
  say "build ($targets): $(( $(date +%s) - start )) s"
fi

if want tests; then
  for t in $TESTS; do
    bin=$(find $B/tests -name "$t" -type f -perm -u+x | head -1)
    [ -n "$bin" ] || { say "$t: not built"; continue; }
    "$bin" ${GTEST_FILTER:+--gtest_filter=$GTEST_FILTER} > "$OUT/$t.txt" 2>&1
    rc=$?
    say "$t exit $rc ($(grep -c '^\[       OK' "$OUT/$t.txt") ok, $(grep -c '^\[  SKIPPED' "$OUT/$t.txt") skipped)"
    if [ $rc -gt 128 ]; then  # a crash: which test, and a backtrace when gdb is there
      crashed=$(grep '^\[ RUN      \]' "$OUT/$t.txt" | tail -1 | awk '{print $4}')
      say "$t crashed in $crashed"
      if command -v gdb > /dev/null; then
        gdb -q -batch -ex run -ex bt --args "$bin" --gtest_filter="$crashed" 2>&1 | tail -30 | tee -a "$OUT/summary.txt"
      fi
      grep -A3 "fatal signal" "$OUT/$t.txt" | head -4 | tee -a "$OUT/summary.txt"
      bash scripts/gpu/symbolize.sh < "$OUT/$t.txt" | head -40 | tee -a "$OUT/summary.txt"
      "$bin" --gtest_filter="-$crashed${GTEST_FILTER:+:$GTEST_FILTER}" > "$OUT/$t.rest.txt" 2>&1
      say "$t without it: exit $? ($(grep -c '^\[       OK' "$OUT/$t.rest.txt") ok)"
      grep -E "^\[  FAILED" "$OUT/$t.rest.txt" | sort -u | tee -a "$OUT/summary.txt"
    fi
    grep -E "^\[  FAILED|^\[ (measure|fixture|gpu) \]" "$OUT/$t.txt" | sort -u | head -40 | tee -a "$OUT/summary.txt"
  done
fi

ckpt=/tmp/c64n7_random.pth
if want bench || want multi; then
  python3 scripts/gpu/official_bench.py --dir .official --save-random $ckpt 2>&1 | grep -v -i warn | tail -1 | tee -a "$OUT/summary.txt"
fi

BENCH=${BENCH:-model,worker,encode}
M="$R bench model --device cuda --precision fp16"
[ "${MODEL_ONLY:-0}" = 1 ] && M="$(find $B/tests -name bench_model -type f -perm -u+x | head -1) --device cuda --precision fp16"
if want bench && [[ ",$BENCH," == *",model,"* ]]; then
  # The defaults: channels-last + fused kernels, outputs left on the GPU (as the official timing).
  say "bench model --chunk 32 --profile (defaults: channels-last, output device)"
  $M --chunk 32 --profile --json "$OUT/bench_model.json" 2>&1 | grep -vE "^  (backward|forward)_" | tail -20 | tee -a "$OUT/summary.txt"
  say "bench model --chunk 32 64 96 (speed rows)"
  $M --chunk 32 --chunk 64 --chunk 96 2>&1 | grep -E "^T " | tee -a "$OUT/summary.txt"
  # MODEL_VARIANTS="" skips the comparisons with older paths (GPU run 3 has them).
  MODEL_VARIANTS=${MODEL_VARIANTS-"--nchw;--output host;--spynet-fp32"}
  IFS=';' read -r -a mvariants <<< "$MODEL_VARIANTS"
  [ ${#mvariants[@]} -gt 0 ] && say "bench model --chunk 32 with: $MODEL_VARIANTS"
  for v in "${mvariants[@]}"; do
    $M --chunk 32 $v 2>&1 | grep -E "^T " | sed "s/^/$v: /" | tee -a "$OUT/summary.txt"
  done
fi
if want bench && [[ ",$BENCH," == *",chain,"* ]]; then
  # model.pre (issue 24): the NTIRE decompression architecture (1x c128n25, random weights)
  # before the 4x model, against the 4x model alone in the same process order; auto_chunk and
  # the footprint line are the chain's (both networks + the restored frames between them).
  say "bench model --pre random-c128n25-1x --chunk 32 --profile (chained), then the 4x model alone"
  $M --pre random-c128n25-1x --chunk 32 --profile --json "$OUT/bench_chain.json" 2>&1 | grep -vE "^  (backward|forward)_" | tail -20 | tee -a "$OUT/summary.txt"
  $M --chunk 32 2>&1 | grep -E "^T |^footprint" | sed "s/^/4x alone: /" | tee -a "$OUT/summary.txt"
  $M --pre random-c128n25-1x --overlap 8 --chunk 32 --chunk 64 2>&1 | grep -E "^T |^footprint" | sed "s/^/chained: /" | tee -a "$OUT/summary.txt"
fi
if want bench && [[ ",$BENCH," == *",memory,"* ]]; then
  # A 24 GB card: T = 96 with 8 context frames each side under a 22 GiB cap.
  say "bench model --memory-limit 22 --overlap 8 --chunk 96 (offload auto), and without the cap"
  $M --memory-limit 22 --overlap 8 --chunk 96 --json "$OUT/bench_memory.json" 2>&1 | grep -E "^T |^footprint" | tee -a "$OUT/summary.txt"
  [ "${MEMORY_SWEEP:-1}" = 1 ] && $M --overlap 8 --chunk 32 --chunk 64 --chunk 96 --chunk 160 --offload off 2>&1 | grep -E "^T |^footprint" | tee -a "$OUT/summary.txt"
fi
if want bench && [[ ",$BENCH," == *",worker,"* ]]; then
  # End to end: source file in, ProRes shard out, next to the model alone on the same chunks.
  W="$R bench worker --random-weights --precision fp16 --json"
  # The 1500-frame row is a planner-sized shard (shards.target_frames), the one the >= 90% goal
  # is read on; the 96-frame rows compare with earlier runs (docs/perf-notes.md).
  WORKER_VARIANTS=${WORKER_VARIANTS:-"--frames 96 --chunk 32 --overlap 0 --profile;--frames 96 --chunk 96 --overlap 0 --profile;--frames 1500 --overlap 8 --profile;--frames 96 --chunk 32 --overlap 0 --set encode.device=cpu"}
  IFS=';' read -r -a variants <<< "$WORKER_VARIANTS"
  for variant in "${variants[@]}"; do
    i=$(( ${i:-0} + 1 ))
    say "bench worker $variant"
    # A variant may begin with VAR=value words: the environment of that run alone.
    env_words=(); while [[ "${variant%% *}" == *=* && "${variant%% *}" != --* ]]; do env_words+=("${variant%% *}"); variant=${variant#* }; done
    env "${env_words[@]}" $W $variant > "$OUT/bench_worker.json" 2> "$OUT/bench_worker.err"
    rc=$?
    cp "$OUT/bench_worker.json" "$OUT/bench_worker_$i.json"; cp "$OUT/bench_worker.err" "$OUT/bench_worker_$i.err"
    if [ $rc -gt 128 ]; then
      say "bench worker $variant crashed (exit $rc)"
      grep -A3 "fatal signal" "$OUT/bench_worker.err" | head -4 | tee -a "$OUT/summary.txt"
      bash scripts/gpu/symbolize.sh < "$OUT/bench_worker.err" | head -40 | tee -a "$OUT/summary.txt"
    fi
    python3 - "$OUT/bench_worker.json" <<'PY' 2>&1 | tee -a "$OUT/summary.txt" || tail -5 "$OUT/bench_worker.err"
import json, sys
d = json.load(open(sys.argv[1]))
keep = {k: d[k] for k in ("chunk", "overlap", "model_only", "end_to_end", "ratio", "gpu_busy_fraction", "gpu_encoder", "ycbcr_input_frames", "profile_ms_per_frame") if k in d}
print(json.dumps(keep)[:2500]); print(json.dumps(d.get("stages", {}))[:1200])
PY
  done
fi
if want bench && [[ ",$BENCH," == *",encode,"* ]]; then
  for c in prores_hq ffv1 dnxhr_hqx; do
    $R bench encode --codec $c --size 4096x1728 --frames 48 --threads "$(nproc)" 2>&1 | tail -1 | tee -a "$OUT/summary.txt"
  done
  $R bench encode --codec prores_hq --device gpu --size 4096x1728 --frames 64 2>&1 | tail -4 | tee -a "$OUT/summary.txt"
fi

if want official; then
  say "official: official_bench.py --chunks 32 64 96 --precision fp16"
  python3 scripts/gpu/official_bench.py --dir .official --chunks 32 64 96 --precision fp16 2>&1 | grep -v -i warn | tail -5 | tee -a "$OUT/summary.txt"
fi

if want multi; then
  bash scripts/gpu/multi_worker_run.sh "$R" "$ckpt" "$OUT" 2>&1 | tail -40 | tee -a "$OUT/summary.txt"
fi
