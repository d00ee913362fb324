#!/usr/bin/env bash
# What verification costs before and after issue 12's shared trust store, as a ratio to a
# pass-through run of the same corpus in the same bench run (the I/O floor: read, parse, deliver,
# record, no cryptography). bench.py --setup-only makes the PKI, the homes and a one-recipient 4k
# corpus; the corpus is signed (detached) once, and then, in rounds that alternate the order:
#   pass-through     the current binary: process incoming on the plain corpus (every message passes)
#   verify before    the binary of REV (default 29b59f8, before issue 12: an X509_STORE per message)
#   verify no CRL    the current binary: a shared TrustStore, revocation unknown (soft)
#   verify with CRL  the current binary: the CA's CRL loaded, revocation checked and good
# each with 1 and 2 workers; medians of the messages/s and of the CPU per message (user + system).
# With valgrind, also the instructions per message of each (callgrind, 1 worker, the first N
# messages, start-up subtracted), which do not drift as this machine's wall clock does.
# Writes bench/results/trust.md and prints it.
#   bench/trust.sh                       # 2000 messages, 3 rounds (and a release build of REV)
#   bench/trust.sh --quick               # 300 messages, 1 round
#   bench/trust.sh --count 4000 --repeat 5 --work /dev/shm/trust-bench
#   bench/trust.sh --before none         # leave the old binary out
#   bench/trust.sh --before-binary PATH  # the old binary, already built
#   bench/trust.sh --instructions 0      # no instruction counts (N: count them on N messages; 200)
set -euo pipefail
cd "$(dirname "$0")/.."

command=(bench/trust.sh "$@")
count=2000 repeat=3 work= results=bench/results before=29b59f8 before_binary= instructions=200
while (($#)); do
  case "$1" in
    --quick) count=300 repeat=1 instructions=0 ;;
    --instructions) instructions=$2; shift ;;
    --count) count=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --work) work=$2; shift ;;
    --results) results=$2; shift ;;
    --before) before=$2; shift ;;
    --before-binary) before_binary=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "trust.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
work=$(realpath -m "${work:-.build/bench-trust}")
log() { echo "trust: $*" >&2; }

source scripts/setup.sh
source bench/lib.sh
mkdir -p "$work"
if ! swift build -c release >"$work/build.log" 2>&1; then
  grep -E 'error' "$work/build.log" | head -20 >&2
  echo "trust.sh: the build failed (full log: $work/build.log)" >&2
  exit 2
fi
binary=$(realpath .build/release/smimegate)
if [[ -z $before_binary && $before != none ]]; then
  log "building $before in release mode (a few minutes)"
  rm -rf "$work/before-src"
  git worktree prune
  git worktree add --detach "$work/before-src" "$before" >/dev/null 2>&1
  if ! (cd "$work/before-src" && swift build -c release >"$work/before-build.log" 2>&1); then
    echo "trust.sh: the build of $before failed (full log: $work/before-build.log)" >&2
    exit 2
  fi
  before_binary=$work/before-src/.build/release/smimegate
fi

# --- the PKI, the homes and the corpus -------------------------------------------------
rm -rf "$work/setup"
log "PKI, homes and a 4k corpus of $count messages in $work/setup"
eval "$(python3 bench/bench.py --binary "$binary" --work "$work/setup" --setup-only "$count")"
# sets pki, home, incoming_home, maildir
rm -rf "$work/signed"
"$binary" --home "$home" process outgoing "$maildir" --out "$work/signed" --profile sign-detached --no-progress \
  >/dev/null
signed=$work/signed/signed
# The CA's CRL. bench.py's CA certificate allows keyCertSign only, and OpenSSL takes no CRL from a CA
# without cRLSign: the home that checks revocation trusts the same CA (name and key) re-issued with
# cRLSign, and the CRL that key signs.
openssl req -x509 -new -key "$pki/ca.key" -out "$pki/ca-crl.pem" -days 3650 -subj "/CN=Bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
cat >"$work/crl.cnf" <<EOF
[ca]
default_ca = bench
[bench]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 30
EOF
: >"$work/index.txt"
echo 01 >"$work/crlnumber"
openssl ca -config "$work/crl.cnf" -gencrl -keyfile "$pki/ca.key" -cert "$pki/ca-crl.pem" -out "$pki/ca.crl" \
  2>/dev/null
crl_home=$work/home-crl
rm -rf "$crl_home"
"$binary" --home "$crl_home" init >/dev/null
"$binary" --home "$crl_home" cert import r1 "$pki/r1.pem" --key "$pki/r1.key" >/dev/null
"$binary" --home "$crl_home" ca add "$pki/ca-crl.pem" >/dev/null
"$binary" --home "$crl_home" ca crl add "$pki/ca.crl" >/dev/null
if [[ -n $before_binary ]]; then
  before_home=$work/home-before
  rm -rf "$before_home"
  "$before_binary" --home "$before_home" init >/dev/null
  "$before_binary" --home "$before_home" cert import r1 "$pki/r1.pem" --key "$pki/r1.key" >/dev/null
  "$before_binary" --home "$before_home" ca add "$pki/ca.pem" >/dev/null
fi

