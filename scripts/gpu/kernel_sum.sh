#!/usr/bin/env bash
# Per-kernel GPU time of one bench run, when Nsight Systems is on the machine:
#   bash scripts/gpu/kernel_sum.sh <bench command...>   (writes $OUT/kernels.txt)
# The per-stage profile (--profile) says where the time goes; this says which kernels.
set -uo pipefail
OUT=${OUT:-/tmp/kernel-sum}; mkdir -p "$OUT"
nsys=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys 2>/dev/null | head -1)
[ -n "$nsys" ] || { echo "kernel_sum: no nsys on this machine"; exit 0; }
"$nsys" profile -t cuda -o "$OUT/kern" --force-overwrite true "$@" > "$OUT/kern_run.txt" 2>&1
"$nsys" stats --report cuda_gpu_kern_sum --format csv "$OUT/kern.nsys-rep" 2>/dev/null > "$OUT/kernels.csv"
python3 - "$OUT/kernels.csv" <<'PY' | tee "$OUT/kernels.txt"
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 8]
head, body = rows[0], rows[1:]
i_t, i_n, i_name = head.index("Total Time (ns)"), head.index("Instances"), head.index("Name")
total = sum(float(r[i_t]) for r in body)
for r in body[:40]:
    print(f"{float(r[i_t]) / total * 100:5.1f}%  {float(r[i_t]) / 1e6:9.1f} ms  {r[i_n]:>7}  {r[i_name][:150]}")
PY
