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
if [ -e "$reelscale" ]; then reelscale=$(realpath "$reelscale"); else reelscale=$(command -v "$reelscale"); fi
mkdir -p "$dir" && cd "$dir"
if [ ! -f film.mpg ]; then
  "$reelscale" make-sample s720.mkv --seconds 60 --size 720x576 >/dev/null 2>&1
  ffmpeg -nostdin -v error -i s720.mkv -c:v mpeg2video -b:v 6M -g 12 -bf 2 -an -sn -y film.mpg
fi
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of default=nw=1:nk=1 film.mpg | head -1)
"$python" -c 'import scenedetect' 2>/dev/null || { echo "PySceneDetect is not importable by $python" >&2; exit 1; }

# Runs "$@" (output discarded), appends "name wall-s CPU-s" to times.txt and prints the run
# with its CPU seconds (user + system: what the load of other processes changes least).
timed() {
  name=$1; shift
  /usr/bin/time -f '%e %U %S' -o run.time "$@" >/dev/null 2>&1
  read -r s u k < run.time
  echo "$name $s $(echo "$u + $k" | bc -l)" >> times.txt
  printf '%-18s %6.2f s  %7.1f frames/s  (%.2f CPU-s)\n' "$name" "$s" \
    "$(echo "$frames / $s" | bc -l)" "$(echo "$u + $k" | bc -l)"
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
# median NAME COLUMN (2: wall seconds, 3: CPU seconds)
median() { grep "^$1 " times.txt | cut -d' ' -f"$2" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for col in 2 3; do
  [ "$col" = 2 ] && what="wall" || what="CPU "
  r=$(median reelscale $col); rc=$(median reelscale-content $col)
  p=$(median pyscenedetect $col); f=$(median ffmpeg-scene $col)
  echo "median $what s: reelscale $r, reelscale -d content $rc, PySceneDetect $p, ffmpeg $f;" \
    "reelscale vs PySceneDetect $(ratio "$p" "$r")x (-d content $(ratio "$p" "$rc")x)," \
    "vs ffmpeg $(ratio "$f" "$r")x (-d content $(ratio "$f" "$rc")x)"
done
echo "files in $dir"
