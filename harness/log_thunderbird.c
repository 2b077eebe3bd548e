/* log_thunderbird.c -- Thunderbird protocol logs (MOZ_LOG=IMAP:5,SMTP:5,POP3:5) as
 * conversations.
 *
 * Every line starts with the MOZ_LOG prefix: an optional time stamp ("2024-05-02
 * 10:11:12.300000 UTC - "), the process and thread ("[Parent 4242: IMAP]: "), the level
 * and module ("D/IMAP ", "I/SMTP ", "E/POP3 "). After it, two generations of messages:
 *   - the C++ IMAP code (nsImapProtocol): "0x7f3a2c0b1000:imap.mail.me.com:NA:SendData: 1
 *     capability" for what it sends, "...:CreateNewLineFromSocket: * OK ..." (and, in some
 *     versions, "ReadNextLine [rv=0x0 ...]: LINE") for what it receives; the pointer and
 *     host name tell connections apart;
 *   - the JavaScript clients (SmtpClient, ImapClient, Pop3Client): "Connecting to
 *     smtp://smtp.mail.me.com:587", then "S: LINE" and "C: LINE".
 * Thunderbird hides authentication commands itself ("Logging suppressed for this command
 * (it probably contained authentication information)"): kept as a redacted client line.
 * Network and TLS failures appear as Necko/NSS error names (NS_ERROR_CONNECTION_REFUSED,
 * NS_ERROR_NET_TIMEOUT, SSL_ERROR_RX_RECORD_TOO_LONG -- TLS to a port that answered in
 * plaintext --, SEC_ERROR_UNKNOWN_ISSUER ...), read wherever they occur on a module line.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"

/* After "D/IMAP " (or I/, E/, W/, V/ and SMTP, POP3): the message. */
static bool module_msg(const char *s, size_t n, diag_proto *proto, const char **msg, size_t *mn)
{
    static const struct {
        const char *mod;
        diag_proto p;
    } mods[] = {{"/IMAP ", DIAG_PROTO_IMAP}, {"/SMTP ", DIAG_PROTO_SMTP}, {"/POP3 ", DIAG_PROTO_POP3}};
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
        const char *m = log_find(s, n, mods[i].mod);
        if (m && m > s && m[-1] && strchr("DIEWV", m[-1])) {
            *proto = mods[i].p;
            *msg = m + 6;
            *mn = (size_t)(s + n - *msg);
            return true;
        }
    }
    return false;
}

/* The connection a C++ IMAP line "0xPTR:host:STATE:Func: ..." belongs to. */
static log_conn *cpp_conn(log_conv *c, const char *s, size_t n, unsigned line, const char **rest, size_t *rn)
{
    const char *c1 = memchr(s, ':', n);
    if (!c1)
        return NULL;
    const char *c2 = memchr(c1 + 1, ':', (size_t)(s + n - c1 - 1));
    if (!c2)
        return NULL;
    const char *c3 = memchr(c2 + 1, ':', (size_t)(s + n - c2 - 1));
    if (!c3)
        return NULL;
    *rest = c3 + 1;
    *rn = (size_t)(s + n - *rest);
    char host[DIAG_HOST_MAX];
    size_t hn = (size_t)(c2 - c1 - 1);
    if (hn >= sizeof host)
        hn = sizeof host - 1;
    memcpy(host, c1 + 1, hn);
    host[hn] = 0;
    /* connection identity: the same host, and the pointer noted in the line field */
    unsigned long id = log_num(s, n, 16);
    for (size_t i = c->n; i > 0; i--) {
        log_conn *k = &c->conn[i - 1];
        if (k->key == id && !strcmp(k->host, host))
            return k;
    }
    log_conn *k = log_conv_open(c, host, 0, line);
    if (k) {
        k->proto = DIAG_PROTO_IMAP;
        k->key = id;
        k->tls_silent = true;
    }
    return k;
}

static const struct {
    const char *name;
    log_kind kind;
    log_err err;
} nss_errors[] = {
    {"NS_ERROR_CONNECTION_REFUSED", LOG_ERROR, LOG_ERR_REFUSED},
    {"NS_ERROR_NET_TIMEOUT", LOG_ERROR, LOG_ERR_TIMEOUT},
    {"NS_ERROR_NET_RESET", LOG_ERROR, LOG_ERR_RESET},
    {"NS_ERROR_NET_INTERRUPT", LOG_ERROR, LOG_ERR_RESET},
    {"NS_ERROR_UNKNOWN_HOST", LOG_ERROR, LOG_ERR_OTHER},
    {"SSL_ERROR_RX_RECORD_TOO_LONG", LOG_TLS_FAIL, LOG_ERR_OTHER},
    {"SSL_ERROR_", LOG_TLS_FAIL, LOG_ERR_OTHER},
    {"SEC_ERROR_", LOG_CERT_ERROR, LOG_ERR_OTHER},
    {"MOZILLA_PKIX_ERROR_", LOG_CERT_ERROR, LOG_ERR_OTHER},
};

