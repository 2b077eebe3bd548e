/* diag_model.c -- the plain parts of diag.h: origins, messages, names, empty settings and
 * reports, adding findings. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness/diag.h"

int diag_origin_format(const diag_origin *o, char *buf, size_t cap)
{
    if (!o->file[0])
        return snprintf(buf, cap, "%s", "");
    if (o->line)
        return snprintf(buf, cap, "%s:%u", o->file, o->line);
    return snprintf(buf, cap, "%s", o->file);
}

/* ---- messages ------------------------------------------------------------------------------ */

void diag_msgs_add(diag_msgs *m, const char *fmt, ...)
{
    if (m->n >= DIAG_MSG_MAX) {
        m->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->msg[m->n], DIAG_MSG_LEN, fmt, ap);
    va_end(ap);
    if (n >= DIAG_MSG_LEN) /* say so rather than cut a word silently */
        memcpy(m->msg[m->n] + DIAG_MSG_LEN - 4, "...", 4);
    m->n++;
}

void diag_msgs_print(const diag_msgs *m, FILE *f)
{
    for (size_t i = 0; i < m->n; i++)
        fprintf(f, "%s\n", m->msg[i]);
    if (m->dropped)
        fprintf(f, "... and %zu more\n", m->dropped);
}

/* ---- names --------------------------------------------------------------------------------- */

#define NAME_OF(table, v) ((size_t)(v) < sizeof table / sizeof *table ? table[v] : "?")

const char *diag_proto_name(diag_proto p)
{
    static const char *const t[] = {"", "imap", "pop3", "smtp"};
    return NAME_OF(t, p);
}

static const char *const wire_names[] = {"", "none", "implicit-tls", "starttls", "starttls-if-available"};

const char *diag_wire_name(diag_wire w)
{
    return NAME_OF(wire_names, w);
}

const char *diag_wire_words(diag_wire w)
{
    static const char *const t[] = {"not given", "plaintext", "implicit TLS", "STARTTLS",
                                    "STARTTLS if available"};
    return NAME_OF(t, w);
}

diag_wire diag_wire_from_name(const char *name)
{
    for (int w = DIAG_WIRE_NONE; w < DIAG_WIRE_COUNT; w++)
        if (!strcmp(name, wire_names[w]))
            return (diag_wire)w;
    return DIAG_WIRE_UNSET;
}

const char *diag_auth_name(diag_auth a)
{
    static const char *const t[] = {"", "none", "normal", "spa", "cram-md5", "oauth2", "gssapi", "tls-certificate"};
    return NAME_OF(t, a);
}

const char *diag_password_name(diag_password p)
{
    static const char *const t[] = {"", "account", "app-specific"};
    return NAME_OF(t, p);
}

const char *diag_field_name(diag_field f)
{
    static const char *const t[] = {"",         "email", "client",   "provider", "protocol", "server",
                                    "port",     "security", "username", "password", "auth"};
    return NAME_OF(t, f);
}

const char *diag_severity_name(diag_severity s)
{
    static const char *const t[] = {"error", "warning", "info"};
    return NAME_OF(t, s);
}

const char *diag_server_name(diag_server_id id)
{
    static const char *const t[] = {"incoming", "outgoing", "account"};
    return NAME_OF(t, id);
}

const char *diag_trigger_name(diag_trigger t)
{
    static const char *const n[] = {
        "provider-conflict", "server-name", "protocol-unsupported", "protocol-port", "port-closed",
        "port-advice", "tls-implicit-on-starttls", "tls-starttls-on-implicit", "tls-none-on-implicit",
        "tls-none-on-starttls", "tls-on-plain", "starttls-optional", "security-ambiguous",
        "plaintext-password", "auth-mech", "auth-none", "auth-not-on-port", "username-form",
        "username-fallback", "username-other", "username-differs", "password-kind",
        "state-not-signed-in", "state-protocol-disabled", "state-basic-auth-disabled",
        "state-smtp-auth-disabled",
    };
    _Static_assert(sizeof n / sizeof *n == DIAG_T_COUNT, "a name per trigger");
    return NAME_OF(n, t);
}

/* ---- settings and reports ----------------------------------------------------------------- */

void diag_settings_init(diag_settings *s)
{
    memset(s, 0, sizeof *s);
}

void diag_report_init(diag_report *r)
{
    memset(r, 0, sizeof *r);
}

diag_finding *diag_report_add(diag_report *r, const diag_rule *rule, diag_server_id server, diag_field field,
                              const diag_origin *at)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const diag_finding *f = &r->findings[i];
        if (f->rule == rule && f->server == server && f->field == field)
            return NULL;
    }
    if (r->n_findings >= DIAG_MAX_FINDINGS) {
        r->dropped++;
        return NULL;
    }
    diag_finding *f = &r->findings[r->n_findings++];
    memset(f, 0, sizeof *f);
    f->rule = rule;
    f->severity = rule->severity;
    f->server = server;
    f->field = field;
    if (at)
        f->at = *at;
    snprintf(f->title, sizeof f->title, "%s", rule->title);
    if (rule->kind == DIAG_KIND_SETTING)
        r->n_severity[f->severity]++;
    return f;
}

void diag_report_cannot(diag_report *r, diag_server_id server, diag_field field, const char *what,
                        const char *why_fmt, ...)
{
    for (size_t i = 0; i < r->n_cannot; i++)
        if (r->cannot[i].server == server && r->cannot[i].field == field && !strcmp(r->cannot[i].what, what))
            return;
    if (r->n_cannot >= DIAG_MAX_CANNOT)
        return;
    diag_cannot_tell *c = &r->cannot[r->n_cannot++];
    c->server = server;
    c->field = field;
    snprintf(c->what, sizeof c->what, "%s", what);
    va_list ap;
    va_start(ap, why_fmt);
    vsnprintf(c->why, sizeof c->why, why_fmt, ap);
    va_end(ap);
}

bool diag_report_has_errors(const diag_report *r)
{
    return r->n_severity[DIAG_ERROR] > 0;
}
