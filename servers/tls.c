/* tls.c -- server and client TLS contexts, SNI, transcript descriptions; see tls.h. */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED

#include "servers/errbuf.h"
#include "servers/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

/* ---------------------------------------------------------------------------------------- */
/* Errors and small helpers */

/* "<what>: <op>: <first OpenSSL error in full>", draining the queue. */
static void fail_ossl(char *err, size_t errlen, const char *what, const char *op)
{
    char why[256] = "no OpenSSL error recorded";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    errbuf_set(err, errlen, "%s: %s: %s", what, op, why);
}

/* Append to buf as snprintf would, tracking the length the whole text needs in *len. */
static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*len < n ? buf + *len : NULL, *len < n ? n - *len : 0, fmt, ap);
    va_end(ap);
    if (w > 0)
        *len += (size_t)w;
}

static int is_ip_literal(const char *s)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Per-context and per-connection data: ex_data indexes, made once per process */

/* The contexts a server context switches between by SNI. ctx[0] is the server context
 * itself (not owned: this table lives in its ex_data and dies with it); the rest are owned. */
typedef struct sni_table {
    size_t n;
    SSL_CTX *ctx[TLS_MAX_CERTS];
    X509 *leaf[TLS_MAX_CERTS];  /* owned by the matching ctx */
} sni_table;

static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int sni_index = -1, alert_index = -1;

static void sni_table_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    sni_table *t = ptr;
    if (!t)
        return;
    for (size_t i = 1; i < t->n; i++)
        SSL_CTX_free(t->ctx[i]);
    OPENSSL_free(t);
}

static void make_indexes(void)
{
    sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_table_free);
    alert_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int have_indexes(char *err, size_t errlen)
{
    if (CRYPTO_THREAD_run_once(&index_once, make_indexes) && sni_index >= 0
        && alert_index >= 0)
        return 1;
    fail_ossl(err, errlen, "tls", "allocate ex_data indexes");
    return 0;
}

/* Alerts are kept in the SSL's ex_data slot as a number, not a pointer, so tracking them
 * allocates nothing per connection beyond OpenSSL's ex_data array. Per direction, 16 bits:
 * description + 1 in bits 0..8 (0 = none) and bit 9 = fatal. Sent alerts in bits 0..15, received 16..31. */
enum { ALERT_FATAL_BIT = 1 << 9, ALERT_RECEIVED_SHIFT = 16 };

static void alert_callback(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_ALERT))
        return;
    int shift = (where & SSL_CB_WRITE) ? 0 : ALERT_RECEIVED_SHIFT;
    uintptr_t all = (uintptr_t)SSL_get_ex_data(ssl, alert_index);
    uintptr_t cur = (all >> shift) & 0xffff;
    if (cur & ALERT_FATAL_BIT)
        return;  /* the first fatal alert is the one that explains the failure */
    uintptr_t fatal = (ret >> 8) == SSL3_AL_FATAL ? ALERT_FATAL_BIT : 0;
    uintptr_t v = ((uintptr_t)(ret & 0xff) + 1) | fatal;
    all = (all & ~((uintptr_t)0xffff << shift)) | (v << shift);
    /* OpenSSL hands callbacks a const SSL; the object itself is ours to annotate. */
    SSL_set_ex_data((SSL *)(uintptr_t)ssl, alert_index, (void *)all);
}

void tls_alerts(const SSL *ssl, int *sent, int *received)
{
    uintptr_t all = alert_index >= 0 ? (uintptr_t)SSL_get_ex_data(ssl, alert_index) : 0;
    uintptr_t s = all & 0xffff, r = (all >> ALERT_RECEIVED_SHIFT) & 0xffff;
    *sent = s ? (int)(s & 0x1ff) - 1 : -1;
    *received = r ? (int)(r & 0x1ff) - 1 : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Contexts */

static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;  /* never prompt on the terminal for a key passphrase */
}

static int set_versions(SSL_CTX *ctx, int min, int max, char *err, size_t errlen)
{
    int lo = min ? min : TLS1_2_VERSION, hi = max ? max : TLS1_3_VERSION;
    if (lo > hi) {
        errbuf_set(err, errlen, "tls: minimum version %s is above maximum %s",
                tls_version_name(lo), tls_version_name(hi));
        return 0;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, lo) || !SSL_CTX_set_max_proto_version(ctx, hi)) {
        fail_ossl(err, errlen, "tls", "set protocol versions");
        return 0;
    }
    if (lo < TLS1_2_VERSION)
        SSL_CTX_set_security_level(ctx, 0);  /* see tls_server_config.min_version */
    return 1;
}

