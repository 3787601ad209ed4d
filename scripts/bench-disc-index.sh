#!/bin/sh
# Issue 17's speed check: opening a 2-hour DVD title (folder and ISO) and building its frame
# index vs the same title as one MPEG-PS file, with `reelscale bench index`. The title is cheap
# to make: 10 minutes of 352x288 MPEG-2 at 300 kb/s, copied 12 times (stream copy), authored
# by dvdauthor (docs/perf-notes.md has the numbers).
# Usage: scripts/bench-disc-index.sh [REELSCALE [DIR]]
set -eu
reelscale=${1:-build/cli/reelscale}
dir=${2:-$(mktemp -d)}
mkdir -p "$dir" && cd "$dir"
reelscale=$(command -v "$reelscale" || realpath "$OLDPWD/$reelscale")
ffmpeg -nostdin -v error -f lavfi -i "testsrc=s=352x288:r=25,format=yuv420p" -t 600 \
  -c:v mpeg2video -b:v 300k -g 12 -bf 2 -f vob -y ten.mpg
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "file 'ten.mpg'"; done > list.txt
ffmpeg -nostdin -v fatal -f concat -i list.txt -c copy -f dvd -y title.mpg
cat > dvd.xml <<'XML'
<dvdauthor dest="disc"><vmgm/><titleset><titles><video format="pal"/>
<pgc><vob file="title.mpg" chapters="0,0:30:00,1:00:00,1:30:00"/></pgc>
</titles></titleset></dvdauthor>
XML
rm -rf disc
VIDEO_FORMAT=PAL dvdauthor -x dvd.xml >dvdauthor.log 2>&1
genisoimage -quiet -dvd-video -o disc.iso disc
for input in title.mpg disc disc.iso title.mpg disc disc.iso; do "$reelscale" bench index "$input" 2>&1 | tail -1; done
echo "files in $dir"
