/* test_checks.c -- every client-behaviour check over hand-written transcripts: for each check
 * one that passes, one or more that fail, and the edge cases (STARTTLS offered but not used,
 * a retry after a temporary failure, a CRLF split across records, redacted credentials...).
 * Each case also asserts a piece of the one-line reason, which must name the connection and
 * the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Table rows leave their trailing options out. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "harness/checks.h"
#include "tests/unit/support.h"

/* Opens of the usual connection kinds (conn 1). */
#define OPEN_IMAP143 "0.000 conn 1 open 127.0.0.1:10143 mode=starttls proto=imap port=143 peer=127.0.0.1:4000\n"
#define OPEN_IMAP993 "0.000 conn 1 open 127.0.0.1:10993 mode=implicit proto=imap port=993 peer=127.0.0.1:4000 cert=normal\n"
#define OPEN_SMTP587 "0.000 conn 1 open 127.0.0.1:10587 mode=starttls proto=smtp port=587 peer=127.0.0.1:4000\n"
#define OPEN_POP110 "0.000 conn 1 open 127.0.0.1:10110 mode=starttls proto=pop3 port=110 peer=127.0.0.1:4000\n"
#define OPEN_POP995 "0.000 conn 1 open 127.0.0.1:10995 mode=implicit proto=pop3 port=995 peer=127.0.0.1:4000\n"
#define TLS_OK(t) t " conn 1 tls ok TLSv1.3 TLS_AES_256_GCM_SHA384 sni=imap.example.com\n"

/* An IMAP session on 143 up to TLS, the capability list asked again under TLS. */
#define IMAP_STARTTLS                                                                      \
    OPEN_IMAP143                                                                           \
    "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\n"           \
    "0.002 conn 1 C: a1 STARTTLS\n"                                                        \
    "0.003 conn 1 S: a1 OK Begin TLS negotiation now\n" TLS_OK("0.004")                    \
    "0.005 conn 1 C: a2 CAPABILITY\n"                                                      \
    "0.006 conn 1 S: * CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\n"                       \
    "0.007 conn 1 S: a2 OK done\n"

/* An SMTP session on 587 up to TLS and a second EHLO. */
#define SMTP_STARTTLS                                                                      \
    OPEN_SMTP587                                                                           \
    "0.001 conn 1 S: 220 smtp.example.com ESMTP\n"                                         \
    "0.002 conn 1 C: EHLO client.example\n"                                                \
    "0.003 conn 1 S: 250-smtp.example.com\n"                                               \
    "0.003 conn 1 S: 250-PIPELINING\n"                                                     \
    "0.003 conn 1 S: 250 STARTTLS\n"                                                       \
    "0.004 conn 1 C: STARTTLS\n"                                                           \
    "0.005 conn 1 S: 220 2.0.0 go ahead\n" TLS_OK("0.006")                                 \
    "0.007 conn 1 C: EHLO client.example\n"                                                \
    "0.008 conn 1 S: 250-smtp.example.com\n"                                               \
    "0.008 conn 1 S: 250 AUTH PLAIN LOGIN\n"

/* A plaintext SMTP session whose EHLO offers no STARTTLS. */
#define SMTP_NO_STARTTLS                                                                   \
    OPEN_SMTP587                                                                           \
    "0.001 conn 1 S: 220 smtp.example.com ESMTP\n"                                         \
    "0.002 conn 1 C: EHLO client.example\n"                                                \
    "0.003 conn 1 S: 250-smtp.example.com\n"                                               \
    "0.003 conn 1 S: 250 AUTH PLAIN LOGIN\n"

#define POP_GREET "0.001 conn 1 S: +OK POP3 ready\n"

enum { PASS = 1, FAIL = 0 };

typedef struct tcase {
    const char *name;
    sc_check_id id;
    int expect;                /* PASS or FAIL */
    const char *want;          /* a piece of the reason */
    const char *text;          /* the transcript */
    const char *n;             /* parameter n=, or NULL */
    const char *form;          /* parameter form=, or NULL */
    sc_role role;              /* default SC_ROLE_SERVER */
    const char *imap_forms;    /* ctx username_form[imap] */
} tcase;

