#!/usr/bin/env bash
# Sourced on the GPU machine from the project root (see scripts/gpu/prepare_full.sh): builds
# FFmpeg with what the whole project uses (the film sample's MPEG-2/MP2 encoders, MJPEG for the
# report, every filter), then makes the carried OpenCV/httplib libraries visible — only those
# whose soname the machine lacks, so its own system libraries are never shadowed.
_root=$(pwd)
export FFMPEG_CONFIGURE="--enable-gpl --disable-everything --enable-swscale --enable-swresample --enable-avfilter --enable-filters
  --enable-decoder=h264,hevc,mpeg2video,mpeg1video,mpeg4,prores,ffv1,dnxhd,rawvideo,mjpeg,png,dvdsub,pgssub,dvbsub,ac3,eac3,aac,mp2,mp3,dca,flac,truehd,pcm_s16le,pcm_s24le,pcm_s16be,pcm_dvd,pcm_bluray,subrip,ass,movtext
  --enable-encoder=prores_ks,prores,ffv1,dnxhd,rawvideo,mpeg2video,mjpeg,png,flac,pcm_s16le,pcm_s24le,aac,ac3,mp2,dvdsub,srt,subrip,ass,movtext
  --enable-demuxer=mov,matroska,mpegps,mpegts,mpegvideo,avi,srt,ass,rawvideo,wav,vobsub,image2,concat,h264,hevc,ac3,aac,flac,nut
  --enable-muxer=mov,matroska,srt,ass,null,rawvideo,wav,mpeg2dvd,vob,mp4,nut,mpegts
  --enable-parser=h264,hevc,mpegvideo,mpegaudio,ac3,aac,dca,dvdsub,pgssub,prores,flac,mjpeg,png
  --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,null
  --enable-protocol=file,pipe"
source .gpu/build-deps.sh || return 1
_extra=/tmp/gpu-full-libs
rm -rf "$_extra"; mkdir -p "$_extra"
for _l in "$_root"/.gpu-full/lib/*.so.*; do
  _so=$(basename "$_l")
  # Present on the machine (ldconfig cache) -> use the machine's; else the carried one.
  ldconfig -p | grep -q " $_so " || ln -s "$_l" "$_extra/$_so"
done
echo "carried libraries used: $(ls "$_extra" | tr '\n' ' ')"
export LD_LIBRARY_PATH="$_extra:$LD_LIBRARY_PATH"
export CMAKE_PREFIX_PATH="$_root/.gpu-full:$_root/.gpu-full/lib/cmake/opencv4:$CMAKE_PREFIX_PATH"
export CPATH="$_root/.gpu-full/include:$CPATH"
export PKG_CONFIG_PATH="$_root/.gpu-full/lib/pkgconfig:$PKG_CONFIG_PATH"
