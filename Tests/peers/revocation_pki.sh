#!/usr/bin/env bash
# A small PKI for the revocation tests (CRL and OCSP), made with the openssl command line
# (OpenSSL 3) only. Every file, the openssl configs and CA databases included, lands in DIR.
#
# usage: revocation_pki.sh DIR HTTP_PORT OCSP_PORT
#
#   root.pem root.key       "Revocation Test Root", self-signed, 10 years
#   sub.pem sub.key         "Revocation Test Sub CA", issued by root (via openssl ca);
#                           CRL DP http://127.0.0.1:HTTP_PORT/root.crl,
#                           AIA OCSP http://127.0.0.1:OCSP_PORT/
#   alice carol             NAME.pem NAME.key: good end entities issued by sub (openssl ca)
#   bob                     bob.pem bob.key: issued by sub, then revoked (keyCompromise)
#   dave                    dave.pem dave.key: issued by sub with openssl x509 -req, so not
#                           in sub-index.txt: the OCSP responder answers "unknown"
#                           End entities: email NAME@example.org in subjectAltName, CRL DP
#                           http://127.0.0.1:HTTP_PORT/sub.crl, AIA OCSP
#                           http://127.0.0.1:OCSP_PORT/, keys unencrypted PKCS#8 PEM, 0600
#   ocsp.pem ocsp.key       OCSP responder of sub (OCSPSigning, id-pkix-ocsp-nocheck)
#   sub.crl sub.crl.der     sub's CRL (PEM, DER): bob revoked, keyCompromise; next update 30 days
#   root.crl root.crl.der   root's CRL (PEM, DER): empty; next update 30 days
#   sub-expired.crl         sub's CRL (PEM) with lastUpdate 60 and nextUpdate 30 days ago;
#                           CRL number 1 (sub.crl has 2); it lists bob too
#   cdp/                    sub.crl root.crl sub-expired.crl in DER: http_server.py --root
#                           DIR/cdp serves what the distribution points name (the PEM
#                           DIR/sub.crl and DIR/root.crl are not what RFC 5280 wants there)
#   sub-index.txt           sub's openssl ca database, for
#                             openssl ocsp -index DIR/sub-index.txt -CA DIR/sub.pem \
#                               -rsigner DIR/ocsp.pem -rkey DIR/ocsp.key -port OCSP_PORT
#   chain.pem               sub.pem then root.pem
#   ca/                     openssl configs, root's database, serials, CSRs
#
# The OCSP responder knows sub's certificates only: asked about sub itself (issuer root) it
# answers "unknown", signed by a responder root did not delegate to. Quiet on success.
set -euo pipefail

