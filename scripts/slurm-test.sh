#!/usr/bin/env bash
# contrib/slurm/ on a real Slurm: a single-node cluster (slurmctld, slurmd and a munged of its own)
# set up in a temporary directory, started and stopped by this script, runs submit.sh's array job
# and its report job over a maildir against a PostgreSQL keystore (a throwaway server started here
# too) or the home's SQLite one, and the result is checked.
#
#   scripts/slurm-test.sh [--binary PATH] [--messages N] [--tasks N] [--keystore KIND] [--keep]
#
#   --binary PATH   the smimegate to run (default: build the release binary with bench/lib.sh)
#   --messages N    messages in the corpus (bench/corpus.py's 4k mix; default 2000)
#   --tasks N       array tasks, i.e. shards (default 4)
#   --keystore KIND postgresql (default): the home's keystore in a PostgreSQL server of its own;
#                   sqlite: the home's keystore.sqlite
#   --keep          keep the temporary directory (it is kept anyway when a check failed)
#
# The cluster: slurm-wlm 22.05 and munge from Debian (installed through scripts/setup.sh when
# missing), a munge key and munged with their socket, pid, seed and log in the temporary directory,
# and a generated slurm.conf (exported as SLURM_CONF): this host's short name on 127.0.0.1, two free
# ports that are not Slurm's defaults, root as SlurmUser, proctrack/linuxproc and task/none (no
# cgroups, no systemd needed), the node's CPUs and memory as `slurmd -C` finds them, one partition.
# Whatever happens, every process started here, the daemons and what Slurm started for the jobs
# (found by a marker in their environment), is stopped on exit.
#
# The keystore (--keystore postgresql): PostgreSQL from Debian (installed through scripts/setup.sh
# when missing), started by scripts/postgres.sh in the temporary directory: initdb (as the postgres
# user), scram-sha-256 with a generated password, 127.0.0.1 only on a free port, its socket in the
# temporary directory, connections logged. A database `keystore`, a 0600 password file, and
# SMIMEGATE_KEYSTORE=postgresql://smimegate@127.0.0.1:PORT/keystore?sslmode=disable and PGPASSFILE
# exported: the home's init, its certificate and profile, and the jobs (sbatch passes the submitting
# environment on) all use it. The server is stopped on exit with the rest.
#
# The run: a home that signs (a certificate for bench.example, the corpus' sender domain, and the
# profile default), `contrib/slurm/submit.sh TASKS`, then a wait until both jobs have left the queue.
# Checked: every task COMPLETED, the report job too, its output says every message is recorded
# exactly once, and the shards' manifests together hold exactly one record per message of the
# corpus, each shard only the records of its own split. With PostgreSQL, that the keystore was
# there and nowhere else: psql finds the profile and the certificate (its fingerprint the one
# `cert create` printed) in the database, the home holds no keystore.sqlite, and the server logged
# a connection to the database from each task at least. A table at the end: keystore, tasks, messages,
# records per shard, exactly once, the array's wall time (from the first task's start to the last
# one's end, as Slurm recorded them, and from submission to the array's end as seen here), and the
# whole script's time.
#
# Needs root (slurmd and the jobs run as root). Exit status: 0 when every check passed, 1 when one
# did not, 2 when the test itself could not run.
set -euo pipefail

usage="usage: scripts/slurm-test.sh [--binary PATH] [--messages N] [--tasks N] [--keystore postgresql|sqlite] [--keep]"
binary=""
messages=2000
tasks=4
keystore=postgresql
keep=false
while (($#)); do
  case $1 in
    --keep) keep=true; shift ;;
    --binary | --messages | --tasks | --keystore)
      (($# >= 2)) || { echo "$usage" >&2; exit 2; }
      case $1 in
        --binary) binary=$(realpath -m "$2") ;;
        --messages) messages=$2 ;;
        --tasks) tasks=$2 ;;
        --keystore) keystore=$2 ;;
      esac
      shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $messages =~ ^[1-9][0-9]*$ && $tasks =~ ^[1-9][0-9]*$ ]] || { echo "$usage (N: a number, 1 or more)" >&2; exit 2; }
