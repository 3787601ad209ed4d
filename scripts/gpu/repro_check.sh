#!/usr/bin/env bash
# Same input, same checkpoint, two processes on one GPU: are the output bytes identical?
# (Issue 19: a shard redone by another worker after a kill -9 should equal the clean run.)
# Runs `reelscale model infer` twice per algorithm mode and compares the .npy outputs:
#   --cudnn-benchmark     cuDNN times its algorithms in each process (may pick differently)
#   --no-cudnn-benchmark  cuDNN's heuristics: one choice per GPU model, cuDNN version and shape
#   --deterministic       deterministic algorithms only (and no search)
# Needs a built build-gpu/cli/reelscale (full_check.sh STEPS=build) and the official network in
# .official (fetch_official.sh) for a random c64n7 checkpoint. Prints one line per mode.
set -uo pipefail
OUT=${OUT:-/tmp/repro-check}
mkdir -p "$OUT"
R=${R:-$PWD/build-gpu/cli/reelscale}
SIZE=${SIZE:-480x272}
FRAMES=${FRAMES:-8}
ckpt=/tmp/c64n7_random.pth
[ -f $ckpt ] || python3 scripts/gpu/official_bench.py --dir .official --save-random $ckpt 2>&1 | tail -1
w=${SIZE%x*}; h=${SIZE#*x}
python3 - "$OUT/in.npy" "$FRAMES" "$h" "$w" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(7)
t, h, w = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# Smooth content with noise: flows and offsets that are not all zero.
y, x = np.mgrid[0:h, 0:w].astype(np.float32)
frames = [np.stack([0.5 + 0.4 * np.sin((x + 3 * i) / 17 + c) * np.cos(y / 23) for c in range(3)]) for i in range(t)]
a = np.clip(np.stack(frames)[None] + 0.03 * rng.standard_normal((1, t, 3, h, w)), 0, 1).astype(np.float32)
np.save(sys.argv[1], a)
PY
for mode in --cudnn-benchmark --no-cudnn-benchmark --deterministic; do
  for run in 1 2; do
    "$R" model infer --checkpoint $ckpt --input "$OUT/in.npy" --output "$OUT/out$run.npy" \
      --device cuda --precision fp16 $mode > "$OUT/infer$run.log" 2>&1 || { tail -5 "$OUT/infer$run.log"; exit 1; }
  done
  python3 - "$OUT/out1.npy" "$OUT/out2.npy" "$mode" "$(grep '^time' "$OUT/infer1.log")" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
d = np.abs(a.astype(np.float64) - b)
same = a.tobytes() == b.tobytes()
print(f"{sys.argv[3]}: two processes {'IDENTICAL' if same else 'DIFFER'} bytes; max abs {d.max():.3g}, "
      f"{100 * (d > 0).mean():.3f}% of values differ ({sys.argv[4]})")
PY
done
