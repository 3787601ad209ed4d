#!/usr/bin/env bash
# Run on the development machine from the project root: copies the official BasicVSR++
# network files (ckkelvinchan/BasicVSR_PlusPlus, Apache-2.0) from the `fetch` mirror into the
# ignored .official/ folder, for timing next to ours on the GPU machine. Never commit them.
set -euo pipefail
mirror=${1:-/work/.mirror/ckkelvinchan+BasicVSR_PlusPlus/repo}
mkdir -p .official
for f in mmedit/models/backbones/sr_backbones/basicvsr_pp.py mmedit/models/backbones/sr_backbones/basicvsr_net.py \
         mmedit/models/common/flow_warp.py mmedit/models/common/upsample.py mmedit/models/common/sr_backbone_utils.py LICENSE; do
  git --git-dir="$mirror" show "HEAD:$f" > ".official/$(basename "$f")"
done
grep -qx '/.official/' .git/info/exclude 2>/dev/null || echo '/.official/' >> .git/info/exclude
ls .official
