#!/usr/bin/env python3
"""Attacks on the archive features (issue 13) for Tests/CLITests/ArchiveAttackTests.swift:
an attacker who holds a certificate of her own, captured mail and the archive PKI of
Tests/peers/archive_pki.sh (DIR: ca.pem, ca.key, the partner's signed messages).
Certificates and CMS are made with pyca/cryptography and asn1crypto; signing a MIME
entity is left to the openssl command line.

usage: archive_attacks.py issue DIR NAME --kind KIND [--email ADDR] [--self-signed]
           DIR/NAME.pem and DIR/NAME.key (RSA 2048, PKCS#8 PEM): CN=NAME, issued by DIR/ca.pem
           (or self-signed), valid 2015-01-01 to 2045-01-01. KIND:
             signer                  S/MIME signing, email:ADDR
           and time-stamping authorities that are not what RFC 3161 2.3 asks for (DIR/tsa.pem is:
           critical EKU timeStamping only, keyUsage digitalSignature and nonRepudiation, no CA):
             tsa-extra-purpose       critical EKU timeStamping and Microsoft document signing
             tsa-non-critical        EKU timeStamping only, not critical
             tsa-ca                  CA:TRUE, keyUsage keyCertSign too
             tsa-key-encipherment    keyUsage keyEncipherment only
       archive_attacks.py token IN OUT --cert C --key K --at TIME [--digest sha256|sha1]
           IN with an RFC 3161 token signed by C/K (genTime TIME, UTC, 'YYYY-MM-DD HH:MM:SS') on
           its first SignerInfo, over the SHA-256 of that SignerInfo's signature value. The token
           is built here: `openssl ts -reply` refuses a TSA certificate that is not what RFC 3161
           asks for, and a TSA under attack need not be so careful. --digest: the token's own
           signature (SHA-1 is what old TSAs signed with). Next to OUT: OUT.token.der (the token)
           and OUT.sigvalue.bin (the signature value), for `openssl ts -verify -token_in`
       archive_attacks.py cosign IN OUT --cert C --key K --signing-time TIME
           IN's SignedData with one more SignerInfo by C/K over the same content (the first one's
           contentType and messageDigest attributes, signingTime TIME, UTC), put first, and C
           among the certificates: anyone can add a signature to a signed message
       archive_attacks.py wrap IN OUT --cert C --key K --from ADDR [--subject TEXT]
           IN's MIME entity (its Content-* fields and body) signed by C/K with `openssl cms -sign`
           (multipart/signed, SHA-256) under a header From ADDR, To bob@example.com: e.g. a
           captured encrypted message that the attacker, after changing its ciphertext or not,
           passes on as her own signed mail
IN is an S/MIME message: for token and cosign, multipart/signed (its application/pkcs7-
signature part) or opaque signed-data, whose base64 is replaced in place (the rest of IN is
kept byte for byte; Tests/peers/timestamp.py finds it). OUT is CRLF throughout for wrap.
"""
import argparse
import base64
import datetime
import hashlib
import os
import re
import subprocess
import sys
import tempfile

from asn1crypto import algos, cms, core, tsp, x509 as asn1x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import timestamp  # Tests/peers/timestamp.py: finding and replacing a message's CMS

NOT_BEFORE = datetime.datetime(2015, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
KINDS = ("signer", "tsa-extra-purpose", "tsa-non-critical", "tsa-ca", "tsa-key-encipherment")
DIGESTS = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}


def die(text):
    sys.exit("archive_attacks: " + text)


def utc(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        die("a time is 'YYYY-MM-DD HH:MM:SS': " + text)


def read(path):
    with open(path, "rb") as inp:
        return inp.read()


def write(path, data):
    with open(path, "wb") as out:
        out.write(data)


def private_key(path):
    return serialization.load_pem_private_key(read(path), None)


def certificate(path):
    return asn1x509.Certificate.load(x509.load_pem_x509_certificate(read(path)).public_bytes(
        serialization.Encoding.DER))


def key_usage(digital_signature=False, non_repudiation=False, key_encipherment=False, cert_sign=False):
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=non_repudiation, key_encipherment=key_encipherment,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=False, encipher_only=False,
        decipher_only=False)


