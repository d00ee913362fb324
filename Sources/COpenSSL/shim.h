// Thin C shim: the OpenSSL 3 headers smimegate uses, plus static inline
// wrappers for the macros Swift cannot import (NOTES-openssl.md).
#ifndef SMIMEGATE_COPENSSL_SHIM_H
#define SMIMEGATE_COPENSSL_SHIM_H

#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/crypto.h>
#include <openssl/ocsp.h>
#include <openssl/ts.h>
#include <time.h>

/* TLS for SMTP delivery (CMS/TLS.swift). */
static inline int smg_SSL_set_tlsext_host_name(SSL *s, const char *name) { return (int)SSL_set_tlsext_host_name(s, name); }
static inline int smg_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }

static inline void smg_X509_ALGORS_free(X509_ALGORS *algorithms) { sk_X509_ALGOR_pop_free(algorithms, X509_ALGOR_free); }
static inline long smg_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline int smg_BIO_set_mem_eof_return(BIO *b, int v) { return (int)BIO_set_mem_eof_return(b, v); }
static inline unsigned long smg_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
static inline void smg_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline void smg_X509V3_set_ctx_nodb(X509V3_CTX *ctx) { X509V3_set_ctx_nodb(ctx); }
static inline int smg_EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad) { return EVP_PKEY_CTX_set_rsa_padding(ctx, pad); }
static inline int smg_EVP_PKEY_CTX_set_rsa_oaep_md(EVP_PKEY_CTX *ctx, const EVP_MD *md) { return EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md); }
static inline int smg_EVP_PKEY_CTX_set_rsa_mgf1_md(EVP_PKEY_CTX *ctx, const EVP_MD *md) { return EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md); }
static inline int smg_EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX *ctx, int len) { return EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, len); }

/* Revocation during X509_verify_cert (CMS/TrustStore.swift). The callback lets a path be built
 * past the certificates whose revocation cannot be decided (no CRL, an expired or not yet valid
 * one, a CRL whose issuer cannot be found or whose signature fails), noting each depth, so every
 * certificate of the chain is still checked; and notes the first revoked one with the date and
 * reason of its CRL entry. A certificate revoked after the validation time was not revoked then. */
#define SMG_MAX_UNKNOWN 16
typedef struct smg_revocation_notes {
    time_t check_time;
    int unknown_count;
    int unknown_depth[SMG_MAX_UNKNOWN];
    int unknown_error[SMG_MAX_UNKNOWN];
    int revoked_depth;      /* -1: none */
    time_t revoked_at;
    int revoked_reason;     /* CRLReason, -1 when the entry has none */
    /* The validation time is the signer's own claim (signingTime): a key compromise revokes whatever
       time it names, since whoever holds the stolen key writes the signingTime. */
    int compromise_any_time;
} smg_revocation_notes;

/* A CRL issued after the validation time (an archive's signature judged at its signing time) is not
   "not yet valid" evidence but the best there is: it lists what was revoked before it, with dates. */
static inline int smg_revocation_unknown_error(int error) {
    switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
        return 1;
    default:
        return 0;
    }
}

static inline int smg_revocation_callback(int ok, X509_STORE_CTX *ctx) {
    if (ok) return ok;
    smg_revocation_notes *notes = (smg_revocation_notes *)X509_STORE_CTX_get_ex_data(ctx, 0);
    if (notes == NULL) return ok;
    int error = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    if (error == X509_V_ERR_CRL_NOT_YET_VALID) return 1;
    if (smg_revocation_unknown_error(error)) {
        for (int i = 0; i < notes->unknown_count; i++)
            if (notes->unknown_depth[i] == depth) return 1;
        if (notes->unknown_count < SMG_MAX_UNKNOWN) {
            notes->unknown_depth[notes->unknown_count] = depth;
            notes->unknown_error[notes->unknown_count] = error;
            notes->unknown_count++;
        }
        return 1;
    }
    if (error == X509_V_ERR_CERT_REVOKED) {
        X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
        X509_REVOKED *entry = NULL;
        time_t at = 0;
        int reason = -1;
        /* OpenSSL 3.0 clears the current CRL once its times are checked: look the entry up again. */
        STACK_OF(X509_CRL) *crls = cert == NULL ? NULL : X509_STORE_CTX_get1_crls(ctx, X509_get_issuer_name(cert));
        for (int i = 0; crls != NULL && i < sk_X509_CRL_num(crls) && entry == NULL; i++) {
            if (X509_CRL_get0_by_cert(sk_X509_CRL_value(crls, i), &entry, cert) != 1) entry = NULL;
        }
        if (entry != NULL) {
            struct tm parts;
            const ASN1_TIME *date = X509_REVOKED_get0_revocationDate(entry);
            if (date != NULL && ASN1_TIME_to_tm(date, &parts) == 1) at = timegm(&parts);
            ASN1_ENUMERATED *code = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, NULL, NULL);
            if (code != NULL) {
                reason = (int)ASN1_ENUMERATED_get(code);
                ASN1_ENUMERATED_free(code);
            }
        }
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
        int compromise = reason == 1 || reason == 2; /* keyCompromise, cACompromise */
        if (at != 0 && at > notes->check_time && !(compromise && notes->compromise_any_time)) return 1;
        if (notes->revoked_depth < 0) {
            notes->revoked_depth = depth;
            notes->revoked_at = at;
            notes->revoked_reason = reason;
        }
        return 0;
    }
    return ok;
}

static inline void smg_X509_STORE_CTX_set_revocation_notes(X509_STORE_CTX *ctx, smg_revocation_notes *notes) {
    X509_STORE_CTX_set_ex_data(ctx, 0, notes);
    X509_STORE_CTX_set_verify_cb(ctx, smg_revocation_callback);
}

#endif
