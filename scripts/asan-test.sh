#!/usr/bin/env bash
# Runs the test suite against both addons (aiotx and aiotx-bench) built with AddressSanitizer and UBSan, then rebuilds
# it normally. Leak checking is off: Node itself keeps allocations alive at exit.
# Arguments: test files to run (default: all of dist/test).
set -euo pipefail
cd "$(dirname "$0")/.."
restore() { npm run --silent build:native >/dev/null; }
trap restore EXIT
CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
LDFLAGS="-fsanitize=address,undefined" npm run --silent build:native >/dev/null
for addon in build/Release/aiotx.node packages/bench/build/Release/aiotx_bench.node; do
  nm -u "$addon" | grep __asan_ >/dev/null || { echo "asan-test: $addon was not instrumented" >&2; exit 1; }
done
npx tsc -b
# Tools the tests run (curl, wrk, nginx, ...) must not inherit the sanitizer preload: some hang
# under it. Each gets a wrapper on PATH that drops LD_PRELOAD; node children keep it.
shim="$(mktemp -d)"
trap 'rm -rf "$shim"; restore' EXIT
for tool in curl wrk nginx iperf3 netperf netserver ss ip tc; do
  real="$(PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" || true)"
  [ -n "$real" ] && printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$real" > "$shim/$tool" && chmod +x "$shim/$tool"
done
export PATH="$shim:$PATH"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(dist/test/*.test.js)
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:suppressions=$PWD/scripts/asan.supp \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
node --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
