/* validate.c -- the parser's hooks, backed by the profile loader and the adapters module.
 * See validate.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/validate.h"
#include "proto/base64.h"
#include "servers/profile.h"
#include "servers/suggest.h"

enum { MAX_SETS = 256 };

/* One profile argument as loaded without overrides: the profile, or why not. */
typedef struct cached {
    char *arg;
    profile *p;
    char *err;
} cached;

/* Strings handed out by validate_secrets(), freed with the context. */
typedef struct strpool {
    char **v;
    size_t n, cap;
} strpool;

struct validate_ctx {
    validate_opts o;
    cached *cache;
    size_t ncache, capcache;
    strpool secrets;
    /* per validate_parse() call */
    const char *file;
    int judging;                /* second pass: report what the combined load found */
    const char *sets[MAX_SETS]; /* "SECTION.KEY=VALUE", malloc'ed, in file order */
    size_t nsets;
    const char *account;        /* malloc'ed, or NULL */
    char *set_arg;              /* the profile the sets and account are about, or NULL */
    profile_diag set_diag;      /* the combined load's messages (judging) */
    int account_missing;
    int told_rest;              /* the messages about no set were given (judging) */
    char account_why[300];
};

validate_ctx *validate_new(const validate_opts *o)
{
    validate_ctx *v = calloc(1, sizeof *v);
    if (v && o)
        v->o = *o;
    return v;
}

static void reset_parse_state(validate_ctx *v)
{
    for (size_t i = 0; i < v->nsets; i++)
        free((char *)v->sets[i]);
    v->nsets = 0;
    free((char *)v->account);
    v->account = NULL;
    free(v->set_arg);
    v->set_arg = NULL;
    profile_diag_free(&v->set_diag);
    v->judging = 0;
    v->account_missing = 0;
    v->told_rest = 0;
}

void validate_free(validate_ctx *v)
{
    if (!v)
        return;
    reset_parse_state(v);
    for (size_t i = 0; i < v->ncache; i++) {
        free(v->cache[i].arg);
        profile_free(v->cache[i].p);
        free(v->cache[i].err);
    }
    free(v->cache);
    for (size_t i = 0; i < v->secrets.n; i++)
        free(v->secrets.v[i]);
    free(v->secrets.v);
    free(v);
}

/* ---- profiles ----------------------------------------------------------------------------- */

/* Join a loader's messages into one line ("a; b"), at most cap bytes: all of them (prefix
 * NULL), those starting with prefix (without it), or those not about any --set (prefix ""),
 * which the loader writes as "--set SECTION.KEY=VALUE: message". */
static void join_diag(const profile_diag *d, const char *prefix, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->n && len + 1 < cap; i++) {
        const char *m = d->msg[i];
        if (prefix && !*prefix && strncmp(m, "--set ", 6) == 0)
            continue;
        if (prefix && *prefix) {
            size_t k = strlen(prefix);
            if (strncmp(m, prefix, k) != 0)
                continue;
            m += k;
        }
        int w = snprintf(out + len, cap - len, "%s%s", len ? "; " : "", m);
        if (w < 0)
            break;
        len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
    }
}

static profile *load(const validate_ctx *v, const char *arg, const char *const *sets,
                     size_t nsets, profile_diag *d)
{
    profile_opts po = {.sets = sets, .n_sets = nsets, .data_dir = v->o.data_dir};
    return profile_load(arg, &po, d);
}

/* The profile `arg` without overrides, loaded once per context. */
static const cached *get_cached(validate_ctx *v, const char *arg)
{
    for (size_t i = 0; i < v->ncache; i++)
        if (strcmp(v->cache[i].arg, arg) == 0)
            return &v->cache[i];
    if (v->ncache == v->capcache) {
        size_t cap = v->capcache ? v->capcache * 2 : 8;
        cached *nc = realloc(v->cache, cap * sizeof *nc);
        if (!nc)
            return NULL;
        v->cache = nc;
        v->capcache = cap;
    }
    cached c = {strdup(arg), NULL, NULL};
    if (!c.arg)
        return NULL;
    profile_diag d = {0};
    c.p = load(v, arg, NULL, 0, &d);
    if (!c.p) {
        char why[1024];
        join_diag(&d, NULL, why, sizeof why);
        c.err = strdup(why[0] ? why : "cannot be loaded");
    }
    profile_diag_free(&d);
    v->cache[v->ncache] = c;
    return &v->cache[v->ncache++];
}

