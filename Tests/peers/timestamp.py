#!/usr/bin/env python3
"""RFC 3161 signature time stamps for the archive tests: it adds a time-stamp token
from the TSA of Tests/peers/archive_pki.sh to an S/MIME signed message, as an
archiving system would (RFC 3161 appendix A, the CAdES-T signature-time-stamp).
The token comes from a real peer, `openssl ts`, run under faketime so that its
genTime is the time asked for; asn1crypto puts it into the CMS.

usage: timestamp.py IN OUT --tsa-dir DIR --at 'YYYY-MM-DD HH:MM:SS'
                    [--rogue] [--imprint-of TEXT]

IN is a multipart/signed message (the application/pkcs7-signature part) or an
opaque application/pkcs7-mime signed-data message. The token's message imprint is
the SHA-256 of the first SignerInfo's signature value, and the token (a
ContentInfo) becomes that SignerInfo's unsigned attribute id-aa-timeStampToken
(1.2.840.113549.1.9.16.2.14; asn1crypto: signature_time_stamp_token). The
signature does not cover unsigned attributes: the message still verifies.

  --at TIME          the token's genTime, UTC
  --rogue            signed by DIR/rogue-tsa.pem (self-signed) instead of DIR/tsa.pem
  --imprint-of TEXT  the imprint is the SHA-256 of TEXT (UTF-8), not of the signature
                     value: a token that does not cover this signature

OUT is IN with the new base64 (76-character lines, IN's line end) in place of the
old; every other byte is as it was. Next to it: OUT.token.der (the token) and
OUT.sigvalue.bin (the signature value), e.g. for
  openssl ts -verify -token_in -in OUT.token.der -data OUT.sigvalue.bin -CAfile DIR/ca.pem
"""
import argparse
import base64
import email
import os
import re
import subprocess
import sys
import tempfile
from email import policy

from asn1crypto import cms

SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")


def die(text):
    sys.exit("timestamp: " + text)


def signature_part(message):
    """The part that carries the SignedData: a detached signature or an opaque body."""
    parsed = email.message_from_bytes(message, policy=policy.compat32)
    for part in parsed.walk():
        kind = part.get_content_type()
        if kind in SIGNATURE_TYPES:
            return part
        if kind in OPAQUE_TYPES and part.get_param("smime-type", "signed-data").lower() == "signed-data":
            return part
    die("no application/pkcs7-signature part and no opaque signed-data body")


def locate(message, part):
    """(start, end, line end) of the part's base64 text in the raw message."""
    if (part.get("Content-Transfer-Encoding") or "").strip().lower() != "base64":
        die("the signature is not base64")
    text = part.get_payload(decode=False).encode("ascii", "surrogateescape").strip()
    start = message.find(text)
    if not text or start < 0 or message.find(text, start + 1) >= 0:
        die("the base64 text is not found exactly once in the message")
    eol = re.search(rb"\r?\n", text) or re.search(rb"\r?\n", message)
    return start, start + len(text), eol.group(0)


def b64(der, eol):
    text = base64.b64encode(der)
    return eol.join(text[i:i + 76] for i in range(0, len(text), 76))


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, **kwargs)
    if result.returncode != 0:
        die("%s failed:\n%s" % (" ".join(command), result.stderr.decode(errors="replace")))
    return result.stdout


def token_for(data, tsa_dir, at, rogue, work):
    """A DER time-stamp token (ContentInfo) for the SHA-256 of data, genTime at (UTC)."""
    data_path, query, token = (os.path.join(work, name) for name in ("data.bin", "q.tsq", "token.der"))
    with open(data_path, "wb") as out:
        out.write(data)
    run(["openssl", "ts", "-query", "-data", data_path, "-sha256", "-cert", "-no_nonce", "-out", query])
    name = "rogue-tsa" if rogue else "tsa"
    # faketime reads its date as local time; -f freezes the clock at it.
    env = dict(os.environ, TZ="UTC")
    run(["faketime", "-f", at, "openssl", "ts", "-reply", "-config", os.path.join(tsa_dir, "tsa.cnf"),
         "-queryfile", query, "-inkey", os.path.join(tsa_dir, name + ".key"),
         "-signer", os.path.join(tsa_dir, name + ".pem"), "-token_out", "-out", token], env=env)
    with open(token, "rb") as inp:
        return inp.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--tsa-dir", required=True)
    parser.add_argument("--at", required=True)
    parser.add_argument("--rogue", action="store_true")
    parser.add_argument("--imprint-of")
    args = parser.parse_args()
    if not re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", args.at):
        die("--at wants 'YYYY-MM-DD HH:MM:SS': " + args.at)

    with open(args.input, "rb") as inp:
        message = inp.read()
    part = signature_part(message)
    start, end, eol = locate(message, part)
    info = cms.ContentInfo.load(base64.b64decode(message[start:end]))
    if info["content_type"].native != "signed_data":
        die("not SignedData: " + str(info["content_type"].native))
    signer = info["content"]["signer_infos"][0]
    signature = signer["signature"].native

    with tempfile.TemporaryDirectory() as work:
        imprinted = signature if args.imprint_of is None else args.imprint_of.encode()
        token_der = token_for(imprinted, args.tsa_dir, args.at, args.rogue, work)
    token = cms.ContentInfo.load(token_der)

    attribute = cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})
    previous = [] if signer["unsigned_attrs"].native is None else list(signer["unsigned_attrs"])
    signer["unsigned_attrs"] = cms.CMSAttributes(previous + [attribute])
    der = info.dump()

    # What was written must read back: the same signature value, the token as the last attribute.
    check = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    if check["signature"].native != signature or check["unsigned_attrs"][-1]["values"][0].dump() != token_der:
        die("the re-encoded CMS does not read back")

    with open(args.output, "wb") as out:
        out.write(message[:start] + b64(der, eol) + message[end:])
    with open(args.output + ".token.der", "wb") as out:
        out.write(token_der)
    with open(args.output + ".sigvalue.bin", "wb") as out:
        out.write(signature)


if __name__ == "__main__":
    main()
