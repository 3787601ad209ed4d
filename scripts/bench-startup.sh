#!/usr/bin/env bash
# Start-up time of the commands that must start fast (issues 21, 22): `scenes --help`,
# `validate CONFIG` (with and without the input), `scenes FILE` on a 1-second clip, and an empty
# program linked with libav* alone (the floor for any command that decodes with this FFmpeg).
# Each is run RUNS times by `perf stat` (mean elapsed and CPU time, +- spread); the machine's load
# is printed before and after, since on a shared machine elapsed time follows it.
# Usage: scripts/bench-startup.sh [path/to/reelscale] (default build/cli/reelscale); RUNS=20.
set -euo pipefail
R=$(realpath "${1:-build/cli/reelscale}")
RUNS=${RUNS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ffmpeg -v error -f lavfi -i testsrc=size=720x576:rate=25:duration=1 -c:v mpeg2video -q:v 4 "$tmp/clip.mpg"
printf 'input: %s\noutput: %s/out.mkv\n' "$tmp/clip.mpg" "$tmp" > "$tmp/job.yaml"
printf 'extern "C" int avformat_version(); int main(int c, char**) { return c > 9 ? avformat_version() : 0; }\n' > "$tmp/floor.cpp"
g++ -O2 "$tmp/floor.cpp" -o "$tmp/libav-floor" $(pkg-config --libs libavformat libavcodec libavutil libswscale) \
  -Wl,--no-as-needed 2>/dev/null || true

measure() {  # label, command...
  local label=$1; shift
  local libs
  libs=$(LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -c 'generating link map' || true)
  perf stat -r "$RUNS" -x, -e task-clock "$@" >/dev/null 2>"$tmp/stat" || true
  local cpu elapsed
  cpu=$(awk -F, '/task-clock/ {printf "%.1f ms", $1}' "$tmp/stat")
  perf stat -r "$RUNS" "$@" >/dev/null 2>"$tmp/stat2" || true
  elapsed=$(awk '/seconds time elapsed/ {printf "%.1f ms +- %.1f", $1 * 1000, $3 * 1000}' "$tmp/stat2")
  printf '%-34s %4s libs  cpu %10s  elapsed %s\n' "$label" "$libs" "$cpu" "$elapsed"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  runs: $RUNS  binary: $R"
measure "reelscale scenes --help" "$R" scenes --help
measure "reelscale validate --no-input" "$R" validate "$tmp/job.yaml" --no-input
measure "reelscale validate CONFIG" "$R" validate "$tmp/job.yaml"
measure "reelscale scenes FILE (25 frames)" "$R" scenes "$tmp/clip.mpg" --csv "$tmp/cuts.csv"
[ -x "$tmp/libav-floor" ] && measure "empty main linking libav*" "$tmp/libav-floor"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