/* What every context made here has in common. */
static SSL_CTX *new_ctx(const SSL_METHOD *method, int min, int max, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new_ex(NULL, NULL, method);
    if (!ctx) {
        fail_ossl(err, errlen, "tls", "SSL_CTX_new");
        return NULL;
    }
    if (!set_versions(ctx, min, max, err, errlen)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Free the record buffers whenever they are empty: idle connections stay small. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_info_callback(ctx, alert_callback);
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    return ctx;
}

static int load_pair(SSL_CTX *ctx, const tls_cert_files *f, char *err, size_t errlen)
{
    if (!f->cert || !f->key) {
        errbuf_set(err, errlen, "tls: certificate entry without %s file", f->cert ? "key" : "cert");
        return 0;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1) {
        fail_ossl(err, errlen, f->cert, "load certificate chain");
        return 0;
    }
    int loaded = SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) == 1;
    unsigned long e = ERR_peek_last_error();
    int mismatch = !loaded && ERR_GET_LIB(e) == ERR_LIB_X509
                   && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH;
    if (!loaded && !mismatch) {
        fail_ossl(err, errlen, f->key, "load private key");
        return 0;
    }
    if (mismatch || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        errbuf_set(err, errlen, "%s: does not match the certificate in %s (regenerated while "
                "loading? retry)", f->key, f->cert);
        return 0;
    }
    return 1;
}