# --- wall clock -------------------------------------------------------------------------
declare -A rates cpus counts
out=$work/out
run() {
  local name=$1 workers=$2 bin=$3 h=$4 input=$5 outcome=$6
  rm -rf "$out"
  local timing n r c
  timing=$( { TIMEFORMAT='%R %U %S'; time "$bin" --home "$h" process incoming "$input" --out "$out" \
    --workers "$workers" --no-progress --json >"$work/summary.json" 2>"$work/stderr"; } 2>&1) ||
    { cat "$work/stderr" >&2; echo "trust.sh: $name failed" >&2; exit 1; }
  n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["outcomes"].get(sys.argv[2], 0))' \
    "$work/summary.json" "$outcome")
  ((n == count)) || { echo "trust.sh: $name: $n of $count messages $outcome" >&2; exit 1; }
  if [[ $name == "verify with CRL" ]]; then
    grep -q '"revocation":"good"' "$out/manifest.jsonl" || { echo "trust.sh: revocation not good" >&2; exit 1; }
  fi
  read -r r c < <(awk -v n="$count" -v t="$timing" \
    'BEGIN { split(t, x, " "); printf "%.1f %.1f\n", n / x[1], (x[2] + x[3]) * 1e6 / n }')
  rates["$name $workers"]+="$r " cpus["$name $workers"]+="$c "
  log "$(printf '%-18s %d worker(s) %8s msg/s %7s µs CPU/message' "$name" "$workers" "$r" "$c")"
}
contenders=("pass-through" "verify no CRL" "verify with CRL")
[[ -n $before_binary ]] && contenders=("pass-through" "verify before" "verify no CRL" "verify with CRL")
contend() {
  case "$1" in
    "pass-through") run "$1" "$2" "$binary" "$incoming_home" "$maildir" passed ;;
    "verify before") run "$1" "$2" "$before_binary" "$before_home" "$signed" verified ;;
    "verify no CRL") run "$1" "$2" "$binary" "$incoming_home" "$signed" verified ;;
    "verify with CRL") run "$1" "$2" "$binary" "$crl_home" "$signed" verified ;;
  esac
}
log "$count messages, $repeat round(s); before: ${before_binary:-none}"
for ((rep = 0; rep < repeat; rep++)); do
  for workers in 1 2; do
    order=()
    for name in "${contenders[@]}"; do
      if ((rep % 2)); then order=("$name" "${order[@]}"); else order+=("$name"); fi
    done
    for name in "${order[@]}"; do contend "$name" "$workers"; done
  done
done
rm -rf "$out"

# --- instructions (callgrind) ---------------------------------------------------------------
declare -A instr
if ((instructions > 0)) && ! can_count_instructions; then instructions=0; fi
if ((instructions > 0)); then
  ((instructions <= count)) || instructions=$count
  for n in 0 "$instructions"; do
    for corpus in plain signed; do
      d=$work/first-$corpus-$n
      src=$maildir
      [[ $corpus == signed ]] && src=$signed
      rm -rf "$d" && mkdir -p "$d/new" "$d/cur" "$d/tmp"
      ((n == 0)) || find "$src/new" -type f | sort | sed -n "1,${n}p" | xargs cp -t "$d/new"
    done
  done
  # valgrind 3.19 (Debian 12) cannot read the DWARF 5 that swiftc writes: count copies without it.
  objcopy --strip-debug "$binary" "$work/after-nodebug"
  [[ -n $before_binary ]] && objcopy --strip-debug "$before_binary" "$work/before-nodebug"
  for name in "${contenders[@]}"; do
    case "$name" in
      "pass-through") bin=$work/after-nodebug h=$incoming_home corpus=plain ;;
      "verify before") bin=$work/before-nodebug h=$before_home corpus=signed ;;
      "verify no CRL") bin=$work/after-nodebug h=$incoming_home corpus=signed ;;
      "verify with CRL") bin=$work/after-nodebug h=$crl_home corpus=signed ;;
    esac
    total=()
    for n in 0 "$instructions"; do
      rm -rf "$out"
      total+=("$(instructions_of /dev/null "$bin" --home "$h" process incoming "$work/first-$corpus-$n" \
        --out "$out" --workers 1 --no-progress)") || { echo "trust.sh: callgrind $name failed" >&2; exit 1; }
    done
    instr[$name]=$(((total[1] - total[0]) / instructions))
    log "$(printf '%-18s %10d instructions/message' "$name" "${instr[$name]}")"
  done
  rm -rf "$out"
fi

mkdir -p "$results"
{
  echo "# Verification and the shared trust store (issue 12)"
  echo
  echo "\`${command[*]}\` on $(date -u +%Y-%m-%d), $(nproc) cores, $count messages of the 4k corpus signed"
  echo "detached (RSA-2048, SHA-256), medians of $repeat round(s) in alternating order. Ratio: messages/s over"
  echo "the pass-through run with the same workers, in the same run. Before: \`${before}\` (an X509_STORE"
  echo "with every anchor per message); no CRL: one TrustStore per run, revocation unknown (soft); with CRL:"
  echo "the CA's CRL loaded and every verification's revocation checked (good)."
  echo
  echo "| run | workers | messages/s | µs CPU per message | ÷ pass-through |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for workers in 1 2; do
    base=$(median "${rates[pass-through $workers]}")
    for name in "${contenders[@]}"; do
      r=$(median "${rates[$name $workers]}")
      c=$(median "${cpus[$name $workers]}")
      ratio=$(awk -v a="$r" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
      echo "| $name | $workers | $r | $c | $ratio |"
    done
  done
  if ((instructions > 0)); then
    echo
    echo "Instructions per message (callgrind, 1 worker, the first $instructions messages, start-up subtracted):"
    echo
    echo "| run | instructions/message | ÷ pass-through |"
    echo "| --- | ---: | ---: |"
    for name in "${contenders[@]}"; do
      ratio=$(awk -v a="${instr[pass-through]}" -v b="${instr[$name]}" 'BEGIN { printf "%.2f", a / b }')
      echo "| $name | ${instr[$name]} | $ratio |"
    done
    echo
    echo "(\"÷ pass-through\" here is the pass-through's count over the run's: the share of the I/O floor's"
    echo "rate the run would reach if time went with instructions.)"
  fi
} >"$results/trust.md"
cat "$results/trust.md"
