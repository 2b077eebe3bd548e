/* fuzz_session_imap.c -- the IMAP server session (servers/imapd.c) fed arbitrary client bytes
 * in memory, no sockets.
 *
 * Input layout: byte 0 picks the profile (every shipped one), byte 1 its IMAP listener
 * (implicit TLS, STARTTLS or plain), byte 2 the account state every account gets (ok,
 * imap-disabled, basic-auth-disabled, not-signed-in, protocols-disabled); the rest is the client's
 * byte stream, fed in chunks split at points derived from the input (fuzz/util.h). When the
 * session calls start_tls, the harness drops what the client pipelined (as the carrier does)
 * and calls tls_ready before the next chunk: a simulated upgrade.
 *
 * Oracles: no crash, leak or sanitizer report; the session never consumes more than it was
 * given; a call that consumed bytes reported them through client_data, byte for byte unless
 * it redacted a credential; it never stalls on a full carrier chunk; every event is one line;
 * everything it sent parses as IMAP responses in lenient mode (proto/imap_parse.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz/util.h"
#include "proto/base64.h"
#include "proto/imap_parse.h"
#include "servers/imapd.h"
#include "servers/paths.h"
#include "servers/profile.h"
#include "servers/session_util.h"
#include "servers/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { NSTATES = 5, MAX_PROFILES = 3, MAX_MSGS = 32, CARRIER_CHUNK = 256 * 1024 };

static const char *const fuzzed_profiles[MAX_PROFILES] = {"icloud", "exchange", "generic"};
static const char *const state_names[NSTATES] = {"ok", "imap-disabled", "basic-auth-disabled",
                                                 "not-signed-in", "protocols-disabled"};

static profile *profiles[MAX_PROFILES][NSTATES];
static size_t nprofiles;

typedef struct cached_msg {
    char name[64];
    char *data;
    size_t len;
} cached_msg;

static cached_msg msgs[MAX_MSGS];
static size_t nmsgs;

static int64_t fixed_clock(void)
{
    return INT64_C(1709740937000);
}

static const cached_msg *msg_find(const char *name, size_t n)
{
    for (size_t i = 0; i < nmsgs; i++)
        if (strlen(msgs[i].name) == n && memcmp(msgs[i].name, name, n) == 0)
            return &msgs[i];
    return NULL;
}

static void cache_msg(const char *dir, const char *name, size_t n)
{
    if (nmsgs >= MAX_MSGS || n + 5 >= sizeof msgs[0].name || msg_find(name, n))
        return;
    char path[8192];
    snprintf(path, sizeof path, "%s/%.*s.eml", dir, (int)n, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    char *buf = malloc(1 << 20);
    size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf)
        return;
    cached_msg *m = &msgs[nmsgs++];
    snprintf(m->name, sizeof m->name, "%.*s", (int)n, name);
    m->data = buf;
    m->len = len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sess_set_clock(fixed_clock);
    imapd_set_debug(1);
    imapd_set_inline_literal_max(512); /* small inputs reach the streamed-literal paths */
    char data[4096], dir[4200];
    if (paths_data_dir(data, sizeof data) < 0)
        abort();
    snprintf(dir, sizeof dir, "%s/profiles/messages", data);
    for (size_t i = 0; i < MAX_PROFILES; i++) {
        profile_diag d = {0};
        profile *base = profile_load(fuzzed_profiles[i], NULL, &d);
        if (!base) {
            profile_diag_print(&d, stderr);
            abort();
        }
        profile_diag_free(&d);
        for (size_t k = 0; k < base->n_folders; k++)
            for (size_t j = 0; j < base->folders[k].messages.n; j++) {
                const char *s = base->folders[k].messages.v[j];
                const char *colon = strchr(s, ':');
                cache_msg(dir, s, colon ? (size_t)(colon - s) : strlen(s));
            }
        for (size_t st = 0; st < NSTATES; st++) {
            char sets[PROFILE_MAX_ACCOUNTS][160];
            const char *setp[PROFILE_MAX_ACCOUNTS];
            size_t n = 0;
            for (size_t a = 0; a < base->n_accounts && n < PROFILE_MAX_ACCOUNTS; a++) {
                snprintf(sets[n], sizeof sets[n], "account.%s.state=%s", base->accounts[a].name,
                         state_names[st]);
                setp[n] = sets[n];
                n++;
            }
            profile_opts o = {.sets = setp, .n_sets = n};
            profiles[i][st] = profile_load(fuzzed_profiles[i], &o, &d);
            if (!profiles[i][st]) {
                profile_diag_print(&d, stderr);
                abort();
            }
            profile_diag_free(&d);
        }
        profile_free(base);
        nprofiles++;
    }
    return 0;
}