static const tcase cases[] = {
    /* ---- no-credentials-before-tls ---- */
    {"login after starttls", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, PASS, "LOGIN password sent under TLS",
     IMAP_STARTTLS "0.010 conn 1 C: a3 LOGIN emily secret\n0.011 conn 1 S: a3 OK hi\n"},
    {"login before tls", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "conn 1 line 3 (0.002s): LOGIN password sent before TLS",
     OPEN_IMAP143 "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n"
                  "0.002 conn 1 C: a1 LOGIN emily <redacted>\n"
                  "0.003 conn 1 S: a1 NO [PRIVACYREQUIRED] TLS first\n"},
    {"redacted malformed login", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "before TLS",
     OPEN_IMAP143 "0.001 conn 1 S: * OK ready\n0.002 conn 1 C: a1 LOGIN <redacted>\n"},
    {"smtp auth plain ir before tls", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "AUTH PLAIN credentials sent before TLS",
     SMTP_NO_STARTTLS "0.004 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n0.005 conn 1 S: 235 ok\n"},
    {"smtp auth redacted whole", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "line 6",
     SMTP_NO_STARTTLS "0.004 conn 1 C: AUTH <redacted>\n0.005 conn 1 S: 535 no\n"},
    {"smtp auth login password line", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "line 10 (0.008s): AUTH LOGIN credentials",
     SMTP_NO_STARTTLS "0.004 conn 1 C: AUTH LOGIN\n0.005 conn 1 S: 334 VXNlcm5hbWU6\n"
                      "0.006 conn 1 C: dXNlcg==\n0.007 conn 1 S: 334 UGFzc3dvcmQ6\n"
                      "0.008 conn 1 C: <redacted>\n0.009 conn 1 S: 235 ok\n"},
    {"auth refused before any secret", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, PASS, "nothing to judge",
     SMTP_NO_STARTTLS "0.004 conn 1 C: AUTH PLAIN\n0.005 conn 1 S: 530 5.7.0 Must issue a STARTTLS command first\n"
                      "0.006 conn 1 C: QUIT\n"},
    {"pop3 user pass before tls", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "PASS password sent before TLS",
     OPEN_POP110 POP_GREET "0.002 conn 1 C: USER emily\n0.003 conn 1 S: +OK\n"
                 "0.004 conn 1 C: PASS <redacted>\n0.005 conn 1 S: +OK\n"},
    {"pop3 implicit tls", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, PASS, "PASS password sent under TLS",
     OPEN_POP995 TLS_OK("0.001") POP_GREET "0.002 conn 1 C: USER emily\n0.003 conn 1 S: +OK\n"
                 "0.004 conn 1 C: PASS secret\n0.005 conn 1 S: +OK\n"},
    {"starttls offered not used, no credentials", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, PASS, "nothing to judge",
     OPEN_IMAP143 "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n"
                  "0.002 conn 1 C: a1 LOGOUT\n0.003 conn 1 S: * BYE\n0.003 conn 1 S: a1 OK bye\n"},
    {"mock event only", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, FAIL, "credentials-before-tls mech=LOGIN",
     OPEN_IMAP143 "0.002 conn 1 event credentials-before-tls mech=LOGIN\n"},

    /* ---- no-plaintext-after-starttls ---- */
    {"clean starttls", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, PASS, "nothing pipelined after STARTTLS (line 3)",
     IMAP_STARTTLS},
    /* a scripted server that answers STARTTLS but never does the handshake: the client's
     * ClientHello is the handshake starting, not plaintext (nor strict-syntax material) */
    {"client hello after starttls, no handshake", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, PASS,
     "line 9 (0.006s): the client began the TLS handshake right after the STARTTLS reply (line 6)",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 220 go\n"
                      "0.005 conn 1 S: 250-injected\n"
                      "0.006 conn 1 C| \\x16\\x03\\x01\\x02\\0\\x01\\0\\x01\\xfc\\x03\\x03\\xb2A\\x1d\n"
                      "0.006 conn 1 C| \\0\\x16\\0\\x14\\0\\x1d\\0\\x17\\n\\x01\\x02\n"
                      "0.007 conn 1 close peer-closed\n"},
    {"client hello after starttls, strict", SC_CHECK_STRICT_SYNTAX, PASS, "judged",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 220 go\n"
                      "0.006 conn 1 C| \\x16\\x03\\x01\\x02\\0\\x01\\0\\x01\\xfc\\x03\\x03\\n\\r\\n\n"},
    {"plaintext then client hello", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, FAIL,
     "'NOOP' sent in plaintext after STARTTLS",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 220 go\n0.005 conn 1 C: NOOP\n"
                      "0.006 conn 1 C| \\x16\\x03\\x01\\x02\\0\\x01\\0\\x01\\xfc\\x03\\x03\n"},
    {"pipelined command", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, FAIL, "line 4 (0.002s): 'a2 CAPABILITY' sent in plaintext after STARTTLS",
     OPEN_IMAP143 "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n"
                  "0.002 conn 1 C: a1 STARTTLS\n0.002 conn 1 C: a2 CAPABILITY\n"
                  "0.003 conn 1 S: a1 OK go\n" TLS_OK("0.004")},
    {"partial line pipelined", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, FAIL, "4 bytes ('EHLO') pipelined",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 220 go\n0.005 conn 1 C| EHLO\n" TLS_OK("0.006")},
    {"carrier discarded", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, FAIL, "starttls-discarded-plaintext bytes=22",
     OPEN_SMTP587 "0.004 conn 1 event starttls-discarded-plaintext bytes=22\n" TLS_OK("0.005")},
    {"injection used", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, FAIL, "first command under TLS was AUTH",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 220 go ahead\n0.005 conn 1 S: 250-injected\n"
                      TLS_OK("0.006") "0.007 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n"},
    {"injection ignored", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, PASS, "ignored it and began again with EHLO",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 220 go ahead\n0.005 conn 1 S| 250-injected\\r\\n\n"
                      TLS_OK("0.006") "0.007 conn 1 C: EHLO client.example\n"},
    {"starttls refused then plaintext", SC_CHECK_NO_PLAINTEXT_AFTER_STARTTLS, PASS, "nothing to judge",
     SMTP_NO_STARTTLS "0.004 conn 1 C: STARTTLS\n0.005 conn 1 S: 454 4.7.0 TLS not available\n"
                      "0.006 conn 1 C: QUIT\n"},

    /* ---- no-starttls-stripping ---- */
    {"stripped, auth in plaintext", SC_CHECK_NO_STARTTLS_STRIPPING, FAIL, "line 6 (0.004s): STARTTLS was not offered and the client sent AUTH PLAIN",
     SMTP_NO_STARTTLS "0.004 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n"},
    {"stripped, mail in plaintext", SC_CHECK_NO_STARTTLS_STRIPPING, FAIL, "MAIL FROM (mail)",
     SMTP_NO_STARTTLS "0.004 conn 1 C: MAIL FROM:<a@example.com>\n"},
    {"stripped imap login", SC_CHECK_NO_STARTTLS_STRIPPING, FAIL, "LOGIN credentials",
     OPEN_IMAP143 "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n0.002 conn 1 C: a1 LOGIN emily secret\n"},
    {"starttls used", SC_CHECK_NO_STARTTLS_STRIPPING, PASS, "sent under TLS",
     SMTP_STARTTLS "0.009 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n0.010 conn 1 S: 235 ok\n"},
    {"not offered, client gave up", SC_CHECK_NO_STARTTLS_STRIPPING, PASS, "nothing to judge",
     SMTP_NO_STARTTLS "0.004 conn 1 C: QUIT\n0.005 conn 1 S: 221 bye\n"},

    /* ---- rejects-untrusted-certificate ---- */
    {"accepted untrusted", SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, FAIL, "accepted the untrusted certificate",
     "0.000 conn 1 open 127.0.0.1:10993 mode=implicit proto=imap port=993 peer=x cert=untrusted\n" TLS_OK("0.001")
     "0.002 conn 1 S: * OK ready\n0.003 conn 1 C: a1 LOGIN emily <redacted>\n"},
    {"refused untrusted", SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, PASS, "refused the untrusted certificate",
     "0.000 conn 1 open 127.0.0.1:10993 mode=implicit proto=imap port=993 peer=x cert=untrusted\n"
     "0.001 conn 1 tls fail handshake reason=\"tlsv1 alert unknown ca\" alert-received=unknown_ca\n"
     "0.002 conn 1 close tls-handshake-failed\n"},
    {"expired, handshake then left", SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, PASS, "sent nothing",
     "0.000 conn 1 open 127.0.0.1:10465 mode=implicit proto=smtp port=465 peer=x cert=expired\n" TLS_OK("0.001")
     "0.002 conn 1 S: 220 hi\n0.003 conn 1 close peer-closed\n"},
    {"wrong host over starttls", SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, FAIL, "wrong-host certificate",
     "0.000 conn 1 open 127.0.0.1:10587 mode=starttls proto=smtp port=587 peer=x cert=wrong-host\n"
     "0.001 conn 1 S: 220 hi\n0.002 conn 1 C: EHLO x\n0.003 conn 1 S: 250 STARTTLS\n0.004 conn 1 C: STARTTLS\n"
     "0.005 conn 1 S: 220 go\n" TLS_OK("0.006") "0.007 conn 1 C: EHLO x\n"},
    {"normal certificate", SC_CHECK_REJECTS_UNTRUSTED_CERTIFICATE, PASS, "nothing to judge",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 S: * OK ready\n0.003 conn 1 C: a1 LOGOUT\n"},

    /* ---- no-implicit-tls-on-starttls-port ---- */
    {"carrier saw a hello", SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT, FAIL, "TLS ClientHello on port 587",
     OPEN_SMTP587 "0.001 conn 1 S: 220 hi\n0.002 conn 1 event tls-handshake-on-starttls-port\n"},
    {"scripted hello bytes", SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT, FAIL, "line 3 (0.002s): the client opened with a TLS ClientHello",
     OPEN_SMTP587 "0.001 conn 1 S: 220 hi\n0.002 conn 1 C| \\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\x00\\xa1\\x03\\x03\n"},
    {"plaintext first", SC_CHECK_NO_IMPLICIT_TLS_ON_STARTTLS_PORT, PASS, "spoke plaintext first on port 587",
     SMTP_NO_STARTTLS},

    /* ---- no-plaintext-on-implicit-tls-port ---- */
    {"carrier saw plaintext", SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, FAIL, "plaintext-on-implicit-tls-port answer=close",
     OPEN_IMAP993 "0.001 conn 1 event plaintext-on-implicit-tls-port answer=close\n"},
    {"scripted plaintext", SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, FAIL, "line 2 (0.001s): the client sent plaintext to implicit-TLS port 995",
     OPEN_POP995 "0.001 conn 1 C: CAPA\n"},
    {"tls first", SC_CHECK_NO_PLAINTEXT_ON_IMPLICIT_TLS_PORT, PASS, "TLS came first on implicit-TLS port 993",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 S: * OK ready\n0.003 conn 1 C: a1 NOOP\n"},

    /* ---- offered-mechanisms-only ---- */
    {"offered plain", SC_CHECK_OFFERED_MECHANISMS_ONLY, PASS, "AUTH PLAIN was offered",
     SMTP_STARTTLS "0.009 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n"},
    {"ntlm not offered", SC_CHECK_OFFERED_MECHANISMS_ONLY, FAIL, "AUTH NTLM, but the server offered only: PLAIN LOGIN",
     SMTP_STARTTLS "0.009 conn 1 C: AUTH NTLM TlRMTVNTUAABAAAA\n"},
    {"no list at all", SC_CHECK_OFFERED_MECHANISMS_ONLY, FAIL, "before the server listed any mechanism",
     OPEN_SMTP587 "0.001 conn 1 S: 220 hi\n0.002 conn 1 C: AUTH LOGIN\n"},
    {"list from before starttls", SC_CHECK_OFFERED_MECHANISMS_ONLY, FAIL, "since TLS started",
     OPEN_IMAP143 "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\n"
                  "0.002 conn 1 C: a1 STARTTLS\n0.003 conn 1 S: a1 OK go\n" TLS_OK("0.004")
                  "0.005 conn 1 C: a2 AUTHENTICATE PLAIN AGVtaWx5AHNlY3JldA==\n"},
    {"greeting capability", SC_CHECK_OFFERED_MECHANISMS_ONLY, PASS, "AUTH PLAIN was offered",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n"
                  "0.003 conn 1 C: a1 AUTHENTICATE PLAIN\n0.004 conn 1 S: + \n0.005 conn 1 C: AGVtaWx5AHNlY3JldA==\n"
                  "0.006 conn 1 S: a1 OK done\n"},
    {"login while logindisabled", SC_CHECK_OFFERED_MECHANISMS_ONLY, FAIL, "LOGINDISABLED",
     OPEN_IMAP143 "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\n"
                  "0.002 conn 1 C: a1 LOGIN emily secret\n"},
    {"pop3 user not in capa", SC_CHECK_OFFERED_MECHANISMS_ONLY, FAIL, "CAPA did not list USER",
     OPEN_POP995 TLS_OK("0.001") POP_GREET "0.002 conn 1 C: CAPA\n0.003 conn 1 S: +OK\n"
                 "0.003 conn 1 S: SASL PLAIN\n0.003 conn 1 S: .\n0.004 conn 1 C: USER emily\n"},
    {"pop3 sasl offered", SC_CHECK_OFFERED_MECHANISMS_ONLY, PASS, "AUTH PLAIN was offered",
     OPEN_POP995 TLS_OK("0.001") POP_GREET "0.002 conn 1 C: CAPA\n0.003 conn 1 S: +OK\n"
                 "0.003 conn 1 S: SASL PLAIN\n0.003 conn 1 S: .\n0.004 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n"},
    {"mock event", SC_CHECK_OFFERED_MECHANISMS_ONLY, FAIL, "mech-not-offered mech=NTLM",
     OPEN_IMAP993 "0.003 conn 1 event mech-not-offered mech=NTLM\n"},

    /* ---- username-form ---- */
    {"local as required", SC_CHECK_USERNAME_FORM, PASS, "LOGIN user 'emily' has the local form",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN emily secret\n", NULL, "local"},
    {"full where local required", SC_CHECK_USERNAME_FORM, FAIL, "LOGIN user 'emily@icloud.com' has the full form",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN \"emily@icloud.com\" <redacted>\n", NULL, "local"},
    {"profile form from ctx", SC_CHECK_USERNAME_FORM, FAIL, "(profile) wants local",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN emily@icloud.com secret\n", NULL, NULL,
     SC_ROLE_SERVER, "local"},
    {"profile accepts both", SC_CHECK_USERNAME_FORM, PASS, "has the full form",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN emily@icloud.com secret\n", NULL, NULL,
     SC_ROLE_SERVER, "local|full"},
    {"redacted plain message", SC_CHECK_USERNAME_FORM, FAIL, "AUTH PLAIN user 'emily@icloud.com'",
     SMTP_STARTTLS "0.009 conn 1 C: AUTH PLAIN AGVtaWx5QGljbG91ZC5jb20APHJlZGFjdGVkPg==\n", NULL, "local"},
    {"mock auth event", SC_CHECK_USERNAME_FORM, FAIL, "user 'emily@icloud.com' has the full form; imap wants local",
     OPEN_IMAP993 "0.004 conn 1 event auth-wrong-username-form mech=LOGIN user=emily@icloud.com form=full expected=local tls=1 attempt=1\n"},
    {"unknown requirement", SC_CHECK_USERNAME_FORM, FAIL, "cannot judge",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN emily secret\n"},
    {"no login", SC_CHECK_USERNAME_FORM, PASS, "nothing to judge", OPEN_IMAP993 TLS_OK("0.001")},

    /* ---- max-auth-retries ---- */
    {"one retry allowed", SC_CHECK_MAX_AUTH_RETRIES, PASS, "retry 1 of 1 allowed",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN emily bad\n0.003 conn 1 S: a1 NO [AUTHENTICATIONFAILED] no\n"
                  "0.004 conn 1 C: a2 LOGIN emily bad\n0.005 conn 1 S: a2 NO [AUTHENTICATIONFAILED] no\n", "1"},
    {"retries on new connections", SC_CHECK_MAX_AUTH_RETRIES, FAIL, "conn 3 line 11 (0.030s): authentication retry 2 after the definite failure at line 4",
     "0.000 conn 1 open a mode=implicit proto=pop3 port=995\n0.001 conn 1 S: +OK hi\n0.001 conn 1 C: USER emily\n"
     "0.002 conn 1 S: -ERR [AUTH] no\n"
     "0.020 conn 2 open a mode=implicit proto=pop3 port=995\n0.021 conn 2 S: +OK hi\n0.021 conn 2 C: USER emily\n"
     "0.022 conn 2 S: +OK\n"
     "0.030 conn 3 open a mode=implicit proto=pop3 port=995\n0.030 conn 3 S: +OK hi\n0.030 conn 3 C: USER emily\n", "1"},
    {"temporary failures", SC_CHECK_MAX_AUTH_RETRIES, PASS, "attempt succeeded",
     OPEN_IMAP993 "0.002 conn 1 C: a1 LOGIN emily pw\n0.003 conn 1 S: a1 NO [UNAVAILABLE] try later\n"
                  "0.004 conn 1 C: a2 LOGIN emily pw\n0.005 conn 1 S: a2 NO [UNAVAILABLE] try later\n"
                  "0.006 conn 1 C: a3 LOGIN emily pw\n0.007 conn 1 S: a3 OK\n", "0"},
    {"smtp 535 then again", SC_CHECK_MAX_AUTH_RETRIES, FAIL, "line 15 (0.011s): authentication retry 1 after the definite failure at line 14",
     SMTP_STARTTLS "0.009 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n0.010 conn 1 S: 535 5.7.8 no\n"
                   "0.011 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n", "0"},
    {"smtp 454 then again", SC_CHECK_MAX_AUTH_RETRIES, PASS, "judged, all fine",
     SMTP_STARTTLS "0.009 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n0.010 conn 1 S: 454 4.7.0 later\n"
                   "0.011 conn 1 C: AUTH PLAIN AGVtaWx5AHNlY3JldA==\n", "0"},
    {"pop3 sys/temp", SC_CHECK_MAX_AUTH_RETRIES, PASS, "judged",
     OPEN_POP995 POP_GREET "0.002 conn 1 C: USER emily\n0.003 conn 1 S: +OK\n0.004 conn 1 C: PASS x\n"
                 "0.005 conn 1 S: -ERR [SYS/TEMP] later\n0.006 conn 1 C: USER emily\n", "0"},
    {"missing n", SC_CHECK_MAX_AUTH_RETRIES, FAIL, "needs the parameter n=", OPEN_IMAP993},

    /* ---- no-bare-lf ---- */
    {"crlf split across records", SC_CHECK_NO_BARE_LF, PASS, "client lines end in CRLF",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C| a1 NOOP\\r\n0.003 conn 1 C| \\n\n"},
    {"bare lf command", SC_CHECK_NO_BARE_LF, FAIL, "line 3 (0.002s): client line 'a1 NOOP' ends in a bare LF",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C| a1 NOOP\\n\n"},
    {"bare lf in data (smuggling)", SC_CHECK_NO_BARE_LF, FAIL, "'.' ends in a bare LF",
     SMTP_STARTTLS "0.009 conn 1 C: MAIL FROM:<a@example.com>\n0.010 conn 1 S: 250 ok\n"
                   "0.011 conn 1 C: DATA\n0.012 conn 1 S: 354 go\n0.013 conn 1 C: Subject: x\n"
                   "0.014 conn 1 C| .\\n\n"},
    {"client role judges the server", SC_CHECK_NO_BARE_LF, FAIL, "server line '* OK hi'",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 S| * OK hi\\n\n0.003 conn 1 C| a1 NOOP\\n\n", NULL, NULL,
     SC_ROLE_CLIENT},
    {"literal payload exempt", SC_CHECK_NO_BARE_LF, PASS, "CRLF",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 APPEND INBOX {6}\n0.003 conn 1 S: + go\n"
                  "0.004 conn 1 C| ab\\ncde\\r\\n\n"},

    /* ---- max-line-length ---- */
    {"over the limit", SC_CHECK_MAX_LINE_LENGTH, FAIL, "a client line of 29 bytes, over the limit of 20",
     SMTP_STARTTLS "0.009 conn 1 C: MAIL FROM:<abcde@example.com>\n", "20"},
    {"within the limit", SC_CHECK_MAX_LINE_LENGTH, PASS, "client lines within 510 bytes", SMTP_STARTTLS, "0"},
    {"mock saw a long line", SC_CHECK_MAX_LINE_LENGTH, FAIL, "line-too-long limit=510",
     OPEN_SMTP587 "0.001 conn 1 event line-too-long limit=510\n", "0"},
    {"data body lines exempt", SC_CHECK_MAX_LINE_LENGTH, PASS, "within 510",
     SMTP_STARTTLS "0.009 conn 1 C: DATA\n0.010 conn 1 S: 354 go\n0.011 conn 1 C: "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
     "0.012 conn 1 C: .\n0.013 conn 1 S: 250 queued\n", "0"},

    /* ---- strict-syntax ---- */
    {"well-formed", SC_CHECK_STRICT_SYNTAX, PASS, "well-formed",
     IMAP_STARTTLS "0.010 conn 1 C: a3 LOGIN emily <redacted>\n"},
    {"space after colon", SC_CHECK_STRICT_SYNTAX, FAIL, "'MAIL FROM: <a@example.com>' fails the strict parser",
     SMTP_STARTTLS "0.009 conn 1 C: MAIL FROM: <a@example.com>\n"},
    {"redacted literal password", SC_CHECK_STRICT_SYNTAX, PASS, "judged",
     OPEN_IMAP993 TLS_OK("0.001") "0.002 conn 1 C: a1 LOGIN emily {6}\n0.003 conn 1 S: + go\n"
                  "0.004 conn 1 C: <redacted>\n0.005 conn 1 S: a1 OK\n0.006 conn 1 C: a2 NOOP\n"},
    {"server replies in the client role", SC_CHECK_STRICT_SYNTAX, FAIL, "reply '250-a",
     OPEN_SMTP587 "0.001 conn 1 S: 220 hi\n0.002 conn 1 C: EHLO x\n0.003 conn 1 S: 250-a\n0.003 conn 1 S: 251 b\n",
     NULL, NULL, SC_ROLE_CLIENT},
    {"mock strict event", SC_CHECK_STRICT_SYNTAX, FAIL, "strict-violation rule=command",
     OPEN_IMAP993 "0.001 conn 1 event strict-violation rule=command code=syntax offset=3\n"},
    {"pop3 command", SC_CHECK_STRICT_SYNTAX, FAIL, "'user emily ' fails",
     OPEN_POP995 TLS_OK("0.001") POP_GREET "0.002 conn 1 C: user emily \n"},

    /* ---- unreadable transcripts ---- */
    {"garbage", SC_CHECK_NO_BARE_LF, FAIL, "cannot be read: line 2", OPEN_IMAP993 "garbage here\n"},
    {"empty", SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, PASS, "nothing to judge", ""},
};

static int run_case(const tcase *tc)
{
    sc_check_param params[2];
    size_t np = 0;
    if (tc->n)
        params[np++] = (sc_check_param){"n", tc->n, strtol(tc->n, NULL, 10)};
    if (tc->form)
        params[np++] = (sc_check_param){"form", tc->form, 0};
    check_ctx ctx = {.role = tc->role ? tc->role : SC_ROLE_SERVER};
    ctx.username_form[SC_PROTO_IMAP] = tc->imap_forms;
    size_t n = strlen(tc->text);
    char *copy = guard_dup(tc->text, n); /* an over-read faults at once */
    char reason[512];
    int r = check_eval(tc->id, params, np, &ctx, copy, n, reason, sizeof reason);
    guard_free(copy, n);
    if (r != tc->expect || !strstr(reason, tc->want)) {
        print_error("case '%s' (%s): got %s \"%s\", want %s with \"%s\"\n", tc->name,
                    sc_checks[tc->id].name, r ? "pass" : "fail", reason,
                    tc->expect ? "pass" : "fail", tc->want);
        return 1;
    }
    assert_null(strchr(reason, '\n'));
    return 0;
}

static void test_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bad += run_case(&cases[i]);
    assert_int_equal(bad, 0);
}

/* Every check has a failing and a passing case in the table. */
static void test_table_covers_every_check(void **state)
{
    (void)state;
    for (int id = 0; id < SC_CHECK__COUNT; id++) {
        int pass = 0, failing = 0;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (cases[i].id == (sc_check_id)id && !strstr(cases[i].want, "cannot be read"))
                cases[i].expect ? pass++ : failing++;
        if (!pass || !failing) {
            print_error("check %s lacks a %s case\n", sc_checks[id].name, pass ? "failing" : "passing");
            fail();
        }
    }
}

/* Feeding the same transcript with the records split differently does not change a verdict:
 * a command written byte by byte as C| records is the same command. */
static void test_byte_by_byte(void **state)
{
    (void)state;
    const char *cmd = "a1 LOGIN emily secret\r\n";
    char text[4096];
    size_t k = (size_t)snprintf(text, sizeof text, "%s", OPEN_IMAP143
                                "0.001 conn 1 S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n");
    for (const char *p = cmd; *p; p++) {
        if (*p == '\r')
            k += (size_t)snprintf(text + k, sizeof text - k, "0.002 conn 1 C| \\r\n");
        else if (*p == '\n')
            k += (size_t)snprintf(text + k, sizeof text - k, "0.002 conn 1 C| \\n\n");
        else
            k += (size_t)snprintf(text + k, sizeof text - k, "0.002 conn 1 C| %c\n", *p);
    }
    char reason[512];
    assert_int_equal(check_eval(SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, NULL, 0, NULL, text, k, reason,
                                sizeof reason),
                     0);
    assert_non_null(strstr(reason, "LOGIN password sent before TLS"));
    assert_int_equal(check_eval(SC_CHECK_NO_BARE_LF, NULL, 0, NULL, text, k, reason, sizeof reason), 1);
}

/* A tiny reason buffer is still terminated; NULL text is an empty transcript. */
static void test_small_buffers(void **state)
{
    (void)state;
    char reason[8];
    const char *t = OPEN_IMAP143 "0.002 conn 1 C: a1 LOGIN emily secret\n";
    assert_int_equal(check_eval(SC_CHECK_NO_CREDENTIALS_BEFORE_TLS, NULL, 0, NULL, t, strlen(t),
                                reason, sizeof reason),
                     0);
    assert_int_equal(strlen(reason), 7);
    assert_int_equal(check_eval(SC_CHECK_NO_BARE_LF, NULL, 0, NULL, NULL, 0, reason, sizeof reason), 1);
    assert_int_equal(check_eval(SC_CHECK__COUNT, NULL, 0, NULL, "", 0, NULL, 0), 0);
}

/* A line that never ends is judged by its length and dropped, not kept whole. */
static void test_endless_line(void **state)
{
    (void)state;
    size_t n = 3 << 20;
    char *t = malloc(n + 200);
    assert_non_null(t);
    size_t k = (size_t)snprintf(t, 200, "%s0.001 conn 1 C| ", OPEN_SMTP587);
    memset(t + k, 'x', n);
    t[k + n] = '\n';
    char reason[512];
    assert_int_equal(check_eval(SC_CHECK_MAX_LINE_LENGTH, NULL, 0, NULL, t, k + n + 1, reason,
                                sizeof reason),
                     0);
    assert_non_null(strstr(reason, "over the limit of 510"));
    free(t);
}

/* MAILRIG_DUMP_CHECK_SEEDS=DIR: write every table transcript to DIR as a seed of
 * fuzz/fuzz_checks.c (its first byte selects the role and the profile's username forms). */
static void dump_seeds(const char *dir)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], name[64];
        size_t k = 0;
        for (const char *p = cases[i].name; *p && k + 1 < sizeof name; p++)
            name[k++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '-';
        name[k] = 0;
        snprintf(path, sizeof path, "%s/%s-%s", dir, sc_checks[cases[i].id].name, name);
        FILE *f = fopen(path, "wb");
        if (!f)
            continue;
        unsigned char sel = cases[i].role == SC_ROLE_CLIENT ? 1 : 0;
        if (cases[i].imap_forms)
            sel |= strchr(cases[i].imap_forms, '|') ? 6 : 2;
        fputc(sel, f);
        fputs(cases[i].text, f);
        fclose(f);
    }
}

int main(void)
{
    if (getenv("MAILRIG_DUMP_CHECK_SEEDS")) {
        dump_seeds(getenv("MAILRIG_DUMP_CHECK_SEEDS"));
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_covers_every_check),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_endless_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
