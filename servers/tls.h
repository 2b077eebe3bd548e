/* tls.h -- OpenSSL 3 contexts for mailrig's servers and its client role, and the words a
 * transcript uses for a handshake.
 *
 * Server side: tls_server_ctx_new() (or tls_server_ctx_from_pki()) gives one SSL_CTX per
 * listener. Make SSL objects from it with SSL_new() (or bufferevent_openssl_socket_new() /
 * bufferevent_openssl_filter_new() for STARTTLS); the context picks the certificate by SNI.
 * Create contexts before forking workers: the session-ticket keys live in the context, so
 * workers created by fork() share them and a client can resume on any worker.
 *
 * Client side: tls_client_ctx_new() once, then per connection SSL_new() +
 * tls_client_set_host() before the handshake.
 *
 * Transcript words (each fits one line, printable ASCII, no CR/LF whatever the peer sent):
 *   tls_describe_session()  "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=imap.mail.me.com"
 *   tls_describe_failure()  "reason=\"certificate verify failed\" alert-sent=unknown_ca
 *                            verify=untrusted"
 *   tls_describe_verify()   "untrusted (unable to get local issuer certificate)"
 * To name "plaintext on implicit-TLS port" and "TLS handshake on STARTTLS port", peek at the
 * first bytes with proto/tlssniff.h before (or instead of) handing them to OpenSSL.
 *
 * Idle memory: every context sets SSL_MODE_RELEASE_BUFFERS, so an idle connection keeps no
 * record buffers. Measured (test_tls's idle_memory test counts OpenSSL's live heap through
 * CRYPTO_set_mem_functions() across 200 idle server connections, client side freed): 13.9 KB
 * per idle server connection after a TLS 1.3 handshake (12.9 KB after TLS 1.2), against
 * 47.2 KB without the mode -- the "about 14 KB / 47 KB". Whether the server has
 * already tried to read after the handshake makes no difference. Kernel socket buffers and
 * libevent's evbuffers come on top and are not counted here.
 *
 * Thread safety: contexts may be shared by threads once built (OpenSSL's rules). The describe
 * helpers drain the calling thread's OpenSSL error queue where they say so.
 */
#ifndef MAILRIG_SERVERS_TLS_H
#define MAILRIG_SERVERS_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "servers/pki.h"

/* Certificates one server context can hold; SNI chooses among them. */
#define TLS_MAX_CERTS (PKI_MAX_PROFILES + 1)

typedef struct tls_cert_files {
    const char *cert;  /* PEM: the leaf, then any intermediates */
    const char *key;   /* PEM private key, unencrypted (we never prompt for a passphrase) */
} tls_cert_files;

typedef struct tls_server_config {
    /* certs[0] is served when the client sends no SNI or a name no certificate covers (as
     * real servers do: the client's hostname check then fails). Otherwise the first
     * certificate whose SANs match the SNI name (wildcards per RFC 6125) is served. */
    const tls_cert_files *certs;
    size_t ncerts;     /* 1..TLS_MAX_CERTS */
    /* Protocol range, as OpenSSL constants (TLS1_2_VERSION...). 0 means TLS 1.2 for min and
     * TLS 1.3 for max. Below TLS 1.2, the context drops to security level 0, because OpenSSL 3
     * refuses TLS 1.0/1.1 (SHA-1 signatures) at the default level: a profile that emulates
     * an old server asks for it explicitly. */
    int min_version, max_version;
    /* Session tickets are on by default: real providers resume sessions and clients under test
     * do too; stateless tickets cost the server no memory per session (the server-side session
     * cache is off, so memory never grows with the number of past connections). Set to
     * disable resumption entirely, for a profile or a test that wants full handshakes. */
    int no_tickets;
} tls_server_config;

/* Build a server context: TLS_server_method, the version range, no renegotiation,
 * SSL_MODE_RELEASE_BUFFERS, alert tracking for tls_describe_failure(), and one certificate
 * per cfg->certs entry chosen by SNI. Every certificate is checked against its key.
 * Unexpected EOF stays an error (SSL_OP_IGNORE_UNEXPECTED_EOF is not set), so a transcript
 * can say that a client closed without close_notify.
 * Returns a context the caller frees with SSL_CTX_free() (it owns the per-certificate
 * contexts it switches to; they go when the last SSL made from it is freed), or NULL with err
 * as "<file>: <operation>: <OpenSSL reason>". Drains the OpenSSL error queue. */
SSL_CTX *tls_server_ctx_new(const tls_server_config *cfg, char *err, size_t errlen);

/* tls_server_ctx_new() over the files of a PKI from pki_ensure(): for PKI_WRONG_HOST the
 * wrong-host pair alone; otherwise variant v of profile `profile` first (NULL: the first
 * profile), then variant v of every other profile in pki, so SNI still picks by name.
 * opts gives the version range and tickets (its certs are ignored; NULL for defaults).
 * Reads the files under pki_read_lock(). Returns NULL with err filled, e.g. for an unknown
 * profile or a PKI without profiles. */
SSL_CTX *tls_server_ctx_from_pki(const pki_paths *pki, const char *profile, pki_variant v,
                                 const tls_server_config *opts, char *err, size_t errlen);

typedef struct tls_client_config {
    /* PEM trust anchors, e.g. pki_paths.ca_cert. Required unless insecure is set. */
    const char *ca_file;
    /* Tests only: complete the handshake whatever the certificate. Verification still runs
     * when ca_file is given, so tls_describe_verify() says what a careful client would have
     * refused. */
    int insecure;
    int min_version, max_version;  /* as in tls_server_config */
} tls_client_config;

