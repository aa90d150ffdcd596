#!/usr/bin/env bash
# Runs clang-tidy (checks in .clang-tidy, warnings as errors) over the
# project's non-test sources, using the build's compile_commands.json.
# Usage: scripts/check-tidy.sh [clang-tidy binary] [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
clang_tidy=${1:-clang-tidy}
build=${2:-build}
mapfile -t files < <(git ls-files '*.cc' | grep -v -e '_test\.cc$' -e '^bench/' -e '/testing/')
jobs=$(nproc 2>/dev/null || echo 2)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -n 2 "$clang_tidy" -p "$build" --quiet --warnings-as-errors='*' >"$out" 2>&1 ||
  status=1
grep -v -e 'warnings generated' -e '^Suppressed' -e 'Use -header-filter' "$out" || true
[ "$status" -eq 0 ] && echo "clang-tidy: ${#files[@]} files clean"
exit "$status"
