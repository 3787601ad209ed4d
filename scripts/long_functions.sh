#!/usr/bin/env bash
# Lists the production functions longer than N lines (default 120, the project's limit), longest
# first: "<lines> <file>:<first>-<last> <name>". Universal Ctags gives each function's first and
# last line; a lambda counts toward the function that holds it. Run from the repository root.
set -euo pipefail
limit=${1:-120}
command -v ctags >/dev/null || { echo "needs Universal Ctags (apt-get install universal-ctags)" >&2; exit 2; }
git ls-files cli coordinator worker shared | grep -E '\.(cpp|hpp|h|cc|cu|cuh)$' |
  ctags --language-force=C++ --fields=+ne --c++-kinds=f -o - -L - 2>/dev/null |
  awk -F'\t' -v limit="$limit" '{
    line = ""; end = ""
    for (i = 4; i <= NF; i++) {
      if ($i ~ /^line:/) line = substr($i, 6)
      if ($i ~ /^end:/) end = substr($i, 5)
    }
    if (line != "" && end != "" && end - line + 1 > limit)
      printf "%5d %s:%s-%s %s\n", end - line + 1, $2, line, end, $1
  }' | sort -rn
