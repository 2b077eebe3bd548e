/* imapd.c -- see imapd.h. */
#define _GNU_SOURCE /* memmem */
#include "servers/imapd.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/base64.h"
#include "proto/imap_access.h"
#include "proto/imap_framer.h"
#include "proto/imap_parse.h"
#include "proto/imap_write.h"
#include "proto/mime.h"
#include "proto/sasl.h"
#include "proto/sasl_oauth.h"
#include "proto/sasl_redact.h"
#include "servers/arena.h"
#include "servers/events.h"
#include "servers/profile.h"
#include "servers/session_util.h"
#include "servers/store.h"
#include "servers/template.h"

/* ---- states ------------------------------------------------------------------------------ */

typedef enum imapd_state {
    ST_NOTAUTH,   /* RFC 3501 3.1 not authenticated */
    ST_AUTH,      /* 3.2 authenticated */
    ST_SELECTED,  /* 3.3 selected */
    ST_SASL,      /* AUTHENTICATE exchange in progress: client lines are SASL responses */
    ST_IDLE,      /* IDLE in progress: waiting for DONE */
    ST_TLS_WAIT,  /* STARTTLS answered: nothing is consumed until tls_ready */
    ST_CLOSED,    /* LOGOUT, a fatal error or a BYE: nothing more is consumed */
    ST__COUNT
} imapd_state;

static const char *const state_names[ST__COUNT] = {
    "not-authenticated", "authenticated", "selected", "sasl", "idle", "tls-wait", "closed",
};

#define SB(st) (1u << (st))

static int debug_states = -1;
static size_t inline_literal_max = IMAPD_INLINE_LITERAL_MAX;

void imapd_set_inline_literal_max(size_t n)
{
    inline_literal_max = n ? n : IMAPD_INLINE_LITERAL_MAX;
}

void imapd_set_debug(int on)
{
    debug_states = on;
}

/* ---- per-command state ------------------------------------------------------------------- */

enum { MAX_STREAMED = 16 };

/* What a running command keeps between input calls: the item text handed out as segments,
 * streamed literal payloads, the SASL exchange, the IDLE tag. Freed when the command ends. */
typedef struct imapd_cmd {
    char *item;          /* segments of the item so far (streamed literals) */
    size_t item_len, item_cap;
    char *lit;           /* streamed literal payloads, back to back */
    size_t lit_len, lit_cap;
    size_t lit_off[MAX_STREAMED], lit_size[MAX_STREAMED];
    unsigned nlit;
    int lit_overflow;    /* more streamed literals than MAX_STREAMED */
    /* SASL and IDLE */
    char tag[256];
    char command[16];    /* AUTHENTICATE / IDLE */
    int mech;            /* profile_mech, or -1 */
    sasl_mech smech;
    char mech_name[24];
    unsigned step;
    char user[256];      /* LOGIN mechanism: the user name of the first response */
    size_t user_len;
    char chal[160];      /* CRAM-MD5 challenge */
    size_t chal_len;
} imapd_cmd;

/* ---- the session --------------------------------------------------------------------------- */

typedef struct imapd {
    session base;
    const mock_listener *ml;
    const profile *p;
    imap_framer fr;
    int64_t start_ms;
    mock_watcher watch;
    const profile_account *acct;
    store_account *sacct;
    store_view *view;
    imapd_cmd *cur;
    uint8_t state;
    uint8_t readonly;       /* the view came from EXAMINE */
    uint8_t not_connected;  /* authenticated but not connected */
    uint8_t first_seen;     /* the first client bytes were classified */
    uint8_t debug;
    sess_admission adm;     /* counted against max_connections */
    uint8_t watching;
    uint8_t utf8;           /* ENABLE UTF8=ACCEPT */
    uint16_t auth_failures;
    uint16_t auth_attempts;
    uint16_t nc_count;      /* not_connected replies sent */
} imapd;

size_t imapd_session_size(void)
{
    return sizeof(imapd);
}

#define IO(s) ((s)->base.io)