int validate_profile(validate_ctx *v, const char *arg, char *why, size_t whycap)
{
    const cached *c = get_cached(v, arg);
    if (!c) {
        snprintf(why, whycap, "out of memory");
        return -1;
    }
    if (c->p)
        return 0;
    snprintf(why, whycap, "%s", c->err);
    return -1;
}

/* The profile argument a scenario's sets and account are about: its path when it names a
 * file, its name, or the runner's default. NULL when there is none. */
static char *profile_arg(const validate_ctx *v, const char *prof, const char *path)
{
    const char *a = path ? path : prof ? prof : v->o.default_profile;
    return a ? strdup(a) : NULL;
}

/* ---- the hooks ---------------------------------------------------------------------------- */

static int hook_profile(void *ctx, const char *prof, const char *path, char *why,
                        size_t whycap)
{
    validate_ctx *v = ctx;
    free(v->set_arg);
    v->set_arg = profile_arg(v, prof, path);
    return v->set_arg ? validate_profile(v, v->set_arg, why, whycap) : 0;
}

/* First pass: remember the set. Second pass: the combined load's messages about it. */
static int hook_set(void *ctx, const char *prof, const char *key, const char *value,
                    char *why, size_t whycap)
{
    validate_ctx *v = ctx;
    if (!v->set_arg)
        v->set_arg = profile_arg(v, prof, NULL);
    if (!v->judging) {
        size_t n = strlen(key) + strlen(value) + 2;
        char *s = v->nsets < MAX_SETS ? malloc(n) : NULL;
        if (s) {
            snprintf(s, n, "%s=%s", key, value);
            v->sets[v->nsets++] = s;
        }
        return 0;
    }
    char prefix[600], mine[300], rest[300] = "";
    snprintf(prefix, sizeof prefix, "--set %s=%s: ", key, value);
    join_diag(&v->set_diag, prefix, mine, sizeof mine);
    if (!v->told_rest) {   /* messages about no set in particular go with the first one */
        join_diag(&v->set_diag, "", rest, sizeof rest);
        v->told_rest = 1;
    }
    snprintf(why, whycap, "%s%s%s", mine, mine[0] && rest[0] ? "; " : "", rest);
    return why[0] ? -1 : 0;
}

static int hook_account(void *ctx, const char *prof, const char *account, char *why,
                        size_t whycap)
{
    validate_ctx *v = ctx;
    if (!v->set_arg)
        v->set_arg = profile_arg(v, prof, NULL);
    if (!v->judging) {
        free((char *)v->account);
        v->account = strdup(account);
        return 0;
    }
    if (!v->account_missing)
        return 0;
    snprintf(why, whycap, "%s", v->account_why);
    return -1;
}

static int hook_client(void *ctx, const char *name, const char *key, const char *value,
                       char *why, size_t whycap)
{
    const validate_ctx *v = ctx;
    void *dir = (void *)v->o.clients_dir;
    if (key && v->o.check_client(dir, name, NULL, NULL, why, whycap) != 0)
        return 0;   /* an unknown adapter: said once, at its name, not again per setting */
    return v->o.check_client(dir, name, key, value, why, whycap);
}

int validate_adapter(validate_ctx *v, const char *name, char *why, size_t whycap)
{
    if (!v->o.check_client)
        return 0;
    return v->o.check_client((void *)v->o.clients_dir, name, NULL, NULL, why, whycap);
}

/* "no account 'bob' in profile 'exchange' (did you mean 'ben'?)", or "(it has: tony, ben, ...)". */
static void account_problem(validate_ctx *v, const profile *p)
{
    const char *names[PROFILE_MAX_ACCOUNTS] = {0};
    size_t n = 0;
    for (; n < p->n_accounts && n < PROFILE_MAX_ACCOUNTS; n++)
        names[n] = p->accounts[n].name;
    const char *near = suggest_closest(v->account, strlen(v->account), names, n);
    char list[200] = "";
    for (size_t i = 0, len = 0; i < n && len + 1 < sizeof list; i++) {
        int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
        len += w > 0 ? (size_t)w : 0;
    }
    if (near)
        snprintf(v->account_why, sizeof v->account_why,
                 "no account '%s' in profile '%s' (did you mean '%s'?)", v->account, p->name,
                 near);
    else
        snprintf(v->account_why, sizeof v->account_why,
                 "no account '%s' in profile '%s' (it has: %s)", v->account, p->name, list);
    v->account_missing = 1;
}

