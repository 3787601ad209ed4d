#!/bin/sh
# Issue 21's speed check: `reelscale scenes` against PySceneDetect 0.7.1 (`detect-content` with
# its default backend, OpenCV) and ffmpeg's scene filter on a 60 s 720x576 MPEG-2 film (6 Mb/s,
# GOP 12, 2 B-frames, made from `reelscale make-sample`), ROUNDS interleaved rounds so that all
# three see the same machine load. Prints wall seconds and frames/s per run, then the ratios of
# the medians. docs/scenes.md ("Speed") has the figures.
# Usage: scripts/bench-scenes.sh [REELSCALE [DIR [ROUNDS]]]
#   PYTHON (default /usr/bin/python3) runs PySceneDetect (scripts/install-deps.sh installs it).
set -eu
reelscale=${1:-build/cli/reelscale}
dir=${2:-$(mktemp -d)}
rounds=${3:-3}
python=${PYTHON:-/usr/bin/python3}
reelscale=$(command -v "$reelscale" || realpath "$reelscale")
mkdir -p "$dir" && cd "$dir"
if [ ! -f film.mpg ]; then
  "$reelscale" make-sample s720.mkv --seconds 60 --size 720x576 >/dev/null 2>&1
  ffmpeg -nostdin -v error -i s720.mkv -c:v mpeg2video -b:v 6M -g 12 -bf 2 -an -sn -y film.mpg
fi
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of csv=p=0 film.mpg)
"$python" -c 'import scenedetect' 2>/dev/null || { echo "PySceneDetect is not importable by $python" >&2; exit 1; }

# Runs "$@" (output discarded), appends "name seconds" to times.txt and prints the run.
timed() {
  name=$1; shift
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  s=$(echo "$t1 - $t0" | bc -l)
  echo "$name $s" >> times.txt
  printf '%-26s %6.2f s  %7.1f frames/s\n' "$name" "$s" "$(echo "$frames / $s" | bc -l)"
}

: > times.txt
echo "film: $dir/film.mpg, $frames frames; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ "$i" -le "$rounds" ]; do
  echo "round $i"
  timed reelscale "$reelscale" scenes film.mpg --json out.json
  timed reelscale-content "$reelscale" scenes film.mpg -d content --json out-content.json
  timed pyscenedetect "$python" -m scenedetect -i film.mpg -o pysd detect-content
  timed ffmpeg-scene ffmpeg -nostdin -i film.mpg -vf "select='gt(scene,0.3)'" -an -f null -
  i=$((i + 1))
done
median() { grep "^$1 " times.txt | cut -d' ' -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=$(median reelscale); rc=$(median reelscale-content); p=$(median pyscenedetect); f=$(median ffmpeg-scene)
echo "medians: reelscale $r s, reelscale -d content $rc s, PySceneDetect $p s, ffmpeg $f s"
echo "reelscale vs PySceneDetect: $(echo "$p / $r" | bc -l | cut -c1-5)x (-d content: $(echo "$p / $rc" | bc -l | cut -c1-5)x)"
echo "reelscale vs ffmpeg:        $(echo "$f / $r" | bc -l | cut -c1-5)x (-d content: $(echo "$f / $rc" | bc -l | cut -c1-5)x)"
echo "files in $dir"
