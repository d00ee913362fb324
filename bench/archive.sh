#!/usr/bin/env bash
# Archive workflows (issue 13), each as a ratio to its own limit, measured in one run:
#   rekey        process rekey of the mixed corpus (60 % 4 KB, 30 % 50 KB, 10 % 1 MB) encrypted to r1, to r2:
#                per message one RSA-2048 private operation, one public one and AES-256-CBC twice over the
#                content. Its ceiling: `openssl speed -multi N` of those, on every core, nothing else.
#   decrypt      process incoming of the same encrypted corpus (one private operation, AES once), for scale.
#   mbox output  --out-format mbox against the maildir output of the same run on the 4k corpus:
#                pass-through (process incoming of plain mail) and sign-detached (process outgoing).
# Medians of the messages/s over the rounds, in alternating order; 2 workers (the machine's cores).
# Writes bench/results/archive.md and prints it.
#   bench/archive.sh                  # 1000 mixed messages, 4000 4k messages, 3 rounds
#   bench/archive.sh --quick          # 60 and 300, 1 round
#   bench/archive.sh --work /dev/shm/archive-bench --repeat 5
set -euo pipefail
cd "$(dirname "$0")/.."

command=(bench/archive.sh "$@")
mixed=1000 small=4000 repeat=3 work= results=bench/results
while (($#)); do
  case "$1" in
    --quick) mixed=60 small=300 repeat=1 ;;
    --repeat) repeat=$2; shift ;;
    --work) work=$2; shift ;;
    --results) results=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "archive.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
work=$(realpath -m "${work:-.build/bench-archive}")
workers=$(nproc)
log() { echo "archive: $*" >&2; }

source scripts/setup.sh
source bench/lib.sh
mkdir -p "$work"
build_release "$work" archive.sh
binary=$(realpath .build/release/smimegate)

# --- corpora and homes ---------------------------------------------------------------------
rm -rf "$work/mixed" "$work/small"
log "PKI, homes, a mixed corpus of $mixed and a 4k corpus of $small messages in $work"
eval "$(python3 bench/bench.py --binary "$binary" --work "$work/mixed" --setup-only "$mixed" --setup-mix mixed)"
mixed_home=$home mixed_in=$incoming_home mixed_maildir=$maildir mixed_bytes=$bytes mixed_pki=$pki
"$binary" --home "$mixed_home" process outgoing "$mixed_maildir" --out "$work/mixed/encrypted" --profile encrypt \
  --no-progress >/dev/null
encrypted=$work/mixed/encrypted/encrypted
# The archive's key r1 is retired; r2, a new organisation key, takes its place.
"$binary" --home "$mixed_in" cert import r2 "$mixed_pki/r2.pem" --key "$mixed_pki/r2.key" >/dev/null
"$binary" --home "$mixed_in" cert retire r1 >/dev/null
eval "$(python3 bench/bench.py --binary "$binary" --work "$work/small" --setup-only "$small")"
small_home=$home small_in=$incoming_home small_maildir=$maildir

# --- the machine's limits ------------------------------------------------------------------
log "openssl speed -multi $workers (rsa2048, aes-256-cbc)"
speed=$(openssl speed -seconds 3 -multi "$workers" rsa2048 2>/dev/null | grep -E '^rsa 2048 bits' | tail -1)
rsa_private=$(awk '{ print $6 }' <<<"$speed")
rsa_public=$(awk '{ print $7 }' <<<"$speed")
aes=$(openssl speed -seconds 3 -multi "$workers" -bytes 16384 -evp aes-256-cbc 2>/dev/null |
  grep -iE '^aes-256-cbc' | tail -1 | awk '{ sub(/k$/, "", $NF); print $NF * 1000 }')
average=$(awk -v b="$mixed_bytes" -v n="$mixed" 'BEGIN { print b / n }')
# Messages/s if only the cryptography ran: rekey = private + public + AES twice; decrypt = private + AES.
rekey_ceiling=$(awk -v p="$rsa_private" -v q="$rsa_public" -v a="$aes" -v s="$average" \
  'BEGIN { printf "%.1f", 1 / (1 / p + 1 / q + 2 * s / a) }')
