#!/usr/bin/env bash
# Scale (issue 14): a run over 1,000,000 messages against one over 10,000 — messages/s and peak RSS
# must stay flat (within 10 %). The 4k corpus of 10,000 messages as an mboxrd file, and that file
# 100 times over as the 1,000,000-message input (generated, never committed: ~4 GB). Operations:
# pass-through (process incoming of plain mail: the pipeline alone) and encrypt to one recipient
# (the pipeline plus microseconds of cryptography, so per-message overheads show first); outputs as
# mbox files (a million files in one maildir would measure the file system). 2 workers.
# Writes bench/results/scale.md and prints it.
#   bench/scale.sh --work /dev/shm/scale-bench       # needs ~9 GB there; ~6 minutes
#   bench/scale.sh --times 10                        # 100,000 messages instead of 1,000,000
set -euo pipefail
cd "$(dirname "$0")/.."

work= results=bench/results times=100
while (($#)); do
  case "$1" in
    --work) work=$2; shift ;;
    --results) results=$2; shift ;;
    --times) times=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
work=$(realpath -m "${work:-.build/bench-scale}")
workers=$(nproc)
log() { echo "scale: $*" >&2; }

source scripts/setup.sh
source bench/lib.sh
mkdir -p "$work"
build_release "$work" scale.sh
binary=$(realpath .build/release/smimegate)

rm -rf "$work/corpus"
log "PKI, homes and the 4k corpus of 10,000 messages in $work/corpus"
eval "$(python3 bench/bench.py --binary "$binary" --work "$work/corpus" --setup-only 10000)"
big=$work/corpus/big.mbox
log "the same mbox $times times over: $((10000 * times)) messages"
for _ in $(seq "$times"); do cat "$mbox"; done >"$big"

table=$work/table.md
{
  echo "| operation | messages | seconds | messages/s | peak RSS (MiB) |"
  echo "| --- | ---: | ---: | ---: | ---: |"
} >"$table"
for op in pass-through encrypt; do
  for input in "$mbox" "$big"; do
    count=$([ "$input" = "$mbox" ] && echo 10000 || echo $((10000 * times)))
    out=$work/out
    if [ "$op" = pass-through ]; then
      run=("$binary" --home "$incoming_home" process incoming "$input")
    else
      run=("$binary" --home "$home" process outgoing "$input" --profile encrypt)
    fi
    # The short run is repeated (its median taken): one run of under a second is at this machine's mercy.
    rounds=$([ "$input" = "$mbox" ] && echo 5 || echo 1)
    log "$op over $count messages ($rounds run(s))"
    walls=() peak=0
    for _ in $(seq "$rounds"); do
      rm -rf "$out"
      read -r kib seconds < <(/usr/bin/time -f '%M %e' "${run[@]}" --out "$out" --out-format mbox \
        --workers "$workers" --no-progress 2>&1 >/dev/null | tail -1)
      recorded=$(wc -l <"$out/manifest.jsonl")
      [ "$recorded" -eq "$count" ] || { echo "scale.sh: $op recorded $recorded of $count messages" >&2; exit 1; }
      walls+=("$seconds")
      if ((kib > peak)); then peak=$kib; fi
    done
    seconds=$(median "${walls[*]}")
    kib=$peak
    echo "| $op | $count | $seconds | $(python3 -c "print(round($count / $seconds))") | $((kib / 1024)) |" >>"$table"
  done
done
rm -rf "$work/out"

{
  echo "# Scale"
  echo
  echo "$(date -u +%Y-%m-%d), $workers cores, \`bench/scale.sh\`; one whole-process run per row (GNU time;"
  echo "the 10,000-message rows: the median of 5 runs and their highest peak RSS),"
  echo "input one mboxrd file (the 4k corpus of 10,000 messages, and it $times times over), output mbox files, $workers workers."
  echo "Target (issue 14): messages/s and peak RSS of the large run within 10 % of the 10,000-message run."
  echo
  cat "$table"
} >"$results/scale.md"
cat "$results/scale.md"
