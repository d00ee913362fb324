#!/usr/bin/env python3
"""smimegate benchmark: smimegate `process` (1 worker and one per core) side by
side with `openssl cms` in a shell loop (serial and xargs -P cores), Python's
cryptography (serial and a process pool), and the ceiling the machine's raw
`openssl speed -multi cores` figures allow. Medians of several runs; the
contenders alternate within each repetition so drift hits them alike.
Run it through bench/run.sh."""
import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CORES = os.cpu_count() or 1

# op: (direction, profile or None, corpus variant, prepared input for incoming)
OPS = {
    "sign-opaque": ("outgoing", "sign-opaque", "one", None),
    "sign-detached": ("outgoing", "sign-detached", "one", None),
    "encrypt-1": ("outgoing", "encrypt", "one", None),
    "encrypt-3": ("outgoing", "encrypt", "three", None),
    "sign-encrypt": ("outgoing", "sign-encrypt", "one", None),
    "triple": ("outgoing", "triple", "one", None),
    "verify": ("incoming", None, "one", "sign-detached"),
    "decrypt": ("incoming", None, "one", "encrypt"),
    "decrypt-verify": ("incoming", None, "one", "sign-encrypt"),
}
# The limit each operation is judged by: the RSA private operations its cryptography needs (`openssl speed`), or,
# where the cryptography costs microseconds, the pass-through run's rate (read, parse, deliver, record: the I/O floor).
IO_BOUND = {"encrypt-1", "encrypt-3", "verify"}
PYCA_OPS = {"sign-opaque", "sign-detached", "encrypt-1", "encrypt-3", "sign-encrypt", "triple", "decrypt"}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def timed(cmd, shell=False, ok=(0,), capture=False):
    """Wall seconds and peak RSS (KiB) of a command, from /usr/bin/time (and its standard output)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%e %M", "-o", t.name] + (["sh", "-c", cmd] if shell else cmd)
        start = time.monotonic()
        p = subprocess.run(full, stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        wall = time.monotonic() - start
        if p.returncode not in ok:
            raise RuntimeError(f"{cmd!r} exited {p.returncode}: {p.stderr[-500:]}")
        fields = t.read().split()
        return (wall, int(fields[-1]), p.stdout) if capture else (wall, int(fields[-1]))


class Bench:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.binary)
        self.work = os.path.abspath(args.work)
        self.pki = os.path.join(self.work, "pki")
        self.python = sys.executable
        self.results = {"machine": {"cores": CORES}, "ops": {}, "workers": {}, "scale": []}
        if os.path.exists(self.work):
            shutil.rmtree(self.work)
        os.makedirs(self.pki)

    def log(self, text):
        print(text, file=sys.stderr, flush=True)

    # --- setup -------------------------------------------------------------

    def make_pki(self):
        p = self.pki
        o = lambda *a: run(["openssl", *a], cwd=p)
        o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
          "-subj", "/CN=Bench CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        for name, san, key in [("gw", "DNS:bench.example", "rsa"), ("r1", "email:r1@partner.example", "rsa"),
                               ("r2", "email:r2@partner.example", "rsa"), ("r3", "email:r3@partner.example", "ec")]:
            if key == "ec":
                o("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
                usage = "digitalSignature,nonRepudiation,keyAgreement"
            else:
                o("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", f"{name}.key")
                usage = "digitalSignature,nonRepudiation,keyEncipherment"
            with open(os.path.join(p, "ext.cnf"), "w") as f:
                f.write(f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,{usage}\nextendedKeyUsage=emailProtection\n"
                        f"subjectKeyIdentifier=hash\nsubjectAltName={san}\n")
            o("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr")
            o("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "3650",
              "-extfile", "ext.cnf", "-out", f"{name}.pem")
        self.out_home = os.path.join(self.work, "home-out")
        self.in_home = os.path.join(self.work, "home-in")
        g = lambda home, *a: run([self.binary, "--home", home, *a])
        g(self.out_home, "init")
        g(self.out_home, "cert", "import", "gw", f"{p}/gw.pem", "--key", f"{p}/gw.key")
        for r in ("r1", "r2", "r3"):
            g(self.out_home, "keys", "add", r, f"{p}/{r}.pem")
        g(self.out_home, "ca", "add", f"{p}/ca.pem")
        g(self.out_home, "profile", "create", "sign-opaque", "--mode", "sign", "--cert", "gw", "--sign-mode", "opaque")
        g(self.out_home, "profile", "create", "sign-detached", "--mode", "sign", "--cert", "gw")
        g(self.out_home, "profile", "create", "encrypt", "--mode", "encrypt")
        g(self.out_home, "profile", "create", "sign-encrypt", "--mode", "sign-encrypt", "--cert", "gw")
        g(self.out_home, "profile", "create", "triple", "--mode", "triple", "--cert", "gw")
        g(self.in_home, "init")
        g(self.in_home, "cert", "import", "r1", f"{p}/r1.pem", "--key", f"{p}/r1.key")
        g(self.in_home, "ca", "add", f"{p}/ca.pem")

    def make_corpus(self, mix, count, tag=None, full=True):
        """A corpus; `full` adds the three-recipient variant and the prepared incoming inputs."""
        root = os.path.join(self.work, "corpus", tag or f"{mix}-{count}")
        info = {}
        variants = (("one", ["r1@partner.example"]),
                    ("three", ["r1@partner.example", "r2@partner.example", "r3@partner.example"]))
        for variant, recipients in variants if full else variants[:1]:
            d = os.path.join(root, variant)
            os.makedirs(d)
            maildir, mbox, total = corpus.write(d, mix, count, self.args.seed, recipients)
            info[variant] = {"maildir": maildir, "mbox": mbox, "bytes": total, "count": count}
        # Inputs for the incoming operations, made by smimegate itself (checked by openssl in the test suite).
        for profile in ("sign-detached", "encrypt", "sign-encrypt") if full else ():
            out = os.path.join(root, "prepared", profile)
            run([self.binary, "--home", self.out_home, "process", "outgoing", info["one"]["maildir"], "--out", out,
                 "--profile", profile, "--no-progress"])
            folder = "signed" if profile == "sign-detached" else "encrypted"
            info[profile] = {"maildir": os.path.join(out, folder), "bytes": sum(
                os.path.getsize(os.path.join(out, folder, "new", f)) for f in os.listdir(os.path.join(out, folder, "new"))),
                "count": count}
        return info

    def subset(self, maildir, count, name):
        """The first COUNT messages of a maildir, as a plain directory (peers run once per file)."""
        d = os.path.join(self.work, "subsets", name)
        if not os.path.exists(d):
            os.makedirs(d)
            for f in sorted(os.listdir(os.path.join(maildir, "new")))[:count]:
                os.symlink(os.path.join(maildir, "new", f), os.path.join(d, f))
        return d

    # --- the machine's limits ------------------------------------------------

    def rsa_sample(self):
        """RSA-2048 signs/s and verifies/s with -multi cores, sampled between repetitions: the
        machine drifts, so the ceiling uses the median of the samples taken during the run."""
        out = run(["openssl", "speed", "-seconds", "1", "-multi", str(CORES), "rsa2048"]).stdout
        sign, verify = re.findall(r"rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out)[-1]
        self.rsa_samples.append((float(sign), float(verify)))
        s = self.results["machine"]["openssl_speed_multi"]
        s["rsa2048_sign_per_s"] = statistics.median(x[0] for x in self.rsa_samples)
        s["rsa2048_verify_per_s"] = statistics.median(x[1] for x in self.rsa_samples)
        s["rsa2048_samples"] = len(self.rsa_samples)

    def speed(self):
        secs = "1" if self.args.quick else "3"
        def rate(args, pattern):
            out = run(["openssl", "speed", "-seconds", secs, "-multi", str(CORES), *args]).stdout
            return re.findall(pattern, out)[-1]
        rsa = rate(["rsa2048"], r"rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)")
        ecdh = rate(["ecdhp256"], r"256 bits ecdh \(nistp256\)\s+\S+\s+([\d.]+)")
        k = lambda name: float(rate(["-bytes", "16384", "-evp", name], name.upper().replace("SHA256", "sha256") + r"\s+([\d.]+)k")) * 1000
        s = {"rsa2048_sign_per_s": float(rsa[0]), "rsa2048_verify_per_s": float(rsa[1]), "ecdh_p256_per_s": float(ecdh),
             "aes_256_cbc_bytes_per_s": k("aes-256-cbc"), "aes_256_gcm_bytes_per_s": k("aes-256-gcm"),
             "sha256_bytes_per_s": k("sha256")}
        self.results["machine"]["openssl_speed_multi"] = s
        self.rsa_samples = [(s["rsa2048_sign_per_s"], s["rsa2048_verify_per_s"])]
        return s

    @staticmethod
    def ceiling(op, size, s):
        """Messages/s if only the cryptography ran, on every core (the -multi figures)."""
        sign, verify, ecdh = 1 / s["rsa2048_sign_per_s"], 1 / s["rsa2048_verify_per_s"], 1 / s["ecdh_p256_per_s"]
        sha, aes = size / s["sha256_bytes_per_s"], size / s["aes_256_cbc_bytes_per_s"]
        cost = {
            "sign-opaque": sign + sha, "sign-detached": sign + sha, "encrypt-1": verify + aes,
            "encrypt-3": 2 * verify + ecdh + aes, "sign-encrypt": sign + sha + verify + aes,
            "triple": 2 * sign + 2 * sha + verify + aes, "verify": verify + sha, "decrypt": sign + aes,
            "decrypt-verify": sign + aes + verify + sha,
        }[op]
        return 1 / cost

    # --- contenders ------------------------------------------------------------

    def smimegate(self, op, info, workers, inputs=None, out=None, extra=()):
        direction, profile, variant, prepared = OPS[op]
        source = info[prepared or variant]["maildir"] if inputs is None else inputs
        out = out or os.path.join(self.work, "out", "smimegate")
        shutil.rmtree(out, ignore_errors=True)
        home = self.out_home if direction == "outgoing" else self.in_home
        cmd = [self.binary, "--home", home, "process", direction, source, "--out", out, "--workers", str(workers), "--no-progress"]
        if profile:
            cmd += ["--profile", profile]
        return timed(cmd + list(extra), ok=(0, 1))

    def openssl_command(self, op):
        p = self.pki
        sign = f"openssl cms -sign -signer {p}/gw.pem -inkey {p}/gw.key"
        enc1 = f"openssl cms -encrypt -aes256 {p}/r1.pem"  # reads standard input in a pipeline
        dec = f"openssl cms -decrypt -recip {p}/r1.pem -inkey {p}/r1.key"
        ver = f"openssl cms -verify -CAfile {p}/ca.pem"
        return {
            "sign-opaque": f'{sign} -nodetach -in "$1"', "sign-detached": f'{sign} -in "$1"',
            "encrypt-1": f'openssl cms -encrypt -aes256 -in "$1" {p}/r1.pem', "encrypt-3": f'openssl cms -encrypt -aes256 -in "$1" {p}/r1.pem {p}/r2.pem {p}/r3.pem',
            "sign-encrypt": f'{sign} -in "$1" | {enc1}', "triple": f'{sign} -in "$1" | {enc1} | {sign}',
            "verify": f'{ver} -in "$1"', "decrypt": f'{dec} -in "$1"', "decrypt-verify": f'{dec} -in "$1" | {ver}',
        }[op]

    def openssl(self, op, files, parallel):
        out = os.path.join(self.work, "out", "openssl")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        script = os.path.join(self.work, "one.sh")
        with open(script, "w") as f:
            f.write(f'#!/bin/sh\n{self.openssl_command(op)} > "{out}/$(basename "$1")" 2>/dev/null\n')
        os.chmod(script, 0o755)
        if parallel:
            cmd = f'ls "{files}" | sed "s|^|{files}/|" | xargs -P {CORES} -n 1 {script}'
        else:
            cmd = f'for f in "{files}"/*; do {script} "$f"; done'
        return timed(cmd, shell=True)

    def pyca(self, op, files, processes):
        """Wall and RSS of the whole process, and its own steady-state seconds (start-up left out)."""
        out = os.path.join(self.work, "out", "pyca")
        shutil.rmtree(out, ignore_errors=True)
        wall, rss, stdout = timed([self.python, os.path.join(HERE, "pyca_bench.py"), op, files, out, str(processes),
                                   self.pki], capture=True)
        return wall, rss, json.loads(stdout.strip().splitlines()[-1])["steady_s"]

    def startup(self, op, workers):
        """smimegate's start-up for an operation: a run over an empty maildir (keys, profile, trust store)."""
        empty = os.path.join(self.work, "empty")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(empty, sub), exist_ok=True)
        if op == "pass-through":
            run_once = lambda: self.passthrough({"one": {"maildir": empty}}, workers)[0]
        else:
            run_once = lambda: self.smimegate(op, None, workers, inputs=empty)[0]
        return statistics.median(run_once() for _ in range(3))

    def passthrough(self, info, workers):
        """The I/O floor: `process incoming` of the plain corpus (every message passes, no cryptography)."""
        out = os.path.join(self.work, "out", "smimegate")
        shutil.rmtree(out, ignore_errors=True)
        return timed([self.binary, "--home", self.in_home, "process", "incoming", info["one"]["maildir"], "--out", out,
                      "--workers", str(workers), "--no-progress"])

    # --- the runs -----------------------------------------------------------

    def measure(self, mix, count, peer_count):
        info = self.make_corpus(mix, count)
        runs = 1 if self.args.quick else self.args.runs
        samples = {}
        passes = {}
        starts = {(op, w): self.startup(op, w) for op in list(OPS) + ["pass-through"] for w in (1, CORES)}
        for rep in range(runs):
            self.rsa_sample()
            for op in OPS:
                direction, profile, variant, prepared = OPS[op]
                data = info[prepared or variant]
                files = self.subset(data["maildir"], peer_count, f"{mix}-{op}")
                # smimegate and pyca run over the whole corpus, and are reported in steady state: smimegate's
                # start-up (an empty run) and pyca's (its own clock: imports, keys, pool) are taken out and shown
                # apart. `openssl cms` starts a process per message: its rate is what a shell loop gets.
                whole = os.path.join(data["maildir"], "new")
                contenders = [("smimegate 1 worker", lambda: self.smimegate(op, info, 1), count, starts[(op, 1)]),
                              (f"smimegate {CORES} workers", lambda: self.smimegate(op, info, CORES), count,
                               starts[(op, CORES)]),
                              ("openssl loop", lambda: self.openssl(op, files, False), peer_count, 0),
                              (f"openssl xargs -P {CORES}", lambda: self.openssl(op, files, True), peer_count, 0)]
                if op in PYCA_OPS:
                    contenders += [("pyca serial", lambda: self.pyca(op, whole, 1), count, None),
                                   (f"pyca pool {CORES}", lambda: self.pyca(op, whole, CORES), count, None)]
                if rep % 2:
                    contenders.reverse()
                for name, fn, n, start in contenders:
                    measured = fn()
                    wall, rss = measured[0], measured[1]
                    steady = measured[2] if start is None else max(wall - start, 1e-3)
                    samples.setdefault(op, {}).setdefault(name, []).append((n / steady, rss, wall - steady))
                    self.log(f"{mix} {op:15} {name:22} {n / steady:9.1f} msg/s  {rss / 1024:7.1f} MiB  "
                             f"start-up {wall - steady:5.2f} s")
            for workers in (1, CORES):
                wall, rss = self.passthrough(info, workers)
                passes.setdefault(workers, []).append(count / max(wall - starts[("pass-through", workers)], 1e-3))
        self.rsa_sample()
        speed = self.results["machine"]["openssl_speed_multi"]
        for op, by in samples.items():
            data = info[OPS[op][3] or OPS[op][2]]
            size = data["bytes"] / data["count"]
            entry = {"corpus": mix, "messages": count, "peer_messages": peer_count, "mean_bytes": round(size),
                     "ceiling_msgs_per_s": round(self.ceiling(op, size, speed), 1), "contenders": {}}
            for name, values in by.items():
                rate = statistics.median(v[0] for v in values)
                entry["contenders"][name] = {"msgs_per_s": round(rate, 1), "mb_per_s": round(rate * size / 1048576, 2),
                                             "peak_rss_mib": round(max(v[1] for v in values) / 1024, 1), "runs": len(values),
                                             "startup_s": round(statistics.median(v[2] for v in values), 3)}
            floor = statistics.median(passes[CORES])
            entry["passthrough_msgs_per_s"] = round(floor, 1)
            entry["limit"] = "pass-through" if op in IO_BOUND else "cryptography"
            entry["limit_msgs_per_s"] = entry["passthrough_msgs_per_s"] if op in IO_BOUND else entry["ceiling_msgs_per_s"]
            self.results["ops"][f"{mix}/{op}"] = entry
        self.results.setdefault("passthrough", {})[mix] = {
            str(w): round(statistics.median(v), 1) for w, v in passes.items()}

    def workers_curve(self, count):
        """Sign-detached with 1, 2, 4, 8 workers, into a maildir and into mbox files (in turns, so drift
        hits both alike)."""
        info = self.make_corpus("4k", count, tag="workers", full=False)
        rates = {}
        for _ in range(1 if self.args.quick else 3):
            for w in (1, 2, 4, 8):
                for form in ("maildir", "mbox"):
                    wall = self.smimegate("sign-detached", info, w, extra=("--out-format", form))[0]
                    rates.setdefault(form, {}).setdefault(w, []).append(count / wall)
        curve = {form: {w: round(statistics.median(v), 1) for w, v in by.items()} for form, by in rates.items()}
        self.results["workers"] = {"op": "sign-detached", "corpus": "4k", "messages": count, "msgs_per_s": curve}

    def scale(self, counts):
        for count in counts:
            info = self.make_corpus("4k", count, tag=f"scale-{count}", full=False)
            wall, rss = self.smimegate("sign-detached", info, CORES)
            self.results["scale"].append({"messages": count, "msgs_per_s": round(count / wall, 1), "peak_rss_mib": round(rss / 1024, 1)})
            self.log(f"scale {count}: {count / wall:.1f} msg/s, {rss / 1024:.1f} MiB")
            shutil.rmtree(os.path.join(self.work, "corpus", f"scale-{count}"))

    def disk_check(self, count):
        """The same run with outputs on the disk given by --disk (the corpus stays put)."""
        if not self.args.disk:
            return
        info = self.make_corpus("4k", count, tag="disk", full=False)
        out = os.path.join(os.path.abspath(self.args.disk), "smimegate-bench-out")
        rates = []
        for _ in range(1 if self.args.quick else 3):
            shutil.rmtree(out, ignore_errors=True)
            rates.append(count / self.smimegate("sign-detached", info, CORES, out=out)[0])
        shutil.rmtree(out, ignore_errors=True)
        self.results["disk"] = {"directory": self.args.disk, "messages": count, "msgs_per_s": round(statistics.median(rates), 1)}
        self.log(f"disk: {statistics.median(rates):.1f} msg/s with outputs in {self.args.disk}")

    # --- report ---------------------------------------------------------------

    def report(self):
        r = self.results
        s = r["machine"]["openssl_speed_multi"]
        lines = [f"Machine: {CORES} cores; `openssl speed -multi {CORES}`: RSA-2048 {s['rsa2048_sign_per_s']:.0f} sign/s, "
                 f"{s['rsa2048_verify_per_s']:.0f} verify/s (median of {s.get('rsa2048_samples', 1)} samples taken between "
                 f"repetitions); ECDH P-256 {s['ecdh_p256_per_s']:.0f}/s; "
                 f"AES-256-CBC {s['aes_256_cbc_bytes_per_s'] / 1e6:.0f} MB/s; SHA-256 {s['sha256_bytes_per_s'] / 1e6:.0f} MB/s.", "",
                 f"| corpus | operation | smimegate 1 worker | smimegate {CORES} workers | limit | ÷ limit | openssl loop | "
                 f"openssl -P {CORES} | pyca serial | pyca pool {CORES} | × openssl -P | × pyca pool | peak RSS |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        starts = {}
        for key, e in r["ops"].items():
            c = e["contenders"]
            g1, gn = c["smimegate 1 worker"], c[f"smimegate {CORES} workers"]
            ol, op = c["openssl loop"], c[f"openssl xargs -P {CORES}"]
            ps, pp = c.get("pyca serial"), c.get(f"pyca pool {CORES}")
            fmt = lambda x: f"{x['msgs_per_s']:.0f}" if x else "n/a"
            vs_pyca = f"{gn['msgs_per_s'] / pp['msgs_per_s']:.1f}" if pp else "n/a"
            kind = "I/O" if e["limit"] == "pass-through" else "crypto"
            lines.append(
                f"| {e['corpus']} | {key.split('/')[1]} | {fmt(g1)} | {fmt(gn)} | {e['limit_msgs_per_s']:.0f} ({kind}) | "
                f"{gn['msgs_per_s'] / e['limit_msgs_per_s']:.2f} | {fmt(ol)} | {fmt(op)} | {fmt(ps)} | {fmt(pp)} | "
                f"{gn['msgs_per_s'] / op['msgs_per_s']:.1f} | {vs_pyca} | {gn['peak_rss_mib']:.0f} MiB |")
            for name in ("smimegate 1 worker", f"smimegate {CORES} workers", "pyca serial", f"pyca pool {CORES}"):
                if name in c:
                    starts.setdefault(name, []).append(c[name]["startup_s"])
        for mix, by in r.get("passthrough", {}).items():
            lines.append(f"| {mix} | pass-through | {by.get('1', 0):.0f} | {by.get(str(CORES), 0):.0f} | — | — | | | | | | | |")
        first = next(iter(r["ops"].values()))
        lines += ["", "Messages per second, medians of the runs. smimegate and pyca ran over the whole corpus "
                  f"({first['messages']} messages of the first) and are given in steady state: their start-up is "
                  "measured and taken out (smimegate: a run over an empty maildir; pyca: its own clock from after the",
                  "imports until every pool process has its keys), and shown here: " + ", ".join(
                      f"{name} {statistics.median(v):.2f} s" for name, v in starts.items()) + ".",
                  f"`openssl cms` starts a process per message, so its rate is what a shell loop gets; it ran on the first "
                  f"{first['peer_messages']} messages of each corpus.",
                  "Limit: for operations with an RSA private operation (sign, decrypt), the rate the raw `openssl speed "
                  "-multi` figures allow for that operation and mean message size (crypto); for those whose cryptography",
                  "costs microseconds (encrypt, verify), the pass-through run of the same corpus — `process incoming` of "
                  "the plain messages: read, parse, deliver, record, no cryptography (I/O). ÷ limit = smimegate's rate "
                  "with all workers over it.",
                  "pyca cannot verify PKCS #7 and envelopes only to RSA recipients (its encrypt-3 uses 2 RSA recipients)."]
        if r["workers"]:
            for form, curve in r["workers"]["msgs_per_s"].items():
                lines += ["", f"Workers (sign-detached, 4k, output {form}): " + ", ".join(
                    f"{w}: {v:.0f} msg/s" for w, v in curve.items())]
        if r.get("disk"):
            lines += ["", f"Outputs on disk ({r['disk']['directory']}) instead of the work directory, sign-detached, 4k, "
                          f"{CORES} workers: {r['disk']['msgs_per_s']:.0f} msg/s."]
        if r["scale"]:
            lines += ["", "Scale (sign-detached, 4k, all workers): " + ", ".join(
                f"{x['messages']} messages: {x['msgs_per_s']:.0f} msg/s, {x['peak_rss_mib']:.0f} MiB" for x in r["scale"])]
        return "\n".join(lines) + "\n"

    def plot(self, path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for form, w in self.results["workers"]["msgs_per_s"].items():
            ax.plot(list(w.keys()), list(w.values()), marker="o", label=f"smimegate process (sign-detached, 4k, {form})")
        ceiling = self.results["ops"].get("4k/sign-detached", {}).get("ceiling_msgs_per_s")
        if ceiling:
            ax.axhline(ceiling, linestyle="--", color="grey", label=f"openssl speed -multi {CORES} ceiling")
        ax.set_xlabel("workers")
        ax.set_ylabel("messages/s")
        ax.set_xscale("log", base=2)
        ax.legend()
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--work", default=".build/bench-work")
    ap.add_argument("--results", default="bench/results")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a one-minute run: small corpora, one repetition")
    ap.add_argument("--large", action="store_true", help="add the 100k-message scale check")
    ap.add_argument("--disk", help="also run sign-detached with its outputs in this directory (to compare a disk with --work)")
    ap.add_argument("--setup-only", type=int, metavar="COUNT",
                    help="only make the PKI, the homes and a one-recipient 4k corpus of COUNT messages in --work, "
                         "print their paths as shell assignments and stop (for other bench scripts, e.g. policy.sh)")
    ap.add_argument("--setup-mix", default="4k", choices=["4k", "mixed", "1m", "8m"],
                    help="with --setup-only: the corpus mix (mixed: 10 %% of the messages 1 MB; 1m, 8m: all about that size)")
    args = ap.parse_args()
    b = Bench(args)
    if args.setup_only:
        b.make_pki()
        info = b.make_corpus(args.setup_mix, args.setup_only, tag=args.setup_mix, full=False)["one"]
        for key, value in (("pki", b.pki), ("home", b.out_home), ("incoming_home", b.in_home),
                           ("maildir", info["maildir"]), ("mbox", info["mbox"]), ("bytes", info["bytes"])):
            print(f"{key}={shlex.quote(str(value))}")
        return
    b.log("bench: PKI, homes, openssl speed ...")
    b.make_pki()
    b.speed()
    if args.quick:
        b.measure("4k", 300, 60)
        b.measure("mixed", 60, 30)
        b.workers_curve(300)
        b.scale([300, 1000])
        b.disk_check(300)
    else:
        b.measure("4k", 2000, 200)
        b.measure("mixed", 300, 100)
        b.workers_curve(2000)
        b.scale([1000, 10000] + ([100000] if args.large else []))
        b.disk_check(2000)
    os.makedirs(args.results, exist_ok=True)
    table = b.report()
    with open(os.path.join(args.results, "latest.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.results, "latest.json"), "w") as f:
        json.dump(b.results, f, indent=2)
    b.plot(os.path.join(args.results, "workers.png"))
    print(table)


if __name__ == "__main__":
    main()
