/* fuzz_store_ops.c -- the in-memory message store (servers/store.c) driven by a sequence of
 * operations decoded from the input: append, deliver, flags, keywords, views (open, sync with
 * and without expunges allowed, expunge, close), COPY, MOVE, mailbox create/delete/rename,
 * LIST, STATUS, SEARCH.
 *
 * Oracles, after every operation:
 *  - every mailbox holds strictly increasing UIDs, all below UIDNEXT;
 *  - every open view holds strictly increasing UIDs; a view synced with expunges allowed holds
 *    exactly its mailbox's UIDs, and the EXPUNGE seqs it reported were all in range;
 *  - store_bytes() equals the cost of the distinct message contents still held;
 *  - nothing leaks when the store is closed (LeakSanitizer).
 */
#include <string.h>

#include "fuzz/util.h"
#include "servers/store.h"

enum { MAX_VIEWS = 4, MAX_OPS = 64 };

typedef struct fz {
    const uint8_t *p;
    size_t n, pos;
    store *st;
    store_account *acct;
    store_view *views[MAX_VIEWS];
    uint32_t counting; /* the view count while events are reported */
} fz;

static uint8_t next_byte(fz *f)
{
    return f->pos < f->n ? f->p[f->pos++] : 0;
}

static const char *const names[] = {"INBOX", "Sent", "Work", "Work/Sub", "Archive/2024",
                                    "Trash", "inbox/x", "A/B/C"};

static const char *pick_name(fz *f)
{
    return names[next_byte(f) % (sizeof names / sizeof names[0])];
}

static store_mailbox *pick_mailbox(fz *f)
{
    return store_mailbox_find(f->acct, pick_name(f));
}

static void on_expunge(void *ctx, uint32_t seq)
{
    fz *f = ctx;
    FUZZ_CHECK(seq >= 1 && seq <= f->counting);
    f->counting--;
}

static void on_flags(void *ctx, uint32_t seq, const store_msg *m)
{
    fz *f = ctx;
    FUZZ_CHECK(seq >= 1 && seq <= f->counting && m != NULL);
}

static void on_exists(void *ctx, uint32_t count)
{
    fz *f = ctx;
    FUZZ_CHECK(count >= f->counting);
    f->counting = count;
}

static const store_view_events events = {on_expunge, on_flags, on_exists, NULL};

static void check_mailbox(const store_mailbox *mb)
{
    uint32_t prev = 0;
    for (uint32_t i = 0; i < store_mailbox_count(mb); i++) {
        const store_msg *m = store_mailbox_msg(mb, i);
        FUZZ_CHECK(m->uid > prev && m->uid < store_mailbox_uidnext(mb));
        FUZZ_CHECK(store_mailbox_by_uid(mb, m->uid) == m);
        prev = m->uid;
    }
}

/* A view synced with expunges allowed is exactly its mailbox. */
static void check_view_exact(const store_view *v)
{
    const store_mailbox *mb = store_view_mailbox(v);
    if (!mb)
        return;
    FUZZ_CHECK(store_view_count(v) == store_mailbox_count(mb));
    for (uint32_t i = 0; i < store_view_count(v); i++)
        FUZZ_CHECK(store_view_uid(v, i + 1) == store_mailbox_msg(mb, i)->uid);
}

static void check_views(const fz *f)
{
    for (int i = 0; i < MAX_VIEWS; i++) {
        const store_view *v = f->views[i];
        if (!v)
            continue;
        uint32_t prev = 0;
        for (uint32_t s = 1; s <= store_view_count(v); s++) {
            FUZZ_CHECK(store_view_uid(v, s) > prev);
            prev = store_view_uid(v, s);
            FUZZ_CHECK(store_view_seq_from_uid(v, prev) == s);
        }
    }
}

typedef struct all_mailboxes {
    const store_mailbox *mb[64];
    size_t n;
} all_mailboxes;

