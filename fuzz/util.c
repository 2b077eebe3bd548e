/* util.c -- see util.h. */
#include "fuzz/util.h"

fuzz_rng fuzz_rng_from(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    fuzz_rng r = {h};
    return r;
}

uint64_t fuzz_rng_next(fuzz_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t fuzz_split_points(fuzz_rng *r, size_t size, size_t *cuts, size_t max)
{
    size_t n = 0, at = 0;
    while (n < max) {
        uint64_t x = fuzz_rng_next(r);
        size_t step = (x & 3) ? 1 + (size_t)((x >> 8) % 4) : 1 + (size_t)((x >> 8) % 64);
        at += step;
        if (at >= size)
            break;
        cuts[n++] = at;
    }
    return n;
}

size_t fuzz_cuts(const uint8_t *data, size_t size, size_t *cuts, size_t max)
{
    fuzz_rng rng = fuzz_rng_from(data, size);
    return fuzz_split_points(&rng, size, cuts, max);
}

int fuzz_grow(size_t *avail, size_t size, const size_t *cuts, size_t ncuts, size_t *c)
{
    if (*avail >= size)
        return 0;
    while (*c < ncuts && cuts[*c] <= *avail)
        (*c)++;
    *avail = *c < ncuts ? cuts[*c] : size;
    return 1;
}

void fuzz_item_set(fuzz_item *it, int r, const mr_error *err, uint64_t hash)
{
    it->r = r;
    it->code = r == MR_ERROR ? err->code : MR_E_NONE;
    it->rule = r == MR_ERROR ? err->rule : NULL;
    it->offset = r == MR_ERROR ? err->offset : 0;
    it->hash = hash;
}

int fuzz_same_items(const fuzz_item *a, size_t na, const fuzz_item *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t k = 0; k < na; k++) {
        if (a[k].r != b[k].r || a[k].hash != b[k].hash || a[k].code != b[k].code ||
            a[k].offset != b[k].offset)
            return 0;
        if (a[k].rule != b[k].rule && (!a[k].rule || !b[k].rule || strcmp(a[k].rule, b[k].rule)))
            return 0;
    }
    return 1;
}

void fuzz_auth_lines(const char *data, size_t size, mr_mode mode, fuzz_auth_parse_fn parse,
                     fuzz_auth_write_fn write)
{
    static char out[16384];
    size_t at = 0;
    for (int k = 0; k < 8 && at < size; k++) {
        mr_slice resp;
        int cancel;
        mr_error err;
        int r = parse(data + at, size - at, mode, &resp, &cancel, &err);
        if (r <= 0)
            return;
        int n = write(out, sizeof out, resp, cancel, &err);
        if (n == MR_ERROR) { /* lenient reads what the writer refuses to send */
            FUZZ_CHECK(mode == MR_LENIENT && err.code == MR_E_BASE64);
        } else {
            mr_slice again;
            int c2;
            FUZZ_CHECK(parse(out, (size_t)n, mode, &again, &c2, &err) == n);
            FUZZ_CHECK(c2 == cancel && fuzz_same_slice(again, resp));
        }
        at += (size_t)r;
    }
}
