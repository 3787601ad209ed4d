#!/usr/bin/env bash
# Run on the development machine (Debian 12, root) from the project root, once per session:
# prepares what a FULL reelscale build needs on the GPU machine (coordinator + worker + tests,
# with CUDA), beyond ../shared/gpu/prepare.sh's .gpu/ (FFmpeg source, ZeroMQ, spdlog, CLI11,
# GoogleTest, SQLite):
#   .gpu-full/include   OpenCV core + imgproc headers, cpp-httplib
#   .gpu-full/lib       their shared libraries and runtime closure (TBB, BLAS/LAPACK, GLX/X11...),
#                       linked on the GPU machine only where its own system lacks the soname
#   .gpu-full/lib/cmake/opencv4/OpenCVConfig.cmake  a minimal config for core + imgproc
#                       (Debian's names all ~40 modules and fails when their files are absent)
# The GPU build is configured without Tesseract (-DREELSCALE_WITH_OCR=OFF): OCR's closure is
# ~50 libraries and the GPU runs never OCR. Then on the device:
#   run(command="bash scripts/gpu/full_check.sh", carry=[".gpu", ".gpu-full", ...])
set -euo pipefail
root=$(pwd); out=$root/.gpu-full
[ -d .gpu ] || bash ../shared/gpu/prepare.sh
rm -rf "$out"; mkdir -p "$out/include" "$out/lib/cmake/opencv4"
grep -qx '/.gpu-full/' .git/info/exclude 2>/dev/null || echo '/.gpu-full/' >> .git/info/exclude
lib=/usr/lib/x86_64-linux-gnu
# Headers.
for p in libopencv-core-dev libopencv-imgproc-dev; do
  dpkg -L "$p" | grep '^/usr/include/opencv4/.*\.h' | while read -r f; do
    [ -f "$f" ] || continue; d="$out/include/${f#/usr/include/}"; mkdir -p "$(dirname "$d")"; cp -a "$f" "$d"; done
done
cp /usr/include/httplib.h "$out/include/"
# libsodium's headers and pkg-config file (shared/util's BLAKE2b; .gpu carries only the runtime).
cp -a /usr/include/sodium.h /usr/include/sodium "$out/include/"
mkdir -p "$out/lib/pkgconfig"
sed 's|^prefix=.*|prefix=${pcfiledir}/../..|; s|^libdir=.*|libdir=${prefix}/lib|; s|^includedir=.*|includedir=${prefix}/include|; /^Requires.private/d; /^Libs.private/d' \
  $lib/pkgconfig/libsodium.pc > "$out/lib/pkgconfig/libsodium.pc"
# Libraries: the real files, named by soname (what the dynamic loader looks for).
copy_soname() {  # path of a library (symlink or file) -> .gpu-full/lib/<soname>
  local real soname; real=$(readlink -f "$1")
  soname=$(objdump -p "$real" | awk '/SONAME/ {print $2}')
  cp "$real" "$out/lib/${soname:-$(basename "$1")}"
}
for l in libopencv_core.so.406 libopencv_imgproc.so.406 libcpp-httplib.so.0.11 \
         libtbb.so.12 blas/libblas.so.3 lapack/liblapack.so.3 libgfortran.so.5 libquadmath.so.0 \
         libGLX.so.0 libGLdispatch.so.0 libX11.so.6 libxcb.so.1 libXau.so.6 libXdmcp.so.6 \
         libbsd.so.0 libmd.so.0 libbrotlicommon.so.1 libbrotlidec.so.1 libbrotlienc.so.1 libsodium.so.23; do
  copy_soname "$lib/$l"
done
# Link-time names.
ln -s libopencv_core.so.406 "$out/lib/libopencv_core.so"
ln -s libopencv_imgproc.so.406 "$out/lib/libopencv_imgproc.so"
ln -s libcpp-httplib.so.0.11 "$out/lib/libcpp-httplib.so"
ln -s libsodium.so.23 "$out/lib/libsodium.so"
cat > "$out/lib/cmake/opencv4/OpenCVConfig.cmake" <<'CMAKE'
# Minimal OpenCV config for the GPU machine: core + imgproc only (scripts/gpu/prepare_full.sh).
get_filename_component(_ocv_root "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(OpenCV_VERSION 4.6.0)
set(OpenCV_INCLUDE_DIRS "${_ocv_root}/include/opencv4")
foreach(_m core imgproc)
  if(NOT TARGET opencv_${_m})
    add_library(opencv_${_m} SHARED IMPORTED)
    set_target_properties(opencv_${_m} PROPERTIES
      IMPORTED_LOCATION "${_ocv_root}/lib/libopencv_${_m}.so.406"
      INTERFACE_INCLUDE_DIRECTORIES "${_ocv_root}/include/opencv4")
  endif()
endforeach()
set_property(TARGET opencv_imgproc PROPERTY INTERFACE_LINK_LIBRARIES opencv_core)
set(OpenCV_LIBS opencv_core opencv_imgproc)
set(OpenCV_FOUND TRUE)
CMAKE
du -sh "$out" .gpu
