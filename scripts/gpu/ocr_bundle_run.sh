#!/usr/bin/env bash
# run.sh of the OCR benchmark bundle (scripts/gpu/ocr_bundle.sh copies it in): subtitle OCR
# speed before/after issue 20 on this machine's CPU, with the bundle's own loader, glibc,
# libraries and Tesseract data, so nothing needs to be installed (bash, tar, coreutils only).
#   bash run.sh [CORES...]   (default 1 2 4 8 16; counts above the usable cores are skipped)
# EVENTS=N subtitles per set after (default 96), BEFORE_EVENTS=N before (default 48: one engine
# is slow, and one engine start-up is small next to it). Per core count: "before" (one engine,
# Tesseract's OpenMP on) and "after" (an engine per core, OpenMP off in each), each timing a
# DVD-like and a 1080p-like set (bench_ocr_engines_main.cpp explains the columns).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ld="$here/boot/ld-linux-x86-64.so.2"
# Unpacked beside run.sh where the folder is writable (a noexec /tmp would refuse the
# libraries), else in TMPDIR.
tmp=$(mktemp -d "$here/unpacked.XXXXXX" 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/ocr-bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$ld" --library-path "$here/boot" "$here/boot/xz" -dc "$here/libs.tar.xz" | tar -x -C "$tmp"
run() { "$ld" --library-path "$tmp/lib:$here/boot" "$@"; }
export TESSDATA_PREFIX="$tmp/tessdata" LC_ALL=C
unset OMP_THREAD_LIMIT OMP_NUM_THREADS OMP_PROC_BIND OMP_WAIT_POLICY

# The CPUs this process may use (a container's cpuset need not start at 0), expanded.
cpus=()
IFS=, read -ra ranges <<< "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)"
for r in "${ranges[@]}"; do
  lo=${r%-*} hi=${r#*-}
  for ((c = lo; c <= hi; ++c)); do cpus+=("$c"); done
done
echo "ocr bundle: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), ${#cpus[@]} usable CPUs" \
     "($(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)), $(uname -r)"

for n in "${@:-1 2 4 8 16}"; do
  for k in $n; do
    if ((k > ${#cpus[@]})); then echo "cores $k: skipped (${#cpus[@]} usable)"; continue; fi
    set_list=$(IFS=,; echo "${cpus[*]:0:k}")
    on() { run "$tmp/bin/taskset" -c "$set_list" "$ld" --library-path "$tmp/lib:$here/boot" "$tmp/bin/bench_ocr_engines" "$@"; }
    on --events "${BEFORE_EVENTS:-48}" --threads 1 --omp on | sed -n "s/^\(dvd\|1080p\) /cores $k before: \1 /p"
    on --events "${EVENTS:-96}" | sed -n "s/^\(dvd\|1080p\) /cores $k after:  \1 /p"
  done
done
