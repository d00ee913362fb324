#!/usr/bin/env python3
"""A second S/MIME peer for the interoperability tests: Python's `cryptography`
package (pyca). It signs and encrypts messages for smimegate to verify and
decrypt, and decrypts what smimegate encrypts.

usage: pyca_smime.py sign-detached|sign-opaque CERT KEY < content > message
       pyca_smime.py encrypt aes128|aes256 CERT < content > message
       pyca_smime.py decrypt CERT KEY < message > content
The content on stdin is a MIME entity (Content-Type header + body); the
message written gets From/To/Subject fields in front of pyca's S/MIME output.
"""
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

HEADER = b"From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: from pyca\r\n"


def load(cert_path, key_path=None):
    cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), None) if key_path else None
    return cert, key


def main():
    op = sys.argv[1]
    data = sys.stdin.buffer.read()
    if op in ("sign-detached", "sign-opaque"):
        cert, key = load(sys.argv[2], sys.argv[3])
        options = [pkcs7.PKCS7Options.DetachedSignature] if op == "sign-detached" else []
        out = (pkcs7.PKCS7SignatureBuilder().set_data(data)
               .add_signer(cert, key, hashes.SHA256()).sign(serialization.Encoding.SMIME, options))
        sys.stdout.buffer.write(HEADER + out)
    elif op == "encrypt":
        cert, _ = load(sys.argv[3])
        cipher = algorithms.AES128 if sys.argv[2] == "aes128" else algorithms.AES256
        out = (pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(cert)
               .set_content_encryption_algorithm(cipher).encrypt(serialization.Encoding.SMIME, []))
        sys.stdout.buffer.write(HEADER + out)
    elif op == "decrypt":
        cert, key = load(sys.argv[2], sys.argv[3])
        sys.stdout.buffer.write(pkcs7.pkcs7_decrypt_smime(data, cert, key, []))
    else:
        sys.exit("unknown operation " + op)


if __name__ == "__main__":
    main()
