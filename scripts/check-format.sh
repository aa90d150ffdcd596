#!/usr/bin/env bash
# Fails when a C++ file of the project is not formatted as .clang-format says.
# Usage: scripts/check-format.sh [clang-format binary]   (run from the root)
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${1:-clang-format}
mapfile -t files < <(git ls-files '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h')
bad=0
for f in "${files[@]}"; do
  if ! "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (fix with: $clang_format -i $f)"
    bad=1
  fi
done
[ "$bad" -eq 0 ] && echo "clang-format: ${#files[@]} files formatted"
exit "$bad"
