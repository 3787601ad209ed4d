# Sourced by the device-run scripts (model_check.sh, worker_check.sh, prores_check.sh,
# full_check.sh): the output folder, the summary lines, step selection, and the standalone
# CMake builds of scripts/gpu/<part>/. Set OUT (default: $1 of check_init) and STEPS before.

# check_init DEFAULT_OUT: $OUT exists; the GPU line starts summary.txt.
check_init() {
  OUT=${OUT:-$1}
  mkdir -p "$OUT"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/summary.txt"
}
want() { [[ ",$STEPS," == *",$1,"* ]]; }
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }

# standalone_build torch|plain PART TARGET...: configures scripts/gpu/PART into build-gpu-PART
# (with LibTorch's CMake prefix for `torch`) and builds the targets; on failure prints the
# first errors and exits.
standalone_build() {
  local kind=$1 part=$2 start
  shift 2
  start=$(date +%s)
  local args=(-DCMAKE_CUDA_ARCHITECTURES=90)
  [[ $kind == torch ]] && args+=(-DCMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')")
  cmake -S "scripts/gpu/$part" -B "build-gpu-$part" -G Ninja "${args[@]}" > "$OUT/cmake.log" 2>&1 \
    || { tail -40 "$OUT/cmake.log"; exit 1; }
  ninja -C "build-gpu-$part" "$@" > "$OUT/build.log" 2>&1 \
    || { grep -E "error|Error" -A4 "$OUT/build.log" | head -120; exit 1; }
  say "build: $(( $(date +%s) - start )) s"
}