decrypt_ceiling=$(awk -v p="$rsa_private" -v a="$aes" -v s="$average" 'BEGIN { printf "%.1f", 1 / (1 / p + s / a) }')

# --- runs ----------------------------------------------------------------------------------
declare -A rates
out=$work/out
run() {
  local name=$1 count=$2 outcome=$3
  shift 3
  rm -rf "$out"
  local seconds n
  seconds=$( { TIMEFORMAT='%R'; time "$@" --out "$out" --workers "$workers" --no-progress --json \
    >"$work/summary.json" 2>"$work/stderr"; } 2>&1) || { cat "$work/stderr" >&2; echo "archive.sh: $name failed" >&2; exit 1; }
  n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["outcomes"].get(sys.argv[2], 0))' \
    "$work/summary.json" "$outcome")
  ((n == count)) || { echo "archive.sh: $name: $n of $count messages $outcome" >&2; exit 1; }
  rates[$name]+="$(awk -v n="$count" -v t="$seconds" 'BEGIN { printf "%.1f", n / t }') "
  log "$(printf '%-28s %8s s' "$name" "$seconds")"
}
contend() {
  case "$1" in
    rekey) run "$1" "$mixed" rekeyed "$binary" --home "$mixed_in" process rekey "$encrypted" --to-cert r2 ;;
    decrypt) run "$1" "$mixed" decrypted "$binary" --home "$mixed_in" process incoming "$encrypted" ;;
    "pass-through maildir") run "$1" "$small" passed "$binary" --home "$small_in" process incoming "$small_maildir" ;;
    "pass-through mbox")
      run "$1" "$small" passed "$binary" --home "$small_in" process incoming "$small_maildir" --out-format mbox ;;
    "sign maildir")
      run "$1" "$small" signed "$binary" --home "$small_home" process outgoing "$small_maildir" --profile sign-detached ;;
    "sign mbox")
      run "$1" "$small" signed "$binary" --home "$small_home" process outgoing "$small_maildir" \
        --profile sign-detached --out-format mbox ;;
  esac
}
contenders=(rekey decrypt "pass-through maildir" "pass-through mbox" "sign maildir" "sign mbox")
for ((rep = 0; rep < repeat; rep++)); do
  order=()
  for name in "${contenders[@]}"; do
    if ((rep % 2)); then order=("$name" "${order[@]}"); else order+=("$name"); fi
  done
  for name in "${order[@]}"; do contend "$name"; done
done
rm -rf "$out"

rate() { median "${rates[$1]}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mkdir -p "$results"
{
  echo "# Archives: rekey and mbox output (issue 13)"
  echo
  echo "\`${command[*]}\` on $(date -u +%Y-%m-%d), $workers cores, $workers workers, medians of $repeat round(s) in"
  echo "alternating order. Mixed corpus: $mixed messages, $(awk -v b="$mixed_bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MB"
  echo "(60 % 4 KB, 30 % 50 KB, 10 % 1 MB), encrypted to r1 (RSA-2048, AES-256-CBC) and re-keyed to r2. Ceiling:"
  echo "\`openssl speed -multi $workers\` — $rsa_private RSA-2048 private and $rsa_public public operations/s,"
  echo "$(awk -v a="$aes" 'BEGIN { printf "%.0f", a / 1048576 }') MB/s AES-256-CBC — for the cryptography alone."
  echo
  echo "| run | messages/s | ceiling | ÷ ceiling |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| rekey (mixed) | $(rate rekey) | $rekey_ceiling | $(ratio "$(rate rekey)" "$rekey_ceiling") |"
  echo "| decrypt (mixed) | $(rate decrypt) | $decrypt_ceiling | $(ratio "$(rate decrypt)" "$decrypt_ceiling") |"
  echo
  echo "Output formats on the 4k corpus ($small messages): the same run writing one maildir per outcome or one"
  echo "mboxrd file per outcome (appends in input order, offsets in the manifest)."
  echo
  echo "| run | maildir messages/s | mbox messages/s | mbox ÷ maildir |"
  echo "| --- | ---: | ---: | ---: |"
  for op in pass-through sign; do
    m=$(rate "$op maildir") b=$(rate "$op mbox")
    echo "| $op | $m | $b | $(ratio "$b" "$m") |"
  done
} >"$results/archive.md"
cat "$results/archive.md"
