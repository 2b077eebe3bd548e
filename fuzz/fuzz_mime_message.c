/* fuzz_mime_message.c -- the MIME structure parser (proto/mime.c) on a complete message.
 *
 * The parser sees whole messages, so there is no split-feeding oracle; instead:
 *  - never crash; MR_LENIENT never fails on content;
 *  - the tree invariants of mime_tree_check(): every range inside the message and inside its
 *    parent's body, children in order, message/rfc822 filled by its message, line counts,
 *    and every part found again by mime_section_find() at its mime_part_path();
 *  - a message MR_STRICT accepts reads the same in MR_LENIENT (strict is a subset);
 *  - section specs round-trip: parse(write(path)) == path, for every part and for the first
 *    line of the input taken as a spec;
 *  - HEADER.FIELDS and HEADER.FIELDS.NOT of one list add up to the whole header;
 *  - the field-value readers (addresses, dates, parameters, unfold) stay inside their input,
 *    always make progress, and strict success implies the same lenient result.
 */
#include <string.h>

#include "fuzz/util.h"
#include "proto/mime.h"

enum { MAX_PARTS = 64, OUT_CAP = 512 };

static const mime_limits limits = {MAX_PARTS, 10, 100, 998, 70, 16};

static int slice_in(mr_slice s, mr_slice outer)
{
    return s.p >= outer.p && s.p <= outer.p + outer.n && s.n <= (size_t)(outer.p + outer.n - s.p);
}

static int same_slice(mr_slice a, mr_slice b)
{
    return a.p == b.p && a.n == b.n;
}

static int same_part(const mime_part *a, const mime_part *b)
{
    const mr_slice *sa[] = {&a->header, &a->body, &a->preamble, &a->epilogue, &a->type,
                            &a->subtype, &a->params, &a->encoding, &a->id, &a->description,
                            &a->md5, &a->location, &a->disposition, &a->disp_params,
                            &a->language};
    const mr_slice *sb[] = {&b->header, &b->body, &b->preamble, &b->epilogue, &b->type,
                            &b->subtype, &b->params, &b->encoding, &b->id, &b->description,
                            &b->md5, &b->location, &b->disposition, &b->disp_params,
                            &b->language};
    for (size_t i = 0; i < sizeof sa / sizeof sa[0]; i++)
        if (!same_slice(*sa[i], *sb[i]))
            return 0;
    return a->parent == b->parent && a->first_child == b->first_child
           && a->next_sibling == b->next_sibling && a->nchildren == b->nchildren
           && a->number == b->number && a->depth == b->depth && a->kind == b->kind
           && a->body_lines == b->body_lines && a->header_fields == b->header_fields;
}

/* A copy function must return the same full length whatever the buffer size. */
typedef size_t (*copy_fn)(mr_slice in, char *out, size_t cap);

static void check_copy(copy_fn fn, mr_slice in)
{
    char out[OUT_CAP];
    size_t full = fn(in, out, sizeof out);
    char small[3];
    FUZZ_CHECK(fn(in, small, sizeof small) == full);
    if (full <= sizeof out && full >= sizeof small)
        FUZZ_CHECK(memcmp(out, small, sizeof small) == 0);
}

static void check_addresses(mr_slice value)
{
    mime_addr_iter strict, lenient;
    mime_addr_init(&strict, value, MR_STRICT, &limits);
    mime_addr_init(&lenient, value, MR_LENIENT, &limits);
    int strict_ok = 1;
    for (size_t calls = 0;; calls++) {
        FUZZ_CHECK(calls <= value.n + 1);
        mime_addr a, b;
        mr_error err;
        int rl = mime_addr_next(&lenient, &b, &err);
        FUZZ_CHECK(rl == 0 || rl == 1);
        int rs = strict_ok ? mime_addr_next(&strict, &a, &err) : MR_ERROR;
        if (rs == MR_ERROR) {
            strict_ok = 0;
            FUZZ_CHECK(err.offset <= value.n && err.rule != NULL);
        } else {
            FUZZ_CHECK(rs == rl); /* what strict reads, lenient reads the same way */
            if (rs == 1)
                FUZZ_CHECK(a.kind == b.kind && same_slice(a.local, b.local)
                           && same_slice(a.domain, b.domain) && same_slice(a.name, b.name)
                           && !b.invalid);
        }
        if (rl == 0)
            break;
        FUZZ_CHECK(slice_in(b.raw, value) && slice_in(b.local, value) && slice_in(b.domain, value)
                   && slice_in(b.route, value));
        FUZZ_CHECK(b.name.n == 0 || slice_in(b.name, value));
        check_copy(mime_phrase, b.name);
        check_copy(mime_addr_clean, b.local);
        check_copy(mime_addr_clean, b.domain);
    }
}