def issue(args):
    """A certificate of the given kind, issued by the archive CA (or self-signed)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, args.name)])
    if args.self_signed:
        issuer, issuer_key, issuer_public = subject, key, key.public_key()
    else:
        ca = x509.load_pem_x509_certificate(read(os.path.join(args.dir, "ca.pem")))
        issuer, issuer_key, issuer_public = ca.subject, private_key(os.path.join(args.dir, "ca.key")), ca.public_key()
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False))
    kind = args.kind
    stamping = [ExtendedKeyUsageOID.TIME_STAMPING] + ([DOCUMENT_SIGNING] if kind == "tsa-extra-purpose" else [])
    if kind == "signer":
        if not args.email:
            die("a signer needs --email")
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(key_usage(True, True, key_encipherment=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(args.email)]), critical=False))
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=kind == "tsa-ca", path_length=None), critical=True)
        usage = {
            "tsa-ca": key_usage(True, cert_sign=True), "tsa-key-encipherment": key_usage(key_encipherment=True),
        }.get(kind, key_usage(True, True))
        builder = builder.add_extension(usage, critical=True).add_extension(
            x509.ExtendedKeyUsage(stamping), critical=kind != "tsa-non-critical")
    cert = builder.sign(issuer_key, hashes.SHA256())
    base = os.path.join(args.dir, args.name)
    write(base + ".pem", cert.public_bytes(serialization.Encoding.PEM))
    with os.fdopen(os.open(base + ".key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def set_of(encodings):
    """A SET (tag 0x31) of the given encodings, in the order given."""
    body = b"".join(encodings)
    length = len(body)
    if length < 0x80:
        encoded = bytes([length])
    else:
        octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded = bytes([0x80 | len(octets)]) + octets
    return b"\x31" + encoded + body


def signed_attributes(attributes):
    """The DER SET OF the attributes (RFC 5652 5.4: what is signed), sorted as DER wants."""
    return cms.CMSAttributes.load(set_of(sorted(attribute.dump() for attribute in attributes)))


def signer_info(cert, key, attributes, digest="sha256"):
    """A SignerInfo by cert over the attributes (RSA PKCS #1 v1.5)."""
    signed = signed_attributes(attributes)
    signature = key.sign(signed.dump(), padding.PKCS1v15(), DIGESTS[digest]())
    return cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": cert.issuer, "serial_number": cert.serial_number}}),
        "digest_algorithm": {"algorithm": digest},
        "signed_attrs": signed,
        "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
        "signature": signature,
    })


def load_signed(path):
    """(message, start, end, line end, ContentInfo) of the SignedData in the message at path."""
    message = read(path)
    start, end, eol = timestamp.locate(message, timestamp.signature_part(message))
    info = cms.ContentInfo.load(base64.b64decode(message[start:end]))
    if info["content_type"].native != "signed_data":
        die("not SignedData: " + str(info["content_type"].native))
    return message, start, end, eol, info


def save_signed(path, loaded, info):
    message, start, end, eol, _ = loaded
    write(path, message[:start] + timestamp.b64(info.dump(), eol) + message[end:])


def token(args):
    """An RFC 3161 token by the given TSA over the first SignerInfo's signature value, attached to it."""
    loaded = load_signed(args.input)
    info = loaded[4]
    signer = info["content"]["signer_infos"][0]
    cert, key, at = certificate(args.cert), private_key(args.key), utc(args.at)
    tst = tsp.TSTInfo({
        "version": "v1", "policy": "1.2.3.4.1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(signer["signature"].native).digest()},
        "serial_number": int.from_bytes(os.urandom(8), "big"), "gen_time": at,
    }).dump()
    essid = {"certs": [{"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(cert.dump()).digest()}]}
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": at})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.new(args.digest, tst).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [essid]}),
    ]
    signed = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": args.digest})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst)},
        "certificates": [cms.CertificateChoices({"certificate": cert})],
        "signer_infos": [signer_info(cert, key, attributes, args.digest)],
    })
    stamp = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    previous = [] if signer["unsigned_attrs"].native is None else list(signer["unsigned_attrs"])
    attribute = cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [stamp]})
    signer["unsigned_attrs"] = cms.CMSAttributes(previous + [attribute])
    save_signed(args.output, loaded, info)
    write(args.output + ".token.der", stamp.dump())
    write(args.output + ".sigvalue.bin", signer["signature"].native)


