#!/usr/bin/env python3
"""Hand-made CMS structures for the strict-verification tests (issue 9): it takes
a genuine S/MIME message made by a real peer (openssl) on stdin and changes
exactly one thing in its CMS, as an attacker would, with asn1crypto.

usage: cms_craft.py gcm-tag N [ICVLEN] < authEnveloped message > message
           keep the first N bytes of the GCM tag; ICVLEN (default N) goes into
           GCMParameters (a genuine 12-byte tag is the 16-byte tag's prefix)
       cms_craft.py gcm-flip < authEnveloped message > message
           flip one bit of the GCM tag
       cms_craft.py add-econtent TEXT < multipart/signed message > message
           put TEXT into the detached signature as eContent
       cms_craft.py set-econtent-type OID < opaque signed message > message
           change eContentType (not signed) and leave the contentType attribute
       cms_craft.py announce KEY CIPHER... < opaque signed message > message
           replace the signer's SMIMECapabilities (RFC 8551 2.5.2) with CIPHER... (OpenSSL names:
           aes-256-gcm, aes-128-gcm, aes-256-cbc, ...) and sign the attributes again with KEY (the
           signer's, RSA, PKCS #1 v1.5 with the SignerInfo's digest): what a client that reads
           AES-GCM, such as Thunderbird 128, announces; openssl and pyca announce CBC only
The header of the input is kept; the CMS is written back as base64.
"""
import base64
import re
import sys

from asn1crypto import cms, core


class GCMParameters(core.Sequence):
    """RFC 5084 §3.2 (read only: DER would drop an ICVlen of 12)."""
    _fields = [("aes_nonce", core.OctetString), ("aes_icvlen", core.Integer, {"default": 12})]


def split(message):
    """(header, body, line end) of a message."""
    blank = re.search(rb"\r?\n\r?\n", message)
    end = b"\r\n" if blank.group(0).startswith(b"\r") else b"\n"
    return message[: blank.start()], message[blank.end():], end


def b64(der, end):
    text = base64.b64encode(der)
    return end.join(text[i:i + 64] for i in range(0, len(text), 64)) + end


def opaque(message, change):
    header, body, end = split(message)
    info = cms.ContentInfo.load(base64.b64decode(body))
    change(info)
    return header + end + end + b64(info.dump(force=False), end)


def gcm_tag(info, keep, icvlen):
    content = info["content"]
    mac = content["mac"].native
    content["mac"] = mac[:keep]
    algorithm = content["auth_encrypted_content_info"]["content_encryption_algorithm"]
    nonce = GCMParameters.load(algorithm["parameters"].dump())["aes_nonce"].native
    # aes-ICVlen written even when it is the DEFAULT 12, as OpenSSL 3.0 needs it (and writes it).
    fields = core.OctetString(nonce).dump() + core.Integer(icvlen).dump()
    algorithm["parameters"] = core.Any.load(b"\x30" + bytes([len(fields)]) + fields)


def gcm_flip(info):
    content = info["content"]
    mac = bytearray(content["mac"].native)
    mac[0] ^= 1
    content["mac"] = bytes(mac)


def add_econtent(message, text):
    """Puts eContent into the application/pkcs7-signature part of a multipart/signed."""
    match = re.search(rb"(Content-Type: application/(x-)?pkcs7-signature.*?(\r?\n)\3)(.*?)(\r?\n--)", message, re.S)
    if not match:
        raise SystemExit("no detached signature part")
    info = cms.ContentInfo.load(base64.b64decode(match.group(4)))
    info["content"]["encap_content_info"]["content"] = text
    end = match.group(3)
    encoded = b64(info.dump(force=False), end)[: -len(end)]
    return message[: match.start(4)] + encoded + message[match.end(4):]


CIPHERS = {
    "aes-256-gcm": "2.16.840.1.101.3.4.1.46", "aes-128-gcm": "2.16.840.1.101.3.4.1.6",
    "aes-256-cbc": "2.16.840.1.101.3.4.1.42", "aes-128-cbc": "2.16.840.1.101.3.4.1.2",
}


def announce(info, key_path, ciphers):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    signer = info["content"]["signer_infos"][0]
    capabilities = cms.SMIMECapabilites([{"capability_id": CIPHERS[name]} for name in ciphers])
    attributes = [a for a in signer["signed_attrs"] if a["type"].native != "smime_capabilities"]
    attributes.append(cms.CMSAttribute({"type": "smime_capabilities", "values": [capabilities]}))
    signer["signed_attrs"] = cms.CMSAttributes(attributes)
    signed = b"\x31" + signer["signed_attrs"].dump(force=True)[1:]  # RFC 5652 5.4: DER of the SET OF
    digest = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
        signer["digest_algorithm"]["algorithm"].native]
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
    signer["signature"] = key.sign(signed, padding.PKCS1v15(), digest)


def main():
    op = sys.argv[1]
    message = sys.stdin.buffer.read()
    if op == "gcm-tag":
        keep = int(sys.argv[2])
        icvlen = int(sys.argv[3]) if len(sys.argv) > 3 else keep
        out = opaque(message, lambda info: gcm_tag(info, keep, icvlen))
    elif op == "gcm-flip":
        out = opaque(message, gcm_flip)
    elif op == "add-econtent":
        out = add_econtent(message, sys.argv[2].encode())
    elif op == "set-econtent-type":
        out = opaque(message, lambda info: info["content"]["encap_content_info"].__setitem__("content_type", sys.argv[2]))
    elif op == "announce":
        out = opaque(message, lambda info: announce(info, sys.argv[2], sys.argv[3:]))
    else:
        raise SystemExit(__doc__)
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