/* ---- a memory session_io ----------------------------------------------------------------- */

typedef struct harness {
    char *out;
    size_t out_len, out_cap;
    size_t reported;       /* client_data bytes in the current call */
    int redacted;          /* a report in the current call held "<redacted>" */
    int calls;             /* client_data calls in the current call */
    int start_tls, closed;
} harness;

static void h_send(void *ctx, const char *p, size_t n)
{
    harness *h = ctx;
    if (h->out_len + n > (8u << 20))
        return; /* keep memory bounded; the tail is not checked */
    if (h->out_len + n > h->out_cap) {
        size_t cap = h->out_cap ? h->out_cap : 4096;
        while (cap < h->out_len + n)
            cap *= 2;
        char *q = realloc(h->out, cap);
        FUZZ_CHECK(q != NULL);
        h->out = q;
        h->out_cap = cap;
    }
    memcpy(h->out + h->out_len, p, n);
    h->out_len += n;
}

static void h_client_data(void *ctx, const char *p, size_t n, int is_payload)
{
    harness *h = ctx;
    (void)is_payload;
    h->reported += n;
    h->calls++;
    if (getenv("FUZZ_SESSION_DEBUG"))
        fprintf(stderr, "C(%zu): %.*s\n", n, (int)(n > 300 ? 300 : n), p);
    if (n >= 10 && memmem(p, n, "<redacted>", 10))
        h->redacted = 1;
    /* SASL messages are redacted inside their base64: decode each word and look */
    for (size_t i = 0; i < n && !h->redacted;) {
        size_t j = i;
        while (j < n && p[j] != ' ' && p[j] != '\r' && p[j] != '\n')
            j++;
        if (j - i >= 12) {
            char dec[16384];
            int k = b64_decode(p + i, j - i, dec, sizeof dec, B64_PAD_OPTIONAL, NULL);
            if (k >= 10 && memmem(dec, (size_t)k, "<redacted>", 10))
                h->redacted = 1;
        }
        i = j + 1;
    }
}

static void h_start_tls(void *ctx)
{
    harness *h = ctx;
    h->start_tls = 1;
}

static void h_close(void *ctx, const char *reason)
{
    harness *h = ctx;
    FUZZ_CHECK(reason && *reason);
    h->closed = 1;
}

static void h_event(void *ctx, const char *text)
{
    (void)ctx;
    FUZZ_CHECK(text && !strchr(text, '\n') && !strchr(text, '\r'));
}

/* ---- the store ---------------------------------------------------------------------------- */

/* Does the client stream name a command that looks at messages? (Seeding parses every
 * message: skip it for inputs that never could see them.) */
static int wants_messages(const uint8_t *in, size_t n)
{
    static const char *const words[] = {"select", "examine", "status"};
    for (size_t w = 0; w < 3; w++) {
        size_t len = strlen(words[w]);
        for (size_t i = 0; i + len <= n; i++)
            if (strncasecmp((const char *)in + i, words[w], len) == 0)
                return 1;
    }
    return 0;
}

static store *make_store(const profile *p, int seed_messages)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.max_total_bytes = 16u << 20;
    cfg.uidvalidity = 1000;
    store *st;
    if (store_open(&cfg, &st) != STORE_OK)
        return NULL;
    for (size_t i = 0; i < p->n_accounts; i++) {
        store_account *a;
        if (store_account_add(st, p->accounts[i].name, &a, NULL) != STORE_OK)
            continue;
        for (size_t k = 0; k < p->n_folders; k++) {
            const profile_folder *f = &p->folders[k];
            store_mailbox *mb = NULL;
            store_err e = store_mailbox_create(st, a, f->name, 0, &mb);
            if (e == STORE_E_EXISTS)
                mb = store_mailbox_find(a, f->name);
            if (!mb)
                continue;
            if (f->subscribed)
                store_mailbox_subscribe(st, a, f->name, 1);
            for (size_t j = 0; seed_messages && i == 0 && j < f->messages.n; j++) {
                const char *s = f->messages.v[j];
                const char *colon = strchr(s, ':');
                const cached_msg *m = msg_find(s, colon ? (size_t)(colon - s) : strlen(s));
                if (m)
                    store_append(st, mb, m->data, m->len, NULL, NULL);
            }
        }
    }
    return st;
}

/* ---- the oracle on the output -------------------------------------------------------------- */