def cosign(args):
    """One more SignerInfo over the same content, with a signingTime of the signer's choosing."""
    loaded = load_signed(args.input)
    signed = loaded[4]["content"]
    first = signed["signer_infos"][0]
    if first["digest_algorithm"]["algorithm"].native != "sha256":
        die("the first SignerInfo does not use SHA-256")
    kept = [a for a in first["signed_attrs"] if a["type"].native in ("content_type", "message_digest")]
    if len(kept) != 2:
        die("the first SignerInfo lacks contentType or messageDigest")
    cert = certificate(args.cert)
    time = cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": utc(args.signing_time)})]})
    added = signer_info(cert, private_key(args.key), [cms.CMSAttribute.load(a.dump()) for a in kept] + [time])
    # Encoded as given: asn1crypto would sort the SET OF (DER), and which SignerInfo comes first is the point.
    signed["signer_infos"] = cms.SignerInfos.load(set_of([added.dump()] + [i.dump() for i in signed["signer_infos"]]))
    signed["certificates"] = cms.CertificateSet(
        list(signed["certificates"]) + [cms.CertificateChoices({"certificate": cert})])
    save_signed(args.output, loaded, loaded[4])


def crlf(data):
    return re.sub(rb"\r?\n", b"\r\n", data)


def wrap(args):
    """IN's entity signed by the attacker, as her own message."""
    message = crlf(read(args.input))
    header, separator, body = message.partition(b"\r\n\r\n")
    if not separator:
        die("no blank line after the header")
    fields = re.split(rb"\r\n(?![ \t])", header)
    entity = b"\r\n".join(f for f in fields if f.lower().startswith(b"content-")) + b"\r\n\r\n" + body
    with tempfile.TemporaryDirectory() as work:
        source, signed = os.path.join(work, "entity"), os.path.join(work, "signed")
        write(source, entity)
        result = subprocess.run(
            ["openssl", "cms", "-sign", "-md", "sha256", "-binary", "-signer", args.cert, "-inkey", args.key,
             "-in", source, "-out", signed], capture_output=True)
        if result.returncode != 0:
            die("openssl cms -sign failed:\n" + result.stderr.decode(errors="replace"))
        smime = crlf(read(signed))
    name = re.sub(r"[^a-z0-9]+", "-", args.subject.lower()).strip("-") or "wrapped"
    top = ("From: %s\r\nTo: bob@example.com\r\nSubject: %s\r\nMessage-ID: <%s@attacker.example>\r\n"
           % (args.sender, args.subject, name)).encode()
    write(args.output, top + smime)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("issue")
    command.add_argument("dir")
    command.add_argument("name")
    command.add_argument("--kind", choices=KINDS, required=True)
    command.add_argument("--email")
    command.add_argument("--self-signed", action="store_true")
    command.set_defaults(run=issue)
    for name, run in (("token", token), ("cosign", cosign), ("wrap", wrap)):
        command = commands.add_parser(name)
        command.add_argument("input")
        command.add_argument("output")
        command.add_argument("--cert", required=True)
        command.add_argument("--key", required=True)
        command.set_defaults(run=run)
        if name == "token":
            command.add_argument("--at", required=True)
            command.add_argument("--digest", choices=sorted(DIGESTS), default="sha256")
        elif name == "cosign":
            command.add_argument("--signing-time", required=True)
        else:
            command.add_argument("--from", dest="sender", required=True)
            command.add_argument("--subject", default="Forwarded")
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