static SSL_CTX *new_server_ctx(const tls_server_config *cfg, const tls_cert_files *f,
                               char *err, size_t errlen)
{
    SSL_CTX *ctx = new_ctx(TLS_server_method(), cfg->min_version, cfg->max_version, err,
                           errlen);
    if (!ctx)
        return NULL;
    /* Client-initiated renegotiation only costs the server CPU (a classic DoS lever). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | (cfg->no_tickets ? SSL_OP_NO_TICKET : 0));
    /* Stateless tickets only: no per-session memory on the server (see tls.h). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (cfg->no_tickets)
        SSL_CTX_set_num_tickets(ctx, 0);
    if (!load_pair(ctx, f, err, errlen)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Serve the first certificate whose SANs cover the name the client asked for. */
static int sni_callback(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const sni_table *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name || !t)
        return SSL_TLSEXT_ERR_OK;
    int ip = is_ip_literal(name);  /* forbidden in SNI (RFC 6066), but some clients send it */
    for (size_t i = 0; i < t->n; i++) {
        int match = ip ? X509_check_ip_asc(t->leaf[i], name, 0) == 1
                       : X509_check_host(t->leaf[i], name, strlen(name), 0, NULL) == 1;
        if (match) {
            if (i > 0)
                SSL_set_SSL_CTX(ssl, t->ctx[i]);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *tls_server_ctx_new(const tls_server_config *cfg, char *err, size_t errlen)
{
    if (!have_indexes(err, errlen))
        return NULL;
    if (!cfg || !cfg->certs || cfg->ncerts < 1 || cfg->ncerts > TLS_MAX_CERTS) {
        errbuf_set(err, errlen, "tls: a server needs 1 to %d certificates (%zu given)",
                TLS_MAX_CERTS, cfg ? cfg->ncerts : (size_t)0);
        return NULL;
    }
    sni_table *t = OPENSSL_zalloc(sizeof *t);
    if (!t) {
        errbuf_set(err, errlen, "tls: out of memory");
        return NULL;
    }
    for (; t->n < cfg->ncerts; t->n++) {
        SSL_CTX *ctx = new_server_ctx(cfg, &cfg->certs[t->n], err, errlen);
        if (!ctx)
            break;
        t->ctx[t->n] = ctx;
        t->leaf[t->n] = SSL_CTX_get0_certificate(ctx);
    }
    SSL_CTX *main_ctx = t->n ? t->ctx[0] : NULL;
    if (t->n < cfg->ncerts || !SSL_CTX_set_ex_data(main_ctx, sni_index, t)) {
        if (t->n == cfg->ncerts)
            fail_ossl(err, errlen, "tls", "SSL_CTX_set_ex_data");
        sni_table_free(NULL, t, NULL, 0, 0, NULL);
        SSL_CTX_free(main_ctx);
        return NULL;
    }
    SSL_CTX_set_tlsext_servername_callback(main_ctx, sni_callback);
    SSL_CTX_set_tlsext_servername_arg(main_ctx, t);
    return main_ctx;
}

SSL_CTX *tls_server_ctx_from_pki(const pki_paths *pki, const char *profile, pki_variant v,
                                 const tls_server_config *opts, char *err, size_t errlen)
{
    tls_server_config cfg = opts ? *opts : (tls_server_config){0};
    tls_cert_files files[TLS_MAX_CERTS];
    cfg.certs = files;
    cfg.ncerts = 0;
    const pki_profile_paths *first = profile ? pki_find_profile(pki, profile)
                                             : (pki->nprofiles ? &pki->profiles[0] : NULL);
    if ((unsigned)v >= PKI_VARIANT_COUNT) {
        errbuf_set(err, errlen, "tls: unknown certificate variant %d", (int)v);
        return NULL;
    }
    if (!first && v != PKI_WRONG_HOST) {
        if (profile)
            errbuf_set(err, errlen, "tls: no profile '%s' in the PKI", profile);
        else
            errbuf_set(err, errlen, "tls: the PKI has no profile");
        return NULL;
    }
    if (v == PKI_WRONG_HOST) {
        files[cfg.ncerts++] = (tls_cert_files){pki->wrong_host.cert, pki->wrong_host.key};
    } else {
        files[cfg.ncerts++] = (tls_cert_files){first->pair[v].cert, first->pair[v].key};
        for (size_t i = 0; i < pki->nprofiles && cfg.ncerts < TLS_MAX_CERTS; i++)
            if (&pki->profiles[i] != first)
                files[cfg.ncerts++] = (tls_cert_files){pki->profiles[i].pair[v].cert,
                                                       pki->profiles[i].pair[v].key};
    }
    int lock = pki_read_lock(pki, err, errlen);
    if (lock < 0)
        return NULL;
    SSL_CTX *ctx = tls_server_ctx_new(&cfg, err, errlen);
    pki_read_unlock(lock);
    return ctx;
}

SSL_CTX *tls_client_ctx_new(const tls_client_config *cfg, char *err, size_t errlen)
{
    if (!have_indexes(err, errlen))
        return NULL;
    if (!cfg || (!cfg->ca_file && !cfg->insecure)) {
        errbuf_set(err, errlen, "tls: no CA file to verify the server against (give one, or "
                "ask for insecure mode explicitly)");
        return NULL;
    }
    SSL_CTX *ctx = new_ctx(TLS_client_method(), cfg->min_version, cfg->max_version, err,
                           errlen);
    if (!ctx)
        return NULL;
    if (cfg->ca_file && SSL_CTX_load_verify_file(ctx, cfg->ca_file) != 1) {
        fail_ossl(err, errlen, cfg->ca_file, "load CA certificates");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, cfg->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    return ctx;
}

int tls_client_set_host(SSL *ssl, const char *host, char *err, size_t errlen)
{
    char bare[64];
    size_t len = host ? strlen(host) : 0;
    if (!len) {
        errbuf_set(err, errlen, "tls: empty host name");
        return -1;
    }
    if (host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof bare) {
        memcpy(bare, host + 1, len - 2);  /* [::1] as in a URL */
        bare[len - 2] = '\0';
        host = bare;
    }
    if (is_ip_literal(host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
            fail_ossl(err, errlen, host, "set expected IP address");
            return -1;
        }
        return 0;
    }
    if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
        fail_ossl(err, errlen, host, "set server name");
        return -1;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Descriptions */

/* Write name (peer bytes) keeping [A-Za-z0-9.*_-] and escaping the rest as \xHH. */
static void append_name(char *buf, size_t n, size_t *len, const char *name)
{
    if (!name || !name[0]) {
        append(buf, n, len, "-");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'
                   || *p == '*';
        if (keep)
            append(buf, n, len, "%c", *p);
        else
            append(buf, n, len, "\\x%02x", *p);
    }
}

size_t tls_describe_session(const SSL *ssl, char *buf, size_t n)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    const char *cipher = c ? SSL_CIPHER_standard_name(c) : NULL;
    if (!cipher)
        cipher = c ? SSL_CIPHER_get_name(c) : "-";
    size_t len = 0;
    if (n)
        buf[0] = '\0';
    append(buf, n, &len, "%s %s sni=", SSL_get_version(ssl), cipher);
    append_name(buf, n, &len, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    if (SSL_session_reused(ssl))
        append(buf, n, &len, " resumed");
    return len;
}

/* The most telling reason for a failure: the first SSL-library error in the queue, else the
 * first error, else what ssl_error and errno say. Drains the queue. */
static void failure_reason(int ssl_error, char *out, size_t n)
{
    int saved_errno = errno;
    unsigned long first = 0, ssl_lib = 0, e;
    while ((e = ERR_get_error()) != 0) {
        if (!first)
            first = e;
        if (!ssl_lib && ERR_GET_LIB(e) == ERR_LIB_SSL)
            ssl_lib = e;
    }
    unsigned long pick = ssl_lib ? ssl_lib : first;
    const char *r = pick ? ERR_reason_error_string(pick) : NULL;
    if (r)
        snprintf(out, n, "%s", r);
    else if (pick)
        snprintf(out, n, "error:%08lX", pick);
    else if (ssl_error == SSL_ERROR_SYSCALL)
        snprintf(out, n, "%s", saved_errno ? strerror(saved_errno) : "unexpected EOF");
    else if (ssl_error == SSL_ERROR_ZERO_RETURN)
        snprintf(out, n, "peer sent close_notify");
    else if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE)
        snprintf(out, n, "handshake incomplete");
    else if (ssl_error == SSL_ERROR_NONE)
        snprintf(out, n, "no error");
    else
        snprintf(out, n, "SSL error %d", ssl_error);
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '\'';
}

static void append_alert(char *buf, size_t n, size_t *len, const char *key, int alert)
{
    if (alert < 0)
        return;
    const char *name = tls_alert_name(alert & 0xff);
    if (name)
        append(buf, n, len, " %s=%s", key, name);
    else
        append(buf, n, len, " %s=alert_%d", key, alert & 0xff);
}

size_t tls_describe_failure(const SSL *ssl, int ssl_error, char *buf, size_t n)
{
    char reason[256];
    failure_reason(ssl_error, reason, sizeof reason);
    return tls_describe_failure_reason(ssl, reason, buf, n);
}

size_t tls_describe_failure_reason(const SSL *ssl, const char *reason, char *buf, size_t n)
{
    size_t len = 0;
    if (n)
        buf[0] = '\0';
    append(buf, n, &len, "reason=\"%s\"", reason);
    int sent, received;
    tls_alerts(ssl, &sent, &received);
    append_alert(buf, n, &len, "alert-sent", sent);
    append_alert(buf, n, &len, "alert-received", received);
    long vr = SSL_get_verify_result(ssl);
    if (!SSL_is_server(ssl) && vr != X509_V_OK)
        append(buf, n, &len, " verify=%s", tls_verify_class_name(tls_verify_classify(vr)));
    return len;
}

tls_verify_class tls_verify_classify(long r)
{
    switch (r) {
    case X509_V_OK:
        return TLS_VERIFY_OK;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        return TLS_VERIFY_UNTRUSTED;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return TLS_VERIFY_HOSTNAME_MISMATCH;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return TLS_VERIFY_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return TLS_VERIFY_NOT_YET_VALID;
    }
    return TLS_VERIFY_OTHER;
}

const char *tls_verify_class_name(tls_verify_class c)
{
    switch (c) {
    case TLS_VERIFY_OK: return "ok";
    case TLS_VERIFY_UNTRUSTED: return "untrusted";
    case TLS_VERIFY_HOSTNAME_MISMATCH: return "hostname-mismatch";
    case TLS_VERIFY_EXPIRED: return "expired";
    case TLS_VERIFY_NOT_YET_VALID: return "not-yet-valid";
    case TLS_VERIFY_NO_CERTIFICATE: return "no-certificate";
    case TLS_VERIFY_OTHER: return "other";
    }
    return "other";
}

tls_verify_class tls_describe_verify(const SSL *ssl, char *buf, size_t n)
{
    /* The result first: after a failed verification OpenSSL keeps no peer certificate. */
    long r = SSL_get_verify_result(ssl);
    tls_verify_class c = tls_verify_classify(r);
    if (c != TLS_VERIFY_OK) {
        snprintf(buf, n, "%s (%s)", tls_verify_class_name(c), X509_verify_cert_error_string(r));
        return c;
    }
    if (!SSL_is_server(ssl) && !SSL_get0_peer_certificate(ssl)) {
        snprintf(buf, n, "no-certificate (the server presented none)");
        return TLS_VERIFY_NO_CERTIFICATE;
    }
    snprintf(buf, n, "ok");
    return c;
}

const char *tls_alert_name(int desc)
{
    switch (desc) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 21: return "decryption_failed";
    case 22: return "record_overflow";
    case 30: return "decompression_failure";
    case 40: return "handshake_failure";
    case 41: return "no_certificate";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 60: return "export_restriction";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 100: return "no_renegotiation";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 111: return "certificate_unobtainable";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 114: return "bad_certificate_hash_value";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    }
    return NULL;
}

int tls_version_parse(const char *s)
{
    if (!s)
        return 0;
    if (!strncasecmp(s, "tlsv", 4))
        s += 4;
    else if (!strncasecmp(s, "tls", 3))
        s += 3;
    if (!strcmp(s, "1") || !strcmp(s, "1.0"))
        return TLS1_VERSION;
    if (!strcmp(s, "1.1"))
        return TLS1_1_VERSION;
    if (!strcmp(s, "1.2"))
        return TLS1_2_VERSION;
    if (!strcmp(s, "1.3"))
        return TLS1_3_VERSION;
    return 0;
}

const char *tls_version_name(int version)
{
    switch (version) {
    case TLS1_VERSION: return "TLSv1";
    case TLS1_1_VERSION: return "TLSv1.1";
    case TLS1_2_VERSION: return "TLSv1.2";
    case TLS1_3_VERSION: return "TLSv1.3";
    }
    return "unknown";
}