/* Build a client context: TLS_client_method, the version range, SSL_VERIFY_PEER (unless
 * insecure), SSL_MODE_RELEASE_BUFFERS, alert tracking. Returns a context to SSL_CTX_free(),
 * or NULL with err filled (ca_file unreadable or holding no certificate, no ca_file without
 * insecure). Drains the OpenSSL error queue.
 * To resume a session later (SSL_get1_session / SSL_set_session), SSL_shutdown() the
 * connection before SSL_free(): OpenSSL marks a session unresumable when its connection is
 * freed without close_notify. */
SSL_CTX *tls_client_ctx_new(const tls_client_config *cfg, char *err, size_t errlen);

/* Say which server ssl (a client SSL, before the handshake) must prove to be: a DNS name
 * is sent as SNI and checked against the certificate's SANs (no partial wildcards); an IPv4
 * or IPv6 literal (RFC 6066 forbids it in SNI) is checked against IP SANs and no SNI is
 * sent. host may differ from the address connected to (connect to 127.0.0.1, verify
 * imap.mail.me.com). Returns 0, or -1 with err filled. */
int tls_client_set_host(SSL *ssl, const char *host, char *err, size_t errlen);

/* Describe a finished handshake in buf (n bytes, NUL-terminated, truncated to fit):
 * "<version> <IANA cipher name> sni=<name>" with sni=- when none was sent (server side: the
 * name the client asked for; client side: the name it sent), and " resumed" when the session
 * was resumed. Bytes of the name outside [A-Za-z0-9.*_-] are written as \xHH.
 * Returns the length the full text has (like snprintf). */
size_t tls_describe_session(const SSL *ssl, char *buf, size_t n);

/* Describe why a handshake (or a read/write) failed, for ssl_error = SSL_get_error(ssl, rc):
 *   reason="<OpenSSL reason, or strerror, or unexpected EOF>"
 *   then alert-sent=<RFC 8446 name> and alert-received=<name> when alerts went either way,
 *   then verify=<tls_verify_class_name()> when the peer's certificate failed verification.
 * Call it right after the failing call: it reads errno (for SSL_ERROR_SYSCALL) and consumes
 * the calling thread's OpenSSL error queue. Returns the length the full text has.
 * What OpenSSL 3.0 says in the cases the checks care about (pinned by test_tls):
 *   server, plaintext command on a TLS port   reason="wrong version number"
 *   server, "GET / HTTP/1.1" on a TLS port     reason="http request"
 *   server, client hung up mid-handshake       reason="unexpected eof while reading"
 *                                              alert-sent=decode_error
 *   server, client refused our certificate     reason="tlsv1 alert unknown ca"
 *                                              alert-received=unknown_ca (or bad_certificate,
 *                                              certificate_expired)
 *   client, untrusted / wrong-host / expired   reason="certificate verify failed"
 *                                              alert-sent=unknown_ca / bad_certificate /
 *                                              certificate_expired verify=<class>
 *   either, no common version                  reason="unsupported protocol"
 *                                              alert-sent=protocol_version */
size_t tls_describe_failure(const SSL *ssl, int ssl_error, char *buf, size_t n);

/* The same description, with the reason given by the caller: for carriers such as
 * libevent's bufferevent_openssl, which move OpenSSL's error queue into their own. */
size_t tls_describe_failure_reason(const SSL *ssl, const char *reason, char *buf, size_t n);

/* What verifying the peer's certificate concluded, in the words of the client checks. */
typedef enum tls_verify_class {
    TLS_VERIFY_OK = 0,
    TLS_VERIFY_UNTRUSTED,          /* no chain to a trusted CA (self-signed, unknown issuer) */
    TLS_VERIFY_HOSTNAME_MISMATCH,  /* valid chain, but not for the name (or IP) asked for */
    TLS_VERIFY_EXPIRED,
    TLS_VERIFY_NOT_YET_VALID,
    TLS_VERIFY_NO_CERTIFICATE,     /* the peer sent none (or no handshake happened) */
    TLS_VERIFY_OTHER,              /* anything else: bad signature, wrong purpose, ... */
} tls_verify_class;

/* Map an X509_V_* result (SSL_get_verify_result()) to a class. */
tls_verify_class tls_verify_classify(long x509_result);

/* "ok", "untrusted", "hostname-mismatch", "expired", "not-yet-valid", "no-certificate",
 * "other". */
const char *tls_verify_class_name(tls_verify_class c);

/* The verification result of ssl's peer certificate as "<class> (<X509 reason>)", or "ok".
 * Client side; on a server that asks no client certificate it says "ok" (or
 * "no-certificate (...)" before any handshake). Returns the class; writes buf (n bytes). */
tls_verify_class tls_describe_verify(const SSL *ssl, char *buf, size_t n);

/* The first fatal alert (or else the last warning) sent and received on ssl, as TLS alert
 * descriptions (0..255), or -1 for none. Recorded by every context made here. */
void tls_alerts(const SSL *ssl, int *sent, int *received);

/* RFC 8446 / RFC 5246 name of an alert description ("unknown_ca", "protocol_version", ...),
 * or NULL for a code without one (tls_describe_failure() then prints alert_<n>). */
const char *tls_alert_name(int desc);

/* Parse "1.0", "1.1", "1.2", "1.3" (also "TLSv1.2", "tls1.2", "TLSv1") into an OpenSSL
 * version constant; 0 for anything else. */
int tls_version_parse(const char *s);

/* "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3" (OpenSSL's spelling) or "unknown". */
const char *tls_version_name(int version);

#endif
