#!/usr/bin/env bash
# Old signed mail for the archive tests: a partner certificate that expired years ago, messages
# it signed while it was valid (and one it signed afterwards), and an RFC 3161 time stamping
# authority whose tokens (Tests/peers/timestamp.py) can prove when a signature existed. Made
# with the openssl command line (OpenSSL 3) and faketime, which sets the clock that
# `openssl cms -sign` takes the signingTime attribute from. Every file lands in DIR.
#
# usage: archive_pki.sh DIR [RECIPIENT_CERT_PEM]
#
#   ca.pem ca.key             "Archive Test Root", self-signed, 2010-01-01 to 2045-01-01
#   partner.pem partner.key   "Alice Old Partner", email:alice@partner.example, issued by ca,
#                             S/MIME signing and encryption, 2016-01-01 to 2017-01-01 (expired)
#   tsa.pem tsa.key           "Archive Test TSA", issued by ca, critical EKU timeStamping,
#                             2015-01-01 to 2045-01-01
#   tsa.cnf tsa.serial        config and serial file for
#                               openssl ts -reply -config DIR/tsa.cnf (policy 1.2.3.4.1, SHA-256,
#                               ESSCertIDv2 with SHA-256)
#   rogue-tsa.pem .key        "Rogue Test TSA": the same extensions and dates, but self-signed
#   plain.eml                 text/plain from alice@partner.example to bob@example.com, June 2016
#   signed-2016.eml           plain.eml's content signed by partner (multipart/signed, SHA-256),
#                             signingTime 2016-06-01 12:00:00Z; plain.eml's From, To, Subject,
#                             Date and Message-ID in front of openssl's MIME-Version and
#                             Content-Type
#   opaque-2016.eml           the same, opaque (application/pkcs7-mime; smime-type=signed-data)
#   signed-2018.eml           like signed-2016.eml but signingTime 2018-03-01 12:00:00Z, after the
#                             certificate expired; Date 2018-03-01, Message-ID
#                             <archive-2018@partner.example>
#   With RECIPIENT_CERT_PEM:
#   encrypted-2016.eml        signed-2016.eml, the whole message, encrypted to RECIPIENT_CERT_PEM
#                             (AES-256-CBC), with signed-2016.eml's header fields in front
#   encrypted-plain.eml       plain.eml, the whole message, encrypted likewise (not signed)
#   ca/                       openssl ca configs, databases, serials, CSRs, logs
#
# All keys RSA 2048 (unencrypted PKCS#8 PEM, 0600), all signatures SHA-256. Messages have CRLF
# line ends throughout (openssl writes a mix of CRLF and LF; the signed part is CRLF anyway, so
# the signature is unaffected). Quiet on success.
set -euo pipefail

