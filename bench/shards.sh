#!/usr/bin/env bash
# Scale-out on one machine: `process outgoing` (sign, the profile default) over one maildir of the 4k
# corpus split into 1, 2 and 4 shards (`--shard K/N`), the shards run as concurrent processes, each
# with cores / N workers (at least 1), against the two keystores:
#   sqlite      the home's keystore.sqlite, one file shared by the concurrent processes
#   postgresql  a throwaway PostgreSQL server on 127.0.0.1 (scripts/postgres.sh: initdb, SCRAM, a
#               0600 password file; server defaults otherwise), the home's keystore in a database
#               there (SMIMEGATE_KEYSTORE, PGPASSFILE)
# Each configuration runs --repeat times (rounds in alternating order, so drift hits them alike); per
# row the median wall time (from starting the first shard to the last one's end), messages/s, and the
# ratio to the 1-shard SQLite row. Every run is checked: each shard exits 0, and `report
# --inputs` says every message is recorded exactly once across the shards.
# Writes bench/results/shards.md and prints it.
#   bench/shards.sh                          # 4000 messages, 3 rounds (and a release build)
#   bench/shards.sh --binary PATH            # that smimegate instead of building one
#   bench/shards.sh --messages 1000 --repeat 1 --work /dev/shm/shards-bench
set -euo pipefail
cd "$(dirname "$0")/.."

command=(bench/shards.sh "$@")
binary= messages=4000 repeat=3 work= results=bench/results
while (($#)); do
  case "$1" in
    --binary) binary=$(realpath -m "$2"); shift ;;
    --messages) messages=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --work) work=$2; shift ;;
    --results) results=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "shards.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $messages =~ ^[1-9][0-9]*$ && $repeat =~ ^[1-9][0-9]*$ ]] || { echo "shards.sh: --messages and --repeat take a number, 1 or more" >&2; exit 2; }
work=$(realpath -m "${work:-.build/bench-shards}")
cores=$(nproc)
shard_counts=(1 2 4)
keystores=(sqlite postgresql)
log() { echo "shards: $*" >&2; }

source scripts/postgres.sh
if [[ -z $binary || -z $(postgres_find_bin) ]]; then
  extra_packages=postgresql
  source scripts/setup.sh
fi
[[ -n $(postgres_find_bin) ]] || { echo "shards.sh: PostgreSQL is not installed (postgresql)" >&2; exit 2; }
source bench/lib.sh
mkdir -p "$work"
if [[ -z $binary ]]; then
  build_release "$work" shards.sh
  binary=$(realpath .build/release/smimegate)
fi
[[ -x $binary ]] || { echo "shards.sh: $binary is not an executable" >&2; exit 2; }
# A debug build runs its Swift code unoptimised: its figures are good for the ratios between rows only.
if grep -a -q -m1 -E '\.build/[^/]+/debug/[A-Za-z]+\.build' "$binary"; then build=debug; else build=release; fi
unset SMIMEGATE_KEYSTORE PGPASSFILE PGPASSWORD