/* Whether a set line is about [account.NAME] of the scenario's account. */
static int sets_define_account(const validate_ctx *v)
{
    char prefix[200];
    snprintf(prefix, sizeof prefix, "account.%s.", v->account);
    for (size_t i = 0; i < v->nsets; i++)
        if (strncmp(v->sets[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

/* Load the scenario's profile with all its sets; 1 when something must be reported. */
static int judge_sets(validate_ctx *v)
{
    if (!v->set_arg || (!v->nsets && !v->account))
        return 0;
    const cached *base = get_cached(v, v->set_arg);
    if (!base || !base->p)
        return 0;   /* reported at the profile line, or no memory to say more */
    profile *p = load(v, v->set_arg, v->sets, v->nsets, &v->set_diag);
    if (p && v->account && !profile_account_find(p, v->account))
        account_problem(v, p);
    else if (!p && v->account && !profile_account_find(base->p, v->account) &&
             !sets_define_account(v))   /* the sets failed: judge it without them */
        account_problem(v, base->p);
    profile_free(p);
    return v->set_diag.n > 0 || v->account_missing;
}

sc_scenario *validate_parse(validate_ctx *v, const char *path, sc_diags *d)
{
    reset_parse_state(v);
    v->file = path;
    sc_options o;
    memset(&o, 0, sizeof o);
    o.ctx = v;
    o.check_profile = hook_profile;
    o.check_set = hook_set;
    o.check_account = hook_account;
    o.check_client = v->o.check_client ? hook_client : NULL;
    sc_diags first = {0};
    sc_scenario *sc = sc_parse_file(path, &o, &first);
    if (!judge_sets(v)) {
        *d = first;
        return sc;
    }
    /* Parse again to have the parser place each message at its line. */
    sc_free(sc);
    sc_diags_free(&first);
    v->judging = 1;
    free(v->set_arg);
    v->set_arg = NULL;
    return sc_parse_file(path, &o, d);
}

/* ---- secrets ------------------------------------------------------------------------------ */

static int pool_add(strpool *s, const char *p, size_t n)
{
    if (!p || !n)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = cap;
    }
    char *c = malloc(n + 1);
    if (!c)
        return -1;
    memcpy(c, p, n);
    c[n] = '\0';
    s->v[s->n++] = c;
    return 0;
}

/* secret and its base64 form (which AUTH LOGIN sends). */
static void add_secret(strpool *s, const char *secret)
{
    if (!secret || !*secret)
        return;
    size_t n = strlen(secret);
    pool_add(s, secret, n);
    size_t bn = b64_encoded_len(n);
    char *b = bn < 4096 ? malloc(bn) : NULL;
    if (b && b64_encode(secret, n, b, bn, NULL) == (int)bn)
        pool_add(s, b, bn);
    free(b);
}

size_t validate_secrets(validate_ctx *v, const sc_scenario *sc, const char ***out)
{
    *out = NULL;
    char *arg = profile_arg(v, sc->h.profile, sc->h.profile_path);
    if (!arg)
        return 0;
    const char *sets[MAX_SETS];
    size_t n = 0;
    char *owned[MAX_SETS];
    for (size_t i = 0; i < sc->h.nsets && n < MAX_SETS; i++) {
        size_t len = strlen(sc->h.sets[i].key) + strlen(sc->h.sets[i].value) + 2;
        if (!(owned[n] = malloc(len)))
            break;
        snprintf(owned[n], len, "%s=%s", sc->h.sets[i].key, sc->h.sets[i].value);
        sets[n] = owned[n];
        n++;
    }
    profile_diag d = {0};
    profile *p = load(v, arg, sets, n, &d);
    profile_diag_free(&d);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(arg);
    size_t first = v->secrets.n;
    for (size_t i = 0; p && i < p->n_accounts; i++) {
        add_secret(&v->secrets, p->accounts[i].password);
        add_secret(&v->secrets, p->accounts[i].app_password);
        add_secret(&v->secrets, p->accounts[i].oauth_token);
    }
    profile_free(p);
    size_t n_out = v->secrets.n - first;
    if (!n_out || !(*out = malloc(n_out * sizeof **out)))
        return 0;
    for (size_t i = 0; i < n_out; i++)
        (*out)[i] = v->secrets.v[first + i];
    return n_out;
}