die() {
  echo "archive_pki: $*" >&2
  exit 1
}
[[ $# -eq 1 || $# -eq 2 ]] || die "usage: $0 DIR [RECIPIENT_CERT_PEM]"
dir=$(realpath -m "$1")
recipient=
if [[ $# -eq 2 ]]; then
  recipient=$(realpath "$2") || die "no recipient certificate: $2"
  [[ -f $recipient ]] || die "no recipient certificate: $2"
fi
ca=$dir/ca
# faketime's date is local time: pin it to UTC so that the signingTime is exactly what is asked; -f
# freezes the clock there (a loaded machine could otherwise tick past the second).
export TZ=UTC

mkdir -p "$dir" "$ca/certs"
cd "$dir"
# A rerun in the same DIR starts over rather than failing on openssl ca's databases.
rm -f "$ca"/*index.txt* "$ca"/*.serial* "$ca"/certs/* encrypted-2016.eml encrypted-plain.eml
: >"$ca/index.txt"
: >"$ca/rogue-index.txt"
openssl rand -hex 16 >"$ca/ca.serial"
openssl rand -hex 16 >"$ca/rogue.serial"
echo 01 >tsa.serial

cat >"$ca/ca.cnf" <<EOF
[ ca ]
default_ca = archive_ca

[ archive_ca ]
database = $ca/index.txt
new_certs_dir = $ca/certs
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $ca/ca.serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes

# Only for the self-signed rogue TSA certificate (openssl ca -selfsign).
[ rogue_ca ]
database = $ca/rogue-index.txt
new_certs_dir = $ca/certs
private_key = $dir/rogue-tsa.key
serial = $ca/rogue.serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
preserve = yes

[ policy_any ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ partner_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:alice@partner.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ tsa_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ rogue_tsa_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
EOF

cat >tsa.cnf <<EOF
# openssl ts -reply -config $dir/tsa.cnf -queryfile Q -token_out -out TOKEN
[ tsa ]
default_tsa = archive_tsa

[ archive_tsa ]
serial = $dir/tsa.serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF

key() { # NAME: NAME.key, RSA 2048, PKCS#8 PEM, 0600
  (umask 077 && openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key")
}
csr() { # NAME SUBJECT
  openssl req -new -config "$ca/ca.cnf" -key "$1.key" -subj "$2" -out "$ca/$1.csr"
}
# NAME SUBJECT EXTENSIONS START END [openssl ca options]: NAME.pem with the given validity
# (YYYYMMDDHHMMSSZ, written as UTCTime), through openssl ca.
issue() {
  local name=$1 subject=$2 extensions=$3 start=$4 end=$5
  shift 5
  key "$name"
  csr "$name" "$subject"
  openssl ca -batch -notext -config "$ca/ca.cnf" -extensions "$extensions" -startdate "$start" \
    -enddate "$end" -in "$ca/$name.csr" -out "$name.pem" "$@" 2>"$ca/$name.log" ||
    { cat "$ca/$name.log" >&2; exit 1; }
}

issue ca "/CN=Archive Test Root" ca_ext 20100101000000Z 20450101000000Z -selfsign -keyfile ca.key
issue partner "/CN=Alice Old Partner" partner_ext 20160101000000Z 20170101000000Z
issue tsa "/CN=Archive Test TSA" tsa_ext 20150101000000Z 20450101000000Z
issue rogue-tsa "/CN=Rogue Test TSA" rogue_tsa_ext 20150101000000Z 20450101000000Z \
  -name rogue_ca -selfsign -keyfile rogue-tsa.key

crlf() { sed 's/\r$//; s/$/\r/'; }

# The content: a MIME entity without the message's header fields.
entity() {
  crlf <<'EOF'
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Hello Bob,

the quarterly report for Q2 2016 is ready: revenue is up 4 %, costs are flat.
The full figures follow in a separate message.

Regards,
Alice
EOF
}
header() { # DATE MESSAGE-ID
  crlf <<EOF
From: Alice <alice@partner.example>
To: bob@example.com
Subject: Quarterly report 2016
Date: $1
Message-ID: $2
EOF
}
date_2016="Wed, 01 Jun 2016 11:58:00 +0000"
id_2016="<archive-2016@partner.example>"

{
  header "$date_2016" "$id_2016"
  printf 'MIME-Version: 1.0\r\n'
  entity
} >plain.eml
entity >"$ca/entity.txt"

# AT DATE MESSAGE-ID OUT [openssl cms options]: the entity signed by partner at AT (UTC).
sign() {
  local at=$1 date=$2 id=$3 out=$4
  shift 4
  faketime -f "$at" openssl cms -sign -md sha256 -signer partner.pem -inkey partner.key \
    -in "$ca/entity.txt" -out "$ca/$out.smime" "$@" 2>"$ca/$out.log" ||
    { cat "$ca/$out.log" >&2; exit 1; }
  { header "$date" "$id"; crlf <"$ca/$out.smime"; } >"$out"
}
sign "2016-06-01 12:00:00" "$date_2016" "$id_2016" signed-2016.eml
sign "2016-06-01 12:00:00" "$date_2016" "$id_2016" opaque-2016.eml -nodetach
sign "2018-03-01 12:00:00" "Thu, 01 Mar 2018 11:58:00 +0000" "<archive-2018@partner.example>" \
  signed-2018.eml

if [[ -n $recipient ]]; then
  encrypt() { # IN OUT: the whole of IN, encrypted to the recipient
    openssl cms -encrypt -aes256 -in "$1" -out "$ca/$2.smime" "$recipient" 2>"$ca/$2.log" ||
      { cat "$ca/$2.log" >&2; exit 1; }
    { header "$date_2016" "$id_2016"; crlf <"$ca/$2.smime"; } >"$2"
  }
  encrypt signed-2016.eml encrypted-2016.eml
  encrypt plain.eml encrypted-plain.eml
fi
