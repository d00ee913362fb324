"""The Python `cryptography` contender: keys loaded once per process, then each
message of a maildir signed/encrypted/decrypted and written out, serially or in
a multiprocessing pool. pyca has no PKCS #7 verification API, so verify and
decrypt+verify are not measured for it.

Prints one JSON line: the messages, the start-up (from here, after the imports,
until every pool process has loaded its keys) and the steady state (the messages
themselves), in seconds — so the bench reports pyca's steady-state rate, with its
start-up shown apart, as it does for smimegate.

usage: pyca_bench.py OP INPUT_DIR OUTPUT_DIR PROCESSES PKI_DIR
"""
import json
import multiprocessing
import os
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

OPS = ("sign-opaque", "sign-detached", "encrypt-1", "encrypt-3", "sign-encrypt", "triple", "decrypt")
state = {}


def load(pki):
    cert = lambda n: x509.load_pem_x509_certificate(open(os.path.join(pki, n + ".pem"), "rb").read())
    key = lambda n: serialization.load_pem_private_key(open(os.path.join(pki, n + ".key"), "rb").read(), None)
    state.update(gw=cert("gw"), gw_key=key("gw"), r1=cert("r1"), r1_key=key("r1"), r2=cert("r2"), r3=cert("r3"))


def sign(data, detached):
    options = [pkcs7.PKCS7Options.DetachedSignature] if detached else []
    return (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(state["gw"], state["gw_key"], hashes.SHA256())
            .sign(serialization.Encoding.SMIME, options))


def encrypt(data, recipients):
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data).set_content_encryption_algorithm(algorithms.AES256)
    for r in recipients:
        builder = builder.add_recipient(state[r])
    return builder.encrypt(serialization.Encoding.SMIME, [])


def work(job):
    op, src, dst = job
    data = open(src, "rb").read()
    if op == "sign-opaque":
        out = sign(data, False)
    elif op == "sign-detached":
        out = sign(data, True)
    elif op == "encrypt-1":
        out = encrypt(data, ["r1"])
    elif op == "encrypt-3":
        out = encrypt(data, ["r1", "r2"])  # pyca envelopes take RSA recipients only
    elif op == "sign-encrypt":
        out = encrypt(sign(data, True), ["r1"])
    elif op == "triple":
        out = sign(encrypt(sign(data, True), ["r1"]), True)
    else:
        out = pkcs7.pkcs7_decrypt_smime(data, state["r1"], state["r1_key"], [])
    with open(dst, "wb") as f:
        f.write(out)


def warm(_):
    """A task that makes sure a pool process is up (its initializer, `load`, has run)."""
    time.sleep(0.01)
    return os.getpid()


def main():
    begun = time.monotonic()
    op, src, dst, processes, pki = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    os.makedirs(dst, exist_ok=True)
    jobs = [(op, os.path.join(src, n), os.path.join(dst, n)) for n in sorted(os.listdir(src))]
    if processes == 1:
        load(pki)
        started = time.monotonic()
        for job in jobs:
            work(job)
    else:
        with multiprocessing.Pool(processes, initializer=load, initargs=(pki,)) as pool:
            pids = set(pool.map(warm, range(processes * 8), chunksize=1))
            if len(pids) < processes:
                print(f"pyca_bench: only {len(pids)} of {processes} pool processes came up", file=sys.stderr)
            started = time.monotonic()
            for _ in pool.imap_unordered(work, jobs, chunksize=16):
                pass
    ended = time.monotonic()
    print(json.dumps({"messages": len(jobs), "startup_s": started - begun, "steady_s": ended - started}))


if __name__ == "__main__":
    main()
