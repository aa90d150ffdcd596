#!/usr/bin/env bash
# Builds the request-decoding fuzzer (server/fuzz/request_fuzzer.cc) with
# clang's libFuzzer, ASan and UBSan, and runs it for a bounded time.
# Usage: scripts/fuzz-requests.sh [seconds, default 30] [work dir, default build/fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
work=${2:-build/fuzz}
mkdir -p "$work/corpus"
cp server/fuzz/corpus/* "$work/corpus/"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. server/fuzz/request_fuzzer.cc server/codec.cc server/json_fields.cc \
  server/request_target.cc core/model.cc core/mig.cc core/snapshot_errors.cc common/quantity.cc \
  common/status.cc common/check.cc -lyaml-cpp -o "$work/request_fuzzer"
"$work/request_fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -artifact_prefix="$work/" \
  -print_final_stats=1 "$work/corpus" 2>&1 | tail -20
