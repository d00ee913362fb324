"""Deterministic corpora for the benchmark: the same seed, count and mix give
the same bytes. Written as a maildir (new/) and as an mboxrd file."""
import base64
import os
import random

WORDS = ("invoice shipment contract figures quarterly review audit schedule delivery price "
         "agreement meeting notes forecast budget supplier customer order payment draft").split()


def _text(rng, size):
    lines = []
    total = 0
    while total < size:
        if rng.random() < 0.03:
            line = "From the desk of the controller: " + " ".join(rng.choice(WORDS) for _ in range(6))
        else:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize() + "."
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def message(rng, index, size, recipients, sender_domain="bench.example"):
    head = (f"From: user{index % 50}@{sender_domain}\r\nTo: {', '.join(recipients)}\r\n"
            f"Subject: {rng.choice(WORDS).capitalize()} {index}\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <bench-{index}@{sender_domain}>\r\nMIME-Version: 1.0\r\n")
    if size > 20000 or rng.random() < 0.1:
        attachment = rng.randbytes(max(256, int(size * 0.7)))
        encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
        body = _text(rng, max(200, size - len(encoded) - 400))
        return (head + f'Content-Type: multipart/mixed; boundary="b{index}"\r\n\r\n--b{index}\r\n'
                "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body + f"\r\n--b{index}\r\n"
                f'Content-Type: application/octet-stream; name="data-{index}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                + encoded + f"--b{index}--\r\n").encode()
    return (head + "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + _text(rng, size - len(head) - 50)).encode()


def sizes(mix, count, rng):
    if mix == "4k":
        return [rng.randint(3000, 5000) for _ in range(count)]
    if mix in ("1m", "8m"):  # the large-message memory check: every message about that size
        mib = 1 << 20 if mix == "1m" else 8 << 20
        return [rng.randint(mib * 95 // 100, mib * 105 // 100) for _ in range(count)]
    out = []
    for _ in range(count):
        r = rng.random()
        out.append(rng.randint(3000, 5000) if r < 0.6 else rng.randint(40000, 60000) if r < 0.9 else rng.randint(900000, 1100000))
    return out


def write(root, mix, count, seed, recipients):
    """Writes ROOT/maildir/new/* and ROOT/corpus.mbox; returns (maildir, mbox, total bytes)."""
    rng = random.Random(f"{seed}-{mix}-{count}")
    maildir = os.path.join(root, "maildir")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    total = 0
    with open(os.path.join(root, "corpus.mbox"), "wb") as mbox:
        for i, size in enumerate(sizes(mix, count, rng)):
            data = message(rng, i, size, recipients)
            total += len(data)
            with open(os.path.join(maildir, "new", f"m{i:07d}"), "wb") as f:
                f.write(data)
            quoted = b"\n".join((b">" + l) if l.lstrip(b">").startswith(b"From ") else l for l in data.split(b"\n"))
            mbox.write(b"From bench@bench.example Sun Nov 29 10:00:00 2026\n" + quoted + b"\n")
    return maildir, os.path.join(root, "corpus.mbox"), total
