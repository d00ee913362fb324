#!/usr/bin/env bash
# Reliability soak test of `smimegate process` (README: "Batch processing", "Running from cron"):
# runs are killed with SIGKILL at random moments, run out of disk space, overlap, and read a
# hostile spool; after each, `--resume` must end with exactly what one uninterrupted run makes.
#
#   scripts/soak.sh [--quick] [--binary PATH] [--work DIR] [--seed N]
#
#   --quick        a 600-message corpus and 3 kills a case (about a minute); default: 3,000 messages
#                  and 20 kills a case (10-15 minutes on 2 cores), which writes bench/results/soak.md
#   --binary PATH  the smimegate to test (default: build the release binary with bench/lib.sh)
#   --work DIR     where the homes, corpora and outputs go (default: a fresh /dev/shm/smimegate-soak.*,
#                  removed when everything passed); DIR is emptied first, so it must be new, empty
#                  or a former soak work directory
#   --seed N       the seed of the random choices (printed at the start): kill moments as fractions
#                  of the reference run, tmpfs sizes; a run's timing is its own
#
# The work is real: `smimegate demo`'s home (the example.com certificate, two partners' keys) and
# policy (sign, or sign-encrypt and split where a key is missing; quarantine and notify on audit
# mail) over a corpus of bench/corpus.py's messages from example.com, a few from a sender the
# certificate does not cover (bounced). Every run is `process outgoing` with the default workers.
#
# The cases (each a row of the table at the end):
#   clean rerun     two uninterrupted runs of each kind; the manifest fields that differ between them
#                   (elapsed_ms, ...) are the only ones the other cases ignore, and the outputs must
#                   compare equal (see "What is compared")
#   SIGKILL         maildir and mbox input, maildir and mbox output, and a maildir with --consume: a
#                   first run killed at a random moment of the i-th of N equal slices of the
#                   reference run's duration; every second time its first --resume is killed as
#                   well; then --resume runs to the end. The log says how many kills left work
#                   half-done: few, as a message takes a few hundred microseconds
#   mid-message     SIGKILL while a message is half-done: from a random moment on, the run is
#                   stopped (SIGSTOP) every few milliseconds until it has a file in a maildir's tmp/,
#                   an output or mbox bytes that no record names yet, or half a manifest line, and
#                   killed right there (maildir and mbox output, --consume; N/2 trials each); and
#                   the same with a partner's key deleted before the --resume, so the half-done
#                   message's output belongs in another folder now: the result must be whole (one
#                   record per input, every output named by one record and there, nothing left)
#   disk full       the output directory on a small tmpfs (20-40%, then 50-70%, 80-95% and 96-100% of
#                   what the run needs: exit 75 each time, but perhaps the last), grown with `mount -o
#                   remount` until --resume completes (maildir and mbox output, and --consume); and
#                   the same with too few inodes (tmpfs nr_inodes)
#   overlapping     two runs at once on one --out (one must exit 75 "in use"), three at once with
#                   --wait-lock (one does the work, the others wait and find nothing left), and a run
#                   with --wait-lock taking over from one killed mid-way; a sampler checks that no two
#                   runs ever have the manifest open at the same moment
#   hostile spool   a maildir with a FIFO (a writer waits at it), links to a file outside and to
#                   nothing, a device node, a socket, a directory, a sparse file over
#                   --max-message-size, a chmod 000 file, a non-UTF-8 name, an empty file and binary
#                   junk, run as root and, with setpriv, as nobody (root reads a chmod 000 file)
#
# Counted in the table: tried: kills that landed (runs that ended first are not counted), full disks
# met (exit 75), groups of overlapping runs, hostile entries in the spool; lost: messages of the reference whose record or any output is missing;
# duplicated: inputs recorded more than once, records, outputs or mbox entries the reference does
# not have; differ: records or outputs present in both but different; leaked: files left in a
# maildir's tmp/ or anything beside the outputs that a clean run does not leave (a clean run leaves
# DIR/.lock, manifest.jsonl, manifest.index and, for mbox output, .mbox-output: the lock file
# stays, only the flock on it ends with the run).
#
# What is compared: records as sets keyed by input (and mbox offset), without the volatile fields;
# maildir outputs by name and content; mbox outputs as a multiset of entries per file, and each
# record's offset and length must point at its entry. Contents are normalised first, since two clean
# runs differ on purpose in MIME boundaries, the dates of bounces and notices, and CMS blobs (signing
# time, a fresh content key): a CMS blob counts by its length after its BER structure has been
# walked to the last byte, so truncation shows, but not a changed byte inside a signature.
#
# Needs root for the tmpfs, the device node and the run as nobody; without root those parts are
# skipped (SKIP in the table). Exit status: 0 when every case passed, 1 when one did not, 2 when the
# soak itself could not run.
set -euo pipefail

usage="usage: scripts/soak.sh [--quick] [--binary PATH] [--work DIR] [--seed N]"
quick=false
binary=""
work=""
seed=""
while (($#)); do
  case $1 in
    --quick) quick=true; shift ;;
    --binary | --work | --seed)
      (($# >= 2)) || { echo "$usage" >&2; exit 2; }
      case $1 in --binary) binary=$(realpath -m "$2") ;; --work) work=$(realpath -m "$2") ;; --seed) seed=$2 ;; esac
      shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
repo=$PWD
export SOAK_REPO=$repo