# The PostgreSQL server in a directory of its own under /tmp (the postgres user must reach it).
pgtmp=$(mktemp -d /tmp/smimegate-shards-pg.XXXXXX)
chmod 0755 "$pgtmp"
cleanup() {
  local rc=$?
  trap - EXIT
  postgres_stop
  rm -rf "$pgtmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the corpus and the homes ----------------------------------------------------------------
rm -rf "$work/corpus" "$work/home-sqlite" "$work/home-postgresql" "$work/out"
log "a 4k corpus of $messages messages in $work/corpus"
python3 - "$PWD/bench" "$work/corpus" "$messages" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import corpus
corpus.write(sys.argv[2], "4k", int(sys.argv[3]), 1, ["r1@partner.example"])
os.remove(os.path.join(sys.argv[2], "corpus.mbox"))
PY
maildir=$work/corpus/maildir

postgres_start "$pgtmp" || exit 2
postgres_createdb keystore
pg_url=$(postgres_url keystore)
pg_version=$("$postgres_bin/postgres" -V | awk '{ print $3 }')
log "PostgreSQL $pg_version on 127.0.0.1:$postgres_port"

# keystore_env KIND: the environment of a command on that keystore (as arguments for env).
keystore_env() {
  if [[ $1 == postgresql ]]; then
    echo "SMIMEGATE_KEYSTORE=$pg_url" "PGPASSFILE=$postgres_passfile"
  fi
}
for kind in "${keystores[@]}"; do
  home=$work/home-$kind
  # shellcheck disable=SC2046
  if ! env $(keystore_env "$kind") bash -c '
    "$1" --home "$2" init &&
    "$1" --home "$2" cert create signer --cn "smimegate shards bench" --san-domain bench.example &&
    "$1" --home "$2" profile create default --mode sign --cert signer' _ "$binary" "$home" >"$work/home-$kind.log" 2>&1; then
    cat "$work/home-$kind.log" >&2
    echo "shards.sh: could not make the $kind home" >&2
    exit 2
  fi
done
[[ -e $work/home-sqlite/keystore.sqlite && ! -e $work/home-postgresql/keystore.sqlite ]] ||
  { echo "shards.sh: the homes' keystores are not where they should be" >&2; exit 2; }
[[ $(postgres_psql keystore "SELECT name FROM profiles WHERE name = 'default'") == default ]] ||
  { echo "shards.sh: no profile default in the PostgreSQL keystore" >&2; exit 2; }

# --- the runs ------------------------------------------------------------------------------
# run KIND N: the N shards at once; prints the wall seconds. Exits 1 when a shard fails or the
# report does not find every message exactly once.
run() {
  local kind=$1 n=$2 out=$work/out k rc workers started ended
  local -a pids=()
  workers=$((cores / n))
  ((workers >= 1)) || workers=1
  rm -rf "$out"
  mkdir -p "$out"
  started=$(date +%s.%N)
  for ((k = 0; k < n; k++)); do
    # shellcheck disable=SC2046
    env $(keystore_env "$kind") "$binary" --home "$work/home-$kind" process outgoing "$maildir" \
      --out "$out/shard-$k" --shard "$k/$n" --workers "$workers" --no-progress >"$out/shard-$k.log" 2>&1 &
    pids+=($!)
  done
  rc=0
  for k in "${!pids[@]}"; do
    if ! wait "${pids[$k]}"; then
      rc=1
      echo "shards.sh: $kind, shard $k/$n failed:" >&2
      tail -n 5 "$out/shard-$k.log" >&2
    fi
  done
  ended=$(date +%s.%N)
  ((rc == 0)) || exit 1
  if ! "$binary" report "$out"/shard-*/ --inputs "$maildir" >"$out/report.txt" 2>&1 ||
    ! grep -qx "inputs: $messages message(s), $messages record(s): every message recorded exactly once" "$out/report.txt"; then
    echo "shards.sh: $kind, $n shard(s): report --inputs does not find every message exactly once:" >&2
    tail -n 10 "$out/report.txt" >&2
    exit 1
  fi
  awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.2f\n", b - a }'
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
configs=()
for kind in "${keystores[@]}"; do for n in "${shard_counts[@]}"; do configs+=("$kind $n"); done; done
declare -A walls=()
for ((round = 1; round <= repeat; round++)); do
  order=("${configs[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#configs[@]} - 1; i >= 0; i--)); do order+=("${configs[$i]}"); done
  fi
  for config in "${order[@]}"; do
    read -r kind n <<<"$config"
    seconds=$(run "$kind" "$n")
    walls[$config]="${walls[$config]:-} $seconds"
    log "round $round/$repeat: $kind, $n shard(s): $seconds s, exactly once"
  done
done
rm -rf "$work/out"
load_after=$(cut -d' ' -f1 /proc/loadavg)

table=$work/table.md
base_rate=$(python3 -c "print($messages / $(median "${walls[sqlite 1]}"))")
{
  echo "| keystore | shards | workers each | wall (s, median) | runs (s) | messages/s | ÷ 1-shard SQLite | exactly once |"
  echo "| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |"
  for config in "${configs[@]}"; do
    read -r kind n <<<"$config"
    workers=$((cores / n))
    ((workers >= 1)) || workers=1
    seconds=$(median "${walls[$config]}")
    read -r rate ratio < <(python3 -c "r = $messages / $seconds; print(round(r), f'{r / $base_rate:.2f}')")
    echo "| $kind | $n | $workers | $seconds | $(sed 's/^ //; s/ /, /g' <<<"${walls[$config]}") | $rate | $ratio | yes ($repeat/$repeat) |"
  done
} >"$table"

{
  echo "# Shards"
  echo
  echo "$(date -u +%Y-%m-%d), $cores cores, \`${command[*]}\`; one maildir of the 4k corpus ($messages messages),"
  echo "\`process outgoing\` with the profile default (sign, detached), split by \`--shard K/N\` into N processes run"
  echo "at once, each with $cores / N workers (at least 1); wall time from starting the first shard to the last one's"
  echo "end, the median of $repeat round(s) (alternating order). Keystores: the home's SQLite file, shared by the"
  echo "concurrent processes; PostgreSQL $pg_version on 127.0.0.1 (throwaway server, defaults, sslmode=disable,"
  echo "SCRAM password from a pgpass file). Every run checked with \`report --inputs\`: each message recorded"
  echo "exactly once across the shards. Load average (1 min) before and after the runs: $load_before, $load_after$(
    awk -v l="$load_before" -v c="$cores" 'BEGIN { if (l > c) print " (more than the cores: other work shared the machine)" }')."
  if [[ $build == debug ]]; then
    echo
    echo "**The binary is a debug build** ($binary): its Swift code runs unoptimised (OpenSSL's C code"
    echo "does not), so the absolute figures are below a release build's; the rows are for their ratios to one"
    echo "another only."
  fi
  echo
  cat "$table"
} >"$results/shards.md"
cat "$results/shards.md"
