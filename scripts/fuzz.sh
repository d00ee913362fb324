#!/usr/bin/env bash
# scripts/fuzz.sh [--quick] [TARGET...]: libFuzzer over smimegate's parsers (Fuzz/README.md). Builds
# Fuzz/ with -sanitize=fuzzer,address in .build/fuzz, seeds each target (Fuzz/seeds, ../shared/vectors
# or $SMIMEGATE_VECTORS), runs 1,000,000 executions a target (--quick: 20,000 from seed 1) and prints
# a table: target, executions, seconds, corpus size, crashes. A crash's input is kept in
# .build/fuzz/crashes/TARGET/ (until the next run); exit 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=false
targets=()
for argument in "$@"; do
  case $argument in
    --quick) quick=true ;;
    mime | smime | mbox | manifest | tar | policy) targets+=("$argument") ;;
    *) echo "usage: scripts/fuzz.sh [--quick] [mime|smime|mbox|manifest|tar|policy ...]" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(mime smime mbox manifest tar policy)
source scripts/setup.sh
vectors="${SMIMEGATE_VECTORS:-../shared/vectors}"
[[ -d $vectors ]] || { echo "fuzz: third-party vectors not found at $vectors (set SMIMEGATE_VECTORS)" >&2; exit 2; }

work=.build/fuzz
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# -parse-as-library: libFuzzer brings main(); FUZZING leaves out the replayer's. A release build: a debug
# one of an executable links its main() by name for testable imports (and fuzzes slower).
if ! swift build -c release --product smimegate-fuzz --scratch-path "$work" -Xswiftc -sanitize=fuzzer,address \
  -Xswiftc -parse-as-library -Xswiftc -DFUZZING >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
binary=$work/release/smimegate-fuzz

# Seeds, made fresh each run: committed ones, the vectors' messages, and mbox files and tar bundles of them.
seed() {
  local target=$1 dir=$work/seeds/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  case $target in
    mime | smime) find "$vectors" -name '*.eml' -size -64k -exec cp {} "$dir/" \; ;;
    mbox)
      local i=0
      while IFS= read -r file; do
        { printf 'From fuzz@example.com Mon Jan  1 00:00:00 2024\n'; sed 's/^\(>*From \)/>\1/' "$file"; echo; } \
          >>"$dir/box$((i % 4)).mbox"
        i=$((i + 1))
      done < <(find "$vectors/thunderbird-nss-smime" -name '*.eml' -size -16k | sort | head -12)
      gzip -c "$dir/box0.mbox" >"$dir/box0.mbox.gz"
      ;;
    manifest) cp Fuzz/seeds/manifest/* "$dir/" ;;
    tar)
      find "$vectors" -name '*.pem' -size -8k | sort | head -3 | tar -cf "$dir/keys.tar" --transform 's|.*/|keys/|' -T -
      gzip -c "$dir/keys.tar" >"$dir/keys.tar.gz"
      ;;
    policy) cp Fuzz/seeds/policy/* "$dir/" ;;
  esac
}

rows=()
status=0
for target in "${targets[@]}"; do
  seed "$target"
  corpus=$work/corpus/$target
  crashes=$work/crashes/$target
  rm -rf "$crashes"  # what this run finds, not an earlier one's
  mkdir -p "$corpus" "$crashes"
  # --quick is what CI runs: a fixed seed and count, so a run is repeatable (a time limit is not).
  if $quick; then limit=(-seed=1 -runs=20000); else limit=(-runs=1000000); fi
  start=$SECONDS
  # -rss_limit_mb: a whole incoming job under ASan stays far below; a bomb that does not is a finding.
  SMIMEGATE_FUZZ_TARGET=$target "$binary" "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$work/seeds/$target" >"$log" 2>&1 || status=1
  runs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' || true)
  found=$(find "$crashes" -type f | wc -l)
  ((found == 0)) || status=1
  cp "$log" "$work/$target.log"
  rows+=("$(printf '%-9s  %10s  %7d  %7d  %7d' "$target" "${runs:-?}" $((SECONDS - start)) \
    "$(find "$corpus" -type f | wc -l)" "$found")")
done
printf '%-9s  %10s  %7s  %7s  %7s\n' target executions seconds corpus crashes
printf '%s\n' "${rows[@]}"
((status == 0)) || echo "fuzz: see $work/TARGET.log and $work/crashes/" >&2
exit "$status"
