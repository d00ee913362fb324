#!/usr/bin/env bash
# Submits a smimegate array run to Slurm: smimegate-array.sbatch as N tasks (--array=0-(N-1), one
# shard each), then smimegate-report.sbatch, which runs once every task has succeeded
# (--dependency=afterok) and is cancelled if one did not (--kill-on-invalid-dep=yes).
#
#   contrib/slurm/submit.sh N [SBATCH-OPTION...]
#
#   N               the number of tasks (shards); keep it for the reruns into one OUT_ROOT
#   SBATCH-OPTION   passed to both sbatch calls; they override the scripts' #SBATCH lines
#                   (e.g. --partition=mail --cpus-per-task=8 --time=2:00:00)
#
# SMIMEGATE, SMIMEGATE_HOME, SPOOL, OUT_ROOT (and SMIMEGATE_KEYSTORE) come from the environment, as
# described in smimegate-array.sbatch; sbatch passes the environment on to both jobs. The jobs' logs
# (smimegate-array-JOBID_TASK.out, smimegate-report-JOBID.out) go to the current directory.
# Prints both job ids:
#   array job 1234: tasks 0-7
#   report job 1235: after the array succeeds
# When a task fails (exit 75, cancelled), Slurm cancels the report job (DependencyNeverSatisfied);
# requeue the task (`scontrol requeue 1234_5`: it resumes its own shard directory), and once every
# task has completed, submit the report again: sbatch contrib/slurm/smimegate-report.sbatch.
set -euo pipefail

usage="usage: contrib/slurm/submit.sh N [SBATCH-OPTION...]"
(($# >= 1)) || { echo "$usage" >&2; exit 2; }
[[ $1 =~ ^[1-9][0-9]*$ ]] || { echo "$usage (N: a number of tasks, 1 or more)" >&2; exit 2; }
tasks=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
command -v sbatch >/dev/null || { echo "submit: sbatch is not on PATH (a Slurm client is needed)" >&2; exit 2; }

# A shard directory of another split would be refused by its task, and stray ones (shard-8 of an
# earlier 16-task run) would count twice in the report: one OUT_ROOT per N.
OUT_ROOT=${OUT_ROOT:-/var/lib/smimegate/array}
shopt -s nullglob
for file in "$OUT_ROOT"/shard-*/shard; do
  split=$(<"$file")
  dir=${file%/shard}
  if [[ ${split#*/} != "$tasks" || ${split%/*} != "${dir##*/shard-}" ]]; then
    echo "submit: $dir holds shard $split, not ${dir##*/shard-}/$tasks: use another OUT_ROOT (or the same N)" >&2
    exit 2
  fi
done

array=$(sbatch --parsable --array="0-$((tasks - 1))" "$@" "$here/smimegate-array.sbatch")
array=${array%%;*}  # "JOBID;CLUSTER" on a multi-cluster setup
echo "array job $array: tasks 0-$((tasks - 1))"
report=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes "$@" "$here/smimegate-report.sbatch")
report=${report%%;*}
echo "report job $report: after the array succeeds"