static void check_date(mr_slice value)
{
    mime_date s, l;
    mr_error err;
    int rs = mime_date_parse(value, MR_STRICT, &s, &err);
    int rl = mime_date_parse(value, MR_LENIENT, &l, &err);
    if (rs == 0) {
        FUZZ_CHECK(rl == 0 && memcmp(&s, &l, sizeof s) == 0);
        FUZZ_CHECK(s.month >= 1 && s.month <= 12 && s.day >= 1 && s.day <= 31);
    }
    if (rl == 0)
        (void)mime_date_to_unix(&l);
}

static void check_params(mr_slice params)
{
    for (int m = 0; m < 2; m++) {
        size_t pos = 0;
        for (size_t calls = 0;; calls++) {
            FUZZ_CHECK(calls <= params.n + 1);
            mime_param prm;
            mr_error err;
            int r = mime_param_next(params.p + pos, params.n - pos, m ? MR_LENIENT : MR_STRICT,
                                    &limits, &prm, &err);
            if (r <= 0)
                break;
            FUZZ_CHECK((size_t)r <= params.n - pos);
            FUZZ_CHECK(slice_in(prm.name, params) && slice_in(prm.value, params));
            if (prm.quoted)
                check_copy(mime_unquote, prm.value);
            pos += (size_t)r;
        }
    }
}

/* The field-value readers on the envelope fields of a message header, in one pass. */
static void check_header_values(mr_slice header, int filter)
{
    size_t pos = 0, all = 2;
    mime_field f;
    int r;
    while ((r = mime_field_next(header.p + pos, header.n - pos, MR_LENIENT, &limits, &f, NULL)) > 0) {
        FUZZ_CHECK(slice_in(f.value, header) && slice_in(f.raw, header) && slice_in(f.name, header));
        pos += (size_t)r;
        all += f.raw.n;
        if (f.name.n < 2 || f.name.n > 8)
            continue;
        char c = (char)(f.name.p[0] | 0x20);
        if (c == 'f' || c == 't' || c == 'c' || c == 'r')
            check_addresses(f.value); /* From, To, Cc, Reply-To, and any look-alike */
        else if (c == 'd')
            check_date(f.value);
        else if (c == 's')
            check_copy(mime_unfold, f.value);
    }
    mime_envelope env;
    mime_envelope_get(header, &env);
    const mr_slice *ev[] = {&env.date, &env.subject, &env.from, &env.sender, &env.reply_to,
                            &env.to, &env.cc, &env.bcc, &env.in_reply_to, &env.message_id};
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        FUZZ_CHECK(!ev[i]->p || slice_in(*ev[i], header));
    if (!filter)
        return;
    /* HEADER.FIELDS and HEADER.FIELDS.NOT of one list add up to all fields */
    static const char list[] = "From \"to\" SUBJECT Content-Type";
    mr_slice names = {list, sizeof list - 1};
    size_t in = mime_header_filter(header, names, 0, NULL, 0);
    size_t out = mime_header_filter(header, names, 1, NULL, 0);
    FUZZ_CHECK(in + out == all + 2 && all <= header.n + 2);
}

