#!/usr/bin/env bash
# Regenerates the test keys and certificates in this folder with the openssl
# command line (and Python's cryptography for the one certificate whose validity
# lies in the past, which `openssl req/x509` 3.0 cannot make). The tests use the
# committed files; rerun this only to change them, then commit the result.
set -euo pipefail
cd "$(dirname "$0")"
DAYS=36500
ext() { printf '%s\n' "$@" > ext.cnf; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $DAYS -subj "/O=smimegate tests/CN=smimegate Test Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days $DAYS -subj "/O=Elsewhere/CN=Unrelated Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# issue NAME SUBJECT SAN KEYUSAGE [KEYSPEC]
issue() {
  local name=$1 subject=$2 san=$3 ku=$4 keyspec=${5:-rsa:2048}
  if [[ $keyspec == ec ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" 2>/dev/null
  fi
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  ext "basicConstraints=critical,CA:FALSE" "keyUsage=critical,$ku" "extendedKeyUsage=emailProtection" \
      "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" "subjectAltName=$san"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days $DAYS -extfile ext.cnf -out "$name.pem" 2>/dev/null
  rm -f "$name.csr"
}
issue alice    "/O=Example Corp/CN=Alice"           "email:alice@example.com"        "digitalSignature,nonRepudiation,keyEncipherment"
issue gateway  "/O=Example Corp/CN=Example gateway" "DNS:example.com"               "digitalSignature,nonRepudiation,keyEncipherment"
issue bob      "/O=Partner Ltd/CN=Bob"              "email:bob@partner.example"      "digitalSignature,nonRepudiation,keyEncipherment"
issue dan      "/O=Partner Ltd/CN=Dan"              "email:dan@partner.example"      "digitalSignature,keyEncipherment"
issue carol-ec "/O=Partner Ltd/CN=Carol"            "email:carol@partner.example"    "digitalSignature,nonRepudiation,keyAgreement" ec
issue signonly "/O=Example Corp/CN=Sign Only"       "email:signonly@example.com"     "digitalSignature,nonRepudiation"
issue wildcard "/O=Mail Net/CN=Wildcard gateway"    "DNS:*.example.net"              "digitalSignature,keyEncipherment"
rm -f ext.cnf ca.srl

# Expired: valid 2020-01-01 .. 2021-01-01, issued by the test CA.
python3 - <<'PY'
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
ca_key = serialization.load_pem_private_key(open("ca.key", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open("ca.pem", "rb").read())
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
cert = (x509.CertificateBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"), x509.NameAttribute(NameOID.COMMON_NAME, "Expired Signer")]))
    .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
    .not_valid_before(datetime.datetime(2020, 1, 1)).not_valid_after(datetime.datetime(2021, 1, 1))
    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    .add_extension(x509.KeyUsage(True, True, True, False, False, False, False, False, False), critical=True)
    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("expired@example.com")]), critical=False)
    .sign(ca_key, hashes.SHA256()))
open("expired.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open("expired.key", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY

# The test CA's CRL (empty, valid for a century like the CA): homes in the CLI tests load it, so that
# revocation is decided ("good") for the fixture certificates (SPEC F25).
python3 - <<'PY'
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
ca_key = serialization.load_pem_private_key(open("ca.key", "rb").read(), None)
ca = x509.load_pem_x509_certificate(open("ca.pem", "rb").read())
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
    .last_update(now - datetime.timedelta(days=1)).next_update(now + datetime.timedelta(days=36500))
    .add_extension(x509.CRLNumber(1), critical=False)
    .sign(ca_key, hashes.SHA256()))
open("ca.crl", "wb").write(crl.public_bytes(serialization.Encoding.PEM))
PY

# PKCS #12 for import tests (passphrase in alice.pass).
printf 'correct horse battery staple\n' > alice.pass
openssl pkcs12 -export -inkey alice.key -in alice.pem -certfile ca.pem -name alice -passout file:alice.pass -out alice.p12
echo "fixtures written"
