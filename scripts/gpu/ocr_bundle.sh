#!/usr/bin/env bash
# Run on the development machine from the project root: packs the subtitle OCR benchmark
# (bench_ocr_engines) into a relocatable folder, default .ocr-bundle/ (ignored), for a machine
# that has no Tesseract and cannot build ours (the GPU machine's CPU, issue 20). There:
#   bash .ocr-bundle/run.sh [CORES...]          (scripts/gpu/ocr_bundle_run.sh says more)
# The bundle brings its own loader and glibc (the target's may be older than the one we built
# against) and every library `ldd` lists, libstdc++ included, plus Tesseract's eng and deu data
# (the ones the tests read). Raw they are ~90 MB (ICU's data alone, through libarchive ->
# libxml2, is 31 MB), so all but the loader, libc and xz travel in libs.tar.xz, which run.sh
# unpacks into a temp folder with the bundled xz.
# BENCH=path packs an already built bench; otherwise scripts/build.sh builds it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-.ocr-bundle}")
bench=${BENCH:-build/tests/coordinator/subtitles/bench/bench_ocr_engines}
[ -n "${BENCH:-}" ] || BUILD_TARGETS=bench_ocr_engines scripts/build.sh
tessdata=${TESSDATA_PREFIX:-$(tesseract --list-langs 2>/dev/null | sed -n 's/^List of available languages in "\(.*\)".*/\1/p')}
[ -f "$tessdata/eng.traineddata" ] && [ -f "$tessdata/deu.traineddata" ] ||
  { echo "ocr_bundle: no eng/deu traineddata in '$tessdata' (apt-get install tesseract-ocr-eng tesseract-ocr-deu)" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf "$out"
mkdir -p "$out/boot" "$stage/bin" "$stage/lib" "$stage/tessdata"
install -m 755 "$bench" "$stage/bin/bench_ocr_engines"
strip "$stage/bin/bench_ocr_engines"
install -m 755 "$(command -v taskset)" "$stage/bin/taskset"
cp "$tessdata/eng.traineddata" "$tessdata/deu.traineddata" "$stage/tessdata/"
# Each library under the name the loader asks for (its soname), the loader apart.
copy_libs() {
  ldd "$1" | while read -r name arrow path _; do
    if [ "$arrow" = "=>" ] && [ "${path#/}" != "$path" ]; then cp -L "$path" "$stage/lib/$name"
    elif [ "${name#/}" != "$name" ]; then cp -L "$name" "$out/boot/$(basename "$name")"
    elif [ "$arrow" = "=>" ]; then echo "ocr_bundle: $1 needs $name, not found" >&2; exit 1
    fi
  done
}
copy_libs "$stage/bin/bench_ocr_engines"
copy_libs "$(command -v xz)"
install -m 755 "$(command -v xz)" "$out/boot/xz"
for so in libc.so.6 liblzma.so.5; do mv -f "$stage/lib/$so" "$out/boot/"; done
install -m 755 scripts/gpu/ocr_bundle_run.sh "$out/run.sh"

# Every library must come from the bundle: the bundled loader resolves each one, and any
# path outside it (the system's) fails the build of the bundle.
ld="$out/boot/ld-linux-x86-64.so.2"
outside=$("$ld" --inhibit-cache --library-path "$stage/lib:$out/boot" --list "$stage/bin/bench_ocr_engines" |
          awk '$2 == "=>" {print $3}' | grep -v -e "^$stage/lib/" -e "^$out/boot/" || true)
[ -z "$outside" ] || { echo "ocr_bundle: resolved outside the bundle: $outside" >&2; exit 1; }

tar -C "$stage" -cf - bin lib tessdata | nice xz -9e -T1 > "$out/libs.tar.xz"
echo "ocr_bundle: $out, $(du -sh "$out" | cut -f1) ($(du -sh "$stage" | cut -f1) unpacked); run: bash $out/run.sh"
