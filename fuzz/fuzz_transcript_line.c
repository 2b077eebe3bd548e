/* fuzz_transcript_line.c -- the transcript reader and writer (servers/transcript.c).
 *
 * Two oracles: (1) every line of the input, parsed as a transcript record, either fails with
 * an error inside the line or gives fields inside the line, and unescaping never overruns;
 * (2) the input written as client data and read back gives the input again, byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/util.h"
#include "servers/transcript.h"

FUZZ_NO_COVERAGE
static void parse_lines(const char *s, size_t size)
{
    char out[512];
    while (size > 0) {
        const char *lf = memchr(s, '\n', size);
        size_t n = lf ? (size_t)(lf - s) : size;
        transcript_rec rec;
        mr_error err;
        if (transcript_parse(s, n, &rec, &err) == 0) {
            FUZZ_CHECK(rec.text.p >= s && rec.text.p + rec.text.n <= s + n);
            long k = transcript_unescape(&rec, out, sizeof out, &err);
            FUZZ_CHECK(k == MR_ERROR || (k >= 0 && (size_t)k <= rec.text.n + 2));
        } else {
            FUZZ_CHECK(err.offset <= n);
        }
        size_t used = lf ? n + 1 : n;
        s += used;
        size -= used;
    }
}

FUZZ_NO_COVERAGE
static void write_and_read_back(const char *s, size_t size)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FUZZ_CHECK(f != NULL);
    transcript *t = transcript_new(f, 0, -1);
    transcript_data(t, 1, 'C', s, size, 0);
    transcript_free(t);
    fclose(f);
    char *back = malloc(size + 2);
    size_t o = 0;
    for (char *line = text; line < text + len;) {
        char *lf = memchr(line, '\n', (size_t)(text + len - line));
        FUZZ_CHECK(lf != NULL);
        transcript_rec rec;
        mr_error err;
        FUZZ_CHECK(transcript_parse(line, (size_t)(lf - line), &rec, &err) == 0);
        FUZZ_CHECK(rec.kind == TR_DATA_LINE || rec.kind == TR_DATA_RAW);
        long k = transcript_unescape(&rec, back + o, size + 2 - o, &err);
        FUZZ_CHECK(k >= 0);
        o += (size_t)k;
        line = lf + 1;
    }
    FUZZ_CHECK(o == size && (size == 0 || memcmp(back, s, size) == 0));
    free(back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    parse_lines((const char *)data, size);
    write_and_read_back((const char *)data, size);
    return 0;
}
