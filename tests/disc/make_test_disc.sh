#!/bin/sh
# Authors a small PAL DVD for the disc tests: OUT/disc/VIDEO_TS (folder), OUT/disc.iso (image).
# Title set 1 holds two titles: title 1 (2 s, a short extra) and title 2, the main title
# (two 3 s cells, chapters at 0, 2 s, 4 s; AC-3 English; a forced German subtitle). The title
# set's VOB is then split in two at a sector inside the main title, as a disc's 1 GiB split
# would be (dvdauthor only splits at 1 GiB; the IFO addresses the title set's VOBs as one
# run of sectors, so any 2048-byte boundary is a valid split).
set -eu
out=$1
mkdir -p "$out" && cd "$out"
enc() {  # enc NAME SOURCE SECONDS
  ffmpeg -nostdin -v error -f lavfi -i "$2" -f lavfi -i "sine=f=440:d=$3:r=48000" -t "$3" -ac 2 \
    -target pal-dvd -b:v 1500k -aspect 16:9 -y "$1.mpg"
}
enc extra "color=c=blue:s=720x576:r=25" 2
enc part1 "testsrc2=s=720x576:r=25" 3
enc part2 "testsrc=s=720x576:r=25" 3
ffmpeg -nostdin -v error -f lavfi -i "color=c=white:s=300x40,format=rgba,pad=720:576:200:480:color=black@0" \
  -frames:v 1 -y sub.png
cat > sub.xml <<'XML'
<subpictures format="PAL"><stream><spu start="00:00:01.00" end="00:00:02.00" image="sub.png" force="yes"/></stream></subpictures>
XML
spumux -s 0 sub.xml < part1.mpg > part1_sub.mpg 2>spumux.log
cat > dvd.xml <<'XML'
<dvdauthor dest="disc">
 <vmgm/>
 <titleset>
  <titles>
   <video format="pal" aspect="16:9" widescreen="nopanscan"/>
   <audio lang="en"/>
   <subpicture lang="de" content="forced"/>
   <pgc><vob file="extra.mpg"/></pgc>
   <pgc>
    <vob file="part1_sub.mpg" chapters="0,00:00:02"/>
    <vob file="part2.mpg" chapters="0"/>
   </pgc>
  </titles>
 </titleset>
</dvdauthor>
XML
rm -rf disc
VIDEO_FORMAT=PAL dvdauthor -x dvd.xml >dvdauthor.log 2>&1
vob=disc/VIDEO_TS/VTS_01_1.VOB
sectors=$(( $(stat -c %s $vob) / 2048 ))
half=$(( sectors * 2 / 3 ))
dd if=$vob of=disc/VIDEO_TS/VTS_01_2.VOB bs=2048 skip=$half status=none
truncate -s $(( half * 2048 )) $vob
genisoimage -quiet -dvd-video -V REELSCALE_TEST -o disc.iso disc
