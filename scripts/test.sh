#!/usr/bin/env bash
# Builds quantc (setting up on a fresh machine) and runs every test: the lit
# suite (dialect, passes, import, tools) and the gtest suites, through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
