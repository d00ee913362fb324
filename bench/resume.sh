#!/usr/bin/env bash
# Resume at scale (issue 8, item 7): how long `process --resume` takes to start,
# and how much memory it needs, when DIR/manifest.jsonl already holds a long
# history — 1,000,000 records by default — the situation of a cron job that has
# run every minute for years. Prints a table and writes bench/results/resume.md.
#   bench/resume.sh [--records N] [--work DIR]
# Target: ≤ 2 s and ≤ 100 MB with the index present.
set -euo pipefail
cd "$(dirname "$0")/.."
records=1000000
work=.build/bench-resume
while (($#)); do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "usage: bench/resume.sh [--records N] [--work DIR]" >&2; exit 2 ;;
  esac
done
source scripts/setup.sh
if ! dpkg-query -W -f='${Status}' time 2>/dev/null | grep -q "install ok installed"; then
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get install -y -qq time >/dev/null
fi
swift build -c release --product smimegate 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || true
bin=$PWD/.build/release/smimegate

rm -rf "$work"
mkdir -p "$work"
"$bin" demo "$work/demo" >/dev/null
home=$work/demo/example.com-home
out=$work/out
mkdir -p "$out"

# A history of N records in the writer's own format (what years of runs leave behind).
python3 - "$records" "$out/manifest.jsonl" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write('{"bytes":4096,"direction":"outgoing","elapsed_ms":1.25,"input":"/var/spool/smimegate/new/'
                f'{1600000000 + i}.M{i}P1.mail.example.com","message_id":"<{i}@example.com>","outcome":"signed",'
                f'"outputs":[{{"file":"signed/new/{i:024x}.signed.0","recipients":["bob@partner.example"]}}],'
                '"profile":"demo","signer":"alice@example.com"}\n')
EOF
size=$(du -m "$out/manifest.jsonl" | cut -f1)

# Each measured run brings 100 new messages (copies of the demo's spool under new names).
batch=0
new_spool() {
  batch=$((batch + 1))
  local spool=$work/spool$batch
  mkdir -p "$spool/new" "$spool/cur" "$spool/tmp"
  local i=0
  for f in "$work"/demo/spool/new/*; do
    i=$((i + 1))
    cp "$f" "$spool/new/$batch.$i.bench"
    ((i < 100)) || break
  done
  echo "$spool"
}

measure() {  # label, then the run's arguments; prints "seconds MB"
  local spool
  spool=$(new_spool)
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" --home "$home" process outgoing "$spool" --out "$out" \
    --profile demo --resume --no-progress >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
  read -r seconds kb <"$work/time"
  printf '%s %s\n' "$seconds" "$((kb / 1024))"
}

echo "bench: $records records (${size} MB manifest)" >&2
rows=()
read -r s m < <(measure); rows+=("| first resume, no index yet (reads the whole manifest once, writes the index) | $s | $m |")
for run in 1 2 3; do
  read -r s m < <(measure); rows+=("| resume with the index (run $run) | $s | $m |")
done
rm "$out/manifest.index"
read -r s m < <(measure); rows+=("| index deleted: rebuilt from the manifest | $s | $m |")

report=$(
  echo "# Resume at scale"
  echo
  echo "$(date -u +%F), $(nproc) cores; manifest of $(wc -l <"$out/manifest.jsonl") records (${size} MB);"
  echo "each run processes 100 new messages (profile demo: sign-encrypt, 2 workers) with --resume."
  echo
  echo "| run | seconds | peak RSS (MB) |"
  echo "| --- | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Target (issue 8): ≤ 2 s and ≤ 100 MB with the index present."
)
echo "$report"
mkdir -p bench/results
echo "$report" >bench/results/resume.md
