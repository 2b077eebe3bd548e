/* log_openssl.c -- an `openssl s_client` session as a conversation.
 *
 * What s_client prints: "CONNECTED(fd)", the verification walk ("depth=N ...",
 * "verify error:num=19:self-signed certificate in certificate chain", "verify return:1"),
 * the handshake summary between "---" lines ("New, TLSv1.3, Cipher is ...", "Verify return
 * code: 0 (ok)"), then the conversation: what the server sends, interleaved -- in a pasted
 * terminal session -- with what the user typed. Errors are OpenSSL error-stack lines
 * ("...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...") and
 * "connect:errno=111". s_client never prints its target, so the command line, when the
 * paste includes it ("$ openssl s_client -connect HOST:PORT -starttls smtp"), is where the
 * target and the mode come from; -starttls means the TLS session follows a STARTTLS the
 * log does not show. TLS 1.3 session-ticket blocks ("Post-Handshake New Session Ticket
 * arrived:" ... "---") and "read R BLOCK" are skipped.
 * Lines of the conversation are told apart by their shape: SMTP replies ("250 ..."), IMAP
 * untagged/continuation/tagged-status lines, POP3 "+OK"/"-ERR" are the server's; anything
 * else is what the user typed.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"

typedef enum ossl_state { OS_START, OS_SUMMARY, OS_CONV, OS_SKIP } ossl_state;

typedef struct ossl {
    ossl_state st;
    bool starttls;
    bool summary_done;
    log_conn *k;
} ossl;

/* "... s_client ... -connect H:P ... -starttls P": open the connection it describes. */
static bool command_line(log_conv *c, ossl *o, const char *s, size_t n, unsigned line)
{
    const char *sc = log_find(s, n, "s_client");
    if (!sc)
        return false;
    const char *t = log_find(s, n, "-connect ");
    char host[DIAG_HOST_MAX] = "";
    unsigned port = 0;
    if (t) {
        t += 9;
        const char *e = t;
        while (e < s + n && *e != ' ')
            e++;
        log_parse_target(t, (size_t)(e - t), host, sizeof host, &port);
    }
    o->k = log_conv_open(c, host, port, line);
    if (!o->k)
        return true;
    const char *st = log_find(s, n, "-starttls ");
    o->starttls = st != NULL;
    o->k->implicit = !st;
    o->k->implicit_known = true;
    o->k->starttls_intended = st != NULL;
    if (st) {
        st += 10;
        size_t rem = (size_t)(s + n - st);
        if (log_starts(st, rem, "smtp"))
            o->k->proto = DIAG_PROTO_SMTP;
        else if (log_starts(st, rem, "imap"))
            o->k->proto = DIAG_PROTO_IMAP;
        else if (log_starts(st, rem, "pop3"))
            o->k->proto = DIAG_PROTO_POP3;
    }
    o->st = OS_START;
    return true;
}

static bool is_server_line(const char *s, size_t n)
{
    if (n >= 3 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
        (n == 3 || s[3] == ' ' || s[3] == '-'))
        return true;
    if (log_starts(s, n, "* ") || log_starts(s, n, "+ ") || (n == 1 && s[0] == '+') || log_starts(s, n, "+OK") ||
        log_starts(s, n, "-ERR"))
        return true;
    const char *sp = memchr(s, ' ', n);
    if (!sp)
        return false;
    size_t rest = (size_t)(s + n - sp - 1);
    return log_starts(sp + 1, rest, "OK") || log_starts(sp + 1, rest, "NO ") || log_starts(sp + 1, rest, "BAD") ||
           log_starts(sp + 1, rest, "BYE") || log_starts(sp + 1, rest, "PREAUTH");
}

static log_conn *conn(log_conv *c, ossl *o, unsigned line)
{
    if (!o->k)
        o->k = log_conv_open(c, NULL, 0, line);
    return o->k;
}

