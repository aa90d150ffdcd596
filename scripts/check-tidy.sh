#!/usr/bin/env bash
# Runs clang-tidy (checks in .clang-tidy, warnings as errors) over the
# project's non-test sources, using the build's compile_commands.json.
# Usage: scripts/check-tidy.sh [clang-tidy binary] [build dir] [file.cc ...]
# (files: only those; default every tracked non-test source)
#
# clang-tidy's static analyser is the slowest step of the test command, so
# a file found clean is remembered, like ccache remembers an object file:
# under a key that hashes everything its result depends on (clang-tidy's
# version, .clang-tidy, the file's compile command with the checkout's path
# taken out, the file itself, every header tracked in the repository, and
# the installed Debian packages that provide the system headers). Any
# change to one of them is a miss and the file is checked again. Only clean
# results are kept; a failing file is checked every time. The cache lives
# in $SLUICE_TIDY_CACHE (default ~/.cache/sluice/clang-tidy); set
# SLUICE_TIDY_CACHE=off to check every file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
clang_tidy=${1:-clang-tidy}
build=${2:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
if [ $# -gt 2 ]; then
  files=("${@:3}")
else
  mapfile -t files < <(git ls-files '*.cc' | grep -v -e '_test\.cc$' -e '^bench/' -e '/testing/')
fi
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cache=${SLUICE_TIDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/clang-tidy}
if [ "$cache" != off ]; then
  mkdir -p "$cache"
  # What every file's result depends on besides the file and its command.
  {
    "$clang_tidy" --version
    cat .clang-tidy
    git ls-files -z '*.h' '*.hpp' '*.inc' | xargs -0 sha256sum
    dpkg-query -W 2>/dev/null || true
  } | sha256sum | cut -d' ' -f1 >"$work/common"
fi

key_of() {  # file -> cache key on stdout
  local file=$1 command
  command=$(grep -F -B2 "\"file\": \"$root/$file\"" "$build/compile_commands.json" |
    grep '"command"' || true)
  {
    cat "$work/common"
    printf '%s\n' "${command//$root/@ROOT@}" | sed "s#${build}#@BUILD@#g"
    cat "$file"
  } | sha256sum | cut -d' ' -f1
}

todo=()
keys=()
hits=0
for f in "${files[@]}"; do
  if [ "$cache" = off ]; then
    todo+=("$f")
    keys+=("-")
    continue
  fi
  k=$(key_of "$f")
  if [ -e "$cache/$k" ]; then
    hits=$((hits + 1))
  else
    todo+=("$f")
    keys+=("$k")
  fi
done

# One file per clang-tidy run, so that each clean one can be remembered.
for i in "${!todo[@]}"; do printf '%s\t%s\t%s\n' "$i" "${todo[$i]}" "${keys[$i]}"; done >"$work/list"
export clang_tidy build cache work
status=0
if [ -s "$work/list" ]; then
  # shellcheck disable=SC2016
  xargs -P "$jobs" -L 1 bash -c '
    if "$clang_tidy" -p "$build" --quiet --warnings-as-errors="*" "$1" >"$work/$0.log" 2>&1; then
      [ "$cache" = off ] || [ "$2" = - ] || touch "$cache/$2"
    else
      echo "$1" >>"$work/failed"
    fi' <"$work/list" || true
  [ -e "$work/failed" ] && status=1
  cat "$work"/*.log 2>/dev/null |
    grep -v -e 'warnings generated' -e '^Suppressed' -e 'Use -header-filter' || true
fi
if [ "$status" -eq 0 ]; then
  echo "clang-tidy: ${#files[@]} files clean (${hits} remembered clean, ${#todo[@]} checked)"
else
  echo "clang-tidy: findings in $(wc -l <"$work/failed") of ${#files[@]} files:" >&2
  cat "$work/failed" >&2
fi
exit "$status"
