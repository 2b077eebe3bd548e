/* log_curl.c -- `curl -v` output (IMAP, POP3, SMTP URLs) as a conversation.
 *
 * curl -v writes "> " before what it sends, "< " before what it receives and "* " before
 * its own notes: the connect target ("*   Trying HOST:PORT...", "* Connected to ..."),
 * TLS progress ("* TLSv1.3 (OUT), TLS handshake, Client hello (1):", "* SSL connection
 * using ..."), errors ("* connect to H port P failed: Connection refused", "* OpenSSL/3.0:
 * error:...:wrong version number", "* SSL certificate problem: ..."), and finally
 * "curl: (N) message". The progress meter shares the terminal and is overwritten with CR,
 * so the text after the last CR of a line is what counts. "} [5 bytes data]" lines are
 * byte counts of TLS records and carry nothing.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"

/* "*   Trying 127.0.0.1:10993..." */
static bool trying(log_conv *c, const char *s, size_t n, unsigned line)
{
    if (!log_starts(s, n, "*   Trying "))
        return false;
    s += 11, n -= 11;
    while (n && s[n - 1] == '.')
        n--;
    char host[DIAG_HOST_MAX];
    unsigned port = 0;
    if (log_parse_target(s, n, host, sizeof host, &port) < 0)
        log_conv_open(c, NULL, 0, line);
    else {
        /* a second address of the same connection attempt keeps the connection */
        log_conn *k = c->n ? &c->conn[c->n - 1] : NULL;
        if (k && k->n == 0) { /* a note before "Trying" opened it, or another address */
            snprintf(k->host, sizeof k->host, "%s", host);
            k->port = port;
            k->line = line;
        }
        else
            log_conv_open(c, host, port, line);
    }
    return true;
}

/* "* Connected to imap.mail.me.com (17.42.251.41) port 993 (#0)": the name the user typed
 * (the "Trying" line only had the address); "(nil)" when curl was given --connect-to. */
static void connected(log_conn *k, const char *s, size_t n)
{
    const char *name = s + 15, *end = s + n;
    const char *sp = memchr(name, ' ', (size_t)(end - name));
    if (!sp || sp == name || (size_t)(sp - name) >= sizeof k->host || (sp - name == 5 && !memcmp(name, "(nil)", 5)))
        return;
    snprintf(k->host, sizeof k->host, "%.*s", (int)(sp - name), name);
    const char *port = log_find(sp, (size_t)(end - sp), " port ");
    if (port) {
        unsigned long p = log_num(port + 6, (size_t)(end - port - 6), 10);
        if (p > 0 && p < 65536)
            k->port = (unsigned)p;
    }
}

/* TLS notes from curl's OpenSSL/GnuTLS backends. */
static bool tls_note(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line)
{
    if (log_find(s, n, "(OUT), TLS handshake, Client hello")) {
        log_conv_add(c, k, LOG_TLS_START, LOG_DIR_NONE, "", 0, line);
        if (!k->implicit_known) {
            bool data_before = false;
            for (size_t i = 0; i < k->n; i++)
                data_before |= k->rec[i].kind == LOG_DATA;
            k->implicit = !data_before;
            k->implicit_known = true;
        }
        return true;
    }
    if (log_starts(s, n, "* SSL connection using ")) {
        log_conv_add(c, k, LOG_TLS_OK, LOG_DIR_NONE, s + 23, n - 23, line);
        return true;
    }
    if (log_starts(s, n, "* SSL certificate problem: ") || log_find(s, n, "SSL: no alternative certificate")
        || log_find(s, n, "certificate verify failed")) {
        log_conv_add(c, k, LOG_CERT_ERROR, LOG_DIR_NONE, s + 2, n - 2, line);
        return true;
    }
    if ((log_find(s, n, "OpenSSL/") || log_find(s, n, "GnuTLS") || log_find(s, n, "SSL routines"))
        && log_find_nocase(s, n, "error")) {
        log_conv_add(c, k, LOG_TLS_FAIL, LOG_DIR_NONE, s + 2, n - 2, line);
        return true;
    }
    return false;
}

/* "* connect to H port P failed: Connection refused", "* Failed to connect to ...",
 * "* Operation timed out ...", "* Connection died" */
static bool error_note(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line)
{
    if (log_find(s, n, "connect to ") && log_find(s, n, " failed")) {
        log_conv_error(c, k, log_err_classify(s, n), s + 2, n - 2, line);
        return true;
    }
    if (log_starts(s, n, "* Operation timed out") || log_starts(s, n, "* Connection timed out") ||
        log_starts(s, n, "* Connection died") || log_starts(s, n, "* Recv failure")) {
        log_err e = log_err_classify(s, n);
        log_conv_error(c, k, e == LOG_ERR_OTHER ? LOG_ERR_RESET : e, s + 2, n - 2, line);
        return true;
    }
    return false;
}

/* "curl: (67) Login denied" */
static void curl_exit(log_conv *c, log_conn *k, const char *s, size_t n, unsigned line)
{
    int code = (int)(log_num(s + 7, n - 7, 10) % 1000);
    log_err e;
    switch (code) {
    case 7: e = LOG_ERR_REFUSED; break;
    case 28: e = LOG_ERR_TIMEOUT; break;
    case 67: e = LOG_ERR_AUTH; break;
    case 56: case 52: e = LOG_ERR_RESET; break;
    default: e = log_err_classify(s, n); break;
    }
    /* refusals and TLS failures were already noted with more detail */
    if (k->n && k->rec[k->n - 1].kind == LOG_ERROR && k->rec[k->n - 1].err == e)
        return;
    log_conv_error(c, k, e, s, n, line);
}

/* A progress meter line that a note continues ("  0 ... --:--     0*   Trying ..."): the
 * note starts after the meter's last digit. */
static void skip_meter(const char **s, size_t *n)
{
    if (!*n || !(**s == ' ' || isdigit((unsigned char)**s)))
        return;
    for (size_t i = 1; i + 1 < *n; i++)
        if (strchr("*<>", (*s)[i]) && (*s)[i + 1] == ' ' && isdigit((unsigned char)(*s)[i - 1])) {
            *s += i;
            *n -= i;
            return;
        }
}

size_t log_read_curl(const char *data, size_t n, log_conv *c)
{
    log_lines it;
    log_lines_init(&it, data, n, true);
    const char *s;
    size_t len, got = 0;
    while (log_lines_next(&it, &s, &len)) {
        unsigned ln = it.lineno;
        skip_meter(&s, &len);
        if (trying(c, s, len, ln)) {
            got++;
            continue;
        }
        bool data_line = log_starts(s, len, "> ") || log_starts(s, len, "< ");
        bool note = log_starts(s, len, "* ");
        bool ex = log_starts(s, len, "curl: (");
        if (!data_line && !note && !ex)
            continue;
        got++;
        log_conn *k = log_conv_cur(c, ln);
        if (!k)
            break;
        if (data_line)
            log_conv_add(c, k, LOG_DATA, s[0] == '>' ? LOG_DIR_C : LOG_DIR_S, s + 2, len - 2, ln);
        else if (ex)
            curl_exit(c, k, s, len, ln);
        else if (log_starts(s, len, "* Connected to "))
            connected(k, s, len);
        else if (!tls_note(c, k, s, len, ln))
            error_note(c, k, s, len, ln);
    }
    /* curl notes every handshake it starts: no Client hello means the client never did TLS */
    for (size_t i = 0; i < c->n; i++)
        if (!c->conn[i].implicit_known) {
            c->conn[i].implicit = false;
            c->conn[i].implicit_known = true;
        }
    return got;
}
