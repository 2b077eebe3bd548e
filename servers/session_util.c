/* session_util.c -- see session_util.h. */
#include "servers/session_util.h"

#include "proto/tlssniff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t (*clock_fn)(void);

void sess_set_clock(int64_t (*now_ms)(void))
{
    clock_fn = now_ms;
}

int64_t sess_now_ms(void)
{
    if (clock_fn)
        return clock_fn();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sess_peer_ip(const session_info *info, char *out, size_t cap)
{
    const char *peer = info ? info->peer : "";
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    snprintf(out, cap, "%.*s", (int)n, peer);
}

sess_hello sess_hello_classify(const char *p, size_t n)
{
    sess_hello h = {SESS_HELLO_NONE, 0, 0};
    tlssniff_kind kind = tlssniff_classify(p, n, 0);
    if (kind == TLSSNIFF_NEED_MORE && n < TLSSNIFF_DECIDE_BYTES && !memchr(p, '\n', n)) {
        h.kind = SESS_HELLO_UNDECIDED;
        return h;
    }
    if (kind != TLSSNIFF_TLS_HELLO && kind != TLSSNIFF_SSL2_HELLO)
        return h;
    h.kind = SESS_HELLO_FOUND;
    h.record = n;
    /* a TLS record says its length (RFC 8446 5.1): skip the rest of it when it arrives */
    if (kind == TLSSNIFF_TLS_HELLO && n >= 5) {
        size_t want = 5 + (((size_t)(unsigned char)p[3] << 8) | (unsigned char)p[4]);
        if (want > n)
            h.left = (uint32_t)(want - n);
        else
            h.record = want;
    }
    return h;
}

int sess_admit(sess_admission *a, const void *scope, int proto, const session_info *info,
               unsigned limit)
{
    a->scope = scope;
    a->proto = proto;
    sess_peer_ip(info, a->ip, sizeof a->ip);
    a->open = sess_conn_enter(scope, proto, a->ip);
    a->counted = a->open > 0;
    return !limit || a->open <= limit;
}

void sess_release(sess_admission *a)
{
    if (a->counted)
        sess_conn_leave(a->scope, a->proto, a->ip);
    a->counted = 0;
}

int sess_reply(const session_io *io, const template *t, const template_vars *vars)
{
    char line[SESS_MAX_REPLY + 2];
    int n = template_expand(t, vars, line, SESS_MAX_REPLY + 1);
    if (n < 0) {
        fprintf(stderr, "session bug: template '%s' needs a value the session did not give\n",
                template_source(t));
        abort();
    }
    if (n > SESS_MAX_REPLY)
        n = SESS_MAX_REPLY;
    line[n] = '\r';
    line[n + 1] = '\n';
    io->send(io->ctx, line, (size_t)n + 2);
    return n;
}

size_t sess_word(const char *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        out[k++] = c > ' ' && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
    return k;
}

size_t sess_text(const char *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        out[k++] = c >= ' ' && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
    return k;
}

const char *sess_errcode_word(mr_errcode code)
{
    static const char *const words[MR_E__COUNT] = {
        [MR_E_NONE] = "none",           [MR_E_BARE_LF] = "bare-lf",
        [MR_E_BARE_CR] = "bare-cr",     [MR_E_NUL] = "nul",
        [MR_E_8BIT] = "8bit",           [MR_E_CTL] = "ctl",
        [MR_E_LIMIT_LINE] = "line-too-long", [MR_E_LIMIT_LITERAL] = "too-large",
        [MR_E_LIMIT_DEPTH] = "too-deep", [MR_E_LIMIT_COUNT] = "too-many",
        [MR_E_NUMBER] = "number",       [MR_E_EMPTY] = "empty",
        [MR_E_TRAILING] = "trailing",   [MR_E_SYNTAX] = "syntax",
        [MR_E_UNKNOWN_COMMAND] = "unknown-command", [MR_E_UTF8] = "utf8",
        [MR_E_BASE64] = "base64",       [MR_E_STATE] = "state",
    };
    return (unsigned)code < MR_E__COUNT && words[code] ? words[code] : "unknown";
}

/* ---- the registry ------------------------------------------------------------------------ */

typedef struct reg_entry {
    const void *scope;
    int kind;            /* 0: connection count, 1: lock */
    int proto;
    const void *owner;   /* locks */
    unsigned count;      /* connections */
    struct reg_entry *next;
    char key[];          /* client address or account name */
} reg_entry;

static reg_entry *registry;
static size_t registry_n;

static reg_entry **reg_find(const void *scope, int kind, int proto, const char *key)
{
    for (reg_entry **e = &registry; *e; e = &(*e)->next)
        if ((*e)->scope == scope && (*e)->kind == kind && (*e)->proto == proto &&
            strcmp((*e)->key, key) == 0)
            return e;
    return NULL;
}

static reg_entry *reg_add(const void *scope, int kind, int proto, const char *key)
{
    size_t n = strlen(key);
    reg_entry *e = calloc(1, sizeof *e + n + 1);
    if (!e)
        return NULL;
    e->scope = scope;
    e->kind = kind;
    e->proto = proto;
    memcpy(e->key, key, n + 1);
    e->next = registry;
    registry = e;
    registry_n++;
    return e;
}

static void reg_remove(reg_entry **at)
{
    reg_entry *e = *at;
    *at = e->next;
    free(e);
    registry_n--;
}

unsigned sess_conn_enter(const void *scope, int proto, const char *ip)
{
    reg_entry **at = reg_find(scope, 0, proto, ip);
    reg_entry *e = at ? *at : reg_add(scope, 0, proto, ip);
    if (!e)
        return 0;
    return ++e->count;
}

void sess_conn_leave(const void *scope, int proto, const char *ip)
{
    reg_entry **at = reg_find(scope, 0, proto, ip);
    if (!at)
        return;
    if ((*at)->count > 1)
        (*at)->count--;
    else
        reg_remove(at);
}

int sess_lock(const void *scope, const char *account, const void *owner)
{
    reg_entry **at = reg_find(scope, 1, 0, account);
    if (at)
        return (*at)->owner == owner;
    reg_entry *e = reg_add(scope, 1, 0, account);
    if (!e)
        return -1;
    e->owner = owner;
    return 1;
}

void sess_unlock(const void *scope, const char *account, const void *owner)
{
    reg_entry **at = reg_find(scope, 1, 0, account);
    if (at && (*at)->owner == owner)
        reg_remove(at);
}

size_t sess_registry_size(void)
{
    return registry_n;
}

void sess_delay(const session_io *io, unsigned ms)
{
    if (ms && io->delay)
        io->delay(io->ctx, ms);
}