static void collect(void *ctx, const store_mailbox *mb, unsigned attrs)
{
    all_mailboxes *all = ctx;
    (void)attrs;
    if (all->n < 64)
        all->mb[all->n++] = mb;
}

/* Every mailbox is well-formed, and store_bytes() == the cost of the distinct contents. */
static void check_mailboxes(const fz *f)
{
    all_mailboxes all = {{NULL}, 0};
    store_list(f->acct, "*", collect, &all);
    FUZZ_CHECK(all.n >= 1 && all.n < 64);
    const char *seen[512];
    size_t nseen = 0, total = 0;
    for (size_t k = 0; k < all.n; k++) {
        check_mailbox(all.mb[k]);
        for (uint32_t i = 0; i < store_mailbox_count(all.mb[k]); i++) {
            const store_msg *m = store_mailbox_msg(all.mb[k], i);
            int dup = 0;
            for (size_t j = 0; j < nseen && !dup; j++)
                dup = seen[j] == m->data;
            if (dup)
                continue;
            FUZZ_CHECK(nseen < 512);
            seen[nseen++] = m->data;
            total += m->size + m->nparts * sizeof(mime_part);
        }
    }
    FUZZ_CHECK(store_bytes(f->st) == total);
}

static void op_append(fz *f, int deliver)
{
    size_t len = next_byte(f) * 4u;
    if (len > f->n - f->pos)
        len = f->n - f->pos;
    const char *data = (const char *)f->p + f->pos;
    f->pos += len;
    if (deliver) {
        store_deliver(f->st, "u", data, len, NULL);
        return;
    }
    store_mailbox *mb = pick_mailbox(f);
    uint8_t fl = next_byte(f);
    store_append_opts o = {fl & STORE_F_ALL, next_byte(f), fl >> 7, (int64_t)fl << 20, 0};
    if (mb)
        store_append(f->st, mb, data, len, &o, NULL);
}

static store_msg *pick_msg(fz *f, store_mailbox *mb)
{
    uint32_t n = store_mailbox_count(mb);
    return n ? store_mailbox_msg(mb, next_byte(f) % n) : NULL;
}

static void op_flags(fz *f)
{
    store_mailbox *mb = pick_mailbox(f);
    if (!mb)
        return;
    store_msg *m = pick_msg(f, mb);
    uint8_t op = next_byte(f), fl = next_byte(f), kw = next_byte(f);
    store_view *actor = f->views[op % MAX_VIEWS];
    if (m)
        store_set_flags(f->st, mb, m, (store_flag_op)(op % 3), fl, kw, actor, NULL);
}

static void op_view(fz *f)
{
    uint8_t b = next_byte(f);
    store_view **slot = &f->views[b % MAX_VIEWS];
    switch ((b >> 2) % 4) {
    case 0: { /* open (after closing what was there) */
        store_mailbox *mb = pick_mailbox(f);
        store_view_close(*slot);
        *slot = NULL;
        if (mb && store_view_open(f->st, mb, b >> 7, slot) == STORE_OK)
            check_view_exact(*slot);
        break;
    }
    case 1:
        store_view_close(*slot);
        *slot = NULL;
        break;
    case 2: /* sync */
        if (*slot) {
            int allow = b >> 7;
            uint32_t before = store_view_count(*slot);
            f->counting = before;
            store_view_sync(*slot, allow, &events, f);
            if (allow)
                check_view_exact(*slot);
            else
                FUZZ_CHECK(store_view_count(*slot) >= before);
        }
        break;
    case 3: /* expunge \Deleted */
        if (*slot && store_view_mailbox(*slot)) {
            f->counting = store_view_count(*slot);
            if (store_view_expunge(f->st, *slot, NULL, NULL, &events, f) == STORE_OK)
                check_view_exact(*slot);
        }
        break;
    }
}