say() { printf 'soak: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

if $quick; then messages=600 kills=3 overlaps=1; else messages=3000 kills=20 overlaps=3; fi
[[ -z $seed || $seed =~ ^[0-9]+$ ]] || { echo "$usage (N: a number)" >&2; exit 2; }
[[ -n $seed ]] || seed=$(($(date +%s%N) % 1000000))
RANDOM=$seed  # every random choice below comes from $RANDOM, in this shell: the seed replays them
root=false
[[ $(id -u) -eq 0 ]] && root=true
started=$(date +%s)

if [[ -z $binary ]]; then
  source scripts/setup.sh
  source bench/lib.sh
  mkdir -p .build/soak
  say "building the release binary (log: .build/soak/build.log)"
  build_release .build/soak soak
  binary=$repo/.build/release/smimegate
fi
[[ -x $binary ]] || die "$binary is not an executable"

# The work directory; a former soak's may still have a tmpfs mounted in it.
keep_work=true
if [[ -z $work ]]; then
  work=$(mktemp -d /dev/shm/smimegate-soak.XXXXXX)
  keep_work=false
elif [[ -e $work ]]; then
  [[ -d $work ]] || die "--work $work is not a directory"
  if [[ -n $(ls -A "$work") && ! -e $work/.smimegate-soak ]]; then
    die "--work $work is neither empty nor a soak work directory: not emptying it"
  fi
  { findmnt -rn -o TARGET | grep -F "$work/" || true; } | sort -r | while read -r m; do umount "$m"; done
  find "$work" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
fi
mkdir -p "$work"
work=$(realpath "$work")
touch "$work/.smimegate-soak"
chmod 755 "$work"  # the hostile case runs as nobody in a folder of its own under it

mounts=()
passed_all=false
cleanup() {
  local job m
  # Only what this script started: TERM first, which timeout(1) passes on to what it runs.
  for job in $(jobs -p); do kill -TERM "$job" 2>/dev/null || true; done
  sleep 0.2
  for job in $(jobs -p); do kill -KILL "$job" 2>/dev/null || true; done
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
  if $passed_all && ! $keep_work; then rm -rf "$work"; else say "work directory kept: $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The system's Python 3 (the standard library is enough); a version manager's shim costs 0.2 s a call.
python=$(command -v /usr/bin/python3 || command -v python3 || true)
[[ -n $python ]] || die "python3 is not installed"
check=$work/soakcheck.py
cat >"$check" <<'PY'
"""soak.sh's checker (written out by scripts/soak.sh; standard library only).

  corpus ROOT COUNT                           the soak corpus: ROOT/maildir/new/* and ROOT/corpus.mbox
  snapshot OUT FORMAT SNAP                    what a run left in OUT: records, outputs, other files
  volatile SNAP1 SNAP2                        the record fields that differ between two clean runs
  compare REF RES VOLATILE NOTES              prints "lost duplicated differ leaked"
  check OUT FORMAT NOTES [SPOOL ORIGINALS]    after a kill: what must always hold and did not; whether
                                              the kill left work half-done (0/1)
  probe OUT FORMAT PID DELAY SEED [FOLDER]    SIGKILL to PID at a moment it has work half-done
  consistent OUT REF NOTES                    prints "lost duplicated differ leaked" without a reference run
  monitor OUT STOP RESULT PID...              the most runs that had OUT/manifest.jsonl open at once
  hostile OUT EXPECTED MARKER NOTES           prints "lost duplicated problems"

Output contents are compared after normalisation, since two clean runs differ by design in
what is random or dated: the MIME boundaries smimegate draws (----=_smimegate_<hex>), the
Date and Arrival-Date fields of the bounces and notices it writes, and CMS blobs (the signing
time in a signature, a fresh content-encryption key in an envelope). A CMS blob is replaced by
its decoded length once its BER structure has been walked to the last byte, so a truncated or
spliced blob still shows as a difference.
"""
import base64
import collections
import hashlib
import json
import os
import random
import re
import signal
import sys
import time

BOUNDARY = re.compile(rb"----=_smimegate_[0-9A-Za-z]+")
DATE = re.compile(rb"^(Date|Arrival-Date):[^\r\n]*", re.M)
BASE64_LINES = re.compile(rb"(?:^[A-Za-z0-9+/]+={0,2}\r?\n){3,}", re.M)
FROM_DATE = re.compile(rb"^(From \S+) [^\n]*")
CMS_OID = bytes.fromhex("06092a864886f70d0107")  # 1.2.840.113549.1.7: the PKCS #7 / CMS content types


def ber_end(b, i, depth=0):
    """The index just after the BER element that starts at i (ValueError/IndexError when malformed)."""
    if depth > 100:
        raise ValueError("too deep")
    tag = b[i]
    i += 1
    if tag & 0x1F == 0x1F:
        while b[i] & 0x80:
            i += 1
        i += 1
    length = b[i]
    i += 1
    if length == 0x80:  # indefinite length: constructed, up to 00 00
        if not tag & 0x20:
            raise ValueError("indefinite primitive")
        while b[i] or b[i + 1]:
            i = ber_end(b, i, depth + 1)
        return i + 2
    if length & 0x80:
        n = length & 0x7F
        if not 0 < n <= 4:
            raise ValueError("length of length")
        length = int.from_bytes(b[i:i + n], "big")
        i += n
    end = i + length
    if end > len(b):
        raise ValueError("truncated")
    if tag & 0x20:
        while i < end:
            i = ber_end(b, i, depth + 1)
        if i != end:
            raise ValueError("overrun")
    return end


def _cms(match):
    block = match.group(0)
    if len(block) < 300:
        return block
    try:
        der = base64.b64decode(b"".join(block.split()), validate=True)
    except ValueError:
        return block
    if not der.startswith(b"\x30") or CMS_OID not in der[:40]:
        return block  # an attachment: compared as it is
    try:
        whole = ber_end(der, 0) == len(der)
    except (ValueError, IndexError):
        whole = False
    return b"<CMS %d bytes%s>\n" % (len(der), b"" if whole else b", BROKEN")


def digest(data):
    data = BOUNDARY.sub(b"----=_smimegate_B", data)
    data = DATE.sub(rb"\1: D", data)
    data = BASE64_LINES.sub(_cms, data)
    return hashlib.sha256(data).hexdigest()[:32]


def read_records(out):
    """The manifest's complete records, and whether a partial line follows them."""
    try:
        with open(os.path.join(out, "manifest.jsonl"), "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return [], False
    records = []
    for line in lines[:-1]:
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({"input": "<unparsable line>", "raw": line[:200].decode("latin-1")})
    return records, lines[-1] != b""


def key(record):
    return f"{record.get('input')}@{record.get('offset', '')}"


def files_under(out):
    for root, _, files in os.walk(out):
        for name in files:
            yield os.path.relpath(os.path.join(root, name), out)


def mbox_entries(data):
    """(offset, length) of each entry of an mboxrd file as smimegate writes them (From_ line to the next)."""
    starts = ([0] if data.startswith(b"From ") else []) + [m.start() + 1 for m in re.finditer(rb"\nFrom ", data)]
    if not starts:
        return [(0, len(data))] if data else []
    head = [(0, starts[0])] if starts[0] else []  # bytes before the first From_ line: junk, kept as an entry
    return head + [(s, e - s) for s, e in zip(starts, starts[1:] + [len(data)])]


def snapshot(out, fmt, path):
    records, partial = read_records(out)
    outputs, other, tmp, entries = {}, [], [], {}
    for rel in sorted(files_under(out)):
        parts, full = rel.split("/"), os.path.join(out, rel)
        if fmt == "maildir" and len(parts) >= 3 and parts[-2] in ("new", "cur"):
            with open(full, "rb") as f:
                outputs[rel] = digest(f.read())
        elif fmt == "maildir" and len(parts) >= 3 and parts[-2] == "tmp":
            tmp.append(rel)
        elif fmt == "mbox" and rel.endswith(".mbox"):
            with open(full, "rb") as f:
                data = f.read()
            # A From_ line's date is the message's Date field: a bounce's or notice's is the time it was made.
            entries[rel] = {o: (n, digest(FROM_DATE.sub(rb"\1", data[o:o + n], 1))) for o, n in mbox_entries(data)}
            outputs[rel] = sorted(d for _, d in entries[rel].values())
        else:
            other.append(rel)
    for record in records if fmt == "mbox" else ():  # what each record's offset and length point at
        for o in record.get("outputs", []):
            at = entries.get(o.get("file"), {}).get(o.get("offset"))
            o["_entry"] = at[1] if at and at[0] == o.get("length") else "no such entry"
    with open(path, "w") as f:
        json.dump({"format": fmt, "records": records, "partial": partial, "outputs": outputs,
                   "other": other, "tmp": tmp}, f)


def load(path):
    with open(path) as f:
        return json.load(f)


def stripped(record, fmt, volatile):
    r = {k: v for k, v in record.items() if k not in volatile}
    if fmt == "mbox":  # after a resume, entries may have been appended in another order
        r["outputs"] = [{k: v for k, v in o.items() if k != "offset"} for o in r.get("outputs", [])]
    return json.dumps(r, sort_keys=True)


def volatile(a_path, b_path):
    a, b = load(a_path), load(b_path)
    by_key = {key(r): r for r in b["records"]}
    fields = set()
    for r in a["records"]:
        other = by_key.get(key(r), {})
        fields |= {f for f in set(r) | set(other) if f != "outputs" and r.get(f) != other.get(f)}
    print(",".join(sorted(fields)))


def compare(ref_path, res_path, volatile_fields, notes_path):
    ref, res = load(ref_path), load(res_path)
    fmt, vol, notes = ref["format"], set(filter(None, volatile_fields.split(","))), []
    ref_records = {key(r): r for r in ref["records"]}
    res_records = {key(r): r for r in res["records"]}
    count = collections.Counter(key(r) for r in res["records"])
    lost = set(ref_records) - set(res_records)
    duplicated = sum(n - 1 for n in count.values())
    if duplicated:
        notes.append(f"{duplicated} input(s) recorded more than once, e.g. {min(k for k, n in count.items() if n > 1)}")
    extra = set(res_records) - set(ref_records)
    if extra:
        duplicated += len(extra)
        notes.append(f"{len(extra)} record(s) of inputs the reference has none of, e.g. {min(extra)}")
    differ = 0
    for k in sorted(set(ref_records) & set(res_records)):
        if stripped(ref_records[k], fmt, vol) != stripped(res_records[k], fmt, vol):
            differ += 1
            if differ == 1:
                notes.append(f"record differs: {stripped(res_records[k], fmt, vol)[:400]}")
    if fmt == "maildir":
        for k, r in ref_records.items():
            if any(o.get("file") and o["file"] not in res["outputs"] for o in r.get("outputs", [])):
                lost.add(k)
        for rel, d in sorted(res["outputs"].items()):
            if rel not in ref["outputs"]:
                duplicated += 1
                notes.append(f"an output the reference does not have: {rel}")
            elif ref["outputs"][rel] != d:
                differ += 1
                notes.append(f"an output differs from the reference's: {rel}")
    else:
        owner = {o["_entry"]: key(r) for r in ref["records"] for o in r.get("outputs", []) if "_entry" in o}
        for rel in sorted(set(ref["outputs"]) | set(res["outputs"])):
            want = collections.Counter(ref["outputs"].get(rel, []))
            have = collections.Counter(res["outputs"].get(rel, []))
            for d in want - have:
                lost.add(owner.get(d, f"{rel} entry {d}"))
            surplus = sum((have - want).values())
            if surplus:
                duplicated += surplus
                notes.append(f"{surplus} entr(ies) in {rel} that the reference does not have")
    if lost:
        notes.append(f"{len(lost)} message(s) lost, e.g. {min(lost)}")
    leaked = sorted(set(res["other"]) - set(ref["other"])) + res["tmp"]
    if leaked:
        notes.append(f"left behind: {', '.join(leaked[:5])}")
    if res["partial"]:
        differ += 1
        notes.append("the manifest ends in a partial line")
    with open(notes_path, "a") as f:
        f.writelines(n + "\n" for n in notes[:8])
    print(len(lost), duplicated, differ, len(leaked))


def check(out, fmt, notes_path, spool=None, originals=None):
    """What must hold at every moment, right after a SIGKILL too: no complete record names an output
    that is not there; with --consume, no input has left the spool without a complete record."""
    records, _ = read_records(out)
    bad, notes, sizes = 0, [], {}
    for r in records:
        for o in r.get("outputs", []):
            path = os.path.join(out, o.get("file", ""))
            if fmt == "maildir":
                ok = os.path.isfile(path)
            else:
                if path not in sizes:
                    sizes[path] = os.path.getsize(path) if os.path.isfile(path) else -1
                ok = o.get("offset", 0) + o.get("length", 0) <= sizes[path]
            if not ok:
                bad += 1
                notes.append(f"a record names an output that is not there: {o.get('file')} ({key(r)})")
    if spool:
        recorded = {r.get("input") for r in records}
        with open(originals) as f:
            for name in f.read().split():
                path = os.path.join(spool, name)
                if not os.path.exists(path) and path not in recorded:
                    bad += 1
                    notes.append(f"an input left the spool without a record: {path}")
    with open(notes_path, "a") as f:
        f.writelines(n + "\n" for n in notes[:5])
    print(bad, 1 if half_done(out, fmt) else 0)


def half_done(out, fmt, folder=""):
    """What a run stopped at this moment leaves half-done, if anything: a partial manifest line, a
    file in a maildir's tmp/, outputs (named) or mbox bytes that no complete record names yet.
    FOLDER: only outputs in that folder that no record names."""
    try:
        with open(os.path.join(out, "manifest.jsonl"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data) and not folder:
        return "a partial manifest line"
    if fmt == "maildir":
        files = tmp = 0
        for root, _, names in os.walk(out):
            leaf = os.path.basename(root)
            tmp += len(names) if leaf == "tmp" else 0
            files += len(names) if leaf in ("new", "cur") else 0
        if tmp and not folder:
            return f"{tmp} file(s) in tmp/"
        if files > complete.count(b'"file":'):
            named = {m.decode() for m in re.findall(rb'"file":"([^"]+)"', complete)}
            orphans = sorted(set(rel for rel in files_under(out) if rel.split("/")[-2:-1] == ["new"]
                                 and rel.startswith(folder)) - named)
            if orphans:
                return f"{len(orphans)} output(s) without a record: {' '.join(orphans)}"
    else:
        size = sum(os.path.getsize(os.path.join(root, n)) for root, _, names in os.walk(out)
                   for n in names if n.endswith(".mbox"))
        recorded = sum(int(n) for n in re.findall(rb'"length":(\d+)', complete))
        if size > recorded:
            return f"{size - recorded} mbox byte(s) without a record"
    return None


def probe(out, fmt, pid, delay, seed, folder=""):
    """After DELAY seconds, stops the run PID (SIGSTOP) every 1-8 ms and looks at OUT: when it holds
    half-done work (FOLDER: an output in that folder without a record), kills the run (SIGKILL)
    there and then, else lets it go on (SIGCONT). Prints what it found."""
    pid, rng, probes = int(pid), random.Random(int(seed)), 0
    time.sleep(float(delay))
    for probes in range(1, 10001):
        time.sleep(rng.uniform(0.001, 0.008))
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            break
        if not stopped(pid):
            break  # it has exited (a zombie until the shell waits for it)
        why = half_done(out, fmt, folder)
        if why:
            os.kill(pid, signal.SIGKILL)
            print(f"after {probes} probe(s): {why}")
            return
        os.kill(pid, signal.SIGCONT)
    print(f"never found half-done work ({probes} probe(s))")


def stopped(pid):
    """Waits until every thread of PID is stopped; False when it has exited."""
    for _ in range(2000):
        states = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            return False
        if "Z" in states or "X" in states or not states:
            return False
        if all(s in "tT" for s in states):
            return True
        time.sleep(0.0005)
    return False


def consistent(out, ref_path, notes_path):
    """For a maildir OUT that no single clean run can stand for (the decisions changed between the
    runs): one record per input of the reference, every output named by one record and there,
    nothing in tmp/ or beside the outputs that a clean run does not leave. Prints the counts."""
    ref = load(ref_path)
    records, partial = read_records(out)
    count = collections.Counter(key(r) for r in records)
    named = collections.Counter(o["file"] for r in records for o in r.get("outputs", []) if o.get("file"))
    outputs, other, tmp = set(), set(), []
    for rel in files_under(out):
        parts = rel.split("/")
        if len(parts) >= 3 and parts[-2] in ("new", "cur"):
            outputs.add(rel)
        elif len(parts) >= 3 and parts[-2] == "tmp":
            tmp.append(rel)
        else:
            other.add(rel)
    notes = []
    lost = {key(r) for r in ref["records"]} - set(count)
    lost |= {key(r) for r in records if any(o.get("file") and o["file"] not in outputs for o in r.get("outputs", []))}
    orphans = sorted(outputs - set(named))
    duplicated = sum(n - 1 for n in count.values()) + sum(n - 1 for n in named.values()) + len(orphans)
    leaked = sorted(other - set(ref["other"])) + tmp
    if lost:
        notes.append(f"{len(lost)} message(s) lost (no record, or an output missing), e.g. {min(lost)}")
    if orphans:
        notes.append(f"{len(orphans)} output(s) no record names, e.g. {orphans[0]}")
    if leaked:
        notes.append(f"left behind: {', '.join(leaked[:5])}")
    if partial:
        notes.append("the manifest ends in a partial line")
    with open(notes_path, "a") as f:
        f.writelines(n + "\n" for n in notes[:8])
    print(len(lost), duplicated, 1 if partial else 0, len(leaked))


def monitor(out, stop, result, pids):
    target = os.path.realpath(os.path.join(out, "manifest.jsonl"))
    most = samples = 0
    while not os.path.exists(stop):
        holders = 0
        for pid in pids:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        holders += 1
                        break
                except OSError:
                    pass
        most, samples = max(most, holders), samples + 1
        time.sleep(0.005)
    with open(result, "w") as f:
        f.write(f"{most} {samples}\n")


def corpus(root, count):
    """Mail from example.com (the demo home's certificate) to partners with keys (encrypted),
    customers without (split, or signed), with a few senders the certificate does not cover
    (bounced) and a few subjects the demo policy quarantines (and sends a notice about)."""
    sys.path.insert(0, os.path.join(os.environ["SOAK_REPO"], "bench"))
    import corpus as bench_corpus
    rng = random.Random(f"soak-{count}")
    maildir = os.path.join(root, "maildir")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    recipients = [["bob@partner.example"], ["sales@supplier.example"], ["ann@example.org"],
                  ["bob@partner.example", "ann@example.org"], ["ken@partner.example", "sales@supplier.example"]]
    with open(os.path.join(root, "corpus.mbox"), "wb") as mbox:
        for i in range(count):
            size = rng.randint(2000, 6000) if rng.random() < 0.85 else rng.randint(30000, 80000)
            domain = "other.test" if rng.random() < 0.03 else "example.com"
            data = bench_corpus.message(rng, i, size, rng.choice(recipients), sender_domain=domain)
            if rng.random() < 0.02:
                data = data.replace(b"\r\nSubject: ", b"\r\nSubject: Fwd: audit findings ", 1)
            with open(os.path.join(maildir, "new", f"m{i:07d}"), "wb") as f:
                f.write(data)
            quoted = b"\n".join((b">" + l) if l.lstrip(b">").startswith(b"From ") else l for l in data.split(b"\n"))
            mbox.write(b"From soak@example.com Sun Nov 29 10:00:00 2026\n" + quoted + b"\n")


def hostile(out, expected_path, marker, notes_path):
    """Every regular message has exactly one record and nothing else has one; the marker (the
    content of the links' target and of what waits at the FIFO) is in no output."""
    records, partial = read_records(out)
    with open(expected_path, encoding="utf-8", errors="surrogateescape") as f:
        expected = set(f.read().splitlines())
    count = collections.Counter(r.get("input") for r in records)
    lost, notes = expected - set(count), []
    duplicated = sum(n - 1 for n in count.values())
    notes += [f"no record of {name}" for name in sorted(lost)]
    notes += [f"{n} records of {name}" for name, n in count.items() if n > 1]
    problems = [f"a record of what is no regular message: {name}" for name in sorted(set(count) - expected)]
    for rel in files_under(out):
        with open(os.path.join(out, rel), "rb") as f:
            if marker.encode() in f.read():
                problems.append(f"read a file outside the spool: its content is in {rel}")
    if partial:
        problems.append("the manifest ends in a partial line")
    with open(notes_path, "a") as f:
        f.writelines(n + "\n" for n in (notes + problems)[:8])
    print(len(lost), duplicated, len(problems))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    commands = {"corpus": lambda root, n: corpus(root, int(n)), "snapshot": snapshot, "volatile": volatile,
                "compare": compare, "check": check, "monitor": lambda out, stop, result, *pids: monitor(out, stop, result, pids),
                "hostile": hostile, "probe": probe, "consistent": consistent}
    commands[command](*args)
PY

say "seed $seed, binary $binary, work $work, $messages messages, $kills kills a case"

# ---------------------------------------------------------------------------------------------
# The demo's home: the example.com certificate, partners' keys, the profiles `demo` (sign-encrypt,
# split) and `sign`, and a loaded policy that picks them per recipient and quarantines audit mail.
"$binary" demo "$work/demo" --messages 1 >"$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; die "smimegate demo failed"; }
home=$work/demo/example.com-home
home_nokey=$work/home-nokey  # the same without partner.example's key: its mail is split, not encrypted
cp -a "$home" "$home_nokey"
"$binary" --home "$home_nokey" keys delete partner.example >/dev/null
corpus=$work/corpus
"$python" "$check" corpus "$corpus" "$messages"
spool=$work/spool-consume  # --consume eats its spool: a fresh copy for each run, always at this path
(cd "$corpus/maildir" && find new cur -type f | sort) >"$work/originals"
fresh_spool() {
  rm -rf "$spool"
  cp -a "$corpus/maildir" "$spool"
}

# clock: the time in milliseconds in $clock_ms, without a fork (EPOCHREALTIME: seconds.microseconds).
clock() {
  local us=${EPOCHREALTIME//[!0-9]/}
  clock_ms=$((10#$us / 1000))
}
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
# random N: a random integer in [0, N) in $rnd. Not printed: in a $(...) subshell bash reseeds
# $RANDOM, so the seed would replay nothing.
random() { rnd=$(((RANDOM * 32768 + RANDOM) % $1)); }

# Runs: `process outgoing` with the demo home ($run_home) and its policy, --json summaries, stderr kept.
run_home=$home
runs=0
logs=$work/logs
mkdir -p "$logs"
# start OUT ARGS...: a run in the background; run_pid, and run_log (its .out and .err).
start() {
  local out=$1
  shift
  runs=$((runs + 1))
  run_log=$logs/run$runs
  "$binary" --home "$run_home" process outgoing "$@" --out "$out" --no-progress --json >"$run_log.out" 2>"$run_log.err" &
  run_pid=$!
}
# finish: waits for the run started last; run_rc.
finish() {
  run_rc=0
  wait "$run_pid" 2>/dev/null || run_rc=$?
}
# kill_after MS: SIGKILL to the run started last after MS milliseconds, unless it ends first;
# run_rc (137 when the kill landed), run_ms (when it ended first: how long it took).
kill_after() {
  local start deadline stat
  clock
  start=$clock_ms deadline=$((clock_ms + $1)) run_ms=""
  while clock && ((clock_ms < deadline)); do
    stat=""
    read -r stat <"/proc/$run_pid/stat" 2>/dev/null || true
    stat=${stat##*) }  # the state follows the command name in parentheses; Z: it has exited
    if [[ -z $stat || ${stat%% *} == Z ]]; then
      run_ms=$((clock_ms - start))
      break
    fi
    sleep 0.005
  done
  kill -KILL "$run_pid" 2>/dev/null || true
  finish
}
# run OUT ARGS...: a run in the foreground, killed after 10 minutes (exit 124: it hung); run_rc.
run() {
  local out=$1
  shift
  runs=$((runs + 1))
  run_log=$logs/run$runs
  run_rc=0
  timeout --signal=KILL 600 "$binary" --home "$run_home" process outgoing "$@" --out "$out" --no-progress --json \
    >"$run_log.out" 2>"$run_log.err" || run_rc=$?
}
first_error() { grep -m1 . "$run_log.err" 2>/dev/null || echo "(no message)"; }
json_field() { "$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null || echo ""; }

# ---------------------------------------------------------------------------------------------
# The table: one row a case. A case counts; problem() marks it FAIL with a reason.
rows=()
failures=()
new_case() {
  c_name=$1
  c_tried=0 c_lost=0 c_dup=0 c_differ=0 c_leaked=0 c_problems=0 c_skip=""
}
# remark TEXT: worth knowing, not a failure (printed after the table).
remarks=()
remark() {
  remarks+=("$1")
  say "  $1"
}
problem() {
  c_problems=$((c_problems + 1))
  failures+=("$c_name: $1")
  say "  FAIL $c_name: $1"
}
end_case() {
  local result=PASS
  if [[ -n $c_skip ]]; then
    result="SKIP ($c_skip)"
  elif ((c_lost + c_dup + c_differ + c_leaked + c_problems)); then
    result=FAIL
  fi
  rows+=("$(printf '| %-44s | %5s | %4s | %10s | %6s | %6s | %-6s |' "$c_name" "$c_tried" "$c_lost" "$c_dup" "$c_differ" "$c_leaked" "$result")")
  say "$c_name: tried $c_tried, lost $c_lost, duplicated $c_dup, differ $c_differ, leaked $c_leaked: $result"
}

# compare OUT: OUT against the reference of the current mode (ref_snap, ref_vol, m_format), counted.
compare() {
  "$python" "$check" snapshot "$1" "$m_format" "$work/result.json"
  tally compare "$ref_snap" "$work/result.json" "$ref_vol"
}
# tally COMMAND ARGS...: a comparison by the checker, which prints "lost duplicated differ leaked"
# (and why in a notes file), added to the case's counts; with --consume, the spool must be empty.
tally() {
  local notes=$work/notes lost dup differ leaked
  : >"$notes"
  read -r lost dup differ leaked < <("$python" "$check" "$@" "$notes")
  c_lost=$((c_lost + lost)) c_dup=$((c_dup + dup)) c_differ=$((c_differ + differ)) c_leaked=$((c_leaked + leaked))
  if ((lost + dup + differ + leaked)); then
    while read -r line; do problem "$line"; done <"$notes"
  fi
  if $m_consume; then  # every input was consumed, once its record was made (compared above)
    local left
    left=$(find "$spool/new" "$spool/cur" -type f | wc -l)
    ((left == 0)) || problem "$left input(s) still in the spool after the last --resume --consume"
  fi
}
# invariant OUT: what must hold at every moment, right after a SIGKILL or a full disk too: every
# complete record's outputs are there; with --consume, no input left the spool without a record.
# half_done: 1 when the run left work half-done (see the checker's half_done).
invariant() {
  local out=$1 notes=$work/notes bad
  : >"$notes"
  if $m_consume; then
    read -r bad half_done < <("$python" "$check" check "$out" "$m_format" "$notes" "$spool" "$work/originals")
  else
    read -r bad half_done < <("$python" "$check" check "$out" "$m_format" "$notes")
  fi
  if ((bad)); then
    while read -r line; do problem "after ${2:-a kill}: $line"; done <"$notes"
  fi
}

# ---------------------------------------------------------------------------------------------
# Modes: what is read and written. mode NAME sets m_label, m_format, m_consume and m_args.
mode() {
  m_consume=false
  case $1 in
    maildir-maildir) m_label="maildir in, maildir out" m_format=maildir m_args=("$corpus/maildir") ;;
    maildir-mbox) m_label="maildir in, mbox out" m_format=mbox m_args=("$corpus/maildir") ;;
    mbox-maildir) m_label="mbox in, maildir out" m_format=maildir m_args=("$corpus/corpus.mbox") ;;
    mbox-mbox) m_label="mbox in, mbox out" m_format=mbox m_args=("$corpus/corpus.mbox") ;;
    consume) m_label="maildir in, --consume" m_format=maildir m_args=("$spool" --consume) m_consume=true ;;
  esac
  m_args+=(--out-format "$m_format")
  ref_snap=$work/ref-$1.json
  ref_out=$work/ref-$1
  ref_ms=${ref_duration[$1]:-}
  ref_vol=${ref_volatile[$1]:-}
}
modes=(maildir-maildir maildir-mbox mbox-maildir mbox-mbox consume)

# The references: two clean runs of each mode. The record fields that differ between them are
# the volatile ones; the second must compare equal to the first, or the comparison is unsound.
declare -A ref_duration ref_volatile
new_case "clean rerun (control)"
for name in "${modes[@]}"; do
  mode "$name"
  for pass in reference control; do
    out=$ref_out
    [[ $pass == control ]] && out=$work/control
    rm -rf "$out"
    if $m_consume; then fresh_spool; fi
    clock
    t0=$clock_ms
    run "$out" "${m_args[@]}"
    ((run_rc == 0)) || die "the $pass run ($m_label) exited $run_rc: $(first_error)"
    # The shorter of the two clean runs: the machine may have been busier during one of them.
    clock
    if [[ $pass == reference || $((clock_ms - t0)) -lt ${ref_duration[$name]} ]]; then
      ref_duration[$name]=$((clock_ms - t0))
    fi
    "$python" "$check" snapshot "$out" "$m_format" "$work/$pass.json"
  done
  mv "$work/reference.json" "$ref_snap"
  ref_volatile[$name]=$("$python" "$check" volatile "$ref_snap" "$work/control.json")
  mode "$name"
  records=$(wc -l <"$ref_out/manifest.jsonl")
  say "reference $m_label: $records records in $(seconds "$ref_ms") s; fields that differ between clean runs: ${ref_vol:-none}"
  ((records == messages)) || problem "the reference of $m_label has $records records for $messages messages"
  for field in ${ref_vol//,/ }; do
    [[ $field == elapsed_ms || $field == time ]] || problem "two clean runs ($m_label) differ in the field $field"
  done
  c_tried=$((c_tried + 1))
  tally compare "$ref_snap" "$work/control.json" "$ref_vol"
  rm -rf "$work/control"
done
end_case

# ---------------------------------------------------------------------------------------------
# SIGKILL at random moments, then --resume until the run completes.
kill_case() {
  local name=$1 i at at2 attempt out=$work/killed landed missed=0 halves=0
  mode "$name"
  new_case "SIGKILL, $m_label"
  for ((i = 0; i < kills; i++)); do
    random 1000
    for attempt in 1 2 3; do
      rm -rf "$out"
      if $m_consume; then fresh_spool; fi
      # A moment in the i-th of `kills` equal slices of the run: spread over all of it.
      at=$((ref_ms * (i * 1000 + rnd) / (kills * 1000)))
      start "$out" "${m_args[@]}"
      kill_after "$at"
      ((run_rc == 0)) || break
      # It ran faster than the reference did (a busy machine then?): its own time is the
      # better measure, and the trial is made again with it.
      missed=$((missed + 1)) ref_ms=${run_ms:-$at}
      ref_duration[$name]=$ref_ms
    done
    landed="killed at $(seconds "$at") s"
    case $run_rc in
      137) c_tried=$((c_tried + 1)) ;;
      0) landed="done before $(seconds "$at") s" ;;
      *) problem "trial $((i + 1)): the run exited $run_rc before the kill: $(first_error)" ;;
    esac
    invariant "$out"
    if ((run_rc == 137 && half_done)); then halves=$((halves + 1)); fi
    if ((i % 2 == 1 && run_rc == 137)); then  # kill the first --resume too, at a moment of what is left
      random 1000
      at2=$(((ref_ms - at) * rnd / 1000))
      start "$out" "${m_args[@]}" --resume
      kill_after "$at2"
      case $run_rc in
        137) c_tried=$((c_tried + 1)) landed+=", its resume at $(seconds "$at2") s" ;;
        0) landed+=", its resume done before $(seconds "$at2") s" ;;
        *) problem "trial $((i + 1)): the resume exited $run_rc before the kill: $(first_error)" ;;
      esac
      invariant "$out"
    fi
    run "$out" "${m_args[@]}" --resume
    ((run_rc == 0)) || problem "trial $((i + 1)) ($landed): the last --resume exited $run_rc: $(first_error)"
    compare "$out"
    say "  $m_label $((i + 1))/$kills: $landed; --resume exit $run_rc"
  done
  local again=""
  ((missed == 0)) || again="; $missed run(s) ended before their moment and were made again, timed by a run's own $(seconds "$ref_ms") s"
  remark "$c_name: $halves of the first kills left work half-done, the others fell between messages$again"
  rm -rf "$out"
  end_case
}
for name in "${modes[@]}"; do kill_case "$name"; done