static void check_sections(const mime_part *parts, size_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        mime_section s, back;
        memset(&s, 0, sizeof s);
        int len = mime_part_path(parts, n, i, s.path, MIME_SECTION_MAX_PATH);
        FUZZ_CHECK(len >= 0);
        s.npath = (size_t)len;
        /* an encapsulated message is its message part's HEADER, other parts their MIME */
        int encapsulated = i != 0 && parts[parts[i].parent].kind == MIME_KIND_MESSAGE;
        s.text = encapsulated ? MIME_SECT_HEADER : len ? MIME_SECT_MIME : MIME_SECT_TEXT;
        char text[1024];
        size_t tn = mime_section_write(&s, text, sizeof text);
        FUZZ_CHECK(tn <= sizeof text);
        mr_error err;
        FUZZ_CHECK(mime_section_parse(text, tn, MR_STRICT, &back, &err) == (int)tn);
        FUZZ_CHECK(back.npath == s.npath && back.text == s.text
                   && memcmp(back.path, s.path, s.npath * sizeof s.path[0]) == 0);
        mime_range r;
        FUZZ_CHECK(mime_section_find(parts, n, &back, &r, &err) == 0);
        FUZZ_CHECK(r.part == i);
        FUZZ_CHECK(same_slice(r.bytes, i == 0 ? parts[i].body : parts[i].header));
    }
}

/* The first line of the input as a section-spec: parse, write, parse again. */
static void check_section_spec(const char *data, size_t size, const mime_part *parts, size_t n)
{
    const char *lf = memchr(data, '\n', size < 200 ? size : 200);
    size_t len = lf ? (size_t)(lf - data) : (size < 200 ? size : 200);
    for (int m = 0; m < 2; m++) {
        mime_section s, back;
        mr_error err;
        int r = mime_section_parse(data, len, m ? MR_LENIENT : MR_STRICT, &s, &err);
        if (r == MR_ERROR) {
            FUZZ_CHECK(err.offset <= len && err.rule != NULL);
            continue;
        }
        FUZZ_CHECK(r == (int)len);
        char text[600];
        size_t tn = mime_section_write(&s, text, sizeof text);
        FUZZ_CHECK(tn <= sizeof text);
        FUZZ_CHECK(mime_section_parse(text, tn, m ? MR_LENIENT : MR_STRICT, &back, &err) == (int)tn);
        FUZZ_CHECK(back.npath == s.npath && back.text == s.text && back.fields.n == s.fields.n
                   && memcmp(back.path, s.path, s.npath * sizeof s.path[0]) == 0
                   && memcmp(back.fields.p, s.fields.p, s.fields.n) == 0);
        mime_range range;
        if (mime_section_find(parts, n, &s, &range, &err) == 0) {
            mr_slice whole = {parts[0].header.p,
                              (size_t)(parts[0].body.p + parts[0].body.n - parts[0].header.p)};
            FUZZ_CHECK(range.part < n && slice_in(range.bytes, whole));
            if (s.text == MIME_SECT_HEADER_FIELDS)
                (void)mime_header_filter(range.bytes, s.fields, 0, NULL, 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *msg = (const char *)data;
    mime_part strict[MAX_PARTS], lenient[MAX_PARTS];
    mr_error err;
    int ns = mime_parse(msg, size, &limits, MR_STRICT, strict, MAX_PARTS, &err);
    int nl = mime_parse(msg, size, &limits, MR_LENIENT, lenient, MAX_PARTS, &err);
    FUZZ_CHECK(nl >= 1 && nl <= MAX_PARTS);
    FUZZ_CHECK(mime_tree_check(msg, size, lenient, (size_t)nl) == NULL);
    if (ns == MR_ERROR) {
        FUZZ_CHECK(err.offset <= size && err.rule != NULL);
    } else {
        FUZZ_CHECK(ns == nl && mime_tree_check(msg, size, strict, (size_t)ns) == NULL);
        for (int i = 0; i < ns; i++)
            FUZZ_CHECK(same_part(&strict[i], &lenient[i]));
    }
    check_sections(lenient, (size_t)nl);
    for (int i = 0; i < nl; i++) {
        const mime_part *p = &lenient[i];
        check_params(p->params);
        check_params(p->disp_params);
        if (i == 0 || lenient[p->parent].kind == MIME_KIND_MESSAGE)
            check_header_values(p->header, i == 0);
    }
    check_section_spec(msg, size, lenient, (size_t)nl);
    /* a smaller array: the same tree, cut short */
    if (nl > 1) {
        mime_part fewer[MAX_PARTS];
        int nf = mime_parse(msg, size, &limits, MR_LENIENT, fewer, (size_t)nl - 1, &err);
        FUZZ_CHECK(nf == nl - 1 && mime_tree_check(msg, size, fewer, (size_t)nf) == NULL);
    }
    return 0;
}
