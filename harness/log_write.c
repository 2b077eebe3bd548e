/* log_write.c -- a conversation written as a mailrig transcript (servers/transcript.h), so
 * any log format can be read by everything that reads transcripts, and replayed. */
#include <stdio.h>
#include <stdlib.h>

#include "harness/log_write.h"
#include "servers/transcript.h"

const char *log_wire_word(const log_conn *k)
{
    if (k->implicit)
        return "implicit";
    for (size_t i = 0; i < k->n; i++)
        if (k->rec[i].tls == LOG_TLS_AFTER_STARTTLS)
            return "starttls";
    return "plain";
}

static const char *err_word(log_err e)
{
    static const char *const t[] = {"other", "refused", "timeout", "reset", "auth", "no-auth"};
    return (unsigned)e < sizeof t / sizeof *t ? t[e] : "other";
}

/* A free-text payload with its control bytes escaped (transcript_record payloads are text). */
static void put_text(FILE *f, const char *s, size_t n)
{
    char buf[LOG_MAX_LINE * 4 + 8];
    size_t m = transcript_escape(s, n, buf, sizeof buf);
    fwrite(buf, 1, m < sizeof buf ? m : 0, f);
}

static void write_rec(const log_rec *r, size_t id, FILE *f)
{
    fprintf(f, "0.000 conn %zu ", id);
    switch (r->kind) {
    case LOG_DATA: fprintf(f, "%c: ", r->dir); break;
    case LOG_TLS_START: fputs("note tls-start", f); break;
    case LOG_TLS_OK: fputs("tls ok ", f); break;
    case LOG_TLS_FAIL: fputs("tls fail ", f); break;
    case LOG_CERT_ERROR: fputs("tls fail certificate ", f); break;
    case LOG_ERROR: fprintf(f, "note client-error %s ", err_word(r->err)); break;
    case LOG_EVENT: fputs("event ", f); break;
    case LOG_CLOSED: fputs("close ", f); break;
    }
    if (r->kind != LOG_TLS_START)
        put_text(f, r->text, r->n);
    fputc('\n', f);
}

int log_conv_write_transcript(const log_conv *c, const char *source, FILE *f)
{
    for (size_t i = 0; i < c->n; i++) {
        const log_conn *k = &c->conn[i];
        fprintf(f, "0.000 conn %zu open %s:%u mode=%s proto=%s port=%u source=%s:%u\n", i + 1,
                k->host[0] ? k->host : "unknown", k->port, log_wire_word(k),
                k->proto ? diag_proto_name(k->proto) : "unknown", k->port, source, k->line);
        for (size_t j = 0; j < k->n; j++)
            write_rec(&k->rec[j], i + 1, f);
    }
    return ferror(f) ? -1 : 0;
}
