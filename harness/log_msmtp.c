/* log_msmtp.c -- `msmtp --debug` output as a conversation.
 *
 * msmtp --debug prints its configuration ("host = ...", "port = ...", "tls = on",
 * "tls_starttls = off"), then "<-- " before each server line and "--> " before each client
 * line, "TLS session parameters:" once a handshake succeeded, and its errors as
 * "msmtp: ..." on stderr -- which, captured with 2>&1, usually lands before the buffered
 * debug output, so error lines are kept aside and attached at the end. The configuration
 * echo includes "passwordeval = COMMAND" (often the password itself) and "password = *":
 * those lines are skipped, never kept.
 */
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"

typedef struct msmtp_cfg {
    char host[DIAG_HOST_MAX];
    unsigned port;
    int tls, starttls; /* -1 = not shown */
    bool opened;
} msmtp_cfg;

/* "key = value" of the configuration echo. */
static bool cfg_line(msmtp_cfg *g, const char *s, size_t n)
{
    const char *eq = log_find(s, n, " = ");
    if (!eq)
        return false;
    size_t kl = (size_t)(eq - s);
    const char *v = eq + 3;
    size_t vn = n - kl - 3;
    if (kl == 4 && !memcmp(s, "host", 4))
        snprintf(g->host, sizeof g->host, "%.*s", (int)(vn < sizeof g->host ? vn : sizeof g->host - 1), v);
    else if (kl == 4 && !memcmp(s, "port", 4))
        g->port = (unsigned)(log_num(v, vn, 10) % 65536);
    else if (kl == 3 && !memcmp(s, "tls", 3))
        g->tls = log_starts(v, vn, "on");
    else if (kl == 12 && !memcmp(s, "tls_starttls", 12))
        g->starttls = log_starts(v, vn, "on");
    else if (!kl || memchr(s, ' ', kl))
        return false;
    return true; /* any other "word = value" line (password lines included) is config: skipped */
}

/* An error line kept aside until the conversation is read. */
typedef struct msmtp_err {
    size_t off, n;
    unsigned line;
} msmtp_err;

static log_conn *ensure_conn(log_conv *c, msmtp_cfg *g, unsigned line)
{
    if (!g->opened) {
        log_conn *k = log_conv_open(c, g->host, g->port, line);
        g->opened = true;
        if (k && g->tls >= 0) {
            k->implicit = g->tls == 1 && g->starttls == 0;
            k->implicit_known = true;
            k->starttls_intended = g->tls == 1 && g->starttls != 0;
            if (k->implicit)
                log_conv_add(c, k, LOG_TLS_START, LOG_DIR_NONE, "", 0, line);
        }
        return k;
    }
    return log_conv_cur(c, line);
}

static void add_error(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line)
{
    if (log_starts(s, n, "server message: ") || log_starts(s, n, "could not send mail") ||
        log_starts(s, n, "using account"))
        return;
    if (log_find(s, n, "certificate") && (log_find(s, n, "verif") || log_find(s, n, "trust")))
        log_conv_add(c, k, LOG_CERT_ERROR, LOG_DIR_NONE, s, n, line);
    else if (log_find(s, n, "TLS handshake failed") || log_find(s, n, "TLS connection"))
        log_conv_add(c, k, LOG_TLS_FAIL, LOG_DIR_NONE, s, n, line);
    else
        log_conv_error(c, k, log_err_classify(s, n), s, n, line);
}

size_t log_read_msmtp(const char *data, size_t n, log_conv *c)
{
    msmtp_cfg g = {.tls = -1, .starttls = -1};
    msmtp_err errs[16];
    size_t n_errs = 0, got = 0;
    log_lines it;
    log_lines_init(&it, data, n, false);
    const char *s;
    size_t len;
    while (log_lines_next(&it, &s, &len)) {
        unsigned ln = it.lineno;
        if (log_starts(s, len, "msmtp: ")) {
            if (n_errs < 16)
                errs[n_errs++] = (msmtp_err){(size_t)(s - data) + 7, len - 7, ln};
            got++;
        } else if (log_starts(s, len, "<-- ") || log_starts(s, len, "--> ")) {
            log_conn *k = ensure_conn(c, &g, ln);
            if (!k)
                break;
            log_conv_add(c, k, LOG_DATA, s[0] == '<' ? LOG_DIR_S : LOG_DIR_C, s + 4, len - 4, ln);
            got++;
        } else if (log_starts(s, len, "TLS session parameters:")) {
            log_conn *k = ensure_conn(c, &g, ln);
            if (!k)
                break;
            log_conv_add(c, k, LOG_TLS_OK, LOG_DIR_NONE, "", 0, ln);
            got++;
        } else if (!g.opened && cfg_line(&g, s, len)) {
            got++;
        }
    }
    if (n_errs) {
        log_conn *k = ensure_conn(c, &g, errs[0].line);
        for (size_t i = 0; k && i < n_errs; i++)
            add_error(c, k, data + errs[i].off, errs[i].n, errs[i].line);
    }
    return got;
}
