/* log_transcript.c -- mailrig's own transcripts (servers/transcript.h) as a conversation.
 *
 * Connections are told apart by their `conn N` number (they may interleave when several
 * transcripts are concatenated). The `open` record names the local address and, as port=,
 * the provider port it stands for: that one is kept, so a transcript of the mock on port
 * 10993 reads as port 993. Data records are unescaped; summaries of large payloads are
 * skipped; `event` records are kept (LOG_EVENT) because the mock's own judgement is the best
 * evidence there is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/log_read.h"
#include "servers/transcript.h"

typedef struct tr_map {
    unsigned long id[LOG_MAX_CONNS];
    size_t idx[LOG_MAX_CONNS];
    size_t n;
} tr_map;

/* The value of " key=" in s, or NULL; its length in *len. */
static const char *kv(const char *s, size_t n, const char *key, size_t *len)
{
    char pat[32];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *v = log_find(s, n, pat);
    if (!v)
        return NULL;
    v += strlen(pat);
    const char *e = v;
    while (e < s + n && *e != ' ')
        e++;
    *len = (size_t)(e - v);
    return v;
}

static log_conn *open_conn(log_conv *c, const transcript_rec *r, unsigned line)
{
    const char *s = r->text.p;
    size_t n = r->text.n, first = 0;
    while (first < n && s[first] != ' ')
        first++;
    char host[DIAG_HOST_MAX] = "";
    unsigned port = 0;
    if (log_parse_target(s, first, host, sizeof host, &port) < 0)
        snprintf(host, sizeof host, "%.*s", (int)(first < sizeof host ? first : sizeof host - 1), s);
    size_t len;
    const char *v = kv(s, n, "port", &len);
    if (v) {
        unsigned long p = log_num(v, len, 10);
        if (p > 0 && p < 65536)
            port = (unsigned)p;
    }
    log_conn *k = log_conv_open(c, host, port, line);
    if (!k)
        return NULL;
    if ((v = kv(s, n, "proto", &len))) {
        if (len == 4 && !memcmp(v, "imap", 4))
            k->proto = DIAG_PROTO_IMAP;
        else if (len == 4 && !memcmp(v, "smtp", 4))
            k->proto = DIAG_PROTO_SMTP;
        else if (len == 4 && !memcmp(v, "pop3", 4))
            k->proto = DIAG_PROTO_POP3;
    }
    if ((v = kv(s, n, "mode", &len))) {
        k->implicit = log_starts(v, len, "implicit");
        k->implicit_known = true;
    }
    return k;
}

static log_conn *conn_for(log_conv *c, tr_map *m, const transcript_rec *r, unsigned line)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->id[i] == r->conn)
            return &c->conn[m->idx[i]];
    log_conn *k = r->kind == TR_OPEN ? open_conn(c, r, line) : log_conv_open(c, NULL, 0, line);
    if (k && m->n < LOG_MAX_CONNS) {
        m->id[m->n] = r->conn;
        m->idx[m->n++] = (size_t)(k - c->conn);
    }
    return k;
}

static void add_data(log_conv *c, log_conn *k, const transcript_rec *r, unsigned line)
{
    char buf[LOG_MAX_LINE + 8];
    mr_error err;
    long m = transcript_unescape(r, buf, sizeof buf, &err);
    if (m < 0)
        return;
    log_conv_add(c, k, LOG_DATA, r->dir == 'C' ? LOG_DIR_C : LOG_DIR_S, buf, (size_t)m, line);
}

static void add_tls(log_conv *c, log_conn *k, const transcript_rec *r, unsigned line)
{
    const char *s = r->text.p;
    size_t n = r->text.n;
    if (log_starts(s, n, "ok"))
        log_conv_add(c, k, LOG_TLS_OK, LOG_DIR_NONE, s + (n > 3 ? 3 : n), n > 3 ? n - 3 : 0, line);
    else if (log_find_nocase(s, n, "verify") || log_find_nocase(s, n, "certificate"))
        log_conv_add(c, k, LOG_CERT_ERROR, LOG_DIR_NONE, s, n, line);
    else
        log_conv_add(c, k, LOG_TLS_FAIL, LOG_DIR_NONE, s, n, line);
}

size_t log_read_transcript(const char *data, size_t n, log_conv *c)
{
    tr_map m = {.n = 0};
    log_lines it;
    log_lines_init(&it, data, n, false);
    const char *s;
    size_t len, got = 0;
    while (log_lines_next(&it, &s, &len)) {
        transcript_rec r;
        mr_error err;
        if (transcript_parse(s, len, &r, &err) != 0)
            continue;
        got++;
        log_conn *k = conn_for(c, &m, &r, it.lineno);
        if (!k)
            break;
        switch (r.kind) {
        case TR_DATA_LINE:
        case TR_DATA_RAW: add_data(c, k, &r, it.lineno); break;
        case TR_TLS: add_tls(c, k, &r, it.lineno); break;
        case TR_EVENT: log_conv_add(c, k, LOG_EVENT, LOG_DIR_NONE, r.text.p, r.text.n, it.lineno); break;
        case TR_CLOSE: log_conv_add(c, k, LOG_CLOSED, LOG_DIR_NONE, r.text.p, r.text.n, it.lineno); break;
        default: break;
        }
    }
    return got;
}
