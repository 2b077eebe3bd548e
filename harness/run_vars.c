/* run_vars.c -- run-time variable values, substitution and redaction (run_vars.h). */
#include "harness/run_vars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/base64.h"

void run_buf_add(run_buf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void run_buf_adds(run_buf *b, const char *s)
{
    run_buf_add(b, s, strlen(s));
}

void run_buf_reset(run_buf *b)
{
    b->n = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = '\0';
}

void run_buf_free(run_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- setup ------------------------------------------------------------------------------ */

int run_vars_init(run_vars *v, const sc_scenario *sc, const profile *prof,
                  const char *acct_name, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->sc = sc;
    v->prof = prof;
    v->host = "127.0.0.1";
    v->cafile = "";
    if (sc->nvars && !(v->slots = calloc(sc->nvars, sizeof *v->slots))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!prof)
        return 0;
    if (acct_name) {
        v->acct = profile_account_find(prof, acct_name);
        if (!v->acct) {
            snprintf(err, errlen, "profile %s has no account '%s'", prof->name, acct_name);
            return -1;
        }
    } else if (prof->n_accounts) {
        v->acct = &prof->accounts[0];
    }
    if (v->acct) {
        const profile_account *a = v->acct;
        if (a->password)
            run_vars_add_secret(v, a->password, strlen(a->password));
        if (a->app_password)
            run_vars_add_secret(v, a->app_password, strlen(a->app_password));
        if (a->oauth_token)
            run_vars_add_secret(v, a->oauth_token, strlen(a->oauth_token));
    }
    return 0;
}

void run_vars_free(run_vars *v)
{
    if (v->slots)
        for (size_t i = 0; i < v->sc->nvars; i++)
            free(v->slots[i].p);
    free(v->slots);
    for (size_t i = 0; i < v->nsecrets; i++)
        free(v->secrets[i]);
    memset(v, 0, sizeof *v);
}

void run_vars_add_port(run_vars *v, sc_proto proto, unsigned provider_port, int local_port)
{
    for (size_t i = 0; i < v->nports; i++)
        if (v->ports[i].proto == proto && v->ports[i].provider_port == provider_port) {
            v->ports[i].local_port = local_port;
            return;
        }
    if (v->nports < RUN_MAX_PORTS)
        v->ports[v->nports++] = (run_port){proto, provider_port, local_port};
}

int run_vars_port(const run_vars *v, sc_proto proto, unsigned provider_port)
{
    if (v->external && provider_port)
        return v->port_base + (int)provider_port;
    for (size_t i = 0; i < v->nports; i++) {
        const run_port *p = &v->ports[i];
        if (p->proto != proto)
            continue;
        if (provider_port ? p->provider_port == provider_port : p->local_port > 0)
            return p->local_port;
    }
    return 0;
}

static void add_secret_raw(run_vars *v, const char *p, size_t n)
{
    if (n == 0 || v->nsecrets >= RUN_MAX_SECRETS)
        return;
    for (size_t i = 0; i < v->nsecrets; i++)
        if (v->secret_n[i] == n && memcmp(v->secrets[i], p, n) == 0)
            return;
    char *c = malloc(n);
    if (!c)
        return;
    memcpy(c, p, n);
    v->secrets[v->nsecrets] = c;
    v->secret_n[v->nsecrets++] = n;
}

void run_vars_add_secret(run_vars *v, const char *p, size_t n)
{
    add_secret_raw(v, p, n);
    size_t bn = b64_encoded_len(n);
    char *b = n ? malloc(bn + 1) : NULL;
    if (b && b64_encode(p, n, b, bn + 1, NULL) > 0)
        add_secret_raw(v, b, bn);
    free(b);
}

int run_vars_set(run_vars *v, unsigned slot, const char *p, size_t n, int secret)
{
    if (slot >= v->sc->nvars)
        return -1;
    run_value *s = &v->slots[slot];
    char *c = malloc(n + 1);
    if (!c)
        return -1;
    memcpy(c, p, n);
    c[n] = '\0';
    free(s->p);
    s->p = c;
    s->n = n;
    s->set = 1;
    if (secret)
        run_vars_add_secret(v, p, n);
    return 0;
}

/* ---- values ------------------------------------------------------------------------------ */

static const char *need_account(run_vars *v, const sc_ref *ref, char *err, size_t errlen)
{
    if (!v->acct) {
        snprintf(err, errlen, "{%s}: the profile has no account", ref->name);
        return NULL;
    }
    return "";
}

static profile_proto to_profile_proto(sc_proto p)
{
    return p == SC_PROTO_SMTP ? PROFILE_SMTP : p == SC_PROTO_POP3 ? PROFILE_POP3 : PROFILE_IMAP;
}

/* The raw value of ref (no transformation) into out. */
static int raw_value(run_vars *v, const sc_ref *ref, run_buf *out, char *err, size_t errlen)
{
    char tmp[512];
    const char *s = NULL;
    switch (ref->kind) {
    case SC_VAR_ACCOUNT_NAME:
    case SC_VAR_ACCOUNT_EMAIL:
    case SC_VAR_ACCOUNT_LOCAL:
    case SC_VAR_ACCOUNT_USERNAME:
    case SC_VAR_ACCOUNT_PASSWORD:
    case SC_VAR_ACCOUNT_APP_PASSWORD:
    case SC_VAR_ACCOUNT_OAUTH_TOKEN:
        if (!need_account(v, ref, err, errlen))
            return -1;
        break;
    default:
        break;
    }
    switch (ref->kind) {
    case SC_VAR_ACCOUNT_NAME: s = v->acct->name; break;
    case SC_VAR_ACCOUNT_EMAIL: s = v->acct->email; break;
    case SC_VAR_ACCOUNT_LOCAL: s = v->acct->local; break;
    case SC_VAR_ACCOUNT_USERNAME:
        profile_account_username(v->prof, v->acct, to_profile_proto(ref->proto), tmp, sizeof tmp);
        s = tmp;
        break;
    case SC_VAR_ACCOUNT_PASSWORD: s = v->acct->password; break;
    case SC_VAR_ACCOUNT_APP_PASSWORD:
        s = v->acct->app_password;
        if (!s) {
            snprintf(err, errlen, "{%s}: account '%s' has no app password", ref->name,
                     v->acct->name);
            return -1;
        }
        break;
    case SC_VAR_ACCOUNT_OAUTH_TOKEN:
        s = v->acct->oauth_token;
        if (!s) {
            snprintf(err, errlen, "{%s}: account '%s' has no OAuth token", ref->name,
                     v->acct->name);
            return -1;
        }
        break;
    case SC_VAR_HOST: s = v->host; break;
    case SC_VAR_CAFILE: s = v->cafile; break;
    case SC_VAR_PORT: {
        int port = run_vars_port(v, ref->proto, ref->port);
        if (port <= 0) {
            snprintf(err, errlen, "{%s}: no %s listener%s", ref->name, sc_proto_name(ref->proto),
                     ref->port ? " at that port" : "");
            return -1;
        }
        snprintf(tmp, sizeof tmp, "%d", port);
        s = tmp;
        break;
    }
    case SC_VAR_USER:
    case SC_VAR_CAPTURE: {
        const run_value *val = ref->slot < v->sc->nvars ? &v->slots[ref->slot] : NULL;
        if (!val || !val->set) {
            snprintf(err, errlen, "{%s} has no value yet", ref->name);
            return -1;
        }
        run_buf_add(out, val->p, val->n);
        return 0;
    }
    }
    run_buf_adds(out, s ? s : "");
    return 0;
}

int run_vars_ref(run_vars *v, const sc_ref *ref, run_buf *out, run_buf *red, char *err,
                 size_t errlen)
{
    run_buf raw = {0};
    if (raw_value(v, ref, &raw, err, errlen) != 0) {
        run_buf_free(&raw);
        return -1;
    }
    if (ref->xform == SC_XF_BASE64) {
        size_t bn = b64_encoded_len(raw.n);
        char *b = malloc(bn + 1);
        if (!b || b64_encode(raw.p ? raw.p : "", raw.n, b, bn + 1, NULL) < 0) {
            free(b);
            run_buf_free(&raw);
            snprintf(err, errlen, "{%s}: cannot encode", ref->name);
            return -1;
        }
        run_buf_reset(&raw);
        run_buf_add(&raw, b, bn);
        free(b);
    }
    run_buf_add(out, raw.p ? raw.p : "", raw.n);
    if (red) {
        if (ref->secret)
            run_buf_adds(red, RUN_REDACTED);
        else
            run_vars_redact(v, raw.p ? raw.p : "", raw.n, red);
    }
    int oom = raw.oom || out->oom;
    run_buf_free(&raw);
    if (oom) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int run_vars_expand(run_vars *v, const sc_text *t, run_buf *out, run_buf *red, char *err,
                    size_t errlen)
{
    for (size_t i = 0; i < t->nparts; i++) {
        const sc_part *part = &t->parts[i];
        if (part->kind == SC_PART_LIT) {
            run_buf_add(out, part->p, part->n);
            if (red)
                run_buf_add(red, part->p, part->n);
        } else if (run_vars_ref(v, &part->ref, out, red, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

void run_vars_redact(const run_vars *v, const char *p, size_t n, run_buf *out)
{
    size_t i = 0, from = 0;
    while (i < n) {
        size_t hit = 0;
        for (size_t k = 0; k < v->nsecrets; k++) {
            size_t sn = v->secret_n[k];
            /* Longest match first would need sorting; secrets rarely overlap, and the base64
             * form of a secret never starts with the secret itself. */
            if (sn <= n - i && p[i] == v->secrets[k][0] && memcmp(p + i, v->secrets[k], sn) == 0) {
                hit = sn;
                break;
            }
        }
        if (hit) {
            run_buf_add(out, p + from, i - from);
            run_buf_adds(out, RUN_REDACTED);
            i += hit;
            from = i;
        } else {
            i++;
        }
    }
    run_buf_add(out, p + from, n - from);
}