static bool error_names(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line)
{
    for (size_t i = 0; i < sizeof nss_errors / sizeof *nss_errors; i++) {
        const char *e = log_find(s, n, nss_errors[i].name);
        if (!e)
            continue;
        size_t en = 0;
        while (e + en < s + n && (isalnum((unsigned char)e[en]) || e[en] == '_'))
            en++;
        if (nss_errors[i].kind == LOG_ERROR)
            log_conv_error(c, k, nss_errors[i].err, e, en, line);
        else
            log_conv_add(c, k, nss_errors[i].kind, LOG_DIR_NONE, e, en, line);
        return true;
    }
    return false;
}

/* "Connecting to smtp://host:port" (JS clients). */
static bool connecting(log_conv *c, diag_proto proto, const char *s, size_t n, unsigned line)
{
    const char *t = log_find(s, n, "Connecting to ");
    if (!t)
        return false;
    t += 14;
    const char *sep = log_find(t, (size_t)(s + n - t), "://");
    if (!sep)
        return false;
    bool tls_scheme = sep > t && (sep[-1] == 's');
    const char *hp = sep + 3;
    size_t hn = (size_t)(s + n - hp);
    while (hn && (hp[hn - 1] == '/' || hp[hn - 1] == ' '))
        hn--;
    char host[DIAG_HOST_MAX] = "";
    unsigned port = 0;
    if (log_parse_target(hp, hn, host, sizeof host, &port) < 0)
        snprintf(host, sizeof host, "%.*s", (int)(hn < sizeof host ? hn : sizeof host - 1), hp);
    log_conn *k = log_conv_open(c, host, port, line);
    if (k) {
        k->proto = proto;
        k->tls_silent = true;
        if (tls_scheme) {
            k->implicit = true;
            k->implicit_known = true;
        }
    }
    return true;
}

static void data(log_conv *c, log_conn *k, log_dir dir, const char *s, size_t n, unsigned line)
{
    if (dir == LOG_DIR_C && log_find(s, n, "Logging suppressed")) {
        log_conv_add(c, k, LOG_DATA, LOG_DIR_C, "<redacted>", 10, line);
        c->redacted++;
        return;
    }
    log_conv_add(c, k, LOG_DATA, dir, s, n, line);
    if (dir == LOG_DIR_S)
        log_conv_starttls_reply(c, k, line);
}

size_t log_read_thunderbird(const char *data_, size_t n, log_conv *c)
{
    log_lines it;
    log_lines_init(&it, data_, n, false);
    const char *s;
    size_t len, got = 0;
    while (log_lines_next(&it, &s, &len)) {
        unsigned ln = it.lineno;
        diag_proto proto;
        const char *m;
        size_t mn;
        if (!module_msg(s, len, &proto, &m, &mn))
            continue;
        got++;
        if (connecting(c, proto, m, mn, ln))
            continue;
        if (mn > 2 && m[0] == '0' && m[1] == 'x') { /* C++ IMAP: 0xPTR:host:STATE:Func: msg */
            const char *r;
            size_t rn;
            log_conn *k = cpp_conn(c, m, mn, ln, &r, &rn);
            if (!k)
                continue;
            if (log_starts(r, rn, "SendData: "))
                data(c, k, LOG_DIR_C, r + 10, rn - 10, ln);
            else if (log_starts(r, rn, "CreateNewLineFromSocket: "))
                data(c, k, LOG_DIR_S, r + 25, rn - 25, ln);
            else
                error_names(c, k, r, rn, ln);
            continue;
        }
        log_conn *k = c->n ? &c->conn[c->n - 1] : NULL;
        const char *rl = log_starts(m, mn, "ReadNextLine [") ? log_find(m, mn, "]: ") : NULL;
        if (rl && k) {
            data(c, k, LOG_DIR_S, rl + 3, (size_t)(m + mn - rl - 3), ln);
        } else if ((log_starts(m, mn, "S: ") || log_starts(m, mn, "C: ")) && (k || (k = log_conv_cur(c, ln)))) {
            if (!k->proto) {
                k->proto = proto;
                k->tls_silent = true;
            }
            data(c, k, m[0] == 'S' ? LOG_DIR_S : LOG_DIR_C, m + 3, mn - 3, ln);
        } else if (k || (k = log_conv_cur(c, ln))) {
            error_names(c, k, m, mn, ln);
        }
    }
    return got;
}