static bool error_line(log_conv *c, ossl *o, const char *s, size_t n, unsigned line)
{
    if (log_starts(s, n, "connect:errno=") || log_find(s, n, "Connection refused")) {
        log_conv_error(c, conn(c, o, line), LOG_ERR_REFUSED, s, n, line);
        return true;
    }
    if (log_starts(s, n, "verify error:")) {
        log_conv_add(c, conn(c, o, line), LOG_CERT_ERROR, LOG_DIR_NONE, s, n, line);
        return true;
    }
    if (log_find(s, n, ":error:") && (log_find(s, n, "SSL routines") || log_find(s, n, "ssl"))) {
        log_conv_add(c, conn(c, o, line), LOG_TLS_FAIL, LOG_DIR_NONE, s, n, line);
        return true;
    }
    if (log_starts(s, n, "Didn't find STARTTLS")) {
        log_conv_error(c, conn(c, o, line), LOG_ERR_OTHER, s, n, line);
        return true;
    }
    return false;
}

/* One line of the handshake summary. */
static void summary_line(log_conv *c, ossl *o, const char *s, size_t n, unsigned line)
{
    if (log_starts(s, n, "New, ")) {
        log_conn *k = conn(c, o, line);
        bool failed = log_find(s, n, "(NONE)") != NULL;
        bool had_fail = false;
        for (size_t i = 0; i < k->n; i++)
            had_fail |= k->rec[i].kind == LOG_TLS_FAIL;
        if (!failed) {
            log_conv_add(c, k, LOG_TLS_OK, LOG_DIR_NONE, s + 5, n - 5, line);
            if (o->starttls && k->n) { /* the STARTTLS exchange itself is not in the log */
                k->tls = LOG_TLS_AFTER_STARTTLS;
                k->rec[k->n - 1].tls = LOG_TLS_AFTER_STARTTLS;
            }
        } else if (!had_fail) {
            log_conv_add(c, k, LOG_TLS_FAIL, LOG_DIR_NONE, "no cipher negotiated", 20, line);
        }
    } else if (log_starts(s, n, "Verify return code:")) {
        o->summary_done = true;
    }
}

/* Whether k already holds a session (verification lines may come before CONNECTED). */
static bool session_started(const log_conn *k)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->rec[i].kind == LOG_TLS_START || k->rec[i].kind == LOG_DATA)
            return true;
    return false;
}

size_t log_read_openssl(const char *data, size_t n, log_conv *c)
{
    ossl o = {.st = OS_START};
    log_lines it;
    log_lines_init(&it, data, n, false);
    const char *s;
    size_t len, got = 0;
    while (log_lines_next(&it, &s, &len)) {
        unsigned ln = it.lineno;
        if (command_line(c, &o, s, len, ln) || error_line(c, &o, s, len, ln)) {
            got++;
            continue;
        }
        if (log_starts(s, len, "CONNECTED(")) {
            if (!o.k || session_started(o.k)) /* a second session in the paste, without its command line */
                o.k = log_conv_open(c, NULL, 0, ln);
            log_conv_add(c, conn(c, &o, ln), LOG_TLS_START, LOG_DIR_NONE, "", 0, ln);
            o.st = OS_SUMMARY;
            o.summary_done = false;
            got++;
            continue;
        }
        switch (o.st) {
        case OS_START: break;
        case OS_SUMMARY:
            got++;
            if (len == 3 && !memcmp(s, "---", 3) && o.summary_done)
                o.st = OS_CONV;
            else
                summary_line(c, &o, s, len, ln);
            break;
        case OS_SKIP:
            if (len == 3 && !memcmp(s, "---", 3))
                o.st = OS_CONV;
            break;
        case OS_CONV:
            if (log_starts(s, len, "Post-Handshake New Session Ticket") || log_starts(s, len, "SSL-Session:") ||
                (len == 3 && !memcmp(s, "---", 3))) {
                o.st = OS_SKIP;
            } else if (log_starts(s, len, "read R BLOCK") || log_starts(s, len, "RENEGOTIATING")) {
            } else if ((len == 4 && !memcmp(s, "DONE", 4)) || (len == 6 && !memcmp(s, "closed", 6)) ||
                       log_starts(s, len, "read:errno=")) {
                log_conv_add(c, conn(c, &o, ln), LOG_CLOSED, LOG_DIR_NONE, s, len, ln);
            } else if (len) {
                log_conv_add(c, conn(c, &o, ln), LOG_DATA, is_server_line(s, len) ? LOG_DIR_S : LOG_DIR_C, s,
                             len, ln);
                got++;
            }
            break;
        }
    }
    return got;
}