static void op_copy_move(fz *f, int move)
{
    store_view *v = f->views[next_byte(f) % MAX_VIEWS];
    store_mailbox *src = move ? (v ? store_view_mailbox(v) : NULL) : pick_mailbox(f);
    store_mailbox *dst = pick_mailbox(f);
    if (!src || !dst)
        return;
    store_msg *set[8];
    size_t n = next_byte(f) % 8;
    for (size_t i = 0; i < n; i++)
        if (!(set[i] = pick_msg(f, src)))
            return;
    for (size_t i = 1; i < n; i++) /* MOVE and COPY take distinct messages */
        for (size_t j = 0; j < i; j++)
            if (set[i] == set[j])
                return;
    uint32_t uids[8];
    if (!move) {
        store_copy(f->st, src, set, n, dst, uids);
        return;
    }
    f->counting = store_view_count(v);
    if (store_move(f->st, v, set, n, dst, uids, &events, f) == STORE_OK)
        check_view_exact(v);
}

static void op_mailbox(fz *f)
{
    uint8_t b = next_byte(f);
    const char *name = pick_name(f);
    switch (b % 4) {
    case 0: store_mailbox_create(f->st, f->acct, name, b >> 2, NULL); break;
    case 1: store_mailbox_delete(f->st, f->acct, name); break;
    case 2: store_mailbox_rename(f->st, f->acct, name, pick_name(f)); break;
    case 3: store_mailbox_subscribe(f->st, f->acct, name, b >> 7); break;
    }
}

static void op_misc(fz *f)
{
    uint8_t b = next_byte(f);
    store_mailbox *mb = pick_mailbox(f);
    char text[17];
    size_t tn = next_byte(f) % 17;
    for (size_t i = 0; i < tn; i++)
        text[i] = (char)next_byte(f);
    text[tn] = '\0';
    switch (b % 4) {
    case 0:
        store_list(f->acct, text, NULL, NULL);
        break;
    case 1:
        if (mb)
            store_keyword(f->st, mb, text, tn, 1);
        break;
    case 2:
        if (mb) {
            store_status s;
            store_mailbox_status(mb, &s);
            FUZZ_CHECK(s.messages == store_mailbox_count(mb) && s.unseen <= s.messages);
        }
        break;
    case 3:
        if (mb) {
            store_key k = {(store_key_kind)(b >> 2) % 16, next_byte(f), (int)next_byte(f) - 64,
                           20240000 + next_byte(f), next_byte(f), "Subject", text, tn};
            for (uint32_t i = 0; i < store_mailbox_count(mb); i++) {
                store_msg *m = store_mailbox_msg(mb, i);
                (void)store_msg_match(m, &k);
                FUZZ_CHECK(store_msg_top(m, next_byte(f)) <= m->size);
            }
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.max_message_size = 2048;
    cfg.max_total_bytes = 64 * 1024;
    cfg.max_parts = 16;
    cfg.max_messages = 32;
    cfg.max_mailboxes = 8;
    cfg.uidvalidity = 1;
    fz f;
    memset(&f, 0, sizeof f);
    f.p = data;
    f.n = size;
    FUZZ_CHECK(store_open(&cfg, &f.st) == STORE_OK);
    FUZZ_CHECK(store_account_add(f.st, "u", &f.acct, NULL) == STORE_OK);
    for (int ops = 0; ops < MAX_OPS && f.pos < f.n; ops++) {
        switch (next_byte(&f) % 8) {
        case 0: op_append(&f, 0); break;
        case 1: op_append(&f, 1); break;
        case 2: op_flags(&f); break;
        case 3: op_view(&f); break;
        case 4: op_copy_move(&f, 0); break;
        case 5: op_copy_move(&f, 1); break;
        case 6: op_mailbox(&f); break;
        case 7: op_misc(&f); break;
        }
        check_mailboxes(&f);
        check_views(&f);
    }
    for (int i = 0; i < MAX_VIEWS; i++)
        store_view_close(f.views[i]);
    store_close(f.st);
    return 0;
}
