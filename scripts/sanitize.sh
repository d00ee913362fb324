#!/usr/bin/env bash
# scripts/sanitize.sh [thread] [address] [-- TEST-ARGS]: the whole test suite (scripts/test.sh) built with
# ThreadSanitizer and with AddressSanitizer (leak checking on), each in .build/sanitize-NAME, the
# smimegate binary the tests run included. Prints a table: sanitizer, tests passed and failed, reports
# found, minutes; the full output is in .build/sanitize-NAME.log. Exit 1 when a test failed or a
# sanitizer reported anything.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=()
while (($#)); do
  case $1 in
    thread | address) sanitizers+=("$1") ;;
    --) shift; break ;;
    *) echo "usage: scripts/sanitize.sh [thread] [address] [-- TEST-ARGS]" >&2; exit 2 ;;
  esac
  shift
done
((${#sanitizers[@]})) || sanitizers=(thread address)

# Every report fails the process that made it (exit 66), so a test that runs smimegate sees it too.
export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:exitcode=66:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="exitcode=66:suppressions=$PWD/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

rows=()
status=0
for sanitizer in "${sanitizers[@]}"; do
  log=.build/sanitize-$sanitizer.log
  mkdir -p .build
  start=$SECONDS
  SMIMEGATE_SANITIZER=$sanitizer bash scripts/test.sh "$@" >"$log" 2>&1 || status=1
  minutes=$(((SECONDS - start + 30) / 60))
  result=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)
  # A leak counts when LeakSanitizer calls it direct: what is only reachable from a suppressed block
  # (scripts/lsan.supp: the toolchain's own, in the XCTest runner) is reported as indirect and does not.
  reports=$(grep -cE 'WARNING: ThreadSanitizer|ERROR: AddressSanitizer|^Direct leak of' "$log" || true)
  ((reports == 0)) || status=1
  rows+=("$(printf '%-9s  %-22s  %7s  %4s min' "$sanitizer" "${result:-did not finish}" "$reports" "$minutes")")
done
printf '%-9s  %-22s  %7s  %8s\n' sanitizer tests reports time
printf '%s\n' "${rows[@]}"
exit "$status"
