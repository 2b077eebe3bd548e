/* ref_libetpan.c -- see ref_libetpan.h. */
#include "bench/ref_libetpan.h"

#include <libetpan/libetpan.h>
#include <stdlib.h>
#include <string.h>

/* Not in libetpan's public headers, but exported by the library (mailimap_parser.h). */
int mailimap_response_parse(mailstream *fd, MMAPString *buffer,
                            struct mailimap_parser_context *parser_ctx, size_t *indx,
                            struct mailimap_response **result, size_t progr_rate,
                            progress_function *progr_fun);

typedef struct mem_source {
    const char *p;
    size_t n, at;
} mem_source;

static ssize_t mem_read(mailstream_low *s, void *buf, size_t count)
{
    mem_source *m = s->data;
    size_t left = m->n - m->at;
    if (count > left)
        count = left;
    memcpy(buf, m->p + m->at, count);
    m->at += count;
    return (ssize_t)count;
}

static ssize_t mem_write(mailstream_low *s, const void *buf, size_t count)
{
    (void)s, (void)buf;
    return (ssize_t)count;
}

static int mem_close(mailstream_low *s)
{
    (void)s;
    return 0;
}

static int mem_get_fd(mailstream_low *s)
{
    (void)s;
    return -1;
}

static void mem_free(mailstream_low *s)
{
    free(s);
}

static mailstream_low_driver mem_driver = {
    .mailstream_read = mem_read,
    .mailstream_write = mem_write,
    .mailstream_close = mem_close,
    .mailstream_get_fd = mem_get_fd,
    .mailstream_free = mem_free,
};

size_t ref_libetpan_parse_responses(const char *p, size_t n)
{
    mem_source src = {p, n, 0};
    mailstream_low *low = mailstream_low_new(&src, &mem_driver);
    mailstream *stream = mailstream_new(low, 65536);
    MMAPString *buffer = mmap_string_new("");
    mailimap *session = mailimap_new(0, NULL); /* only for the parser's default settings */
    struct mailimap_parser_context *ctx = mailimap_parser_context_new(session);
    size_t count = 0;
    while (src.at < src.n || stream->read_buffer_len > 0) {
        if (mailstream_read_line(stream, buffer) == NULL)
            break;
        size_t indx = 0;
        struct mailimap_response *resp = NULL;
        int r = mailimap_response_parse(stream, buffer, ctx, &indx, &resp, 0, NULL);
        if (r != MAILIMAP_NO_ERROR) {
            count = (size_t)-1;
            break;
        }
        mailimap_response_free(resp);
        count++;
    }
    mailimap_parser_context_free(ctx);
    mailimap_free(session);
    mmap_string_free(buffer);
    mailstream_close(stream);
    return count;
}