static void check_output(const char *out, size_t len)
{
    imap_limits lim = imap_limits_default();
    lim.mode = MR_LENIENT;
    lim.inline_literal_max = 64u << 20;
    lim.item_max = 64u << 20;
    lim.line_max = 1u << 20;
    static imap_token tok[16384];
    size_t pos = 0;
    while (pos < len) {
        imap_response r;
        mr_error err;
        int k = imap_response_next(out + pos, len - pos, &lim, &r, tok, 16384, &err);
        if (k == MR_ERROR && (err.code == MR_E_LIMIT_COUNT || err.code == MR_E_LIMIT_DEPTH))
            return; /* a structure deeper or longer than the checker's limits */
        if (k == MR_ERROR) {
            const char *lf = memchr(out + pos, '\n', len - pos);
            fprintf(stderr, "bad output line: %.*s\n", (int)(lf ? lf - (out + pos) : 200), out + pos);
            fprintf(stderr, "error %s rule %s offset %zu\n", mr_errcode_str(err.code), err.rule ? err.rule : "-",
                    err.offset);
        }
        FUZZ_CHECK(k != MR_ERROR);
        if (k == MR_NEED_MORE)
            return; /* truncated by the harness's 8 MiB output bound */
        pos += (size_t)k;
    }
}

/* ---- one input ------------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || nprofiles == 0)
        return 0;
    const profile *p = profiles[data[0] % nprofiles][data[2] % NSTATES];
    const profile_listener *ls[PROFILE_MAX_LISTENERS];
    size_t nl = 0;
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        if (l->proto == PROFILE_IMAP && l->mode != PROFILE_MODE_CLOSED && l->mode != PROFILE_MODE_SILENT)
            ls[nl++] = l;
    }
    if (nl == 0)
        return 0;
    const profile_listener *l = ls[data[1] % nl];
    const uint8_t *in = data + 3;
    size_t n = size - 3;

    store *st = make_store(p, wants_messages(in, n));
    if (!st)
        return 0;
    mock_listener ml = {.mock = NULL, .prof = p, .pl = l, .st = st, .seed = 7, .port = 10993};
    harness h = {0};
    session_io io = {&h, h_send, h_client_data, h_start_tls, h_close, h_event, NULL};
    session_info info = {.conn_id = 1, .provider_port = (int)l->port,
                         .tls_active = l->mode == PROFILE_MODE_IMPLICIT_TLS,
                         .starttls_offered = l->mode == PROFILE_MODE_STARTTLS};
    snprintf(info.peer, sizeof info.peer, "127.0.0.1:40000");
    session *s = imapd_factory(&ml, &io, &info);
    FUZZ_CHECK(s != NULL);
    s->ops->open(s);

    fuzz_rng rng = fuzz_rng_from(data, size);
    size_t cuts[64];
    size_t ncuts = fuzz_split_points(&rng, n, cuts, 64);
    char *pending = malloc(n + 1);
    size_t plen = 0;
    size_t from = 0;
    for (size_t c = 0; c <= ncuts && !h.closed; c++) {
        size_t to = c < ncuts ? cuts[c] : n;
        memcpy(pending + plen, in + from, to - from);
        plen += to - from;
        from = to;
        /* as the carrier: feed until the session takes nothing more */
        while (plen > 0 && !h.closed && !h.start_tls) {
            size_t chunk = plen < CARRIER_CHUNK ? plen : CARRIER_CHUNK;
            h.reported = 0;
            h.redacted = 0;
            h.calls = 0;
            size_t used = s->ops->input(s, pending, chunk);
            if (getenv("FUZZ_SESSION_DEBUG"))
                fprintf(stderr, "input(%zu) -> %zu reported %zu\n", chunk, used, h.reported);
            FUZZ_CHECK(used <= chunk);
            if (used > 0 && !h.closed)
                FUZZ_CHECK(h.calls > 0);
            if (!h.redacted && !h.closed)
                FUZZ_CHECK(h.reported == used);
            memmove(pending, pending + used, plen - used);
            plen -= used;
            if (used == 0) {
                FUZZ_CHECK(chunk < CARRIER_CHUNK); /* never stalls on a full carrier chunk */
                break;
            }
        }
        if (h.start_tls && !h.closed) {
            /* the carrier drops what was pipelined after STARTTLS, then hands over TLS */
            plen = 0;
            h.start_tls = 0;
            info.tls_active = 1;
            s->ops->tls_ready(s);
        }
    }
    if (!h.closed && (rng.s & 1))
        s->ops->timeout(s);
    s->ops->free(s);
    free(pending);
    check_output(h.out, h.out_len);
    free(h.out);
    store_close(st);
    return 0;
}
