#!/usr/bin/env bash
# Installs what sluice needs, builds it, and runs every test: unit,
# scenario, property and CLI tests, the benchmark smoke test, the web UI's
# component (Vitest) and end-to-end (playwright-core + chromium) tests, the
# Python client's pytest tests (in .venv/), and the clang-format and
# clang-tidy checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
cd build
ctest --output-on-failure -j "$jobs" --timeout 900