static void ev(imapd *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ev(imapd *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    IO(s)->event(IO(s)->ctx, buf);
}

/* The one way to change state. */
static void enter(imapd *s, imapd_state to)
{
    if (s->debug && s->state != to)
        ev(s, "state from=%s to=%s", state_names[s->state], state_names[to]);
    s->state = (uint8_t)to;
}

static void cmd_free(imapd *s)
{
    if (!s->cur)
        return;
    free(s->cur->item);
    free(s->cur->lit);
    free(s->cur);
    s->cur = NULL;
}

static imapd_cmd *cmd_get(imapd *s)
{
    if (!s->cur)
        s->cur = calloc(1, sizeof *s->cur);
    return s->cur;
}

static int grow(char **p, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap)
        return 0;
    if (need > limit)
        return -1;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    if (n > limit)
        n = limit;
    char *q = realloc(*p, n);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* ---- output -------------------------------------------------------------------------------- */

/* Output collected while a command runs: data responses are batched, then sent at once. */
typedef struct obuf {
    char *p;
    size_t len, cap;
    int failed;
} obuf;

static void ob_put(obuf *o, const char *p, size_t n)
{
    if (o->failed || n == 0)
        return;
    if (grow(&o->p, &o->cap, o->len + n, (size_t)1 << 30) != 0) {
        o->failed = 1;
        return;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

static void ob_str(obuf *o, const char *s)
{
    ob_put(o, s, strlen(s));
}

static void ob_fmt(obuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ob_fmt(obuf *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k > 0)
        ob_put(o, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
}

static void ob_flush(imapd *s, obuf *o)
{
    if (o->len)
        IO(s)->send(IO(s)->ctx, o->p, o->len);
    o->len = 0;
}

static void ob_free(obuf *o)
{
    free(o->p);
    *o = (obuf){0};
}

static void send_raw(imapd *s, const char *p, size_t n)
{
    IO(s)->send(IO(s)->ctx, p, n);
}

/* ---- templates ------------------------------------------------------------------------------ */

typedef struct tvars {
    template_conn conn;
    template_vars v;
} tvars;

/* The connection-scope template values are a pure function of (profile, listener, seed,
 * connection, peer, start time). Sessions do not keep them (1.4 KB each would dwarf an idle
 * session); the last connection's values are cached here, which makes a burst of replies to one
 * connection cheap. One process, one event loop: no locking. */
static struct {
    const profile *p;
    const profile_listener *l;
    uint64_t seed, conn_id;
    int64_t start_ms;
    char ip[64];
    template_conn conn;
} conn_cache;

static void tv_init(imapd *s, tvars *t)
{
    char ip[64];
    sess_peer_ip(s->base.info, ip, sizeof ip);
    uint64_t cid = s->base.info ? s->base.info->conn_id : 0;
    memset(&t->v, 0, sizeof t->v);
    if (conn_cache.p != s->p || conn_cache.l != s->ml->pl || conn_cache.seed != s->ml->seed ||
        conn_cache.conn_id != cid || conn_cache.start_ms != s->start_ms || strcmp(conn_cache.ip, ip) != 0) {
        if (profile_conn_init(s->p, s->ml->pl, s->ml->seed, cid, ip, s->start_ms, &conn_cache.conn) != 0)
            profile_conn_init(s->p, s->ml->pl, s->ml->seed, 0, "", s->start_ms, &conn_cache.conn);
        conn_cache.p = s->p;
        conn_cache.l = s->ml->pl;
        conn_cache.seed = s->ml->seed;
        conn_cache.conn_id = cid;
        conn_cache.start_ms = s->start_ms;
        memcpy(conn_cache.ip, ip, sizeof ip);
    }
    t->conn = conn_cache.conn;
    t->v.conn = &t->conn;
    t->v.now_ms = sess_now_ms();
    t->v.v[TPL_TOOK_MS] = "0";
}

/* Expand tpl and send it with CRLF, into o when given, else straight to the client. Context
 * values the template does not use may be set or not; those it uses and that are NULL are
 * filled with "" (a missing value is a session bug, but never a reason to send nothing). */
static void reply_tv(imapd *s, obuf *o, const template *tpl, tvars *t)
{
    if (!tpl)
        return;
    uint32_t used = template_vars_used(tpl);
    for (int i = TPL_TAG; i < TPL_VAR_COUNT; i++)
        if ((used & TPL_BIT(i)) && !t->v.v[i])
            t->v.v[i] = "";
    char stackbuf[2048];
    char *buf = stackbuf;
    int k = template_expand(tpl, &t->v, buf, sizeof stackbuf - 2);
    if (k < 0)
        return;
    if ((size_t)k >= sizeof stackbuf - 2) {
        buf = malloc((size_t)k + 3);
        if (!buf)
            return;
        template_expand(tpl, &t->v, buf, (size_t)k + 1);
    }
    buf[k] = '\r';
    buf[k + 1] = '\n';
    if (o)
        ob_put(o, buf, (size_t)k + 2);
    else
        send_raw(s, buf, (size_t)k + 2);
    if (buf != stackbuf)
        free(buf);
}

/* A reply with the usual context values: tag, command, and optionally text/n/mailbox/size. */
typedef struct rctx {
    const char *tag;
    const char *command;
    const char *text;
    const char *mailbox;
    const char *user;
    const char *mech;
    const char *caps;
    const char *n;
    const char *size;
} rctx;

static void reply(imapd *s, obuf *o, const template *tpl, const rctx *r)
{
    tvars t;
    tv_init(s, &t);
    if (r) {
        t.v.v[TPL_TAG] = r->tag;
        t.v.v[TPL_COMMAND] = r->command;
        t.v.v[TPL_TEXT] = r->text;
        t.v.v[TPL_MAILBOX] = r->mailbox;
        t.v.v[TPL_USER] = r->user;
        t.v.v[TPL_MECH] = r->mech;
        t.v.v[TPL_CAPS] = r->caps;
        t.v.v[TPL_N] = r->n;
        t.v.v[TPL_SIZE] = r->size;
    }
    reply_tv(s, o, tpl, &t);
}

/* ---- capabilities ---------------------------------------------------------------------------- */

static bool tls_on(const imapd *s)
{
    return s->base.info && s->base.info->tls_active;
}

static bool authed(const imapd *s)
{
    return s->acct != NULL;
}

/* The capability list for the current state into buf; returns its length. */
static size_t caps_now(imapd *s, char *buf, size_t cap)
{
    profile_offer o = profile_offer_now(s->p, PROFILE_IMAP, s->ml->pl, tls_on(s));
    tvars t;
    tv_init(s, &t);
    const profile_caps *c = authed(s) ? &s->p->imap.caps_auth : &s->p->imap.s.caps;
    int k = profile_caps_join(PROFILE_IMAP, c, &o, &t.v, " ", buf, cap);
    if (k < 0) {
        buf[0] = 0;
        return 0;
    }
    if ((size_t)k >= cap)
        k = (int)strlen(buf);
    return (size_t)k;
}

/* Is capability name (case-insensitive; "NAME" also matches "NAME=...") in the current list? */
static bool has_cap(imapd *s, const char *name)
{
    char buf[4096];
    size_t n = caps_now(s, buf, sizeof buf);
    size_t len = strlen(name);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && buf[j] != ' ')
            j++;
        if (j - i == len && strncasecmp(buf + i, name, len) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* ---- command context ------------------------------------------------------------------------- */

typedef struct cmdctx {
    const char *item;
    size_t len;
    imap_command c;
    imap_toks t;
    char tag[256];
    char name[32];     /* upper case, "UID FETCH" */
    obuf out;
    const struct cmd_def *def;
} cmdctx;

static const template *tpl_ok_of(const imapd *s, const cmdctx *x);

static void say(imapd *s, cmdctx *x, const template *tpl, const char *text)
{
    rctx r = {.tag = x->tag, .command = x->name, .text = text};
    reply(s, &x->out, tpl, &r);
}

static void say_mailbox(imapd *s, cmdctx *x, const template *tpl, const char *mailbox)
{
    rctx r = {.tag = x->tag, .command = x->name, .mailbox = mailbox, .text = ""};
    reply(s, &x->out, tpl, &r);
}

static void bad_syntax(imapd *s, cmdctx *x, const char *text)
{
    say(s, x, s->p->imap.r.bad_syntax, text);
}

static void op_failed(imapd *s, cmdctx *x, const char *text)
{
    say(s, x, s->p->imap.r.op_failed, text);
}

/* ---- untagged updates (RFC 3501 5.2, 7.4.1) ---------------------------------------------- */

static void w_flags(obuf *o, imapd *s, const store_msg *m, uint32_t seq)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } sys[] = {{STORE_F_SEEN, "\\Seen"},
               {STORE_F_ANSWERED, "\\Answered"},
               {STORE_F_FLAGGED, "\\Flagged"},
               {STORE_F_DELETED, "\\Deleted"},
               {STORE_F_DRAFT, "\\Draft"}};
    ob_str(o, "FLAGS (");
    int first = 1;
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (m->flags & sys[i].bit) {
            if (!first)
                ob_str(o, " ");
            ob_str(o, sys[i].name);
            first = 0;
        }
    store_mailbox *mb = s->view ? store_view_mailbox(s->view) : NULL;
    for (unsigned k = 0; mb && k < STORE_MAX_KEYWORDS; k++)
        if (m->keywords & (1u << k)) {
            const char *kw = store_keyword_name(mb, k);
            if (!kw)
                continue;
            if (!first)
                ob_str(o, " ");
            ob_str(o, kw);
            first = 0;
        }
    if (seq && s->view && store_view_recent(s->view, seq)) {
        if (!first)
            ob_str(o, " ");
        ob_str(o, "\\Recent");
    }
    ob_str(o, ")");
}

typedef struct syncctx {
    imapd *s;
    obuf *o;
} syncctx;

static void sy_expunge(void *ctx, uint32_t seq)
{
    syncctx *c = ctx;
    ob_fmt(c->o, "* %u EXPUNGE\r\n", seq);
}

static void sy_flags(void *ctx, uint32_t seq, const store_msg *m)
{
    syncctx *c = ctx;
    ob_fmt(c->o, "* %u FETCH (", seq);
    w_flags(c->o, c->s, m, seq);
    if (c->s->state == ST_SELECTED || c->s->state == ST_IDLE) {
        ob_fmt(c->o, " UID %u", m->uid);
    }
    ob_str(c->o, ")\r\n");
}

static void sy_exists(void *ctx, uint32_t n)
{
    syncctx *c = ctx;
    ob_fmt(c->o, "* %u EXISTS\r\n", n);
}

static void sy_recent(void *ctx, uint32_t n)
{
    syncctx *c = ctx;
    ob_fmt(c->o, "* %u RECENT\r\n", n);
}

static const store_view_events sync_events = {sy_expunge, sy_flags, sy_exists, sy_recent};

static void view_close(imapd *s)
{
    if (s->view) {
        store_view_close(s->view);
        s->view = NULL;
    }
}

/* Bring the view up to date, writing untagged responses into o. */
static void sync_view(imapd *s, obuf *o, int allow_expunge)
{
    if (!s->view)
        return;
    syncctx c = {s, o};
    int r = store_view_sync(s->view, allow_expunge, &sync_events, &c);
    if (r == -STORE_E_NOTFOUND) {
        /* The mailbox was deleted by another session: leave the selected state. */
        view_close(s);
        if (s->state == ST_SELECTED)
            enter(s, ST_AUTH);
    }
}

static void notify_others(imapd *s)
{
    if (s->ml->mock)
        mock_changed(s->ml->mock);
}

/* ---- tagged OK -------------------------------------------------------------------------------- */

/* Send the command's OK (after the untagged updates the command allows). code, when given, is
 * put as a response code right after "OK " (COPYUID, APPENDUID) unless the template already
 * has one there. */
static void ok_code(imapd *s, cmdctx *x, const template *tpl, const char *code)
{
    if (s->view && (s->state == ST_SELECTED)) {
        int allow = 1;
        imap_cmd_type ty = x->c.type;
        if (!x->c.uid && (ty == IMAP_CMD_FETCH || ty == IMAP_CMD_STORE || ty == IMAP_CMD_SEARCH))
            allow = 0;
        sync_view(s, &x->out, allow);
    }
    if (!tpl)
        tpl = tpl_ok_of(s, x);
    char caps[4096] = "";
    if (template_vars_used(tpl) & TPL_BIT(TPL_CAPS))
        caps_now(s, caps, sizeof caps);
    char user[256] = "";
    if (s->acct)
        snprintf(user, sizeof user, "%s", s->acct->email);
    rctx r = {.tag = x->tag, .command = x->name, .caps = caps, .user = user};
    if (!code) {
        reply(s, &x->out, tpl, &r);
        return;
    }
    obuf tmp = {0};
    reply(s, &tmp, tpl, &r);
    size_t tl = strlen(x->tag);
    if (tmp.len >= tl + 4 && memcmp(tmp.p + tl, " OK ", 4) == 0 && tmp.p[tl + 4] != '[') {
        ob_put(&x->out, tmp.p, tl + 4);
        ob_str(&x->out, "[");
        ob_str(&x->out, code);
        ob_str(&x->out, "] ");
        ob_put(&x->out, tmp.p + tl + 4, tmp.len - tl - 4);
    } else {
        ob_put(&x->out, tmp.p, tmp.len);
    }
    ob_free(&tmp);
}

static void ok(imapd *s, cmdctx *x)
{
    ok_code(s, x, NULL, NULL);
}

/* ---- sequence sets --------------------------------------------------------------------------- */

/* Resolve a sequence set (uid = UID set) to a sorted list of sequence numbers. Returns the
 * count (0 allowed) and *out (malloc'd, free it), or -1 when malformed or out of memory. */
static long seqs_resolve(imapd *s, mr_slice set, int uid, uint32_t **out)
{
    *out = NULL;
    uint32_t count = s->view ? store_view_count(s->view) : 0;
    uint8_t *mark = calloc((size_t)count / 8 + 1, 1);
    if (!mark)
        return -1;
    imap_seq_iter it;
    imap_seq_begin(&it, set);
    uint32_t lo, hi;
    int r;
    long n = 0;
    uint32_t maxuid = count ? store_view_uid(s->view, count) : 0;
    while ((r = imap_seq_next(&it, &lo, &hi)) == 1) {
        uint32_t a, b;
        if (uid) {
            uint32_t ulo = lo == IMAP_SEQ_STAR ? maxuid : lo;
            uint32_t uhi = hi == IMAP_SEQ_STAR ? maxuid : hi;
            if (ulo > uhi) {
                uint32_t t = ulo;
                ulo = uhi;
                uhi = t;
            }
            if (count == 0)
                continue;
            a = store_view_seq_from_uid(s->view, ulo);
            b = uhi == UINT32_MAX ? count + 1 : store_view_seq_from_uid(s->view, uhi + 1);
            if (b > 0)
                b--;
            if (a < 1)
                a = 1;
            /* "n:*" with n above every UID still names the last message (RFC 3501 6.4.8) */
            if ((lo == IMAP_SEQ_STAR || hi == IMAP_SEQ_STAR) && a > count)
                a = b = count;
        } else {
            a = lo == IMAP_SEQ_STAR ? count : lo;
            b = hi == IMAP_SEQ_STAR ? count : hi;
            if (a > b) {
                uint32_t t = a;
                a = b;
                b = t;
            }
            if (a == 0)
                a = 1;
            if (b > count)
                b = count;
        }
        for (uint32_t q = a; q <= b && q >= 1 && q <= count; q++) {
            if (!(mark[q / 8] & (1u << (q % 8)))) {
                mark[q / 8] |= (uint8_t)(1u << (q % 8));
                n++;
            }
            if (q == UINT32_MAX)
                break;
        }
    }
    if (r < 0) {
        free(mark);
        return -1;
    }
    uint32_t *v = malloc(((size_t)n + 1) * sizeof *v);
    if (!v) {
        free(mark);
        return -1;
    }
    long k = 0;
    for (uint32_t q = 1; q <= count && k < n; q++)
        if (mark[q / 8] & (1u << (q % 8)))
            v[k++] = q;
    free(mark);
    *out = v;
    return n;
}

/* ---- mailbox names ---------------------------------------------------------------------------- */

/* Copy the mailbox argument at token i into buf (NUL-terminated). Returns 0, or -1 when it is
 * not a string, too long, or holds a NUL. "inbox" in any case becomes "INBOX". */
static int mailbox_arg(const imap_toks *t, unsigned i, char *buf, size_t cap)
{
    int k = imap_tok_copy(t, i, buf, cap - 1);
    if (k < 0 || (size_t)k >= cap - 1)
        return -1;
    buf[k] = 0;
    if (memchr(buf, 0, (size_t)k))
        return -1;
    if (strcasecmp(buf, "INBOX") == 0)
        memcpy(buf, "INBOX", 6);
    return 0;
}

/* The name a mailbox is shown by: the profile's folder name when it is INBOX spelled
 * otherwise ("Inbox" at Exchange), else the store's. */
static const char *shown_name(const imapd *s, const char *name)
{
    if (strcmp(name, "INBOX") == 0)
        for (size_t i = 0; i < s->p->n_folders; i++)
            if (strcasecmp(s->p->folders[i].name, "INBOX") == 0)
                return s->p->folders[i].name;
    return name;
}

static const profile_folder *folder_of(const imapd *s, const char *name)
{
    for (size_t i = 0; i < s->p->n_folders; i++)
        if (strcmp(s->p->folders[i].name, name) == 0 ||
            (strcmp(name, "INBOX") == 0 && strcasecmp(s->p->folders[i].name, "INBOX") == 0))
            return &s->p->folders[i];
    return NULL;
}

static void w_astring_mailbox(imapd *s, obuf *o, const char *name)
{
    char buf[STORE_MAX_NAME * 2 + 64];
    imap_wbuf w;
    imap_wbuf_init(&w, buf, sizeof buf);
    /* mailbox names are sent as stored: modified UTF-7, or UTF-8 that a client put there */
    (void)s;
    imap_w_astring(&w, (mr_slice){name, strlen(name)}, IMAP_W_UTF8);
    int k = imap_wbuf_result(&w);
    if (k > 0)
        ob_put(o, buf, (size_t)k);
    else
        ob_str(o, "\"\"");
}

/* ---- the command table ------------------------------------------------------------------------ */

typedef void (*cmd_fn)(imapd *s, cmdctx *x);

typedef struct cmd_def {
    imap_cmd_type type;
    unsigned states;      /* SB() of the states it is valid in */
    bool mailbox;         /* a "mailbox command": refused when authenticated but not connected */
    size_t ok_off;        /* offsetof(profile_imap_replies, ok_<command>) */
    cmd_fn fn;
} cmd_def;

static const template *tpl_ok_of(const imapd *s, const cmdctx *x)
{
    const template *const *pt =
        (const template *const *)((const char *)&s->p->imap.r + x->def->ok_off);
    return *pt ? *pt : s->p->imap.r.ok;
}

/* ---- any state ------------------------------------------------------------------------------- */

static void do_capability(imapd *s, cmdctx *x)
{
    char caps[4096];
    size_t n = caps_now(s, caps, sizeof caps);
    ob_str(&x->out, "* CAPABILITY ");
    ob_put(&x->out, caps, n);
    ob_str(&x->out, "\r\n");
    ok(s, x);
}

static void do_noop(imapd *s, cmdctx *x)
{
    ok(s, x);
}

static void do_logout(imapd *s, cmdctx *x)
{
    reply(s, &x->out, s->p->imap.r.logout_bye, NULL);
    ok_code(s, x, NULL, NULL);
    enter(s, ST_CLOSED);
}

/* An untagged response whose data is a profile template ("* ID ...", "* NAMESPACE ..."), then
 * the tagged OK. */
static void untagged_template_ok(imapd *s, cmdctx *x, const char *head, const template *tpl)
{
    tvars t;
    tv_init(s, &t);
    char buf[2048];
    int k = template_expand(tpl, &t.v, buf, sizeof buf);
    if (k >= 0) {
        ob_str(&x->out, head);
        ob_put(&x->out, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
        ob_str(&x->out, "\r\n");
    }
    ok(s, x);
}

static void do_id(imapd *s, cmdctx *x)
{
    untagged_template_ok(s, x, "* ID ", s->p->imap.r.id_reply);
}

static void do_enable(imapd *s, cmdctx *x)
{
    ob_str(&x->out, "* ENABLED");
    for (unsigned i = 0; i < x->t.n; i = imap_tok_next(&x->t, i)) {
        if (imap_tok_is(&x->t, i, "UTF8=ACCEPT") && has_cap(s, "UTF8=ACCEPT")) {
            s->utf8 = 1;
            ob_str(&x->out, " UTF8=ACCEPT");
        }
    }
    ob_str(&x->out, "\r\n");
    ok(s, x);
}

static void do_namespace(imapd *s, cmdctx *x)
{
    untagged_template_ok(s, x, "* NAMESPACE ", s->p->imap.r.namespace);
}

static void do_starttls(imapd *s, cmdctx *x)
{
    profile_offer o = profile_offer_now(s->p, PROFILE_IMAP, s->ml->pl, tls_on(s));
    if (!o.starttls) {
        say(s, x, s->p->imap.r.starttls_unavailable, "STARTTLS not available");
        return;
    }
    ok(s, x);
    enter(s, ST_TLS_WAIT);
}

/* ---- authentication ----------------------------------------------------------------------------- */

static const char *form_name(const profile_auth_result *r)
{
    return r->account ? profile_uform_name(r->form) : NULL;
}

/* Printable single word for an event value. */
static void event_word(const char *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        out[k++] = (c <= 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    out[k] = 0;
    if (k == 0 && cap > 2) {
        out[0] = '-';
        out[1] = 0;
    }
}

static void auth_event(imapd *s, const char *mech, const profile_auth_result *r, const char *user,
                       size_t user_len)
{
    char u[128];
    event_word(user ? user : "", user ? user_len : 0, u, sizeof u);
    const profile_service *svc = &s->p->imap.s;
    const char *expected = svc->username.n ? profile_uform_name((profile_uform)svc->username.v[0]) : "-";
    const char *form = form_name(r);
    char formkv[32] = "";
    if (form)
        snprintf(formkv, sizeof formkv, " form=%s", form);
    ev(s, EV_AUTH_PREFIX "%s mech=%s user=%s%s expected=%s tls=%d attempt=%u",
       profile_auth_outcome_name(r->outcome), mech, u, formkv, expected, tls_on(s) ? 1 : 0,
       (unsigned)s->auth_attempts);
}

/* After the outcome of an attempt is known: reply, state, close. tag/command are the
 * command's; o collects the output. */
static void auth_done(imapd *s, obuf *o, const char *tag, const char *command, const char *mech,
                      profile_auth_result r, const char *user, size_t user_len)
{
    auth_event(s, mech, &r, user, user_len);
    char ubuf[256];
    size_t ul = user_len < sizeof ubuf - 1 ? user_len : sizeof ubuf - 1;
    if (user)
        memcpy(ubuf, user, ul);
    else
        ul = 0;
    ubuf[ul] = 0;
    if (r.outcome == PROFILE_AUTH_OK || r.outcome == PROFILE_AUTH_OK_NOT_CONNECTED) {
        s->acct = r.account;
        s->not_connected = r.outcome == PROFILE_AUTH_OK_NOT_CONNECTED;
        s->sacct = r.account ? store_account_find(s->ml->st, r.account->name) : NULL;
        if (!s->sacct)
            s->not_connected = 1;
        enter(s, ST_AUTH);
        char caps[4096];
        caps_now(s, caps, sizeof caps);
        const template *tpl = strcmp(command, "LOGIN") == 0 ? s->p->imap.r.ok_login : s->p->imap.r.ok_authenticate;
        rctx rc = {.tag = tag, .command = command, .user = ubuf, .caps = caps, .mech = mech};
        reply(s, o, tpl ? tpl : s->p->imap.r.ok, &rc);
        return;
    }
    if (r.outcome >= PROFILE_AUTH_NO_SUCH_USER)
        s->auth_failures++;
    enter(s, ST_NOTAUTH);
    rctx rc = {.tag = tag, .command = command, .user = ubuf, .mech = mech, .text = ""};
    sess_delay(IO(s), r.delay_ms); /* auth_delay_ms: the carrier holds what follows */
    reply(s, o, r.reply ? r.reply : s->p->imap.r.auth_failed, &rc);
    if (r.bye)
        reply(s, o, r.bye, NULL);
    if (r.close)
        enter(s, ST_CLOSED);
}

static void auth_refuse(imapd *s, obuf *o, const char *tag, const char *command, const char *mech,
                        profile_auth_via via, profile_auth_outcome oc, const char *user, size_t ulen)
{
    profile_auth_result r = profile_auth_refusal(s->p, PROFILE_IMAP, via, oc, s->auth_failures);
    r.outcome = oc;
    auth_done(s, o, tag, command, mech, r, user, ulen);
}

static void do_login(imapd *s, cmdctx *x)
{
    s->auth_attempts++;
    imap_nstring u, pw;
    if (x->t.n < 2 || imap_tok_nstring(&x->t, 0, &u) != 0 ||
        imap_tok_nstring(&x->t, imap_tok_next(&x->t, 0), &pw) != 0 || u.nil || pw.nil ||
        u.streamed || pw.streamed) {
        s->auth_attempts--;
        bad_syntax(s, x, "LOGIN needs a user name and a password");
        return;
    }
    char user[512], pass[512];
    size_t ul = u.escaped ? imap_unescape(u.s.p, u.s.n, user, sizeof user) : u.s.n;
    if (!u.escaped)
        memcpy(user, u.s.p, ul < sizeof user ? ul : sizeof user);
    size_t pl = pw.escaped ? imap_unescape(pw.s.p, pw.s.n, pass, sizeof pass) : pw.s.n;
    if (!pw.escaped)
        memcpy(pass, pw.s.p, pl < sizeof pass ? pl : sizeof pass);
    if (ul > sizeof user)
        ul = sizeof user;
    if (pl > sizeof pass)
        pl = sizeof pass;
    if (!tls_on(s))
        ev(s, EV_CREDENTIALS_BEFORE_TLS " mech=LOGIN");
    profile_auth_outcome g = profile_auth_gate(s->p, PROFILE_IMAP, s->ml->pl, tls_on(s), PROFILE_VIA_LOGIN, 0);
    if (g != PROFILE_AUTH_OK) {
        if (g == PROFILE_AUTH_LOGIN_DISABLED && !tls_on(s))
            ev(s, EV_NEEDS_TLS " command=LOGIN");
        auth_refuse(s, &x->out, x->tag, x->name, "LOGIN", PROFILE_VIA_LOGIN, g, user, ul);
        memset(pass, 0, sizeof pass);
        return;
    }
    profile_credentials c = {.via = PROFILE_VIA_LOGIN, .mech = -1, .user = user, .user_len = ul,
                             .secret = pass, .secret_len = pl};
    profile_auth_result r = profile_auth_check(s->p, PROFILE_IMAP, &c, s->auth_failures);
    memset(pass, 0, sizeof pass);
    auth_done(s, &x->out, x->tag, x->name, "LOGIN", r, user, ul);
}

/* Finish an AUTHENTICATE exchange with the decoded client message msg[0..n). */
static void sasl_finish(imapd *s, obuf *o, const char *msg, size_t n)
{
    imapd_cmd *c = s->cur;
    sasl_limits lim = sasl_limits_default();
    mr_error err;
    profile_credentials cr = {.via = PROFILE_VIA_SASL, .mech = c->mech};
    switch (c->smech) {
    case SASL_MECH_PLAIN: {
        sasl_plain m;
        if (sasl_plain_parse(msg, n, MR_LENIENT, &lim, &m, &err) != 0)
            goto bad_blob;
        cr.user = m.authcid.p;
        cr.user_len = m.authcid.n;
        cr.secret = m.passwd.p;
        cr.secret_len = m.passwd.n;
        break;
    }
    case SASL_MECH_LOGIN:
        cr.user = c->user;
        cr.user_len = c->user_len;
        cr.secret = msg;
        cr.secret_len = n;
        break;
    case SASL_MECH_XOAUTH2: {
        sasl_xoauth2 m;
        if (sasl_xoauth2_parse(msg, n, MR_LENIENT, &lim, &m, &err) != 0 || m.dummy)
            goto bad_blob;
        cr.user = m.user.p;
        cr.user_len = m.user.n;
        cr.secret = m.auth.token.p;
        cr.secret_len = m.auth.token.n;
        break;
    }
    case SASL_MECH_OAUTHBEARER: {
        sasl_oauthbearer m;
        if (sasl_oauthbearer_parse(msg, n, MR_LENIENT, &lim, &m, &err) != 0 || m.dummy)
            goto bad_blob;
        cr.user = m.gs2.authzid.p;
        cr.user_len = m.gs2.authzid.p ? m.gs2.authzid.n : 0;
        cr.secret = m.auth.token.p;
        cr.secret_len = m.auth.token.n;
        break;
    }
    case SASL_MECH_CRAM_MD5: {
        sasl_cram_response m;
        if (sasl_cram_response_parse(msg, n, MR_LENIENT, &lim, &m, &err) != 0)
            goto bad_blob;
        cr.user = m.user.p;
        cr.user_len = m.user.n;
        cr.secret = m.digest.p;
        cr.secret_len = m.digest.n;
        cr.challenge = c->chal;
        cr.challenge_len = c->chal_len;
        break;
    }
    default:
        cr.secret = msg;
        cr.secret_len = n;
        break;
    }
    if (!tls_on(s) && !(sasl_mech_flags(c->smech) & SASL_MECHF_NO_SECRET))
        ev(s, EV_CREDENTIALS_BEFORE_TLS " mech=%s", c->mech_name);
    profile_auth_result r = profile_auth_check(s->p, PROFILE_IMAP, &cr, s->auth_failures);
    char tag[256], mech[24];
    snprintf(tag, sizeof tag, "%s", c->tag);
    snprintf(mech, sizeof mech, "%s", c->mech_name);
    char user[256];
    size_t ul = cr.user_len < sizeof user ? cr.user_len : sizeof user;
    if (cr.user)
        memcpy(user, cr.user, ul);
    cmd_free(s);
    auth_done(s, o, tag, "AUTHENTICATE", mech, r, cr.user ? user : NULL, ul);
    return;
bad_blob:;
    char tag2[256], mech2[24];
    snprintf(tag2, sizeof tag2, "%s", c->tag);
    snprintf(mech2, sizeof mech2, "%s", c->mech_name);
    cmd_free(s);
    auth_refuse(s, o, tag2, "AUTHENTICATE", mech2, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, NULL, 0);
}

/* Send the next server challenge (raw bytes, base64-encoded into auth_continue's {text}). */
static void sasl_challenge(imapd *s, obuf *o, const char *raw, size_t n)
{
    char b64[512];
    size_t k = 0;
    if (n) {
        int r = b64_encode(raw, n, b64, sizeof b64 - 1, NULL);
        k = r > 0 ? (size_t)r : 0;
    }
    b64[k] = 0;
    rctx rc = {.text = b64};
    reply(s, o, s->p->imap.r.auth_continue, &rc);
}

/* The client's message msg[0..n) (decoded) arrived during the exchange: next step. */
static void sasl_step(imapd *s, obuf *o, const char *msg, size_t n)
{
    imapd_cmd *c = s->cur;
    if (c->smech == SASL_MECH_LOGIN && c->step == 0) {
        c->user_len = n < sizeof c->user ? n : sizeof c->user;
        memcpy(c->user, msg, c->user_len);
        c->step++;
        enter(s, ST_SASL);
        sasl_challenge(s, o, "Password:", 9);
        return;
    }
    sasl_finish(s, o, msg, n);
}

static void do_authenticate(imapd *s, cmdctx *x)
{
    s->auth_attempts++;
    mr_slice mname = imap_tok_slice(&x->t, 0);
    if (x->t.n < 1 || mname.n == 0) {
        s->auth_attempts--;
        bad_syntax(s, x, "AUTHENTICATE needs a mechanism");
        return;
    }
    char mech[24];
    event_word(mname.p, mname.n < 20 ? mname.n : 20, mech, sizeof mech);
    for (char *q = mech; *q; q++)
        if (*q >= 'a' && *q <= 'z')
            *q = (char)(*q - 32);
    int pm = profile_mech_from_name(mname.p, mname.n);
    profile_offer off = profile_offer_now(s->p, PROFILE_IMAP, s->ml->pl, tls_on(s));
    bool offered = false;
    for (unsigned i = 0; pm >= 0 && i < off.mechs.n; i++)
        if (off.mechs.v[i] == pm)
            offered = true;
    if (!offered)
        ev(s, EV_MECH_NOT_OFFERED " mech=%s", mech);
    profile_auth_outcome g = profile_auth_gate(s->p, PROFILE_IMAP, s->ml->pl, tls_on(s), PROFILE_VIA_SASL, pm);
    if (g != PROFILE_AUTH_OK) {
        if (g == PROFILE_AUTH_NEEDS_TLS)
            ev(s, EV_NEEDS_TLS " command=AUTHENTICATE");
        auth_refuse(s, &x->out, x->tag, x->name, mech, PROFILE_VIA_SASL, g, NULL, 0);
        return;
    }
    imapd_cmd *c = cmd_get(s);
    if (!c) {
        op_failed(s, x, "Out of memory");
        return;
    }
    snprintf(c->tag, sizeof c->tag, "%s", x->tag);
    snprintf(c->command, sizeof c->command, "AUTHENTICATE");
    snprintf(c->mech_name, sizeof c->mech_name, "%s", mech);
    c->mech = pm;
    c->smech = sasl_mech_lookup(mname);
    c->step = 0;
    unsigned ir = imap_tok_next(&x->t, 0);
    if (ir < x->t.n) {
        /* SASL-IR (RFC 4959) */
        mr_slice b = imap_tok_slice(&x->t, ir);
        size_t cap = b.n / 4 * 3 + 4;
        char *dec = malloc(cap);
        sasl_payload pl;
        mr_error err;
        if (!dec || sasl_payload_decode(b.p, b.n, SASL_INITIAL_RESPONSE, MR_LENIENT, dec, cap, &pl, &err) != 0) {
            free(dec);
            sasl_finish_bad:;
            char tag[256];
            snprintf(tag, sizeof tag, "%s", x->tag);
            cmd_free(s);
            auth_refuse(s, &x->out, tag, x->name, mech, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, NULL, 0);
            return;
        }
        if (pl.kind == SASL_PAYLOAD_ABORT) {
            free(dec);
            goto sasl_finish_bad;
        }
        sasl_step(s, &x->out, dec, pl.kind == SASL_PAYLOAD_DATA ? pl.len : 0);
        free(dec);
        return;
    }
    enter(s, ST_SASL);
    switch (c->smech) {
    case SASL_MECH_LOGIN:
        sasl_challenge(s, &x->out, "Username:", 9);
        break;
    case SASL_MECH_CRAM_MD5: {
        tvars t;
        tv_init(s, &t);
        const char *host = t.conn.fqdn[0] ? t.conn.fqdn : t.conn.be[0] ? t.conn.be : "localhost";
        int k = snprintf(c->chal, sizeof c->chal, "<%u.%lld@%s>",
                         (unsigned)((s->base.info ? s->base.info->conn_id : 0) * 7919u + 1000u),
                         (long long)(s->start_ms / 1000), host);
        c->chal_len = k > 0 && (size_t)k < sizeof c->chal ? (size_t)k : 0;
        sasl_challenge(s, &x->out, c->chal, c->chal_len);
        break;
    }
    default:
        sasl_challenge(s, &x->out, "", 0);
        break;
    }
}

/* Redact a SASL payload (base64 text) for the transcript into red[0..cap). Returns its length;
 * 0 means "nothing secret in it: report the original bytes" (sasl_redact re-encodes what it
 * shows, which may differ from what the client sent in padding or whitespace). */
static size_t sasl_redacted(sasl_mech mech, unsigned step, const char *b64, size_t n, char *red, size_t cap)
{
    int k = sasl_redact(mech, step, b64, n, 1, SASL_REDACT_WIRE, red, cap);
    if (k < 0 || (size_t)k > cap)
        return (size_t)snprintf(red, cap, "<redacted>");
    if ((size_t)k == n && memcmp(red, b64, n) == 0)
        return 0; /* unchanged ("*", "=", a user name) */
    if (memmem(red, (size_t)k, "<redacted>", 10))
        return (size_t)k;
    char dec[SASL_REDACT_MAX_DECODED];
    int d = b64_decode(red, (size_t)k, dec, sizeof dec, B64_LENIENT, NULL);
    if (d < 0 || memmem(dec, (size_t)d, "<redacted>", 10))
        return (size_t)k;
    return 0;
}

/* A client line during ST_SASL. Returns bytes consumed (0 = need more). */
static size_t in_sasl(imapd *s, const char *p, size_t n)
{
    imapd_cmd *c = s->cur;
    sasl_limits lim = sasl_limits_default();
    size_t maxl = s->p->imap.s.max_auth_line ? s->p->imap.s.max_auth_line : 12288;
    lim.max_line = maxl;
    lim.max_message = maxl;
    size_t cap = maxl / 4 * 3 + 4;
    char *dec = malloc(cap);
    if (!dec)
        return 0;
    sasl_payload pl;
    mr_error err;
    size_t scanned = 0;
    /* strict first, once the line is whole (a violation is reported once) */
    int whole = memchr(p, '\n', n < maxl + 2 ? n : maxl + 2) != NULL;
    int r = sasl_response_line_parse(p, n, whole ? MR_STRICT : MR_LENIENT, &lim, &scanned, dec, cap, &pl, &err);
    if (whole && r == MR_ERROR && err.code != MR_E_LIMIT_LINE) {
        ev(s, EV_STRICT_VIOLATION " rule=%s code=%s offset=%zu", err.rule ? err.rule : "-",
           mr_errcode_str(err.code), err.offset);
        scanned = 0;
        r = sasl_response_line_parse(p, n, MR_LENIENT, &lim, &scanned, dec, cap, &pl, &err);
    }
    if (r == MR_NEED_MORE) {
        free(dec);
        return 0;
    }
    obuf o = {0};
    size_t used;
    if (r == MR_ERROR && err.code == MR_E_LIMIT_LINE) {
        ev(s, EV_LINE_TOO_LONG " limit=%zu", maxl);
        IO(s)->client_data(IO(s)->ctx, "<redacted>\r\n", 12, 0);
        reply(s, &o, s->p->imap.r.line_too_long, NULL);
        ob_flush(s, &o);
        ob_free(&o);
        free(dec);
        cmd_free(s);
        enter(s, ST_CLOSED);
        IO(s)->close(IO(s)->ctx, "line-too-long");
        return n;
    }
    if (r == MR_ERROR) {
        const char *lf = memchr(p, '\n', n);
        if (!lf) {
            free(dec);
            return 0;
        }
        used = (size_t)(lf - p) + 1;
    } else {
        used = (size_t)r;
    }
    /* The transcript gets the line redacted. */
    size_t body = used;
    while (body > 0 && (p[body - 1] == '\n' || p[body - 1] == '\r'))
        body--;
    char red[1024];
    size_t rl = sasl_redacted(c->smech, c->step, p, body, red, sizeof red - 2);
    if (rl) {
        memcpy(red + rl, "\r\n", 2);
        IO(s)->client_data(IO(s)->ctx, red, rl + 2, 0);
    } else {
        IO(s)->client_data(IO(s)->ctx, p, used, 0);
    }
    if (r == MR_ERROR) {
        char tag[256], mech[24];
        snprintf(tag, sizeof tag, "%s", c->tag);
        snprintf(mech, sizeof mech, "%s", c->mech_name);
        cmd_free(s);
        auth_refuse(s, &o, tag, "AUTHENTICATE", mech, PROFILE_VIA_SASL, PROFILE_AUTH_BAD_BLOB, NULL, 0);
    } else if (pl.kind == SASL_PAYLOAD_ABORT) {
        char tag[256], mech[24];
        snprintf(tag, sizeof tag, "%s", c->tag);
        snprintf(mech, sizeof mech, "%s", c->mech_name);
        cmd_free(s);
        auth_refuse(s, &o, tag, "AUTHENTICATE", mech, PROFILE_VIA_SASL, PROFILE_AUTH_CANCELLED, NULL, 0);
    } else {
        sasl_step(s, &o, dec, pl.kind == SASL_PAYLOAD_DATA ? pl.len : 0);
    }
    free(dec);
    ob_flush(s, &o);
    ob_free(&o);
    if (s->state == ST_CLOSED)
        IO(s)->close(IO(s)->ctx, "auth-failed");
    return used;
}

/* ---- mailboxes ------------------------------------------------------------------------------ */

static void store_fail(imapd *s, cmdctx *x, store_err e, const char *mailbox)
{
    switch (e) {
    case STORE_E_NOTFOUND:
        say_mailbox(s, x, s->p->imap.r.no_mailbox, mailbox);
        return;
    case STORE_E_EXISTS:
        say_mailbox(s, x, s->p->imap.r.mailbox_exists, mailbox);
        return;
    case STORE_E_TOOBIG: {
        rctx r = {.tag = x->tag, .command = x->name, .text = "Message too large", .size = "0"};
        reply(s, &x->out, s->p->imap.r.literal_too_big, &r);
        return;
    }
    default:
        op_failed(s, x, store_strerror(e));
        return;
    }
}

static void w_status_items(imapd *s, obuf *o, store_mailbox *mb, const imap_toks *t, unsigned list)
{
    store_status st;
    store_mailbox_status(mb, &st);
    ob_str(o, "* STATUS ");
    w_astring_mailbox(s, o, shown_name(s, store_mailbox_name(mb)));
    ob_str(o, " (");
    int first = 1;
    unsigned end = imap_tok_next(t, list);
    for (unsigned i = list + 1; i < end; i = imap_tok_next(t, i)) {
        mr_slice a = imap_tok_slice(t, i);
        uint64_t v;
        const char *name;
        if (mr_slice_eq_ci(a, "MESSAGES"))
            name = "MESSAGES", v = st.messages;
        else if (mr_slice_eq_ci(a, "RECENT"))
            name = "RECENT", v = st.recent;
        else if (mr_slice_eq_ci(a, "UIDNEXT"))
            name = "UIDNEXT", v = st.uidnext;
        else if (mr_slice_eq_ci(a, "UIDVALIDITY"))
            name = "UIDVALIDITY", v = st.uidvalidity;
        else if (mr_slice_eq_ci(a, "UNSEEN"))
            name = "UNSEEN", v = st.unseen;
        else if (mr_slice_eq_ci(a, "SIZE"))
            name = "SIZE", v = st.size;
        else if (mr_slice_eq_ci(a, "HIGHESTMODSEQ"))
            name = "HIGHESTMODSEQ", v = st.highestmodseq;
        else
            continue;
        ob_fmt(o, "%s%s %llu", first ? "" : " ", name, (unsigned long long)v);
        first = 0;
    }
    ob_str(o, ")\r\n");
}

static void do_status(imapd *s, cmdctx *x)
{
    char name[STORE_MAX_NAME + 2];
    unsigned list = x->t.n ? imap_tok_next(&x->t, 0) : 0;
    if (x->t.n < 2 || mailbox_arg(&x->t, 0, name, sizeof name) != 0 || list >= x->t.n ||
        x->t.tok[list].type != IMAP_T_LIST) {
        bad_syntax(s, x, "STATUS needs a mailbox and a list of items");
        return;
    }
    store_mailbox *mb = store_mailbox_find(s->sacct, name);
    if (!mb || (store_mailbox_attrs(mb) & STORE_MB_NOSELECT)) {
        say_mailbox(s, x, s->p->imap.r.no_mailbox, name);
        return;
    }
    w_status_items(s, &x->out, mb, &x->t, list);
    ok(s, x);
}

static void do_select(imapd *s, cmdctx *x)
{
    char name[STORE_MAX_NAME + 2];
    if (x->t.n < 1 || mailbox_arg(&x->t, 0, name, sizeof name) != 0) {
        bad_syntax(s, x, "SELECT needs a mailbox");
        return;
    }
    int ro = x->c.type == IMAP_CMD_EXAMINE;
    view_close(s);
    enter(s, ST_AUTH);
    store_mailbox *mb = store_mailbox_find(s->sacct, name);
    store_view *v = NULL;
    if (!mb || store_view_open(s->ml->st, mb, ro, &v) != STORE_OK) {
        say_mailbox(s, x, s->p->imap.r.no_mailbox, name);
        return;
    }
    s->view = v;
    s->readonly = (uint8_t)ro;
    enter(s, ST_SELECTED);
    store_status st;
    store_mailbox_status(mb, &st);
    obuf *o = &x->out;
    ob_str(o, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    obuf kw = {0};
    for (unsigned k = 0; k < store_keyword_count(mb); k++) {
        const char *n = store_keyword_name(mb, k);
        if (n) {
            ob_str(&kw, " ");
            ob_str(&kw, n);
        }
    }
    if (kw.len)
        ob_put(o, kw.p, kw.len);
    ob_str(o, ")\r\n");
    ob_fmt(o, "* %u EXISTS\r\n", store_view_count(v));
    ob_fmt(o, "* %u RECENT\r\n", store_view_recent_count(v));
    char nb[24];
    tvars t;
    if (st.first_unseen) {
        tv_init(s, &t);
        snprintf(nb, sizeof nb, "%u", st.first_unseen);
        t.v.v[TPL_N] = nb;
        reply_tv(s, o, s->p->imap.r.select_unseen, &t);
    }
    {
        char pf[2048];
        snprintf(pf, sizeof pf, "\\Answered \\Flagged \\Deleted \\Seen \\Draft%.*s \\*",
                 (int)(kw.len < 1900 ? kw.len : 1900), kw.p ? kw.p : "");
        tv_init(s, &t);
        t.v.v[TPL_TEXT] = ro ? "" : pf;
        reply_tv(s, o, s->p->imap.r.select_permanentflags, &t);
    }
    ob_free(&kw);
    tv_init(s, &t);
    snprintf(nb, sizeof nb, "%u", st.uidvalidity);
    t.v.v[TPL_N] = nb;
    reply_tv(s, o, s->p->imap.r.select_uidvalidity, &t);
    tv_init(s, &t);
    snprintf(nb, sizeof nb, "%u", st.uidnext);
    t.v.v[TPL_N] = nb;
    reply_tv(s, o, s->p->imap.r.select_uidnext, &t);
    ok(s, x);
}

static void do_create(imapd *s, cmdctx *x)
{
    char name[STORE_MAX_NAME + 2];
    if (x->t.n < 1 || mailbox_arg(&x->t, 0, name, sizeof name) != 0) {
        bad_syntax(s, x, "CREATE needs a mailbox");
        return;
    }
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] == '/')
        name[--n] = 0; /* RFC 3501 6.3.3: a trailing separator says "will have inferiors" */
    store_err e = store_mailbox_create(s->ml->st, s->sacct, name, 0, NULL);
    if (e != STORE_OK) {
        store_fail(s, x, e, name);
        return;
    }
    ok(s, x);
}

static void do_delete(imapd *s, cmdctx *x)
{
    char name[STORE_MAX_NAME + 2];
    if (x->t.n < 1 || mailbox_arg(&x->t, 0, name, sizeof name) != 0) {
        bad_syntax(s, x, "DELETE needs a mailbox");
        return;
    }
    store_err e = store_mailbox_delete(s->ml->st, s->sacct, name);
    if (e != STORE_OK) {
        store_fail(s, x, e, name);
        return;
    }
    if (s->view && !store_view_mailbox(s->view)) {
        view_close(s);
        enter(s, ST_AUTH);
    }
    notify_others(s);
    ok(s, x);
}

static void do_rename(imapd *s, cmdctx *x)
{
    char from[STORE_MAX_NAME + 2], to[STORE_MAX_NAME + 2];
    if (x->t.n < 2 || mailbox_arg(&x->t, 0, from, sizeof from) != 0 ||
        mailbox_arg(&x->t, imap_tok_next(&x->t, 0), to, sizeof to) != 0) {
        bad_syntax(s, x, "RENAME needs two mailboxes");
        return;
    }
    store_err e = store_mailbox_rename(s->ml->st, s->sacct, from, to);
    if (e != STORE_OK) {
        store_fail(s, x, e, e == STORE_E_EXISTS ? to : from);
        return;
    }
    notify_others(s);
    ok(s, x);
}

static void do_subscribe(imapd *s, cmdctx *x)
{
    char name[STORE_MAX_NAME + 2];
    if (x->t.n < 1 || mailbox_arg(&x->t, 0, name, sizeof name) != 0) {
        bad_syntax(s, x, "a mailbox is needed");
        return;
    }
    store_err e = store_mailbox_subscribe(s->ml->st, s->sacct, name, x->c.type == IMAP_CMD_SUBSCRIBE);
    if (e == STORE_E_NOTFOUND && x->c.type == IMAP_CMD_UNSUBSCRIBE)
        e = STORE_OK; /* unsubscribing a name that is gone is fine (RFC 3501 6.3.7) */
    if (e != STORE_OK) {
        store_fail(s, x, e, name);
        return;
    }
    ok(s, x);
}

/* LIST / LSUB */
typedef struct listctx {
    imapd *s;
    obuf *o;
    const char *kw;
    int lsub;
    int special_only;     /* LIST (SPECIAL-USE) selection */
    int subscribed_only;  /* LIST (SUBSCRIBED) selection */
    int ret_special;      /* RETURN (SPECIAL-USE) */
    int ret_children;
    int cap_special, cap_children; /* SPECIAL-USE / CHILDREN advertised now */
    const imap_toks *t;
    unsigned status_list; /* RETURN (STATUS (...)): the item list, or IMAP_NONE */
} listctx;

static void list_one(void *ctx, const store_mailbox *mb, unsigned attrs)
{
    listctx *c = ctx;
    imapd *s = c->s;
    if (c->lsub && !(attrs & STORE_MB_SUBSCRIBED))
        return;
    if (c->subscribed_only && !(attrs & STORE_MB_SUBSCRIBED))
        return;
    if (c->special_only && !(attrs & STORE_MB_SPECIAL_USE))
        return;
    const char *name = store_mailbox_name(mb);
    const profile_folder *f = folder_of(s, name);
    obuf *o = c->o;
    ob_fmt(o, "* %s (", c->kw);
    int first = 1;
#define ATTR(str)                                                                                  \
    do {                                                                                           \
        if (!first)                                                                                \
            ob_str(o, " ");                                                                        \
        ob_str(o, str);                                                                            \
        first = 0;                                                                                 \
    } while (0)
    int has_children_attr = 0;
    if (f) {
        for (size_t i = 0; i < f->flags.n; i++) {
            const char *fl = f->flags.v[i];
            if (strcasecmp(fl, "\\HasChildren") == 0 || strcasecmp(fl, "\\HasNoChildren") == 0)
                has_children_attr = 1;
            ATTR(fl);
        }
    } else {
        if (attrs & STORE_MB_NOSELECT)
            ATTR("\\Noselect");
        if (c->ret_special || c->cap_special)
            for (unsigned b = 1; b <= STORE_MB_TRASH; b <<= 1)
                if ((attrs & b) && store_special_use_name(b))
                    ATTR(store_special_use_name(b));
    }
    if (!has_children_attr && (c->ret_children || c->cap_children)) {
        if (attrs & STORE_LIST_HAS_CHILDREN)
            ATTR("\\HasChildren");
        else if (attrs & STORE_LIST_HAS_NO_CHILDREN)
            ATTR("\\HasNoChildren");
    }
    if (c->subscribed_only && (attrs & STORE_MB_SUBSCRIBED))
        ATTR("\\Subscribed");
#undef ATTR
    char d = s->p->imap.delimiter ? s->p->imap.delimiter : '/';
    if (d == '"' || d == '\\')
        ob_fmt(o, ") \"\\%c\" ", d);
    else
        ob_fmt(o, ") \"%c\" ", d);
    w_astring_mailbox(s, o, shown_name(s, name));
    ob_str(o, "\r\n");
    if (c->status_list != IMAP_NONE && !(attrs & STORE_MB_NOSELECT))
        w_status_items(s, o, (store_mailbox *)mb, c->t, c->status_list);
}

static void do_list(imapd *s, cmdctx *x)
{
    const imap_toks *t = &x->t;
    listctx c = {.s = s, .o = &x->out, .t = t, .status_list = IMAP_NONE};
    c.lsub = x->c.type == IMAP_CMD_LSUB;
    c.cap_special = has_cap(s, "SPECIAL-USE");
    c.cap_children = has_cap(s, "CHILDREN");
    c.kw = c.lsub ? "LSUB" : "LIST";
    unsigned i = 0;
    if (!c.lsub && i < t->n && t->tok[i].type == IMAP_T_LIST) {
        unsigned end = imap_tok_next(t, i);
        for (unsigned k = i + 1; k < end; k = imap_tok_next(t, k)) {
            if (imap_tok_is(t, k, "SPECIAL-USE"))
                c.special_only = c.ret_special = 1;
            else if (imap_tok_is(t, k, "SUBSCRIBED"))
                c.subscribed_only = 1;
        }
        i = end;
    }
    char ref[STORE_MAX_NAME + 2];
    if (i >= t->n || mailbox_arg(t, i, ref, sizeof ref) != 0) {
        bad_syntax(s, x, "LIST needs a reference and a pattern");
        return;
    }
    i = imap_tok_next(t, i);
    if (i >= t->n) {
        bad_syntax(s, x, "LIST needs a reference and a pattern");
        return;
    }
    /* one pattern, or a parenthesised list of them (RFC 5258 multiple patterns) */
    unsigned pat_first = t->tok[i].type == IMAP_T_LIST ? i + 1 : i;
    unsigned pat_end = imap_tok_next(t, i);
    unsigned after = imap_tok_next(t, i);
    if (!c.lsub && after < t->n && imap_tok_is(t, after, "RETURN")) {
        unsigned rl = imap_tok_next(t, after);
        if (rl < t->n && t->tok[rl].type == IMAP_T_LIST) {
            unsigned end = imap_tok_next(t, rl);
            for (unsigned k = rl + 1; k < end; k = imap_tok_next(t, k)) {
                if (imap_tok_is(t, k, "SPECIAL-USE"))
                    c.ret_special = 1;
                else if (imap_tok_is(t, k, "CHILDREN"))
                    c.ret_children = 1;
                else if (imap_tok_is(t, k, "STATUS")) {
                    unsigned sl = imap_tok_next(t, k);
                    if (sl < end && t->tok[sl].type == IMAP_T_LIST)
                        c.status_list = sl;
                }
            }
        }
    }
    for (unsigned k = pat_first; k < pat_end; k = imap_tok_next(t, k)) {
        char pat[STORE_MAX_NAME + 2];
        if (mailbox_arg(t, k, pat, sizeof pat) != 0) {
            int kk = imap_tok_copy(t, k, pat, sizeof pat - 1);
            if (kk < 0)
                continue;
            pat[kk < (int)sizeof pat - 1 ? kk : (int)sizeof pat - 1] = 0;
        }
        if (pat[0] == 0 && !c.lsub) {
            /* RFC 3501 6.3.8: the hierarchy delimiter and the root of the reference */
            char d = s->p->imap.delimiter ? s->p->imap.delimiter : '/';
            ob_fmt(&x->out, "* LIST (\\Noselect) \"%c\" \"\"\r\n", d);
            continue;
        }
        char full[2 * STORE_MAX_NAME + 4];
        snprintf(full, sizeof full, "%s%s", pat[0] == '/' ? "" : ref, pat);
        /* "inbox" in any case is INBOX */
        if (strncasecmp(full, "INBOX", 5) == 0 && (full[5] == 0 || full[5] == '/'))
            memcpy(full, "INBOX", 5);
        if (s->sacct)
            store_list(s->sacct, full, list_one, &c);
    }
    ok(s, x);
}

/* ---- APPEND ---------------------------------------------------------------------------------- */

static int flag_bits(imapd *s, store_mailbox *mb, const imap_toks *t, unsigned from, unsigned to,
                     uint32_t *flags, uint32_t *keywords, int create)
{
    *flags = 0;
    *keywords = 0;
    for (unsigned i = from; i < to; i = imap_tok_next(t, i)) {
        mr_slice f = imap_tok_slice(t, i);
        if (t->tok[i].type != IMAP_T_ATOM)
            return -1;
        if (f.n && f.p[0] == '\\') {
            if (mr_slice_eq_ci(f, "\\Seen"))
                *flags |= STORE_F_SEEN;
            else if (mr_slice_eq_ci(f, "\\Answered"))
                *flags |= STORE_F_ANSWERED;
            else if (mr_slice_eq_ci(f, "\\Flagged"))
                *flags |= STORE_F_FLAGGED;
            else if (mr_slice_eq_ci(f, "\\Deleted"))
                *flags |= STORE_F_DELETED;
            else if (mr_slice_eq_ci(f, "\\Draft"))
                *flags |= STORE_F_DRAFT;
            else if (mr_slice_eq_ci(f, "\\Recent"))
                ;
            else
                return -1;
            continue;
        }
        int k = store_keyword(s->ml->st, mb, f.p, f.n, create);
        if (k >= 0)
            *keywords |= 1u << k;
        else if (k != -STORE_E_NOTFOUND)
            return -1;
    }
    return 0;
}

static void do_append(imapd *s, cmdctx *x)
{
    const imap_toks *t = &x->t;
    char name[STORE_MAX_NAME + 2];
    if (t->n < 2 || mailbox_arg(t, 0, name, sizeof name) != 0) {
        bad_syntax(s, x, "APPEND needs a mailbox and a message");
        return;
    }
    store_mailbox *mb = store_mailbox_find(s->sacct, name);
    if (!mb) {
        say_mailbox(s, x, s->p->imap.r.no_mailbox_create, name);
        return;
    }
    unsigned i = imap_tok_next(t, 0);
    uint32_t uids[64];
    unsigned nuid = 0, streamed_k = 0;
    while (i < t->n) {
        store_append_opts ao = {0};
        if (t->tok[i].type == IMAP_T_LIST) {
            if (flag_bits(s, mb, t, i + 1, imap_tok_next(t, i), &ao.flags, &ao.keywords, 1) != 0) {
                bad_syntax(s, x, "Invalid flags");
                return;
            }
            i = imap_tok_next(t, i);
        }
        if (i < t->n && t->tok[i].type == IMAP_T_QUOTED) {
            imap_datetime dt;
            if (imap_datetime_parse(imap_tok_slice(t, i), MR_LENIENT, &dt) != 0) {
                bad_syntax(s, x, "Invalid date-time");
                return;
            }
            struct tm tm = {.tm_year = dt.year - 1900, .tm_mon = dt.month - 1, .tm_mday = dt.day,
                            .tm_hour = dt.hour, .tm_min = dt.min, .tm_sec = dt.sec};
            ao.has_date = 1;
            ao.internal_date = (int64_t)timegm(&tm) - (int64_t)dt.zone * 60;
            ao.internal_zone = dt.zone;
            i = imap_tok_next(t, i);
        }
        if (i >= t->n || t->tok[i].type != IMAP_T_LITERAL) {
            bad_syntax(s, x, "APPEND needs a message literal");
            return;
        }
        const char *data;
        size_t len;
        if (t->tok[i].flags & IMAP_TF_STREAMED) {
            if (!s->cur || streamed_k >= s->cur->nlit) {
                bad_syntax(s, x, "Message literal missing");
                return;
            }
            data = s->cur->lit + s->cur->lit_off[streamed_k];
            len = s->cur->lit_size[streamed_k];
            streamed_k++;
        } else {
            mr_slice sl = imap_tok_slice(t, i);
            data = sl.p;
            len = sl.n;
        }
        uint32_t uid = 0;
        store_err e = store_append(s->ml->st, mb, data, len, &ao, &uid);
        if (e != STORE_OK) {
            if (e == STORE_E_TOOBIG) {
                char sz[24];
                snprintf(sz, sizeof sz, "%zu", len);
                rctx r = {.tag = x->tag, .command = x->name, .text = "Message too large", .size = sz};
                reply(s, &x->out, s->p->imap.r.literal_too_big, &r);
            } else {
                store_fail(s, x, e, name);
            }
            if (nuid)
                notify_others(s);
            return;
        }
        if (nuid < 64)
            uids[nuid++] = uid;
        i = imap_tok_next(t, i);
    }
    notify_others(s);
    if (has_cap(s, "UIDPLUS") && nuid) {
        char code[1024];
        imap_wbuf w;
        char set[900];
        imap_wbuf_init(&w, set, sizeof set);
        imap_w_seq_numbers(&w, uids, nuid);
        int k = imap_wbuf_result(&w);
        snprintf(code, sizeof code, "APPENDUID %u %.*s", store_mailbox_uidvalidity(mb), k > 0 ? k : 0, set);
        ok_code(s, x, NULL, code);
    } else {
        ok(s, x);
    }
}

/* ---- selected state -------------------------------------------------------------------------- */

static void do_check(imapd *s, cmdctx *x)
{
    ok(s, x);
}

static void do_close(imapd *s, cmdctx *x)
{
    if (!s->readonly) {
        store_view_expunge(s->ml->st, s->view, NULL, NULL, NULL, NULL);
        notify_others(s);
    }
    view_close(s);
    enter(s, ST_AUTH);
    ok(s, x);
}

static void do_unselect(imapd *s, cmdctx *x)
{
    view_close(s);
    enter(s, ST_AUTH);
    ok(s, x);
}

typedef struct uidpred {
    uint32_t *uids;
    long n;
} uidpred;

static int pred_uid(void *ctx, const store_msg *m)
{
    uidpred *u = ctx;
    if (!(m->flags & STORE_F_DELETED))
        return 0;
    long lo = 0, hi = u->n;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (u->uids[mid] < m->uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < u->n && u->uids[lo] == m->uid;
}

static void do_expunge(imapd *s, cmdctx *x)
{
    if (s->readonly) {
        op_failed(s, x, "Mailbox is read-only");
        return;
    }
    syncctx sc = {s, &x->out};
    store_err e;
    if (x->c.uid) {
        if (x->t.n < 1) {
            bad_syntax(s, x, "UID EXPUNGE needs a UID set");
            return;
        }
        uint32_t *seqs;
        long n = seqs_resolve(s, imap_tok_slice(&x->t, 0), 1, &seqs);
        if (n < 0) {
            bad_syntax(s, x, "Invalid UID set");
            return;
        }
        uidpred u = {seqs, n};
        for (long k = 0; k < n; k++)
            seqs[k] = store_view_uid(s->view, seqs[k]);
        e = store_view_expunge(s->ml->st, s->view, pred_uid, &u, &sync_events, &sc);
        free(seqs);
    } else {
        e = store_view_expunge(s->ml->st, s->view, NULL, NULL, &sync_events, &sc);
    }
    if (e != STORE_OK) {
        op_failed(s, x, store_strerror(e));
        return;
    }
    notify_others(s);
    ok(s, x);
}

/* ---- SEARCH -------------------------------------------------------------------------------- */

typedef enum skind {
    SK_NONE,
    SK_STORE,    /* keys[i] is a store_key */
    SK_AND,      /* a LIST: all children */
    SK_NOT,
    SK_OR,
    SK_SEQ,      /* a sequence set */
    SK_UID,      /* UID set (the child token) */
    SK_RECENT,
    SK_NEW,
    SK_OLD,
    SK_TRUE,
    SK_FALSE,
} skind;

typedef struct sctx {
    imapd *s;
    const imap_toks *t;
    uint8_t *kind;
    store_key *keys;
    arena *ar;
    uint32_t maxuid, count;
} sctx;

static int seq_in(mr_slice set, uint32_t v, uint32_t star)
{
    imap_seq_iter it;
    imap_seq_begin(&it, set);
    uint32_t lo, hi;
    while (imap_seq_next(&it, &lo, &hi) == 1) {
        uint32_t a = lo == IMAP_SEQ_STAR ? star : lo, b = hi == IMAP_SEQ_STAR ? star : hi;
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        if (v >= a && v <= b)
            return 1;
    }
    return 0;
}

static int str_arg(sctx *c, unsigned i, const char **p, size_t *n)
{
    imap_nstring ns;
    if (i >= c->t->n || imap_tok_nstring(c->t, i, &ns) != 0 || ns.nil || ns.streamed)
        return -1;
    if (ns.escaped) {
        char *buf = arena_alloc(c->ar, ns.s.n + 1);
        if (!buf)
            return -1;
        *n = imap_unescape(ns.s.p, ns.s.n, buf, ns.s.n);
        *p = buf;
    } else {
        *p = ns.s.p;
        *n = ns.s.n;
    }
    return 0;
}

static int date_arg(sctx *c, unsigned i, int32_t *day)
{
    imap_datetime dt;
    if (i >= c->t->n || imap_date_parse(imap_tok_slice(c->t, i), &dt) != 0)
        return -1;
    *day = dt.year * 10000 + dt.month * 100 + dt.day;
    return 0;
}

/* Compile every search-key token (a flat pass: no recursion). Returns 0 or -1 (bad key). */
static int search_compile(sctx *c, unsigned from, unsigned to, store_mailbox *mb)
{
    const imap_toks *t = c->t;
    for (unsigned i = from; i < to; i++) {
        const imap_token *k = &t->tok[i];
        if (k->type == IMAP_T_LIST) {
            c->kind[i] = SK_AND;
            continue;
        }
        if (k->type == IMAP_T_SEQSET || k->type == IMAP_T_NUMBER) {
            /* a sequence set key, unless it is an argument (handled by its parent) */
            if (c->kind[i] == SK_NONE)
                c->kind[i] = SK_SEQ;
            continue;
        }
        if (k->type != IMAP_T_ATOM || c->kind[i] != SK_NONE)
            continue;
        mr_slice a = imap_tok_slice(t, i);
        store_key *sk = &c->keys[i];
        unsigned a1 = i + 1, a2 = a1 < t->n ? imap_tok_next(t, a1) : a1;
        unsigned end = imap_tok_next(t, i);
        c->kind[i] = SK_STORE;
#define IS(w) mr_slice_eq_ci(a, w)
        if (IS("ALL"))
            sk->kind = STORE_KEY_ALL;
        else if (IS("ANSWERED") || IS("DELETED") || IS("DRAFT") || IS("FLAGGED") || IS("SEEN") ||
                 IS("UNANSWERED") || IS("UNDELETED") || IS("UNDRAFT") || IS("UNFLAGGED") || IS("UNSEEN")) {
            int un = (a.n > 2 && (a.p[0] == 'u' || a.p[0] == 'U') && (a.p[1] == 'n' || a.p[1] == 'N'));
            mr_slice b = un ? (mr_slice){a.p + 2, a.n - 2} : a;
            sk->kind = un ? STORE_KEY_NOFLAGS : STORE_KEY_FLAGS;
            sk->flags = mr_slice_eq_ci(b, "ANSWERED") ? STORE_F_ANSWERED
                        : mr_slice_eq_ci(b, "DELETED") ? STORE_F_DELETED
                        : mr_slice_eq_ci(b, "DRAFT")   ? STORE_F_DRAFT
                        : mr_slice_eq_ci(b, "FLAGGED") ? STORE_F_FLAGGED
                                                       : STORE_F_SEEN;
        } else if (IS("KEYWORD") || IS("UNKEYWORD")) {
            mr_slice kw = imap_tok_slice(t, a1);
            if (a1 >= end)
                return -1;
            sk->kind = IS("KEYWORD") ? STORE_KEY_KEYWORD : STORE_KEY_UNKEYWORD;
            int kx = store_keyword(c->s->ml->st, mb, kw.p, kw.n, 0);
            sk->keyword = kx >= 0 ? kx : -1;
        } else if (IS("BEFORE") || IS("ON") || IS("SINCE") || IS("SENTBEFORE") || IS("SENTON") ||
                   IS("SENTSINCE")) {
            if (a1 >= end || date_arg(c, a1, &sk->day) != 0)
                return -1;
            sk->kind = IS("BEFORE") ? STORE_KEY_BEFORE : IS("ON") ? STORE_KEY_ON : IS("SINCE") ? STORE_KEY_SINCE
                       : IS("SENTBEFORE") ? STORE_KEY_SENTBEFORE : IS("SENTON") ? STORE_KEY_SENTON
                                                                                : STORE_KEY_SENTSINCE;
        } else if (IS("LARGER") || IS("SMALLER")) {
            if (a1 >= end || imap_tok_u64(t, a1, UINT64_MAX, &sk->size) != 0)
                return -1;
            sk->kind = IS("LARGER") ? STORE_KEY_LARGER : STORE_KEY_SMALLER;
        } else if (IS("BCC") || IS("CC") || IS("FROM") || IS("SUBJECT") || IS("TO")) {
            if (a1 >= end || str_arg(c, a1, &sk->text, &sk->text_len) != 0)
                return -1;
            sk->kind = STORE_KEY_HEADER;
            sk->field = IS("BCC") ? "Bcc" : IS("CC") ? "Cc" : IS("FROM") ? "From" : IS("SUBJECT") ? "Subject" : "To";
        } else if (IS("HEADER")) {
            const char *f;
            size_t fn;
            if (a2 >= end || str_arg(c, a1, &f, &fn) != 0 || str_arg(c, a2, &sk->text, &sk->text_len) != 0)
                return -1;
            char *fz = arena_strndup(c->ar, f, fn);
            if (!fz)
                return -1;
            sk->field = fz;
            sk->kind = STORE_KEY_HEADER;
        } else if (IS("BODY") || IS("TEXT")) {
            if (a1 >= end || str_arg(c, a1, &sk->text, &sk->text_len) != 0)
                return -1;
            sk->kind = IS("BODY") ? STORE_KEY_BODY : STORE_KEY_TEXT;
        } else if (IS("NOT")) {
            c->kind[i] = SK_NOT;
            if (a1 >= end)
                return -1;
        } else if (IS("OR")) {
            c->kind[i] = SK_OR;
            if (a2 >= end)
                return -1;
        } else if (IS("UID")) {
            c->kind[i] = SK_UID;
            if (a1 >= end)
                return -1;
            c->kind[a1] = SK_FALSE; /* consumed as an argument */
        } else if (IS("RECENT")) {
            c->kind[i] = SK_RECENT;
        } else if (IS("NEW")) {
            c->kind[i] = SK_NEW;
        } else if (IS("OLD")) {
            c->kind[i] = SK_OLD;
        } else if (IS("UNDRAFT")) {
            sk->kind = STORE_KEY_NOFLAGS;
            sk->flags = STORE_F_DRAFT;
        } else {
            return -1;
        }
#undef IS
        /* string/number/date arguments are not keys themselves */
        if (c->kind[i] == SK_STORE)
            for (unsigned k2 = a1; k2 < end; k2++)
                if (c->kind[k2] == SK_NONE)
                    c->kind[k2] = SK_FALSE;
    }
    return 0;
}

static int search_eval(sctx *c, unsigned i, uint32_t seq, const store_msg *m, unsigned depth)
{
    const imap_toks *t = c->t;
    if (depth > 128)
        return 0;
    switch ((skind)c->kind[i]) {
    case SK_STORE:
        return store_msg_match(m, &c->keys[i]);
    case SK_AND: {
        unsigned end = imap_tok_next(t, i);
        for (unsigned k = i + 1; k < end; k = imap_tok_next(t, k))
            if (!search_eval(c, k, seq, m, depth + 1))
                return 0;
        return 1;
    }
    case SK_NOT:
        return !search_eval(c, i + 1, seq, m, depth + 1);
    case SK_OR: {
        unsigned a1 = i + 1, a2 = imap_tok_next(t, a1);
        return search_eval(c, a1, seq, m, depth + 1) || search_eval(c, a2, seq, m, depth + 1);
    }
    case SK_SEQ:
        return seq_in(imap_tok_slice(t, i), seq, c->count);
    case SK_UID:
        return seq_in(imap_tok_slice(t, i + 1), m->uid, c->maxuid);
    case SK_RECENT:
        return store_view_recent(c->s->view, seq);
    case SK_NEW:
        return store_view_recent(c->s->view, seq) && !(m->flags & STORE_F_SEEN);
    case SK_OLD:
        return !store_view_recent(c->s->view, seq);
    case SK_TRUE:
        return 1;
    case SK_NONE:
    case SK_FALSE:
    default:
        return 0;
    }
}

static void do_search(imapd *s, cmdctx *x)
{
    const imap_toks *t = &x->t;
    unsigned i = 0;
    int esearch = 0;
    unsigned ret_min = 0, ret_max = 0, ret_count = 0, ret_all = 0;
    if (i < t->n && imap_tok_is(t, i, "RETURN")) {
        unsigned l = imap_tok_next(t, i);
        if (l < t->n && t->tok[l].type == IMAP_T_LIST) {
            esearch = 1;
            unsigned end = imap_tok_next(t, l);
            for (unsigned k = l + 1; k < end; k = imap_tok_next(t, k)) {
                if (imap_tok_is(t, k, "MIN"))
                    ret_min = 1;
                else if (imap_tok_is(t, k, "MAX"))
                    ret_max = 1;
                else if (imap_tok_is(t, k, "COUNT"))
                    ret_count = 1;
                else if (imap_tok_is(t, k, "ALL"))
                    ret_all = 1;
            }
            if (!ret_min && !ret_max && !ret_count)
                ret_all = 1;
            i = end;
        }
    }
    if (i < t->n && imap_tok_is(t, i, "CHARSET")) {
        unsigned cs = imap_tok_next(t, i);
        char name[32];
        int k = imap_tok_copy(t, cs, name, sizeof name - 1);
        if (k < 0 || k >= (int)sizeof name - 1) {
            bad_syntax(s, x, "Invalid charset");
            return;
        }
        name[k] = 0;
        if (strcasecmp(name, "US-ASCII") != 0 && strcasecmp(name, "UTF-8") != 0) {
            op_failed(s, x, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
            return;
        }
        i = imap_tok_next(t, cs);
    }
    if (i >= t->n) {
        bad_syntax(s, x, "SEARCH needs a key");
        return;
    }
    sctx c = {.s = s, .t = t};
    c.kind = calloc(t->n + 1, 1);
    c.keys = calloc(t->n + 1, sizeof *c.keys);
    c.ar = arena_new(4u << 20);
    c.count = store_view_count(s->view);
    c.maxuid = c.count ? store_view_uid(s->view, c.count) : 0;
    obuf res = {0};
    if (!c.kind || !c.keys || !c.ar) {
        op_failed(s, x, "Out of memory");
        goto out;
    }
    store_mailbox *mb = store_view_mailbox(s->view);
    if (!mb || search_compile(&c, i, t->n, mb) != 0) {
        bad_syntax(s, x, "Invalid search key");
        goto out;
    }
    uint32_t nmatch = 0, first = 0, last = 0;
    uint32_t *all = NULL;
    if (esearch && ret_all)
        all = malloc(((size_t)c.count + 1) * sizeof *all);
    ob_str(&res, esearch ? "" : "* SEARCH");
    for (uint32_t seq = 1; seq <= c.count; seq++) {
        const store_msg *m = store_view_msg(s->view, seq);
        if (!m)
            continue;
        int hit = 1;
        for (unsigned k = i; k < t->n && hit; k = imap_tok_next(t, k))
            hit = search_eval(&c, k, seq, m, 0);
        if (!hit)
            continue;
        uint32_t v = x->c.uid ? m->uid : seq;
        if (!first)
            first = v;
        last = v;
        if (all)
            all[nmatch] = v;
        nmatch++;
        if (!esearch)
            ob_fmt(&res, " %u", v);
    }
    if (esearch) {
        ob_str(&x->out, "* ESEARCH (TAG ");
        imap_wbuf w;
        char q[600];
        imap_wbuf_init(&w, q, sizeof q);
        imap_w_quoted(&w, (mr_slice){x->tag, strlen(x->tag)}, IMAP_W_UTF8);
        int k = imap_wbuf_result(&w);
        ob_put(&x->out, q, k > 0 ? (size_t)k : 0);
        ob_str(&x->out, ")");
        if (x->c.uid)
            ob_str(&x->out, " UID");
        if (ret_min && nmatch)
            ob_fmt(&x->out, " MIN %u", first);
        if (ret_max && nmatch)
            ob_fmt(&x->out, " MAX %u", last);
        if (ret_count)
            ob_fmt(&x->out, " COUNT %u", nmatch);
        if (ret_all && nmatch && all) {
            size_t cap = (size_t)nmatch * 22 + 16;
            char *sb = malloc(cap);
            if (sb) {
                imap_wbuf_init(&w, sb, cap);
                imap_w_seq_numbers(&w, all, nmatch);
                k = imap_wbuf_result(&w);
                if (k > 0) {
                    ob_str(&x->out, " ALL ");
                    ob_put(&x->out, sb, (size_t)k);
                }
                free(sb);
            }
        }
        ob_str(&x->out, "\r\n");
    } else {
        ob_str(&res, "\r\n");
        ob_put(&x->out, res.p, res.len);
    }
    free(all);
    ok(s, x);
out:
    ob_free(&res);
    free(c.kind);
    free(c.keys);
    arena_free(c.ar);
}

/* ---- FETCH ---------------------------------------------------------------------------------- */

static void ob_literal(obuf *o, const char *p, size_t n)
{
    ob_fmt(o, "{%zu}\r\n", n);
    ob_put(o, p, n);
}

/* Unfolded copy of a header value in the arena, as an nstring (p NULL = NIL). */
static imap_nstring ns_unfold(arena *ar, mr_slice v)
{
    imap_nstring r = {0};
    if (!v.p) {
        r.nil = 1;
        return r;
    }
    size_t n = mime_unfold(v, NULL, 0);
    char *buf = arena_alloc(ar, n + 1);
    if (!buf) {
        r.nil = 1;
        return r;
    }
    mime_unfold(v, buf, n);
    r.s = (mr_slice){buf, n};
    r.literal_size = n;
    return r;
}

static imap_nstring ns_copy(arena *ar, size_t (*fn)(mr_slice, char *, size_t), mr_slice v)
{
    imap_nstring r = {0};
    size_t n = fn(v, NULL, 0);
    char *buf = arena_alloc(ar, n + 1);
    if (!buf) {
        r.nil = 1;
        return r;
    }
    fn(v, buf, n);
    r.s = (mr_slice){buf, n};
    r.literal_size = n;
    return r;
}

static imap_nstring ns_slice(const char *p, size_t n)
{
    imap_nstring r = {0};
    r.s = (mr_slice){p, n};
    r.literal_size = n;
    return r;
}

static imap_nstring ns_nil(void)
{
    imap_nstring r = {0};
    r.nil = 1;
    return r;
}

enum { MAX_ADDRS = 200 };

static void addr_list(arena *ar, mr_slice value, imap_addr_list_w *out)
{
    *out = (imap_addr_list_w){0};
    if (!value.p) {
        out->nil = 1;
        return;
    }
    imap_address *v = arena_alloc(ar, MAX_ADDRS * sizeof *v);
    if (!v) {
        out->nil = 1;
        return;
    }
    mime_addr_iter it;
    mime_addr_init(&it, value, MR_LENIENT, NULL);
    mime_addr a;
    mr_error err;
    size_t n = 0;
    while (n < MAX_ADDRS && mime_addr_next(&it, &a, &err) == 1) {
        imap_address *d = &v[n];
        memset(d, 0, sizeof *d);
        if (a.kind == MIME_ADDR_GROUP_START) {
            d->name = ns_nil();
            d->adl = ns_nil();
            d->mailbox = ns_copy(ar, mime_phrase, a.name);
            d->host = ns_nil();
        } else if (a.kind == MIME_ADDR_GROUP_END) {
            d->name = d->adl = d->mailbox = d->host = ns_nil();
        } else {
            d->name = a.name.n ? ns_copy(ar, mime_phrase, a.name) : ns_nil();
            d->adl = a.route.n ? ns_slice(a.route.p, a.route.n) : ns_nil();
            d->mailbox = ns_copy(ar, mime_addr_clean, a.local);
            /* an empty domain must not become NIL: NIL host means group syntax (mime.h) */
            d->host = a.domain.n ? ns_copy(ar, mime_addr_clean, a.domain) : ns_slice("MISSING_DOMAIN", 14);
        }
        n++;
    }
    if (n == 0)
        out->nil = 1;
    out->a = v;
    out->n = n;
}

static void envelope_w(arena *ar, mr_slice header, imap_envelope_w *e)
{
    mime_envelope me;
    mime_envelope_get(header, &me);
    memset(e, 0, sizeof *e);
    e->date = ns_unfold(ar, me.date);
    e->subject = ns_unfold(ar, me.subject);
    addr_list(ar, me.from, &e->from);
    addr_list(ar, me.sender.p ? me.sender : me.from, &e->sender);
    addr_list(ar, me.reply_to.p ? me.reply_to : me.from, &e->reply_to);
    addr_list(ar, me.to, &e->to);
    addr_list(ar, me.cc, &e->cc);
    addr_list(ar, me.bcc, &e->bcc);
    e->in_reply_to = ns_unfold(ar, me.in_reply_to);
    e->message_id = ns_unfold(ar, me.message_id);
}

static void params_w(arena *ar, mr_slice params, const imap_param_w **out, size_t *n, int *nil)
{
    *out = NULL;
    *n = 0;
    *nil = 1;
    if (!params.n)
        return;
    size_t cap = 64;
    imap_param_w *v = arena_alloc(ar, cap * sizeof *v);
    if (!v)
        return;
    size_t pos = 0, k = 0;
    mime_param prm;
    mr_error err;
    int r;
    while (k < cap && pos < params.n &&
           (r = mime_param_next(params.p + pos, params.n - pos, MR_LENIENT, NULL, &prm, &err)) > 0) {
        pos += (size_t)r;
        if (!prm.name.n)
            continue;
        v[k].name = ns_slice(prm.name.p, prm.name.n);
        v[k].value = prm.quoted ? ns_copy(ar, mime_unquote, prm.value) : ns_slice(prm.value.p, prm.value.n);
        k++;
    }
    if (k) {
        *out = v;
        *n = k;
        *nil = 0;
    }
}

/* Build the body structure of a message, bottom-up over the pre-order part array (children
 * come after their parents), so no recursion is needed. */
static const imap_body_w *body_w(arena *ar, const store_msg *m, int ext)
{
    uint32_t np = m->nparts;
    if (np == 0)
        return NULL;
    imap_body_w *w = arena_alloc(ar, np * sizeof *w);
    if (!w)
        return NULL;
    for (uint32_t ii = np; ii-- > 0;) {
        const mime_part *pt = &m->parts[ii];
        imap_body_w *b = &w[ii];
        memset(b, 0, sizeof *b);
        if (pt->kind == MIME_KIND_MULTIPART && pt->nchildren > 0) {
            imap_body_w *kids = arena_alloc(ar, pt->nchildren * sizeof *kids);
            if (!kids)
                return NULL;
            size_t k = 0;
            for (uint32_t ch = pt->first_child; ch != MIME_NONE && k < pt->nchildren; ch = m->parts[ch].next_sibling)
                kids[k++] = w[ch];
            b->parts = kids;
            b->nparts = k;
            b->subtype = ns_slice(pt->subtype.p, pt->subtype.n);
            if (ext) {
                params_w(ar, pt->params, &b->params, &b->nparams, &b->params_nil);
                b->ext = 4;
            }
        } else {
            b->type = ns_slice(pt->type.n ? pt->type.p : "text", pt->type.n ? pt->type.n : 4);
            b->subtype = ns_slice(pt->subtype.n ? pt->subtype.p : "plain", pt->subtype.n ? pt->subtype.n : 5);
            params_w(ar, pt->params, &b->params, &b->nparams, &b->params_nil);
            b->id = pt->id.n ? ns_unfold(ar, pt->id) : ns_nil();
            b->description = pt->description.n ? ns_unfold(ar, pt->description) : ns_nil();
            b->encoding = pt->encoding.n ? ns_slice(pt->encoding.p, pt->encoding.n) : ns_slice("7BIT", 4);
            b->octets = pt->body.n;
            if (pt->kind == MIME_KIND_MESSAGE && pt->first_child != MIME_NONE) {
                imap_envelope_w *e = arena_alloc(ar, sizeof *e);
                if (!e)
                    return NULL;
                envelope_w(ar, m->parts[pt->first_child].header, e);
                b->envelope = e;
                b->body = &w[pt->first_child];
                b->has_lines = 1;
                b->lines = pt->body_lines;
            } else if (mime_part_is_text(pt)) {
                b->has_lines = 1;
                b->lines = pt->body_lines;
            }
            if (ext) {
                b->md5 = pt->md5.n ? ns_unfold(ar, pt->md5) : ns_nil();
                b->ext = 4;
            }
        }
        if (ext) {
            if (pt->disposition.n) {
                b->dsp_type = ns_slice(pt->disposition.p, pt->disposition.n);
                params_w(ar, pt->disp_params, &b->dsp_params, &b->ndsp_params, &b->dsp_params_nil);
            } else {
                b->dsp_nil = 1;
            }
            if (pt->language.n) {
                imap_nstring *langs = arena_alloc(ar, 16 * sizeof *langs);
                size_t pos = 0;
                mr_slice item;
                mr_error err;
                while (langs && b->nlang < 16 && mime_list_next(pt->language, &pos, &item, &err) == 1)
                    langs[b->nlang++] = ns_slice(item.p, item.n);
                b->lang = langs;
                b->lang_list = b->nlang > 1;
            }
            b->loc = pt->location.n ? ns_unfold(ar, pt->location) : ns_nil();
        }
    }
    return &w[0];
}

/* Run an IMAP writer into a heap buffer of cap bytes, once more with the size it asked for when
 * that was too small, and append the result to o. Returns 0, or -1 (out of memory, or invalid
 * input such as a NUL in a value, which a bigger buffer does not help). */
static int w_grown_to(obuf *o, size_t cap, void (*write)(imap_wbuf *, const void *, unsigned),
                      const void *x, int utf8)
{
    for (int tries = 0; tries < 2; tries++) {
        char *buf = malloc(cap);
        if (!buf)
            return -1;
        imap_wbuf w;
        imap_wbuf_init(&w, buf, cap);
        write(&w, x, utf8 ? IMAP_W_UTF8 : 0);
        int k = imap_wbuf_result(&w);
        if (k >= 0)
            ob_put(o, buf, (size_t)k);
        free(buf);
        if (k >= 0)
            return 0;
        if (k != MR_NEED_MORE)
            return -1;
        cap = w.len + 16;
    }
    return -1;
}

static void write_body(imap_wbuf *w, const void *b, unsigned opts)
{
    imap_w_body(w, b, opts);
}

static void write_envelope(imap_wbuf *w, const void *e, unsigned opts)
{
    imap_w_envelope(w, e, opts);
}

static int w_body_to(obuf *o, const imap_body_w *b, int utf8)
{
    return w_grown_to(o, 8192, write_body, b, utf8);
}

static int w_env_to(obuf *o, const imap_envelope_w *e, int utf8)
{
    return w_grown_to(o, 4096, write_envelope, e, utf8);
}

static void w_internaldate(obuf *o, const store_msg *m)
{
    int64_t t = m->internal_date + (int64_t)m->internal_zone * 60;
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int z = m->internal_zone;
    char sign = z < 0 ? '-' : '+';
    if (z < 0)
        z = -z;
    ob_fmt(o, "\"%2d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
           tm.tm_hour, tm.tm_min, tm.tm_sec, sign, z / 60, z % 60);
}

/* One body section of message m: writes "NAME[<origin>] VALUE" (the name without PEEK); NIL
 * for a part the message does not have. */
static void fetch_section(obuf *o, const store_msg *m, const imap_fetch_att *fa, const char *outname,
                          int is_rfc822_text, int is_rfc822_header)
{
    mr_slice bytes = {0};
    char *filtered = NULL;
    int found = 0;
    if (is_rfc822_text || is_rfc822_header) {
        const mime_part *root = &m->parts[0];
        bytes = is_rfc822_text ? root->body : root->header;
        found = 1;
    } else {
        mime_section sec;
        mr_error err;
        mime_range rg;
        if (mime_section_parse(fa->section.p, fa->section.n, MR_LENIENT, &sec, &err) >= 0 &&
            mime_section_find(m->parts, m->nparts, &sec, &rg, &err) == 0) {
            found = 1;
            if (sec.text == MIME_SECT_HEADER_FIELDS || sec.text == MIME_SECT_HEADER_FIELDS_NOT) {
                int exclude = sec.text == MIME_SECT_HEADER_FIELDS_NOT;
                size_t need = mime_header_filter(rg.bytes, sec.fields, exclude, NULL, 0);
                filtered = malloc(need + 1);
                if (filtered) {
                    mime_header_filter(rg.bytes, sec.fields, exclude, filtered, need);
                    bytes = (mr_slice){filtered, need};
                } else {
                    found = 0;
                }
            } else {
                bytes = rg.bytes;
            }
        }
    }
    ob_str(o, outname);
    if (fa && fa->has_partial)
        ob_fmt(o, "<%u>", fa->origin);
    ob_str(o, " ");
    if (!found) {
        ob_str(o, "NIL");
        free(filtered);
        return;
    }
    if (fa && fa->has_partial) {
        size_t org = fa->origin;
        if (org > bytes.n)
            org = bytes.n;
        size_t len = bytes.n - org;
        if (fa->size && fa->size < len)
            len = fa->size;
        bytes = (mr_slice){bytes.p ? bytes.p + org : NULL, len};
    }
    ob_literal(o, bytes.p ? bytes.p : "", bytes.n);
    free(filtered);
}

static void fetch_one(imapd *s, cmdctx *x, uint32_t seq, store_msg *m, arena *ar)
{
    obuf *o = &x->out;
    imap_fetch_iter it;
    imap_fetch_att fa;
    int want_flags = 0, set_seen = 0, did_uid = 0;
    /* First pass: does a non-PEEK body fetch set \Seen? */
    if (imap_fetch_cmd_begin(&it, &x->c) == 0) {
        while (imap_fetch_next(&it, &fa) == 1) {
            if (fa.att == IMAP_ATT_BODY && fa.has_section)
                set_seen = 1;
            if (fa.att == IMAP_ATT_RFC822 || fa.att == IMAP_ATT_RFC822_TEXT || fa.att == IMAP_ATT_BINARY)
                set_seen = 1;
        }
    }
    int flags_changed = 0;
    if (set_seen && !s->readonly && !(m->flags & STORE_F_SEEN)) {
        int changed = 0;
        store_mailbox *mb = store_view_mailbox(s->view);
        if (mb && store_set_flags(s->ml->st, mb, m, STORE_FLAGS_ADD, STORE_F_SEEN, 0, s->view, &changed) == STORE_OK &&
            changed)
            flags_changed = 1;
    }
    ob_fmt(o, "* %u FETCH (", seq);
    int first = 1;
#define SEP()                                                                                      \
    do {                                                                                           \
        if (!first)                                                                                \
            ob_str(o, " ");                                                                        \
        first = 0;                                                                                 \
    } while (0)
    if (x->c.uid) {
        SEP();
        ob_fmt(o, "UID %u", m->uid);
        did_uid = 1;
    }
    if (imap_fetch_cmd_begin(&it, &x->c) == 0) {
        while (imap_fetch_next(&it, &fa) == 1) {
            switch (fa.att) {
            case IMAP_ATT_ALL:
            case IMAP_ATT_FAST:
            case IMAP_ATT_FULL:
                SEP();
                w_flags(o, s, m, seq);
                want_flags = 1;
                ob_str(o, " INTERNALDATE ");
                w_internaldate(o, m);
                ob_fmt(o, " RFC822.SIZE %zu", m->size);
                if (fa.att != IMAP_ATT_FAST) {
                    imap_envelope_w e;
                    envelope_w(ar, m->parts[0].header, &e);
                    ob_str(o, " ENVELOPE ");
                    if (w_env_to(o, &e, s->utf8) != 0)
                        ob_str(o, "NIL");
                }
                if (fa.att == IMAP_ATT_FULL) {
                    ob_str(o, " BODY ");
                    const imap_body_w *b = body_w(ar, m, 0);
                    if (!b || w_body_to(o, b, s->utf8) != 0)
                        ob_str(o, "NIL");
                }
                break;
            case IMAP_ATT_FLAGS:
                if (want_flags)
                    break;
                SEP();
                w_flags(o, s, m, seq);
                want_flags = 1;
                break;
            case IMAP_ATT_UID:
                if (did_uid)
                    break;
                SEP();
                ob_fmt(o, "UID %u", m->uid);
                did_uid = 1;
                break;
            case IMAP_ATT_INTERNALDATE:
                SEP();
                ob_str(o, "INTERNALDATE ");
                w_internaldate(o, m);
                break;
            case IMAP_ATT_RFC822_SIZE:
                SEP();
                ob_fmt(o, "RFC822.SIZE %zu", m->size);
                break;
            case IMAP_ATT_MODSEQ:
                SEP();
                ob_fmt(o, "MODSEQ (%llu)", (unsigned long long)m->modseq);
                break;
            case IMAP_ATT_ENVELOPE: {
                imap_envelope_w e;
                envelope_w(ar, m->parts[0].header, &e);
                SEP();
                ob_str(o, "ENVELOPE ");
                if (w_env_to(o, &e, s->utf8) != 0)
                    ob_str(o, "NIL");
                break;
            }
            case IMAP_ATT_BODYSTRUCTURE:
            case IMAP_ATT_BODY:
            case IMAP_ATT_BODY_PEEK:
                if (fa.att != IMAP_ATT_BODYSTRUCTURE && fa.has_section) {
                    SEP();
                    char name[1200];
                    snprintf(name, sizeof name, "BODY[%.*s]", (int)(fa.section.n < 1100 ? fa.section.n : 1100),
                             fa.section.p ? fa.section.p : "");
                    fetch_section(o, m, &fa, name, 0, 0);
                } else if (fa.att != IMAP_ATT_BODY_PEEK) {
                    SEP();
                    ob_str(o, fa.att == IMAP_ATT_BODYSTRUCTURE ? "BODYSTRUCTURE " : "BODY ");
                    const imap_body_w *b = body_w(ar, m, fa.att == IMAP_ATT_BODYSTRUCTURE);
                    if (!b || w_body_to(o, b, s->utf8) != 0)
                        ob_str(o, "NIL");
                }
                break;
            case IMAP_ATT_BINARY:
            case IMAP_ATT_BINARY_PEEK: {
                SEP();
                char name[1200];
                snprintf(name, sizeof name, "BINARY[%.*s]", (int)(fa.section.n < 1100 ? fa.section.n : 1100),
                         fa.section.p ? fa.section.p : "");
                fetch_section(o, m, &fa, name, 0, 0);
                break;
            }
            case IMAP_ATT_BINARY_SIZE: {
                SEP();
                mime_section sec;
                mr_error err;
                mime_range rg;
                size_t n = 0;
                if (mime_section_parse(fa.section.p, fa.section.n, MR_LENIENT, &sec, &err) >= 0 &&
                    mime_section_find(m->parts, m->nparts, &sec, &rg, &err) == 0)
                    n = rg.bytes.n;
                ob_fmt(o, "BINARY.SIZE[%.*s] %zu", (int)(fa.section.n < 1100 ? fa.section.n : 1100),
                       fa.section.p ? fa.section.p : "", n);
                break;
            }
            case IMAP_ATT_RFC822:
                SEP();
                ob_str(o, "RFC822 ");
                ob_literal(o, m->data, m->size);
                break;
            case IMAP_ATT_RFC822_HEADER:
                SEP();
                fetch_section(o, m, NULL, "RFC822.HEADER", 0, 1);
                break;
            case IMAP_ATT_RFC822_TEXT:
                SEP();
                fetch_section(o, m, NULL, "RFC822.TEXT", 1, 0);
                break;
            case IMAP_ATT_OTHER:
            default:
                break;
            }
        }
    }
    if (flags_changed && !want_flags) {
        SEP();
        w_flags(o, s, m, seq);
    }
#undef SEP
    ob_str(o, ")\r\n");
    if (o->len > (1u << 20))
        ob_flush(s, o);
}

static void do_fetch(imapd *s, cmdctx *x)
{
    if (x->t.n < 2) {
        bad_syntax(s, x, "FETCH needs a sequence set and items");
        return;
    }
    /* Validate the attributes before answering anything. */
    imap_fetch_iter it;
    imap_fetch_att fa;
    int r;
    if (imap_fetch_cmd_begin(&it, &x->c) != 0) {
        bad_syntax(s, x, "Invalid FETCH items");
        return;
    }
    while ((r = imap_fetch_next(&it, &fa)) == 1) {
        if (fa.att == IMAP_ATT_OTHER) {
            bad_syntax(s, x, "Unknown FETCH item");
            return;
        }
    }
    if (r < 0) {
        bad_syntax(s, x, "Invalid FETCH items");
        return;
    }
    uint32_t *seqs;
    long n = seqs_resolve(s, imap_tok_slice(&x->t, 0), x->c.uid, &seqs);
    if (n < 0) {
        bad_syntax(s, x, "Invalid sequence set");
        return;
    }
    int changed = 0;
    for (long k = 0; k < n; k++) {
        store_msg *m = store_view_msg(s->view, seqs[k]);
        if (!m)
            continue;
        arena *ar = arena_new(64u << 20);
        if (!ar)
            break;
        uint32_t fl = m->flags;
        fetch_one(s, x, seqs[k], m, ar);
        if (m->flags != fl)
            changed = 1;
        arena_free(ar);
    }
    free(seqs);
    if (changed)
        notify_others(s);
    ok(s, x);
}

/* ---- STORE ------------------------------------------------------------------------------------ */

static void do_store(imapd *s, cmdctx *x)
{
    const imap_toks *t = &x->t;
    if (t->n < 3) {
        bad_syntax(s, x, "STORE needs a sequence set, an item and flags");
        return;
    }
    unsigned i = imap_tok_next(t, 0);
    if (i < t->n && t->tok[i].type == IMAP_T_LIST)
        i = imap_tok_next(t, i); /* modifiers (UNCHANGEDSINCE): ignored */
    if (i >= t->n || t->tok[i].type != IMAP_T_ATOM) {
        bad_syntax(s, x, "Invalid STORE item");
        return;
    }
    mr_slice item = imap_tok_slice(t, i);
    store_flag_op op;
    size_t off = 0;
    if (item.n && item.p[0] == '+')
        op = STORE_FLAGS_ADD, off = 1;
    else if (item.n && item.p[0] == '-')
        op = STORE_FLAGS_REMOVE, off = 1;
    else
        op = STORE_FLAGS_SET;
    mr_slice base = {item.p + off, item.n - off};
    int silent = 0;
    if (mr_slice_eq_ci(base, "FLAGS.SILENT"))
        silent = 1;
    else if (!mr_slice_eq_ci(base, "FLAGS")) {
        bad_syntax(s, x, "Invalid STORE item");
        return;
    }
    if (s->readonly) {
        op_failed(s, x, "Mailbox is read-only");
        return;
    }
    unsigned fl = imap_tok_next(t, i);
    unsigned from, to;
    if (fl < t->n && t->tok[fl].type == IMAP_T_LIST) {
        from = fl + 1;
        to = imap_tok_next(t, fl);
    } else {
        from = fl;
        to = t->n;
    }
    store_mailbox *mb = store_view_mailbox(s->view);
    uint32_t flags, kws;
    if (!mb || flag_bits(s, mb, t, from, to, &flags, &kws, op != STORE_FLAGS_REMOVE) != 0) {
        bad_syntax(s, x, "Invalid flags");
        return;
    }
    uint32_t *seqs;
    long n = seqs_resolve(s, imap_tok_slice(t, 0), x->c.uid, &seqs);
    if (n < 0) {
        bad_syntax(s, x, "Invalid sequence set");
        return;
    }
    int any = 0;
    for (long k = 0; k < n; k++) {
        store_msg *m = store_view_msg(s->view, seqs[k]);
        if (!m)
            continue;
        int changed = 0;
        if (store_set_flags(s->ml->st, mb, m, op, flags, kws, s->view, &changed) == STORE_OK && changed)
            any = 1;
        if (!silent) {
            ob_fmt(&x->out, "* %u FETCH (", seqs[k]);
            w_flags(&x->out, s, m, seqs[k]);
            if (x->c.uid)
                ob_fmt(&x->out, " UID %u", m->uid);
            ob_str(&x->out, ")\r\n");
        }
    }
    free(seqs);
    if (any)
        notify_others(s);
    ok(s, x);
}

/* ---- COPY / MOVE ------------------------------------------------------------------------------- */

static void do_copy(imapd *s, cmdctx *x)
{
    const imap_toks *t = &x->t;
    char name[STORE_MAX_NAME + 2];
    if (t->n < 2 || mailbox_arg(t, imap_tok_next(t, 0), name, sizeof name) != 0) {
        bad_syntax(s, x, "COPY needs a sequence set and a mailbox");
        return;
    }
    int move = x->c.type == IMAP_CMD_MOVE;
    if (move && s->readonly) {
        op_failed(s, x, "Mailbox is read-only");
        return;
    }
    store_mailbox *dst = store_mailbox_find(s->sacct, name);
    if (!dst) {
        say_mailbox(s, x, s->p->imap.r.no_mailbox_create, name);
        return;
    }
    uint32_t *seqs;
    long n = seqs_resolve(s, imap_tok_slice(t, 0), x->c.uid, &seqs);
    if (n < 0) {
        bad_syntax(s, x, "Invalid sequence set");
        return;
    }
    store_msg **msgs = malloc(((size_t)n + 1) * sizeof *msgs);
    uint32_t *src = malloc(((size_t)n + 1) * sizeof *src);
    uint32_t *dstu = malloc(((size_t)n + 1) * sizeof *dstu);
    if (!msgs || !src || !dstu) {
        op_failed(s, x, "Out of memory");
        goto out;
    }
    size_t k = 0;
    for (long q = 0; q < n; q++) {
        store_msg *m = store_view_msg(s->view, seqs[q]);
        if (m) {
            msgs[k] = m;
            src[k] = m->uid;
            k++;
        }
    }
    store_mailbox *srcmb = store_view_mailbox(s->view);
    store_err e;
    obuf expunges = {0};
    syncctx sc = {s, &expunges};
    if (k == 0)
        e = STORE_OK;
    else if (move)
        e = store_move(s->ml->st, s->view, msgs, k, dst, dstu, &sync_events, &sc);
    else
        e = store_copy(s->ml->st, srcmb, msgs, k, dst, dstu);
    if (e != STORE_OK) {
        ob_free(&expunges);
        store_fail(s, x, e, name);
        goto out;
    }
    char *code = NULL;
    if (k && has_cap(s, "UIDPLUS")) {
        size_t cap = k * 24 + 64;
        code = malloc(cap * 2 + 64);
        char *a = malloc(cap), *b = malloc(cap);
        if (code && a && b) {
            imap_wbuf w1, w2;
            imap_wbuf_init(&w1, a, cap);
            imap_w_seq_numbers(&w1, src, k);
            imap_wbuf_init(&w2, b, cap);
            imap_w_seq_numbers(&w2, dstu, k);
            int l1 = imap_wbuf_result(&w1), l2 = imap_wbuf_result(&w2);
            snprintf(code, cap * 2 + 64, "COPYUID %u %.*s %.*s", store_mailbox_uidvalidity(dst), l1 > 0 ? l1 : 0, a,
                     l2 > 0 ? l2 : 0, b);
        } else {
            free(code);
            code = NULL;
        }
        free(a);
        free(b);
    }
    if (move) {
        if (code) {
            ob_str(&x->out, "* OK [");
            ob_str(&x->out, code);
            ob_str(&x->out, "] Moved UIDs.\r\n");
        }
        ob_put(&x->out, expunges.p ? expunges.p : "", expunges.len);
        ok(s, x);
    } else {
        ok_code(s, x, NULL, code);
    }
    ob_free(&expunges);
    free(code);
    if (k)
        notify_others(s);
out:
    free(seqs);
    free(msgs);
    free(src);
    free(dstu);
}

/* ---- IDLE ------------------------------------------------------------------------------------- */

static void do_idle(imapd *s, cmdctx *x)
{
    imapd_cmd *c = cmd_get(s);
    if (!c) {
        op_failed(s, x, "Out of memory");
        return;
    }
    snprintf(c->tag, sizeof c->tag, "%s", x->tag);
    snprintf(c->command, sizeof c->command, "IDLE");
    reply(s, &x->out, s->p->imap.r.continue_idle, NULL);
    sync_view(s, &x->out, 1);
    enter(s, ST_IDLE);
}

static void idle_changed(mock_watcher *w)
{
    imapd *s = (imapd *)((char *)w - offsetof(imapd, watch));
    if (s->state != ST_IDLE || !s->view)
        return;
    obuf o = {0};
    sync_view(s, &o, 1);
    ob_flush(s, &o);
    ob_free(&o);
}

/* A line while IDLE. */
static size_t in_idle(imapd *s, const char *p, size_t n)
{
    size_t maxl = s->p->imap.s.max_line ? s->p->imap.s.max_line : 8192;
    const char *lf = memchr(p, '\n', n < maxl + 2 ? n : maxl + 2);
    if (!lf) {
        if (n > maxl + 1) {
            ev(s, EV_LINE_TOO_LONG " limit=%zu", maxl);
            IO(s)->client_data(IO(s)->ctx, p, n, 0);
            reply(s, NULL, s->p->imap.r.line_too_long, NULL);
            cmd_free(s);
            enter(s, ST_CLOSED);
            IO(s)->close(IO(s)->ctx, "line-too-long");
            return n;
        }
        return 0;
    }
    size_t len = (size_t)(lf - p) + 1;
    IO(s)->client_data(IO(s)->ctx, p, len, 0);
    cmdctx x;
    memset(&x, 0, sizeof x);
    snprintf(x.tag, sizeof x.tag, "%s", s->cur ? s->cur->tag : "*");
    snprintf(x.name, sizeof x.name, "IDLE");
    static const cmd_def idle_def = {IMAP_CMD_IDLE, 0, false, offsetof(profile_imap_replies, ok_idle), NULL};
    x.def = &idle_def;
    x.c.type = IMAP_CMD_IDLE;
    cmd_free(s);
    enter(s, s->view ? ST_SELECTED : ST_AUTH);
    if (imap_is_idle_done(p, len, MR_LENIENT))
        ok(s, &x);
    else
        bad_syntax(s, &x, "Expected DONE");
    ob_flush(s, &x.out);
    ob_free(&x.out);
    return len;
}

/* ---- the table -------------------------------------------------------------------------------- */

#define OK_OF(cmd) offsetof(profile_imap_replies, ok_##cmd)
#define ANY (SB(ST_NOTAUTH) | SB(ST_AUTH) | SB(ST_SELECTED))
#define AUTHD (SB(ST_AUTH) | SB(ST_SELECTED))
#define SEL SB(ST_SELECTED)

static const cmd_def cmd_table[] = {
    {IMAP_CMD_CAPABILITY, ANY, false, OK_OF(capability), do_capability},
    {IMAP_CMD_NOOP, ANY, false, OK_OF(noop), do_noop},
    {IMAP_CMD_LOGOUT, ANY, false, OK_OF(logout), do_logout},
    {IMAP_CMD_ID, ANY, false, OK_OF(id), do_id},
    {IMAP_CMD_STARTTLS, SB(ST_NOTAUTH), false, OK_OF(starttls), do_starttls},
    {IMAP_CMD_LOGIN, SB(ST_NOTAUTH), false, OK_OF(login), do_login},
    {IMAP_CMD_AUTHENTICATE, SB(ST_NOTAUTH), false, OK_OF(authenticate), do_authenticate},
    {IMAP_CMD_ENABLE, AUTHD, false, OK_OF(enable), do_enable},
    {IMAP_CMD_NAMESPACE, AUTHD, true, OK_OF(namespace), do_namespace},
    {IMAP_CMD_LIST, AUTHD, true, OK_OF(list), do_list},
    {IMAP_CMD_LSUB, AUTHD, true, OK_OF(lsub), do_list},
    {IMAP_CMD_STATUS, AUTHD, true, OK_OF(status), do_status},
    {IMAP_CMD_SELECT, AUTHD, true, OK_OF(select), do_select},
    {IMAP_CMD_EXAMINE, AUTHD, true, OK_OF(examine), do_select},
    {IMAP_CMD_CREATE, AUTHD, true, OK_OF(create), do_create},
    {IMAP_CMD_DELETE, AUTHD, true, OK_OF(delete), do_delete},
    {IMAP_CMD_RENAME, AUTHD, true, OK_OF(rename), do_rename},
    {IMAP_CMD_SUBSCRIBE, AUTHD, true, OK_OF(subscribe), do_subscribe},
    {IMAP_CMD_UNSUBSCRIBE, AUTHD, true, OK_OF(unsubscribe), do_subscribe},
    {IMAP_CMD_APPEND, AUTHD, true, OK_OF(append), do_append},
    {IMAP_CMD_IDLE, AUTHD, false, OK_OF(idle), do_idle},
    {IMAP_CMD_CHECK, SEL, false, OK_OF(check), do_check},
    {IMAP_CMD_CLOSE, SEL, false, OK_OF(close), do_close},
    {IMAP_CMD_UNSELECT, SEL, false, OK_OF(unselect), do_unselect},
    {IMAP_CMD_EXPUNGE, SEL, false, OK_OF(expunge), do_expunge},
    {IMAP_CMD_SEARCH, SEL, false, OK_OF(search), do_search},
    {IMAP_CMD_FETCH, SEL, false, OK_OF(fetch), do_fetch},
    {IMAP_CMD_STORE, SEL, false, OK_OF(store), do_store},
    {IMAP_CMD_COPY, SEL, false, OK_OF(copy), do_copy},
    {IMAP_CMD_MOVE, SEL, false, OK_OF(move), do_copy},
};

static const cmd_def *cmd_find(imap_cmd_type ty)
{
    for (size_t i = 0; i < sizeof cmd_table / sizeof cmd_table[0]; i++)
        if (cmd_table[i].type == ty)
            return &cmd_table[i];
    return NULL;
}

/* Commands that exist only when the profile advertises them (after authentication). */
static bool cmd_advertised(imapd *s, imap_cmd_type ty, int uid)
{
    switch (ty) {
    case IMAP_CMD_MOVE:
        return has_cap(s, "MOVE");
    case IMAP_CMD_UNSELECT:
        return has_cap(s, "UNSELECT");
    case IMAP_CMD_IDLE:
        return has_cap(s, "IDLE");
    case IMAP_CMD_NAMESPACE:
        return has_cap(s, "NAMESPACE");
    case IMAP_CMD_ENABLE:
        return has_cap(s, "ENABLE");
    case IMAP_CMD_ID:
        return has_cap(s, "ID");
    case IMAP_CMD_EXPUNGE:
        return !uid || has_cap(s, "UIDPLUS");
    default:
        return true;
    }
}

/* ---- one command ------------------------------------------------------------------------------ */

/* Report the consumed item to the transcript, with credentials redacted. */
static void report_item(imapd *s, const char *item, size_t len, const imap_command *c, const imap_toks *t,
                        int parsed)
{
    int redact_from = -1, redact_to = -1;
    if (parsed && c->type == IMAP_CMD_LOGIN && t->n >= 2) {
        unsigned pw = imap_tok_next(t, 0);
        /* a streamed literal's payload is not in the item (its token length is the announced
         * size): it was reported, redacted, as it streamed */
        if (pw < t->n && !(t->tok[pw].flags & IMAP_TF_STREAMED) &&
            (size_t)t->tok[pw].off + t->tok[pw].len <= len) {
            redact_from = (int)t->tok[pw].off;
            redact_to = (int)(t->tok[pw].off + t->tok[pw].len);
        }
    }
    if (parsed && c->type == IMAP_CMD_AUTHENTICATE && t->n >= 2) {
        unsigned ir = imap_tok_next(t, 0);
        if (ir < t->n && !(t->tok[ir].flags & IMAP_TF_STREAMED) &&
            (size_t)t->tok[ir].off + t->tok[ir].len <= len) {
            mr_slice m = imap_tok_slice(t, 0), b = imap_tok_slice(t, ir);
            char red[1024];
            size_t k = sasl_redacted(sasl_mech_lookup(m), 0, b.p, b.n, red, sizeof red);
            if (k == 0) {
                IO(s)->client_data(IO(s)->ctx, item, len, 0);
                return;
            }
            size_t a = t->tok[ir].off, e = t->tok[ir].off + t->tok[ir].len;
            size_t tot = a + k + (len - e);
            char *buf = malloc(tot);
            if (buf) {
                memcpy(buf, item, a);
                memcpy(buf + a, red, k);
                memcpy(buf + a + k, item + e, len - e);
                IO(s)->client_data(IO(s)->ctx, buf, tot, 0);
                free(buf);
            }
            return;
        }
    }
    if (!parsed) {
        /* Unparsable: a LOGIN or AUTHENTICATE line may still hold a secret. */
        size_t tl = imap_tag_len(item, len, MR_LENIENT);
        size_t i = tl;
        while (i < len && item[i] == ' ')
            i++;
        if ((len - i >= 5 && strncasecmp(item + i, "LOGIN", 5) == 0) ||
            (len - i >= 12 && strncasecmp(item + i, "AUTHENTICATE", 12) == 0)) {
            size_t w = i;
            while (w < len && item[w] != ' ' && item[w] != '\r' && item[w] != '\n')
                w++;
            size_t tot = w + 14;
            char *buf = malloc(tot);
            if (buf) {
                memcpy(buf, item, w);
                memcpy(buf + w, " <redacted>\r\n", 13);
                IO(s)->client_data(IO(s)->ctx, buf, w + 13, 0);
                free(buf);
            }
            return;
        }
    }
    if (redact_from >= 0) {
        size_t tot = (size_t)redact_from + 10 + (len - (size_t)redact_to);
        char *buf = malloc(tot);
        if (buf) {
            memcpy(buf, item, (size_t)redact_from);
            memcpy(buf + redact_from, "<redacted>", 10);
            memcpy(buf + redact_from + 10, item + redact_to, len - (size_t)redact_to);
            IO(s)->client_data(IO(s)->ctx, buf, tot, 0);
            free(buf);
        }
        return;
    }
    IO(s)->client_data(IO(s)->ctx, item, len, 0);
}

static void upcase_name(cmdctx *x)
{
    size_t k = 0;
    if (x->c.uid) {
        memcpy(x->name, "UID ", 4);
        k = 4;
    }
    for (size_t i = 0; i < x->c.name.n && k + 1 < sizeof x->name; i++) {
        char ch = x->c.name.p[i];
        x->name[k++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
    }
    x->name[k] = 0;
}

static void set_tag(cmdctx *x, const char *p, size_t n)
{
    if (n == 0) {
        strcpy(x->tag, "*");
        return;
    }
    if (n >= sizeof x->tag)
        n = sizeof x->tag - 1;
    memcpy(x->tag, p, n);
    x->tag[n] = 0;
}

/* Parse and run one complete item. */
static void run_item(imapd *s, const char *item, size_t len)
{
    cmdctx x;
    memset(&x, 0, sizeof x);
    x.item = item;
    x.len = len;
    imap_limits lim = s->fr.lim;
    unsigned cap = (unsigned)(len + 8 < lim.tokens_max ? len + 8 : lim.tokens_max);
    imap_token *tok = malloc((size_t)cap * sizeof *tok);
    if (!tok) {
        IO(s)->client_data(IO(s)->ctx, item, len, 0);
        return;
    }
    mr_error err = {0};
    lim.mode = MR_STRICT;
    int r = imap_command_parse(item, len, &lim, &x.c, tok, cap, &err);
    if (r < 0) {
        ev(s, EV_STRICT_VIOLATION " rule=%s code=%s offset=%zu", err.rule ? err.rule : "-",
           mr_errcode_str(err.code), err.offset);
        lim.mode = MR_LENIENT;
        memset(&x.c, 0, sizeof x.c);
        r = imap_command_parse(item, len, &lim, &x.c, tok, cap, &err);
    }
    x.t = x.c.t;
    report_item(s, item, len, &x.c, &x.t, r >= 0);
    if (r < 0) {
        size_t tl = x.c.tag.n ? x.c.tag.n : imap_tag_len(item, len, MR_LENIENT);
        set_tag(&x, x.c.tag.n ? x.c.tag.p : item, tl);
        char text[128];
        snprintf(text, sizeof text, "Error in IMAP command: %s", mr_errcode_str(err.code));
        const template *tpl = x.c.type != IMAP_CMD_UNKNOWN ? s->p->imap.r.bad_syntax : s->p->imap.r.bad_command;
        x.c.name.n = x.c.name.n > 20 ? 20 : x.c.name.n;
        upcase_name(&x);
        say(s, &x, tpl, text);
        goto done;
    }
    set_tag(&x, x.c.tag.p, x.c.tag.n);
    upcase_name(&x);
    const cmd_def *d = cmd_find(x.c.type);
    x.def = d;
    if (!d || (x.c.uid && x.c.type != IMAP_CMD_FETCH && x.c.type != IMAP_CMD_SEARCH && x.c.type != IMAP_CMD_STORE &&
               x.c.type != IMAP_CMD_COPY && x.c.type != IMAP_CMD_MOVE && x.c.type != IMAP_CMD_EXPUNGE)) {
        say(s, &x, s->p->imap.r.bad_command, "Unknown command");
        goto done;
    }
    if (!(d->states & SB(s->state))) {
        if (x.c.type == IMAP_CMD_STARTTLS && tls_on(s))
            say(s, &x, s->p->imap.r.starttls_unavailable, "TLS is already active");
        else
            say(s, &x, s->p->imap.r.bad_state, "Command not valid in this state");
        goto done;
    }
    if (authed(s) && !cmd_advertised(s, x.c.type, x.c.uid)) {
        say(s, &x, s->p->imap.r.bad_command, "Unknown command");
        goto done;
    }
    if (s->not_connected && d->mailbox) {
        rctx rc = {.tag = x.tag, .command = x.name};
        reply(s, &x.out, s->p->imap.r.not_connected, &rc);
        s->nc_count++;
        if (s->p->imap.not_connected_limit && s->nc_count >= s->p->imap.not_connected_limit) {
            reply(s, &x.out, s->p->imap.r.not_connected_bye, NULL);
            enter(s, ST_CLOSED);
            ob_flush(s, &x.out);
            IO(s)->close(IO(s)->ctx, "not-connected");
        }
        goto done;
    }
    if (d->mailbox && !s->sacct) {
        op_failed(s, &x, "No mailbox");
        goto done;
    }
    d->fn(s, &x);
done:
    ob_flush(s, &x.out);
    ob_free(&x.out);
    free(tok);
    if (s->state == ST_CLOSED && x.c.type == IMAP_CMD_LOGOUT)
        IO(s)->close(IO(s)->ctx, "logout");
    else if (s->state == ST_CLOSED && (x.c.type == IMAP_CMD_LOGIN || x.c.type == IMAP_CMD_AUTHENTICATE))
        IO(s)->close(IO(s)->ctx, "auth-failed");
    else if (s->state == ST_TLS_WAIT)
        IO(s)->start_tls(IO(s)->ctx);
}

/* ---- input ------------------------------------------------------------------------------------ */

static void fatal_line(imapd *s, const char *p, size_t n, size_t limit)
{
    ev(s, EV_LINE_TOO_LONG " limit=%zu", limit);
    IO(s)->client_data(IO(s)->ctx, p, n, 0);
    reply(s, NULL, s->p->imap.r.line_too_long, NULL);
    cmd_free(s);
    enter(s, ST_CLOSED);
    IO(s)->close(IO(s)->ctx, "line-too-long");
}

/* Drop the item in progress through the end of the line that holds offset `at`. Returns the
 * bytes consumed, or 0 when that line has not ended yet. */
static size_t drop_line(imapd *s, const char *p, size_t n, size_t at)
{
    const char *lf = at < n ? memchr(p + at, '\n', n - at) : NULL;
    if (!lf)
        return 0;
    size_t used = (size_t)(lf - p) + 1;
    IO(s)->client_data(IO(s)->ctx, p, used, 0);
    imap_framer_reset(&s->fr);
    cmd_free(s);
    return used;
}

static size_t frame_error(imapd *s, const char *p, size_t n, const mr_error *err)
{
    size_t maxl = s->fr.lim.line_max;
    const char *tagp = s->cur && s->cur->item_len ? s->cur->item : p;
    size_t tagn = s->cur && s->cur->item_len ? s->cur->item_len : n;
    size_t tl = imap_tag_len(tagp, tagn, MR_LENIENT);
    char tag[256];
    snprintf(tag, sizeof tag, "%.*s", tl ? (int)(tl < 255 ? tl : 255) : 1, tl ? tagp : "*");
    switch (err->code) {
    case MR_E_LIMIT_LINE:
    case MR_E_LIMIT_COUNT:
        fatal_line(s, p, n, maxl);
        return n;
    case MR_E_LIMIT_LITERAL: {
        /* the announced size, and whether it was {n+} */
        size_t at = err->offset < n ? err->offset : 0;
        uint64_t size = 0;
        size_t q = at + 1;
        while (q < n && p[q] >= '0' && p[q] <= '9' && size < UINT64_MAX / 10)
            size = size * 10 + (uint64_t)(p[q++] - '0');
        int nonsync = q < n && p[q] == '+';
        const char *lf = memchr(p + at, '\n', n - at);
        if (!lf) {
            if (n - at > maxl + 2) {
                fatal_line(s, p, n, maxl);
                return n;
            }
            imap_framer_reset(&s->fr);
            return 0;
        }
        char sz[24];
        snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
        size_t used = (size_t)(lf - p) + 1;
        IO(s)->client_data(IO(s)->ctx, p, used, 0);
        imap_framer_reset(&s->fr);
        cmd_free(s);
        rctx r = {.tag = tag, .command = "APPEND", .text = "Literal too big", .size = sz};
        reply(s, NULL, s->p->imap.r.literal_too_big, &r);
        if (nonsync) {
            /* RFC 7888 4: the payload follows at once and cannot be told from commands */
            enter(s, ST_CLOSED);
            IO(s)->close(IO(s)->ctx, "literal-too-big");
            return n;
        }
        return used;
    }
    default: {
        size_t used = drop_line(s, p, n, err->offset);
        if (!used) {
            if (n > maxl + 2) {
                fatal_line(s, p, n, maxl);
                return n;
            }
            imap_framer_reset(&s->fr);
            return 0;
        }
        rctx r = {.tag = tag, .command = "", .text = mr_errcode_str(err->code)};
        reply(s, NULL, s->p->imap.r.bad_command, &r);
        return used;
    }
    }
}

static int append_bytes(char **buf, size_t *len, size_t *cap, const char *p, size_t n, size_t limit)
{
    if (grow(buf, cap, *len + n, limit) != 0)
        return -1;
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* Before answering "+" to a synchronizing literal: is the command one that may go on? */
static int sync_allowed(imapd *s, const char *p, size_t n)
{
    imapd_cmd *c = s->cur;
    const char *item = p;
    size_t len = n;
    char *joined = NULL;
    if (c && c->item_len) {
        joined = malloc(c->item_len + n);
        if (!joined)
            return 0;
        memcpy(joined, c->item, c->item_len);
        memcpy(joined + c->item_len, p, n);
        item = joined;
        len = c->item_len + n;
    }
    imap_limits lim = s->fr.lim;
    lim.mode = MR_LENIENT;
    imap_command cmd;
    imap_token tok[256];
    mr_error err;
    int r = imap_command_parse_prefix(item, len, &lim, &cmd, tok, 256, &err);
    int ok_ = 1;
    if (r >= 0 || (r < 0 && err.code == MR_E_LIMIT_COUNT)) {
        const cmd_def *d = cmd_find(cmd.type);
        if (d && !(d->states & SB(s->state)))
            ok_ = 0;
        if (d && s->not_connected && d->mailbox)
            ok_ = 0;
    }
    free(joined);
    return ok_;
}

/* Is item[0..n) (the start of a command) a LOGIN or AUTHENTICATE, whose literals are secret? */
static int names_credential(const char *item, size_t n)
{
    size_t i = imap_tag_len(item, n, MR_LENIENT);
    while (i < n && item[i] == ' ')
        i++;
    return (n - i >= 5 && strncasecmp(item + i, "LOGIN", 5) == 0) ||
           (n - i >= 12 && strncasecmp(item + i, "AUTHENTICATE", 12) == 0);
}

static void noop_data(void *ctx, const char *p, size_t n, int payload)
{
    (void)ctx;
    (void)p;
    (void)n;
    (void)payload;
}

static size_t in_lines(imapd *s, const char *p, size_t n)
{
    for (;;) {
        imap_frame fe;
        mr_error err = {0};
        int r = imap_framer_next(&s->fr, p, n, &fe, &err);
        if (r == MR_NEED_MORE) {
            /* the framer bounds lines; a huge run of literal-less bytes cannot get here */
            return 0;
        }
        if (r == MR_ERROR)
            return frame_error(s, p, n, &err);
        switch (fe.kind) {
        case IMAP_FRAME_SYNC_LITERAL:
            if (!sync_allowed(s, p, fe.n)) {
                size_t tl = imap_tag_len(s->cur && s->cur->item_len ? s->cur->item : p,
                                         s->cur && s->cur->item_len ? s->cur->item_len : fe.n, MR_LENIENT);
                char tag[256];
                const char *tp = s->cur && s->cur->item_len ? s->cur->item : p;
                snprintf(tag, sizeof tag, "%.*s", tl ? (int)(tl < 255 ? tl : 255) : 1, tl ? tp : "*");
                IO(s)->client_data(IO(s)->ctx, p, fe.n, 0);
                imap_framer_reset(&s->fr);
                cmd_free(s);
                rctx rc = {.tag = tag, .command = "", .text = "Command not valid in this state"};
                reply(s, NULL, s->p->imap.r.bad_state, &rc);
                return fe.n;
            }
            reply(s, NULL, s->p->imap.r.continue_literal, NULL);
            continue;
        case IMAP_FRAME_SEGMENT: {
            imapd_cmd *c = cmd_get(s);
            if (!c || append_bytes(&c->item, &c->item_len, &c->item_cap, p, fe.n, IMAPD_ITEM_MAX) != 0) {
                fatal_line(s, p, fe.n, s->fr.lim.line_max);
                return n;
            }
            IO(s)->client_data(IO(s)->ctx, p, fe.n, 0);
            if (c->nlit < MAX_STREAMED) {
                c->lit_off[c->nlit] = c->lit_len;
                c->lit_size[c->nlit] = 0;
                c->nlit++;
            } else {
                c->lit_overflow = 1;
            }
            return fe.n;
        }
        case IMAP_FRAME_LITERAL: {
            imapd_cmd *c = cmd_get(s);
            if (!c)
                return 0;
            if (names_credential(c->item, c->item_len))
                IO(s)->client_data(IO(s)->ctx, "<redacted>", 10, 1); /* a 32 KiB "password" */
            else
                IO(s)->client_data(IO(s)->ctx, p, fe.n, 1);
            if (!c->lit_overflow && c->nlit) {
                /* every literal is at most max_literal (the framer checks); a MULTIAPPEND
                 * keeps at most two of them in memory */
                size_t limit = s->p->imap.max_literal ? (size_t)s->p->imap.max_literal * 2 : (size_t)1 << 27;
                if (append_bytes(&c->lit, &c->lit_len, &c->lit_cap, p, fe.n, limit) != 0)
                    c->lit_overflow = 1;
                else
                    c->lit_size[c->nlit - 1] += fe.n;
            }
            return fe.n;
        }
        case IMAP_FRAME_ITEM:
        default: {
            imapd_cmd *c = s->cur;
            if (c && c->item_len) {
                if (append_bytes(&c->item, &c->item_len, &c->item_cap, p, fe.n, IMAPD_ITEM_MAX + 8192) != 0) {
                    fatal_line(s, p, fe.n, s->fr.lim.line_max);
                    return n;
                }
                /* the segments were reported as they came; report the rest through run_item */
                char *item = c->item;
                size_t len = c->item_len;
                c->item = NULL;
                c->item_len = c->item_cap = 0;
                /* report only the tail: the transcript already has the segments */
                IO(s)->client_data(IO(s)->ctx, p, fe.n, 0);
                const session_io *saved = s->base.io;
                session_io tmp = *saved;
                tmp.client_data = noop_data;
                s->base.io = &tmp;
                run_item(s, item, len);
                s->base.io = saved;
                free(item);
                if (s->cur && s->state != ST_SASL && s->state != ST_IDLE)
                    cmd_free(s);
            } else {
                run_item(s, p, fe.n);
            }
            if (s->cur && s->state != ST_SASL && s->state != ST_IDLE)
                cmd_free(s);
            return fe.n;
        }
        }
    }
}

/* A TLS ClientHello on a plaintext port: answer as the profile says. Returns bytes consumed
 * (all of them: the client sends nothing readable after a hello), 0 when more bytes are needed
 * to tell, or SIZE_MAX when the bytes are not a hello. */
static size_t tls_hello_check(imapd *s, const char *p, size_t n)
{
    if (s->first_seen || tls_on(s))
        return SIZE_MAX;
    sess_hello h = sess_hello_classify(p, n);
    if (h.kind == SESS_HELLO_UNDECIDED)
        return 0;
    s->first_seen = 1;
    if (h.kind == SESS_HELLO_NONE)
        return SIZE_MAX;
    IO(s)->client_data(IO(s)->ctx, p, n, 1);
    switch (s->ml->pl->tls_hello) {
    case PROFILE_HELLO_CLOSE:
        enter(s, ST_CLOSED);
        IO(s)->close(IO(s)->ctx, "client-hello-on-plaintext-port");
        return n;
    case PROFILE_HELLO_SILENCE:
        s->first_seen = 0; /* keep swallowing the rest of the handshake */
        return n;
    case PROFILE_HELLO_REPLY:
    default: {
        rctx r = {.tag = "*", .command = "", .text = "Error in IMAP command received by server."};
        reply(s, NULL, s->p->imap.r.bad_command, &r);
        return n;
    }
    }
}

static size_t imapd_input(session *base, const char *p, size_t n)
{
    imapd *s = (imapd *)base;
    size_t used = 0;
    while (used < n) {
        size_t k = 0;
        switch ((imapd_state)s->state) {
        case ST_TLS_WAIT:
        case ST_CLOSED:
            return used;
        case ST_SASL:
            k = in_sasl(s, p + used, n - used);
            break;
        case ST_IDLE:
            k = in_idle(s, p + used, n - used);
            break;
        case ST_NOTAUTH:
        case ST_AUTH:
        case ST_SELECTED:
        default: {
            k = used == 0 && !s->first_seen ? tls_hello_check(s, p, n) : SIZE_MAX;
            if (k == 0)
                return 0;
            if (k == SIZE_MAX)
                k = in_lines(s, p + used, n - used);
            break;
        }
        }
        if (k == 0)
            break;
        used += k;
        if (s->base.info && s->base.info->held)
            break; /* a delayed reply: the rest waits with the carrier */
    }
    return used;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

static void imapd_open(session *base)
{
    imapd *s = (imapd *)base;
    unsigned maxc = s->p->imap.s.max_connections;
    if (!sess_admit(&s->adm, s->ml->st, PROFILE_IMAP, base->info, maxc)) {
        ev(s, "too-many-connections address=%s open=%u limit=%u", s->adm.ip, s->adm.open - 1, maxc);
        reply(s, NULL, s->p->imap.r.too_many_connections, NULL);
        enter(s, ST_CLOSED);
        IO(s)->close(IO(s)->ctx, "too-many-connections");
        return;
    }
    char caps[4096];
    caps_now(s, caps, sizeof caps);
    rctx r = {.caps = caps};
    reply(s, NULL, profile_listener_greeting(s->p, s->ml->pl), &r);
}

static void imapd_tls_ready(session *base)
{
    imapd *s = (imapd *)base;
    /* RFC 3501 6.2.1: forget what was learned before TLS; capabilities change */
    imap_framer_reset(&s->fr);
    cmd_free(s);
    s->first_seen = 1;
    enter(s, ST_NOTAUTH);
}

static void imapd_timeout(session *base)
{
    imapd *s = (imapd *)base;
    if (s->state == ST_CLOSED)
        return;
    reply(s, NULL, s->p->imap.r.idle_bye, NULL);
    enter(s, ST_CLOSED);
}

static void imapd_free(session *base)
{
    imapd *s = (imapd *)base;
    if (conn_cache.p == s->p && conn_cache.l == s->ml->pl && conn_cache.start_ms == s->start_ms &&
        conn_cache.conn_id == (s->base.info ? s->base.info->conn_id : 0))
        conn_cache.p = NULL; /* its profile may go next; never serve a stale entry */
    sess_release(&s->adm);
    if (s->watching)
        mock_unwatch(s->ml->mock, &s->watch);
    view_close(s);
    cmd_free(s);
    free(s);
}

static const session_ops imapd_ops = {imapd_open, imapd_input, imapd_tls_ready, imapd_timeout, imapd_free};

session *imapd_factory(void *ctx, const session_io *io, session_info *info)
{
    const mock_listener *ml = ctx;
    if (!ml || !ml->prof || !ml->pl)
        return NULL;
    imapd *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &imapd_ops;
    s->base.io = io;
    s->base.info = info;
    s->ml = ml;
    s->p = ml->prof;
    s->start_ms = sess_now_ms();
    if (debug_states < 0) {
        const char *e = getenv("MAILRIG_DEBUG_IMAP");
        debug_states = e && *e && *e != '0';
    }
    s->debug = (uint8_t)debug_states;
    imap_limits lim = imap_limits_default();
    lim.mode = MR_LENIENT;
    lim.line_max = s->p->imap.s.max_line ? s->p->imap.s.max_line : 8192;
    if (lim.line_max > IMAPD_ITEM_MAX / 2)
        lim.line_max = IMAPD_ITEM_MAX / 2;
    uint64_t maxlit = s->p->imap.max_literal ? s->p->imap.max_literal : (64u << 20);
    lim.literal_max = maxlit;
    lim.nonsync_literal_max = maxlit;
    lim.inline_literal_max = inline_literal_max;
    lim.item_max = IMAPD_ITEM_MAX;
    lim.depth_max = 32;
    imap_framer_init(&s->fr, IMAP_SIDE_COMMAND, &lim);
    s->watch.changed = idle_changed;
    if (ml->mock) {
        mock_watch(ml->mock, &s->watch);
        s->watching = 1;
    }
    s->state = ST_NOTAUTH;
    return &s->base;
}
