#!/usr/bin/env bash
# The main job end to end on the built-in default: installs what is missing, builds, generates
# the sample film, restores it with two local workers (configs/demo.yaml) and prints where the
# result is. Re-running resumes: finished shards are not redone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_TARGETS=reelscale scripts/build.sh
bin=${BUILD_DIR:-build}/cli/reelscale
mkdir -p demo-output
[ -f demo-output/sample.mkv ] || "$bin" make-sample demo-output/sample.mkv --seconds 12
"$bin" run configs/demo.yaml "$@"
echo
echo "restored film: $(pwd)/demo-output/sample.restored.mkv"
echo "report:        $(pwd)/demo-output/sample.restored.mkv.work/report.html"