die() {
  echo "revocation_pki: $*" >&2
  exit 1
}
[[ $# -eq 3 ]] || die "usage: $0 DIR HTTP_PORT OCSP_PORT"
[[ $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] || die "ports must be numbers: $2 $3"
dir=$(realpath -m "$1")
http_port=$2
ocsp_port=$3
ca=$dir/ca

mkdir -p "$dir" "$ca/root-certs" "$ca/sub-certs"
cd "$dir"
# A rerun in the same DIR starts over rather than failing on openssl ca's databases.
rm -f root-index.txt* sub-index.txt* "$ca"/root-index.txt* "$ca"/*serial* "$ca"/*crlnumber* \
  "$ca"/root-certs/* "$ca"/sub-certs/*
: >"$ca/root-index.txt"
: >sub-index.txt
for name in root sub; do
  openssl rand -hex 16 >"$ca/$name.serial"
  echo 01 >"$ca/$name.crlnumber"
done

crl_dp() { echo "URI:http://127.0.0.1:$http_port/$1"; }
aia="OCSP;URI:http://127.0.0.1:$ocsp_port/"

# The extensions of end entity NAME: section ee_NAME.
ee_section() {
  cat <<EOF
[ ee_$1 ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:$1@example.org
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = $(crl_dp sub.crl)
authorityInfoAccess = $aia

EOF
}

# One openssl config per CA; the extension sections are shared.
write_config() { # NAME DATABASE
  cat >"$ca/$1.cnf" <<EOF
[ ca ]
default_ca = the_ca

[ the_ca ]
database = $2
new_certs_dir = $ca/$1-certs
certificate = $dir/$1.pem
private_key = $dir/$1.key
serial = $ca/$1.serial
crlnumber = $ca/$1.crlnumber
default_md = sha256
default_days = 3650
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
crl_extensions = crl_ext

[ policy_any ]
commonName = supplied
organizationName = optional
emailAddress = optional

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ root_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ sub_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = $(crl_dp root.crl)
authorityInfoAccess = $aia

$(for name in alice bob carol dave; do ee_section "$name"; done)

[ ocsp_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
}
write_config root "$ca/root-index.txt"
write_config sub "$dir/sub-index.txt"

key() { # NAME: NAME.key, RSA 2048, PKCS#8 PEM, 0600
  (umask 077 && openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key")
}
csr() { # NAME SUBJECT
  openssl req -new -config "$ca/sub.cnf" -key "$1.key" -subj "$2" -out "$ca/$1.csr"
}
issue() { # CA NAME EXTENSIONS SUBJECT: NAME.pem through openssl ca
  key "$2"
  csr "$2" "$4"
  openssl ca -batch -notext -config "$ca/$1.cnf" -extensions "$3" -in "$ca/$2.csr" -out "$2.pem" \
    2>"$ca/$2.log" || { cat "$ca/$2.log" >&2; exit 1; }
}
gencrl() { # CA OUT [openssl ca options]
  local name=$1 out=$2
  shift 2
  openssl ca -batch -config "$ca/$name.cnf" -gencrl -out "$out" "$@" 2>"$ca/$name-crl.log" ||
    { cat "$ca/$name-crl.log" >&2; exit 1; }
}

key root
openssl req -x509 -new -config "$ca/root.cnf" -extensions root_ext -key root.key -sha256 -days 3650 \
  -set_serial "0x$(openssl rand -hex 16)" -subj "/CN=Revocation Test Root" -out root.pem
issue root sub sub_ext "/CN=Revocation Test Sub CA"

for name in alice bob carol; do
  issue sub "$name" "ee_$name" "/CN=$name"
done
issue sub ocsp ocsp_ext "/CN=Revocation Test OCSP Responder"

# dave: signed by sub's key but never entered in sub-index.txt.
key dave
csr dave "/CN=dave"
openssl x509 -req -in "$ca/dave.csr" -CA sub.pem -CAkey sub.key -sha256 \
  -days 3650 -set_serial "0x$(openssl rand -hex 16)" -extfile "$ca/sub.cnf" -extensions ee_dave \
  -out dave.pem 2>"$ca/dave.log" || { cat "$ca/dave.log" >&2; exit 1; }

openssl ca -batch -config "$ca/sub.cnf" -revoke bob.pem -crl_reason keyCompromise 2>"$ca/revoke.log" ||
  { cat "$ca/revoke.log" >&2; exit 1; }

# The expired CRL first, so that it has the lower CRL number (1; sub.crl has 2). It lists
# bob too, with today's revocation date, though its lastUpdate is 60 days ago.
gencrl sub sub-expired.crl \
  -crl_lastupdate "$(date -u -d '60 days ago' +%Y%m%d%H%M%SZ)" \
  -crl_nextupdate "$(date -u -d '30 days ago' +%Y%m%d%H%M%SZ)"
gencrl sub sub.crl -crldays 30
gencrl root root.crl -crldays 30
openssl crl -in sub.crl -outform DER -out sub.crl.der
openssl crl -in root.crl -outform DER -out root.crl.der
# What the distribution points name, in DER as RFC 5280 4.2.1.13 wants over HTTP
# (openssl verify -crl_download refuses PEM there).
mkdir -p cdp
for name in sub root sub-expired; do
  openssl crl -in "$name.crl" -outform DER -out "cdp/$name.crl"
done

cat sub.pem root.pem >chain.pem
