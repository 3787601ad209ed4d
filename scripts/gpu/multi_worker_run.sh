#!/usr/bin/env bash
# Issue 10 with the GPUs a machine has: the coordinator and local workers on a generated
# film-like 1024x432 film with BasicVSR++ fp16; a clean run with 1 worker and with W workers
# (on one GPU they share it; with several, CUDA_VISIBLE_DEVICES would give each its own — see
# docs/operations.md), then the W-worker run again with one worker killed (-9) mid-run: it must
# finish, redo the lost shard, and give the same video packets (checksum) as the clean run.
# Records per-process peak GPU memory (nvidia-smi) and the coordinator's own CPU time.
# usage: multi_worker_run.sh REELSCALE CHECKPOINT OUTDIR   (env: SECONDS_FILM, WORKERS)
set -uo pipefail
R=$1; CKPT=$2; OUT=$3
SECONDS_FILM=${SECONDS_FILM:-60}; WORKERS=${WORKERS:-2}
D=/tmp/multi; rm -rf $D; mkdir -p $D
$R make-sample --seconds "$SECONDS_FILM" --size 1024x432 $D/film.mkv > $D/sample.log 2>&1 || { tail $D/sample.log; exit 1; }
frames=$((SECONDS_FILM * 25))  # make-sample writes 25 frames/s
echo "film: ${SECONDS_FILM} s 1024x432, $frames frames"

GPUS=$(nvidia-smi -L | wc -l)
gpu_list() { local l=""; for i in $(seq 0 $(($1 - 1))); do l="$l${l:+, }$((i % GPUS))"; done; echo "$l"; }  # round-robin
config() {  # name workers
  cat > $D/$1.yaml <<YAML
input: film.mkv
output: $1.mkv
shards: {target_frames: 250, min_frames: 50, max_frames: 400, overlap: 8}
model: {backend: basicvsrpp, checkpoint: $CKPT, precision: fp16, device: cuda}
encode: {codec: prores_hq}
subtitles: {ocr: false}
workers: {local: $2, gpus: [$(gpu_list $2)], endpoint: "tcp://127.0.0.1:$((5600 + RANDOM % 300))", security: curve}
YAML
}

gpu_sampler() {  # file: per-second pid,used_memory samples until killed
  while true; do nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits >> "$1" 2>/dev/null; sleep 1; done
}
peak_per_pid() { sort -t, -k1,1 -k2,2n "$1" | awk -F', *' '{m[$1]=($2>m[$1]?$2:m[$1])} END {for (p in m) printf "pid %s peak %.2f GiB\n", p, m[p]/1024}'; }
cpu_seconds() { awk '{printf "%.1f", ($14+$15)/100}' /proc/$1/stat 2>/dev/null; }

run_clean() {  # name workers
  config "$1" "$2"
  : > $D/$1.gpu; gpu_sampler $D/$1.gpu & local s=$!
  local t0=$(date +%s.%N)
  (cd $D && exec $R --quiet run $1.yaml > $1.log 2>&1) & local pid=$!
  local cpu=0; while kill -0 $pid 2>/dev/null; do c=$(cpu_seconds $pid); [ -n "$c" ] && cpu=$c; sleep 1; done
  wait $pid; local rc=$?; local t1=$(date +%s.%N); kill $s 2>/dev/null
  local secs=$(python3 -c "print(f'{$t1-$t0:.1f}')")
  echo "$1: workers $2 exit $rc wall ${secs} s, $(python3 -c "print(f'{$frames/($t1-$t0):.2f}')" 2>/dev/null) frames/s end to end, coordinator CPU ${cpu} s"
  peak_per_pid $D/$1.gpu
  [ $rc -eq 0 ] || tail -20 $D/$1.log
}

run_clean one 1
run_clean many "$WORKERS"

# kill -9 of one worker once the first shard is done.
config killed "$WORKERS"
(cd $D && exec $R --quiet run killed.yaml > killed.log 2>&1) & pid=$!
victim=""
for _ in $(seq 1 600); do
  done_shards=$(cd $D && $R status killed.yaml --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["shards"]["done"])' 2>/dev/null || echo 0)
  if [ "${done_shards:-0}" -ge 1 ]; then victim=$(pgrep -f "reelscale worker" | head -1); break; fi
  kill -0 $pid 2>/dev/null || break; sleep 1
done
[ -n "$victim" ] && kill -9 "$victim" && echo "killed worker pid $victim after $done_shards shard(s) done"
wait $pid; echo "killed run exit $?"
grep -iE "lost|requeue|dead|expired" $D/killed.log | head -5
a=$($R probe --video-checksum $D/many.mkv 2>&1); b=$($R probe --video-checksum $D/killed.mkv 2>&1)
echo "video checksum clean  $a"
echo "video checksum killed $b"
[ "$a" = "$b" ] && echo "IDENTICAL video streams" || echo "DIFFERENT video streams"
cp $D/*.log $D/*.yaml "$OUT/" 2>/dev/null