[[ $keystore == postgresql || $keystore == sqlite ]] || { echo "$usage" >&2; exit 2; }
cd "$(dirname "$0")/.."
repo=$PWD
started=$(date +%s.%N)

say() { printf 'slurm-test: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }
[[ $(id -u) -eq 0 ]] || die "needs root (slurmd, and the jobs, run as root)"

source scripts/postgres.sh
daemons=(slurmctld slurmd munged mungekey sbatch squeue sinfo scontrol scancel)
missing=false
for tool in "${daemons[@]}"; do command -v "$tool" >/dev/null || missing=true; done
[[ $keystore != postgresql || -n $(postgres_find_bin) ]] || missing=true
if $missing || [[ -z $binary ]]; then
  extra_packages="slurm-wlm munge postgresql"
  source scripts/setup.sh
fi
for tool in "${daemons[@]}"; do command -v "$tool" >/dev/null || die "$tool is not installed (slurm-wlm, munge)"; done
[[ $keystore != postgresql || -n $(postgres_find_bin) ]] || die "PostgreSQL is not installed (postgresql)"
# Only the keystore chosen here: none from the caller's environment, no password but the file's.
unset SMIMEGATE_KEYSTORE PGPASSFILE PGPASSWORD
if [[ -z $binary ]]; then
  source bench/lib.sh
  mkdir -p .build/slurm-test
  say "building the release binary (log: .build/slurm-test/build.log)"
  build_release .build/slurm-test slurm-test
  binary=$repo/.build/release/smimegate
fi
[[ -x $binary ]] || die "$binary is not an executable"
python=$(command -v /usr/bin/python3 || command -v python3 || true)
[[ -n $python ]] || die "python3 is not installed"

# The temporary directory: searchable by all (munged wants every directory on the way to its socket
# to be), the key and munged's files in a 0700 directory of their own.
tmp=$(mktemp -d /tmp/smimegate-slurm.XXXXXX)
chmod 0755 "$tmp"
mkdir -m 0700 "$tmp/munge"
mkdir -m 0755 "$tmp/run" "$tmp/log" "$tmp/state" "$tmp/spool" "$tmp/jobs"
conf=$tmp/slurm.conf
mark="SMIMEGATE_SLURM_TEST=$tmp"  # in the environment of everything started here, and so of the jobs
pids=()
job_ids=()
passed=false

# The processes that carry the marker, this script's own excepted.
marked() {
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p != "$$" ]] || continue
    if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "$mark"; then echo "$p"; fi
  done
}
cleanup() {
  local rc=$? p i left
  trap - EXIT
  if ((${#job_ids[@]})) && [[ -n $(squeue -h -j "$(IFS=,; echo "${job_ids[*]}")" -o %i 2>/dev/null) ]]; then
    scancel --quiet "${job_ids[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [[ -z $(squeue -h -j "$(IFS=,; echo "${job_ids[*]}")" -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    left=false
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=true; done
    $left || break
    sleep 0.2
  done
  for p in "${pids[@]}" $(marked); do kill -KILL "$p" 2>/dev/null || true; done
  postgres_stop
  wait 2>/dev/null || true
  if $keep || ! $passed; then say "temporary directory kept: $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The daemons' logs, for a failure.
show_logs() {
  local f
  for f in "$tmp"/log/*.log "$tmp"/munge/munged.log ${postgres_log:+"$postgres_log"}; do
    [[ -s $f ]] || continue
    echo "---- ${f#"$tmp"/} (last 25 lines)" >&2
    tail -n 25 "$f" >&2
  done
}
# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds; else the logs, and exit 2.
wait_for() {
  local seconds=$1 what=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  show_logs
  die "$what: not after $seconds s"
}

# ---------------------------------------------------------------------------------------------
# munge: a key and a daemon of our own.
mungekey --create --keyfile="$tmp/munge/munge.key" --bits=1024 2>/dev/null
env "$mark" munged --foreground --socket="$tmp/run/munge.socket" --key-file="$tmp/munge/munge.key" \
  --log-file="$tmp/munge/munged.log" --pid-file="$tmp/run/munged.pid" --seed-file="$tmp/munge/munged.seed" \
  >"$tmp/log/munged.out" 2>&1 &
pids+=($!)
munge_ok() { munge --socket="$tmp/run/munge.socket" --no-input | unmunge --socket="$tmp/run/munge.socket"; }
wait_for 15 "munged answering on $tmp/run/munge.socket" munge_ok

# slurm.conf: two free ports outside Slurm's defaults (6817, 6818) and the ephemeral range.
read -r ctld_port slurmd_port < <("$python" - <<'PY'
import random, socket
ports = []
while len(ports) < 2:
    port = random.randrange(20000, 30000)
    try:
        with socket.socket() as s:
            s.bind(("", port))
    except OSError:
        continue
    if port not in ports:
        ports.append(port)
print(*ports)
PY
)
host=$(hostname -s)
# "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24152"
node=$(SLURM_CONF=/dev/null slurmd -C | head -1)
[[ $node == NodeName=* ]] || die "slurmd -C did not describe this node: $node"
node_cpus=$(grep -o 'CPUs=[0-9]*' <<<"$node" | cut -d= -f2)
hardware=${node#NodeName=* }  # slurmd -N names the node below
cat >"$conf" <<EOF
# Written by scripts/slurm-test.sh: a throwaway single-node cluster.
ClusterName=smimegate-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/run/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

env "$mark" slurmctld -D >"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
wait_for 30 "slurmctld answering on port $ctld_port" scontrol ping
env "$mark" slurmd -D -N "$host" >"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
node_idle() { [[ $(sinfo -h -N -n "$host" -o %T) == idle ]]; }
wait_for 60 "node $host idle in sinfo" node_idle
say "Slurm $(sinfo -V | cut -d' ' -f2) up: $host idle, ports $ctld_port/$slurmd_port, $tmp"

# ---------------------------------------------------------------------------------------------
# The keystore: a PostgreSQL server of our own, or the home's SQLite file.
if [[ $keystore == postgresql ]]; then
  postgres_start "$tmp/postgres" -c fsync=off -c log_connections=on || die "could not start PostgreSQL"
  postgres_createdb keystore || die "could not create the database"
  SMIMEGATE_KEYSTORE=$(postgres_url keystore)
  PGPASSFILE=$postgres_passfile
  export SMIMEGATE_KEYSTORE PGPASSFILE
  say "PostgreSQL $("$postgres_bin/postgres" -V | awk '{ print $3 }') up: $SMIMEGATE_KEYSTORE (password in $PGPASSFILE)"
fi
# Connections to the keystore database the server logged so far.
connections() { grep -c "connection authorized: user=$postgres_user database=keystore" "$postgres_log" || true; }

# ---------------------------------------------------------------------------------------------
# A home that signs, and the corpus.
home=$tmp/home
{
  "$binary" --home "$home" init
  "$binary" --home "$home" cert create signer --cn "smimegate Slurm test" --san-domain bench.example
  "$binary" --home "$home" profile create default --mode sign --cert signer
} >"$tmp/log/home.out" 2>&1 || { cat "$tmp/log/home.out" >&2; die "could not make the home"; }
fingerprint=$(awk '$1 == "SHA-256" { print $2; exit }' "$tmp/log/home.out")
"$python" - "$repo/bench" "$tmp/corpus" "$messages" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import corpus
corpus.write(sys.argv[2], "4k", int(sys.argv[3]), 1, ["r1@partner.example"])
os.remove(os.path.join(sys.argv[2], "corpus.mbox"))  # the maildir is the spool
PY
spool=$tmp/corpus/maildir
say "$messages messages in $spool"

# ---------------------------------------------------------------------------------------------
# The run: the tasks share the node's CPUs.
cpus=$((node_cpus / tasks))
((cpus >= 1)) || cpus=1
[[ $keystore != postgresql ]] || connections_before=$(connections)
submitted=$(date +%s.%N)
ids=$(cd "$tmp/jobs" && env "$mark" SMIMEGATE="$binary" SMIMEGATE_HOME="$home" SPOOL="$spool" OUT_ROOT="$tmp/out" \
  bash "$repo/contrib/slurm/submit.sh" "$tasks" --cpus-per-task="$cpus") || { show_logs; die "submit.sh failed"; }
echo "$ids" >&2
array=$(awk '/^array job/ { sub(":", "", $3); print $3 }' <<<"$ids")
report=$(awk '/^report job/ { sub(":", "", $3); print $3 }' <<<"$ids")
[[ $array =~ ^[0-9]+$ && $report =~ ^[0-9]+$ ]] || die "submit.sh printed no job ids"
job_ids=("$array" "$report")

# Until both have left the queue (squeue lists pending, running and completing jobs only).
deadline=$(($(date +%s) + 300 + messages / 10))
array_done=""
while :; do
  queued=$(squeue -h -j "$array,$report" -o '%i %T' 2>/dev/null || true)
  if [[ -z $array_done ]] && ! grep -q "^${array}_" <<<"$queued"; then array_done=$(date +%s.%N); fi
  [[ -n $queued ]] || break
  if (($(date +%s) > deadline)); then
    echo "$queued" >&2
    show_logs
    say "the jobs did not end in time"
    exit 1
  fi
  sleep 0.25
done

# The jobs' connections to the keystore (counted before psql's own below).
[[ $keystore != postgresql ]] || task_connections=$(($(connections) - connections_before))

# ---------------------------------------------------------------------------------------------
# The checks.
failures=()
fail() { failures+=("$*"); say "FAIL: $*"; }
field() { grep -o "\b$1=[^ ]*" | head -1 | cut -d= -f2- || true; }

completed=0 first_start="" last_end=""
while read -r line; do
  [[ -n $line ]] || continue
  task=$(field ArrayTaskId <<<"$line") state=$(field JobState <<<"$line") code=$(field ExitCode <<<"$line")
  if [[ $state != COMPLETED ]]; then
    fail "task $task: $state (exit $code, $(field Reason <<<"$line"))"
    continue
  fi
  completed=$((completed + 1))
  start=$(date -d "$(field StartTime <<<"$line")" +%s) end=$(date -d "$(field EndTime <<<"$line")" +%s)
  [[ -n $first_start ]] && ((start >= first_start)) || first_start=$start
  [[ -n $last_end ]] && ((end <= last_end)) || last_end=$end
done < <(scontrol show job -o "$array" 2>/dev/null || true)
((completed == tasks)) || fail "$completed of $tasks tasks COMPLETED"

report_line=$(scontrol show job -o "$report" 2>/dev/null || true)
report_state=$(field JobState <<<"$report_line")
[[ $report_state == COMPLETED ]] || fail "report job $report: ${report_state:-gone} (exit $(field ExitCode <<<"$report_line"), $(field Reason <<<"$report_line"))"
report_out=$tmp/jobs/smimegate-report-$report.out
exactly_once=no
if grep -qx "inputs: $messages message(s), $messages record(s): every message recorded exactly once" "$report_out" 2>/dev/null; then
  exactly_once=yes
else
  fail "the report job's output does not say that all $messages messages are recorded exactly once"
fi
[[ -s $tmp/out/report.html ]] || fail "no $tmp/out/report.html"

# The keystore was where it was meant to be, and only there.
sqlite_files=$(shopt -s nullglob; echo "$home"/keystore.sqlite*)
if [[ $keystore == postgresql ]]; then
  [[ -z $sqlite_files ]] || fail "the home holds an SQLite keystore: $sqlite_files"
  profile_row=$(postgres_psql keystore "SELECT name FROM profiles WHERE name = 'default'" 2>&1 || true)
  [[ $profile_row == default ]] || fail "psql: no profile default in the keystore database ($profile_row)"
  cert_row=$(postgres_psql keystore "SELECT fingerprint FROM certificates WHERE name = 'signer'" 2>&1 || true)
  [[ -n $fingerprint && ${cert_row,,} == "${fingerprint,,}" ]] ||
    fail "psql: the certificate signer in the database ($cert_row) is not the one created ($fingerprint)"
  ((task_connections >= tasks)) ||
    fail "the server logged $task_connections connection(s) to the keystore during the run, fewer than the $tasks tasks"
  held=$(ls -A "$home" | tr '\n' ' ')
  say "keystore: psql finds profile ${profile_row:-?} and certificate signer (SHA-256 ${cert_row:0:16}…) in the" \
    "database; $task_connections connection(s) to it during the run; in the home: ${held:-nothing}"
else
  [[ -n $sqlite_files ]] || fail "the home holds no keystore.sqlite"
fi

# The manifests: one record per message of the corpus across the shards, each shard its own split.
union=$("$python" - "$tmp/out" "$spool" "$tasks" <<'PY'
import json, os, sys
root, spool, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
expected = {os.path.join(spool, "new", name) for name in os.listdir(os.path.join(spool, "new"))}
seen, counts, problems = {}, [], []
for k in range(tasks):
    out = os.path.join(root, f"shard-{k}")
    try:
        split = open(os.path.join(out, "shard")).read().strip()
        lines = open(os.path.join(out, "manifest.jsonl"), "rb").read().splitlines()
    except OSError as e:
        problems.append(f"shard-{k}: {e.strerror}: {e.filename}")
        counts.append("-")
        continue
    if split != f"{k}/{tasks}":
        problems.append(f"shard-{k} holds shard {split}")
    counts.append(str(len(lines)))
    for line in lines:
        record = json.loads(line)
        seen.setdefault(record["input"], []).append(k)
        if record["outcome"] != "signed":
            problems.append(f"{record['input']}: {record['outcome']}")
extra = sorted(set(os.listdir(root)) - {f"shard-{k}" for k in range(tasks)} - {"report.html"})
if extra:
    problems.append(f"unexpected in the output root: {' '.join(extra)}")
doubled = sorted(i for i, ks in seen.items() if len(ks) > 1)
missing = sorted(expected - seen.keys())
strange = sorted(seen.keys() - expected)
for what, names in (("recorded more than once", doubled), ("missing", missing), ("not in the corpus", strange)):
    if names:
        problems.append(f"{len(names)} input(s) {what}, e.g. {names[0]}")
total = sum(len(ks) for ks in seen.values())
print(total, "/".join(counts), len(doubled))
for p in problems[:10]:
    print(p)
PY
)
read -r records per_shard _ <<<"$(head -1 <<<"$union")"
while read -r problem; do [[ -z $problem ]] || fail "manifests: $problem"; done < <(tail -n +2 <<<"$union")
((records == messages)) || fail "the manifests hold $records records for $messages messages"

if ((${#failures[@]})); then
  for f in "$tmp"/jobs/*.out; do echo "---- jobs/${f##*/}" >&2; tail -n 15 "$f" >&2; done
  show_logs
fi

# ---------------------------------------------------------------------------------------------
finished=$(date +%s.%N)
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }
printf '| %-10s | %5s | %8s | %-24s | %12s | %-26s | %10s |\n' keystore tasks messages "records per shard" "exactly once" "array wall (Slurm / seen)" "total"
printf '| %-10s | %5s | %8s | %-24s | %12s | %-26s | %10s |\n' --- ---: ---: --- --- --- ---:
printf '| %-10s | %5s | %8s | %-24s | %12s | %-26s | %10s |\n' "$keystore" "$tasks" "$messages" "$per_shard" "$exactly_once" \
  "$(if ((completed)); then echo "$((last_end - first_start)) s"; else echo -; fi) / $(seconds "$submitted" "${array_done:-$finished}")" "$(seconds "$started" "$finished")"
if ((${#failures[@]})); then
  say "${#failures[@]} check(s) failed"
  exit 1
fi
passed=true