# SIGKILL while a message is half-done, which a random moment seldom is (the log above says how
# often): from a random moment on, the run is stopped (SIGSTOP) every 5-20 ms until it has a file in
# tmp/, an output or mbox bytes that no record names, or half a manifest line, and killed right
# there. `changed`: the kill comes when an output in encrypted/ has no record yet, and
# partner.example's key is deleted before the --resume, so the message may now go to another
# folder (split/, for most of them): the output it had will have no record, and must go.
# No clean run stands for that mixed result: it must be whole (one record per input, every output
# named by one record and there, nothing left behind).
midway_case() {
  local name=$1 changed=${2:-} i at attempt out=$work/killed found trials=$(((kills + 1) / 2)) missed=0
  moved=0
  mode "$name"
  if [[ -n $changed ]]; then
    new_case "mid-message SIGKILL, then a key deleted"
  else
    new_case "mid-message SIGKILL, $m_label"
  fi
  for ((i = 0; i < trials; i++)); do
    random 1000
    at=$((ref_ms * 7 * (i * 1000 + rnd) / (trials * 10000)))  # from a moment in the first 70% of the run
    for attempt in 1 2 3; do  # the run may end before it is seen half-done: again, from earlier on
      rm -rf "$out"
      if $m_consume; then fresh_spool; fi
      random 1000000
      start "$out" "${m_args[@]}"
      found=$("$python" "$check" probe "$out" "$m_format" "$run_pid" "$(seconds "$at")" "$rnd" ${changed:+encrypted/})
      finish
      ((run_rc == 0)) || break
      missed=$((missed + 1)) at=$((at / 2))
    done
    case $run_rc in
      137) c_tried=$((c_tried + 1)) ;;
      0) ;;
      *) problem "trial $((i + 1)): the run exited $run_rc before the kill: $(first_error)" ;;
    esac
    invariant "$out"
    [[ -n $changed ]] && run_home=$home_nokey
    run "$out" "${m_args[@]}" --resume
    run_home=$home
    ((run_rc == 0)) || problem "trial $((i + 1)) ($found): the --resume exited $run_rc: $(first_error)"
    if [[ -n $changed ]]; then
      tally consistent "$out" "$ref_snap"
      moved_to "$out" "$found"
    else
      compare "$out"
    fi
    say "  $c_name $((i + 1))/$trials: from $(seconds "$at") s, $found; --resume exit $run_rc"
  done
  ((missed == 0)) || remark "$c_name: $missed run(s) ended before half-done work was seen (and were run again)"
  [[ -z $changed ]] || remark "$c_name: in $moved of $c_tried trial(s) the half-done message's output belonged in another folder after the key was deleted"
  rm -rf "$out"
  end_case
}
# moved_to OUT FOUND: whether an output the kill left without a record (named in FOUND, the probe's
# words) was replaced by one in another folder (same hash prefix, another name): moved+1.
moved_to() {
  local name prefix
  for name in ${2#*: }; do
    [[ $name == */new/* ]] || continue
    prefix=${name##*/}
    prefix=${prefix%%.*}
    if [[ ! -e $1/$name ]] && [[ -n $(find "$1" -path "*/new/$prefix.*" -print -quit) ]]; then
      moved=$((moved + 1))
      return
    fi
  done
}
for name in maildir-maildir maildir-mbox consume; do midway_case "$name"; done
midway_case maildir-maildir changed

# ---------------------------------------------------------------------------------------------
# Disk full: the output directory on a tmpfs too small for the run (20-40%, then 50-70%, 80-95% and
# 96-100% of the space the reference run took), made bigger with `mount -o remount` after each
# failure (exit 75), and at last three times as big. `inodes`: the same with the number of files.
full_case() {
  local name=$1 kind=$2 need option unit what mnt=$work/full percent out
  mode "$name"
  if [[ $kind == space ]]; then
    new_case "disk full, $m_label"
    need=$(du -sk "$ref_out" | cut -f1) option=size unit=k what=space
  else
    new_case "out of inodes, $m_label"
    need=$(find "$ref_out" | wc -l) option=nr_inodes unit="" what=inodes
  fi
  if ! $root; then
    c_skip="needs root"
    end_case
    return
  fi
  mkdir -p "$mnt"
  mount -t tmpfs -o "$option=$((need / 5))$unit,mode=0755" smimegate-soak "$mnt"
  mounts+=("$mnt")
  out=$mnt/out
  if $m_consume; then fresh_spool; fi
  local steps=() low
  for low in 20:20 50:20 80:15 96:5; do
    random "${low#*:}"
    steps+=($((${low%:*} + rnd)))
  done
  for percent in "${steps[@]}" 300; do
    mount -o "remount,$option=$((need * percent / 100))$unit" "$mnt"
    if [[ ! -e $out ]]; then run "$out" "${m_args[@]}"; else run "$out" "${m_args[@]}" --resume; fi
    if ((run_rc == 75)); then
      c_tried=$((c_tried + 1))
      say "  $m_label, $percent% of the $what needed: exit 75: $(first_error)"
      invariant "$out" "a full disk"
    elif ((run_rc == 0)); then
      say "  $m_label, $percent% of the $what needed: exit 0"
      break
    else
      problem "with $percent% of the $what needed the run exited $run_rc: $(first_error)"
    fi
  done
  ((run_rc == 0)) || problem "the run did not complete with room to spare (exit $run_rc)"
  if [[ ! -e $out/manifest.index ]]; then  # the index is a cache: the next run rebuilds it, no loss
    remark "$c_name: the run that completed (exit 0, $percent%) wrote no manifest.index, and said nothing"
  fi
  ((c_tried > 0)) || problem "the run never ran out of $what"
  compare "$out"
  umount "$mnt"
  unset 'mounts[-1]'
  end_case
}
for name in maildir-maildir maildir-mbox consume; do full_case "$name" space; done
full_case maildir-maildir inodes

# ---------------------------------------------------------------------------------------------
# Overlapping runs on one --out. A sampler watches which runs have DIR/manifest.jsonl open:
# never two at the same moment.
watch_start() {
  rm -f "$work/watch.stop"
  "$python" "$check" monitor "$1" "$work/watch.stop" "$work/watch.result" "${@:2}" &
  watch_pid=$!
}
watch_end() {
  local most samples
  touch "$work/watch.stop"
  wait "$watch_pid"
  read -r most samples <"$work/watch.result"
  ((most <= 1)) || problem "$1: $most runs had the manifest open at the same moment"
  ((most >= 1)) || problem "$1: the sampler never saw a run with the manifest open ($samples samples)"
}
overlap_case() {
  local i out=$work/overlap pids logs3 log n rcs winner losers a b a_log b_log a_rc b_rc at wait
  mode maildir-maildir
  new_case "overlapping runs, one --out"
  for ((i = 1; i <= overlaps; i++)); do
    # Two at once, without --wait-lock: one works, the other exits 75 naming the first.
    rm -rf "$out"
    start "$out" "${m_args[@]}" --resume; a=$run_pid; a_log=$run_log
    start "$out" "${m_args[@]}" --resume; b=$run_pid; b_log=$run_log
    watch_start "$out" "$a" "$b"
    run_pid=$a; finish; a_rc=$run_rc
    run_pid=$b; finish; b_rc=$run_rc
    watch_end "two at once"
    c_tried=$((c_tried + 1))
    rcs="$a_rc $b_rc"
    say "  two at once: exit $rcs"
    if [[ $rcs == "0 75" ]]; then losers=$b_log; elif [[ $rcs == "75 0" ]]; then losers=$a_log; else losers=""; fi
    if [[ -z $losers ]]; then
      problem "two at once exited $rcs (expected 0 and 75)"
    elif ! grep -q "in use by another run" "$losers.err"; then
      problem "the run refused did not say why: $(grep -m1 . "$losers.err")"
    fi
    if [[ $rcs != "0 75" && $rcs != "75 0" ]]; then run "$out" "${m_args[@]}" --resume; fi
    compare "$out"

    # Three at once with --wait-lock: one processes everything, the others wait and find it done.
    rm -rf "$out"
    pids=()
    logs3=()
    for _ in 1 2 3; do
      start "$out" "${m_args[@]}" --resume --wait-lock 600
      pids+=("$run_pid")
      logs3+=("$run_log")
    done
    watch_start "$out" "${pids[@]}"
    rcs=""
    winner=0
    for run_pid in "${pids[@]}"; do finish; rcs+="$run_rc "; done
    watch_end "three with --wait-lock"
    c_tried=$((c_tried + 1))
    for log in "${logs3[@]}"; do
      n=$(json_field "$log.out" messages)
      if [[ $n == "$messages" ]]; then winner=$((winner + 1)); elif [[ $n != 0 ]]; then winner=99; fi
    done
    say "  three with --wait-lock: exit ${rcs% }"
    [[ $rcs == "0 0 0 " ]] || problem "three with --wait-lock exited ${rcs% } (expected 0 0 0)"
    ((winner == 1)) || problem "three with --wait-lock: not exactly one run processed the messages, the others none"
    compare "$out"

    # A run with --wait-lock takes over from one killed mid-way.
    rm -rf "$out"
    start "$out" "${m_args[@]}"; a=$run_pid
    for ((wait = 0; wait < 500; wait++)); do  # until it has the lock (it makes the manifest then)
      [[ -e $out/manifest.jsonl ]] && break
      sleep 0.01
    done
    start "$out" "${m_args[@]}" --resume --wait-lock 600; b=$run_pid; b_log=$run_log
    watch_start "$out" "$a" "$b"
    random 600
    at=$((ref_ms * (200 + rnd) / 1000))
    run_pid=$a
    kill_after "$at"
    a_rc=$run_rc
    run_pid=$b; run_log=$b_log; finish
    watch_end "a takeover"
    c_tried=$((c_tried + 1))
    say "  takeover: first run killed at $(seconds "$at") s (exit $a_rc), the waiting one exit $run_rc"
    ((run_rc == 0)) || problem "the run that took over exited $run_rc: $(first_error)"
    compare "$out"
  done
  rm -rf "$out"
  end_case
}
overlap_case

# ---------------------------------------------------------------------------------------------
# A hostile spool, read by this script's user and, when that is root, by nobody too: root reads a
# chmod 000 file like any other, anyone else must report it.
hostile_case() {
  local who=$1 dir=$work/hostile-$1 marker="OUTSIDE-$RANDOM$RANDOM" h=$home writer rc as=() user reads_all=false
  user=$(id -un)
  [[ $who == nobody ]] && user=nobody
  if $root && [[ $who == self ]]; then reads_all=true; fi
  new_case "hostile spool, as $user"
  if [[ $who == nobody ]] && ! command -v setpriv >/dev/null; then
    c_skip="needs setpriv"
    end_case
    return
  fi
  local s=$dir/spool
  mkdir -p "$s/new" "$s/cur" "$s/tmp" "$dir/out-parent"
  local expected=$dir/expected
  : >"$expected"
  for i in 0 1 2 3 4 5 6 7 8 9; do
    cp "$corpus/maildir/new/m000000$i" "$s/new/"
    echo "$s/new/m000000$i" >>"$expected"
  done
  cp "$corpus/maildir/new/m0000010" "$s/cur/m0000010:2,S" && echo "$s/cur/m0000010:2,S" >>"$expected"
  : >"$s/new/empty" && echo "$s/new/empty" >>"$expected"
  head -c 4096 /dev/urandom >"$s/new/junk" && echo "$s/new/junk" >>"$expected"
  cp "$corpus/maildir/new/m0000011" "$s/new/name-"$'\xff\xfe'
  echo "$s/new/name-\\xFF\\xFE" >>"$expected"  # the manifest's spelling of that name
  cp "$corpus/maildir/new/m0000012" "$s/new/unreadable"
  chmod 000 "$s/new/unreadable"
  if $reads_all; then echo "$s/new/unreadable" >>"$expected"; fi  # else an input error
  # Outside the spool: a message whose marker must reach no output.
  sed "s/^Subject: .*/Subject: $marker/" "$corpus/maildir/new/m0000013" >"$dir/outside.eml"
  chmod 644 "$dir/outside.eml"
  ln -s "$dir/outside.eml" "$s/new/link-outside"
  ln -s "$dir/nothing-here" "$s/new/link-dangling"
  mkfifo "$s/new/fifo"
  # A writer blocks until someone opens the FIFO: if it is still waiting afterwards, no one did.
  timeout 600 sh -c 'cat "$1" >"$2"' sh "$dir/outside.eml" "$s/new/fifo" &
  writer=$!
  "$python" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$s/new/socket"
  mkdir "$s/new/directory"
  truncate -s 300M "$s/new/oversized"  # sparse; over the default --max-message-size (256MB)
  local special=(link-outside link-dangling fifo socket directory oversized)
  if $root; then
    mknod "$s/new/device" c 1 5  # /dev/zero: endless if read
    special+=(device)
  else
    say "  not root: no device node"
  fi
  $reads_all || special+=(unreadable)
  c_tried=$((${#special[@]} + 5))  # and the odd regular files: in cur/, empty, junk, non-UTF-8 name, chmod 000
  (cd "$s" && find . -printf '%p %y %s %m\n' | sort) >"$dir/before"
  if [[ $who == nobody ]]; then
    h=$dir/home
    cp -a "$home" "$h"
    chown -R nobody: "$s" "$h" "$dir/out-parent"
    chown root: "$s/new/unreadable"
    as=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups)
  fi
  rc=0
  timeout --signal=KILL 120 "${as[@]}" "$binary" --home "$h" process outgoing "$s" --out "$dir/out-parent/out" \
    --no-progress --json >"$dir/run.out" 2>"$dir/run.err" || rc=$?
  say "  as $user: exit $rc, $(grep -c . "$dir/run.err") line(s) on stderr"
  case $rc in
    1) ;;
    124) problem "the run hung (killed after 120 s)" ;;
    *) problem "exit $rc (expected 1: input errors): $(grep -m1 . "$dir/run.err")" ;;
  esac
  for name in "${special[@]}"; do
    grep -qF "$s/new/$name:" "$dir/run.err" || problem "$name: not reported as an input error"
  done
  grep -qF "$s/new/name-\\xFF\\xFE" "$dir/run.err" || problem "the non-UTF-8 name was not reported"
  if kill -0 "$writer" 2>/dev/null; then
    kill "$writer"
    wait "$writer" 2>/dev/null || true
  else
    problem "the FIFO was opened (its writer got through)"
  fi
  local notes=$work/notes lost dup other
  : >"$notes"
  read -r lost dup other < <("$python" "$check" hostile "$dir/out-parent/out" "$expected" "$marker" "$notes")
  c_lost=$lost c_dup=$dup
  if ((lost + dup + other)); then while read -r line; do problem "$line"; done <"$notes"; fi
  c_leaked=$(find "$dir/out-parent/out" -path "$dir/out-parent/out/*/tmp/*" | wc -l)
  (cd "$s" && find . -printf '%p %y %s %m\n' | sort) >"$dir/after"
  cmp -s "$dir/before" "$dir/after" || problem "the spool changed: $(diff "$dir/before" "$dir/after" | head -3 | tr '\n' ' ')"
  if $reads_all; then remark "$c_name: the chmod 000 file was read like any other (root bypasses file modes; the nobody run checks it)"; fi
  end_case
}
hostile_case self
if $root; then hostile_case nobody; fi

# ---------------------------------------------------------------------------------------------
elapsed=$(($(date +%s) - started))
table=$(
  printf '| %-44s | %5s | %4s | %10s | %6s | %6s | %-6s |\n' case tried lost duplicated differ leaked result
  printf '| %-44s | %5s | %4s | %10s | %6s | %6s | %-6s |\n' --- ---: ---: ---: ---: ---: ---
  printf '%s\n' "${rows[@]}"
)
echo "$table"
echo
echo "$(((elapsed + 30) / 60)) min ($elapsed s), seed $seed; $messages messages, $kills trials a SIGKILL case"
echo
echo "Remarks:"
printf -- '- %s\n' "${remarks[@]}"
if ((${#failures[@]})); then
  echo
  echo "Failures:"
  printf -- '- %s\n' "${failures[@]}"
fi
if ! $quick; then
  mkdir -p bench/results
  {
    echo "# Soak: kills, full disks, overlapping runs, a hostile spool"
    echo
    echo "$(date -u +%F), $(nproc) cores, smimegate $("$binary" --version); \`scripts/soak.sh\` (seed $seed): a corpus of $messages messages"
    echo "(\`process outgoing\` by the demo's policy: signed, sign-encrypted, split, bounced, quarantined),"
    echo "$kills trials a SIGKILL case (every second one kills its first \`--resume\` too); $elapsed s in all."
    echo "\"tried\": kills that landed, full disks met, overlapping groups of runs, hostile entries."
    echo
    echo "$table"
    echo
    echo "Remarks:"
    echo
    printf -- '- %s\n' "${remarks[@]}"
    if ((${#failures[@]})); then
      echo
      echo "Failures:"
      echo
      printf -- '- %s\n' "${failures[@]}"
    fi
  } >bench/results/soak.md
  say "wrote bench/results/soak.md"
fi
if ((${#failures[@]})); then exit 1; fi
passed_all=true
