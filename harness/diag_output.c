/* diag_output.c -- a diagnosis report for people (diag_report_print) and for tools
 * (diag_report_write_json, shape in docs/diagnose.md). Both list the same things in the same
 * order: the provider and how it was established, the settings as read, the setting findings
 * grouped by server with errors first, the possible causes apart, and "cannot tell". */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/diag.h"

static const char *const how_names[] = {"unknown", "given", "inferred", "conflict"};

/* The order findings are printed in: account, incoming, outgoing; severity; order found. */
static size_t sorted(const diag_report *r, diag_kind kind, const diag_finding **out)
{
    size_t n = 0;
    static const diag_server_id order[] = {DIAG_ACCOUNT, DIAG_IN, DIAG_OUT};
    for (size_t k = 0; k < 3; k++)
        for (int sev = 0; sev < DIAG_SEVERITY_COUNT; sev++)
            for (size_t i = 0; i < r->n_findings; i++) {
                const diag_finding *f = &r->findings[i];
                if (f->server == order[k] && (int)f->severity == sev && f->rule->kind == kind)
                    out[n++] = f;
            }
    return n;
}

/* ---- human ------------------------------------------------------------------------------------- */

static void print_cite(const diag_cite *c, FILE *f)
{
    fprintf(f, "        source: %s", c->doc);
    if (c->line)
        fprintf(f, ":%u", c->line);
    if (c->section)
        fprintf(f, " section %s", c->section);
    fprintf(f, " %s", c->tag ? c->tag : "");
    if (c->quote) {
        fprintf(f, " \"%s\"", c->quote);
        if (c->gloss)
            fprintf(f, " (%s: %s)", c->lang ? c->lang : "", c->gloss);
    } else if (c->gloss) {
        fprintf(f, " -- %s", c->gloss);
    }
    fputc('\n', f);
}

static void print_finding(const diag_finding *fd, FILE *f)
{
    char at[DIAG_ORIGIN_MAX + 16];
    diag_origin_format(&fd->at, at, sizeof at);
    fprintf(f, "  %-7s %s", diag_severity_name(fd->severity), fd->rule->id);
    if (fd->field != DIAG_F_NONE)
        fprintf(f, "  [%s%s%s]", diag_field_name(fd->field), at[0] ? " at " : "", at);
    fprintf(f, "\n        %s\n", fd->title);
    if (fd->detail[0])
        fprintf(f, "        why:    %s\n", fd->detail);
    if (fd->wire[0])
        fprintf(f, "        wire:   %s\n", fd->wire);
    if (fd->reply[0] && !strstr(fd->wire, fd->reply))
        fprintf(f, "        reply:  %s   (profile %s)\n", fd->reply, fd->reply_key);
    else if (fd->reply[0])
        fprintf(f, "        (the reply is the profile's %s)\n", fd->reply_key);
    if (fd->fix[0])
        fprintf(f, "        fix:    %s\n", fd->fix);
    for (int i = 0; i < DIAG_MAX_CITES && fd->rule->cite[i].doc; i++)
        print_cite(&fd->rule->cite[i], f);
}

static void print_server(const diag_settings *s, diag_server_id id, FILE *f)
{
    const diag_server *sv = &s->server[id];
    fprintf(f, "%s:", diag_server_name(id));
    bool any = false;
    for (int k = DIAG_F_PROTOCOL; k < DIAG_F_COUNT; k++)
        any |= sv->given[k];
    if (!any) {
        fprintf(f, " (not given)\n");
        return;
    }
    fprintf(f, " %s%s", diag_proto_name(sv->proto), sv->proto_inferred ? " (inferred)" : "");
    if (sv->host[0])
        fprintf(f, " %s", sv->host);
    if (sv->port)
        fprintf(f, ":%u", sv->port);
    if (sv->security[0]) {
        fprintf(f, ", security \"%s\" = %s", sv->security, diag_wire_words(sv->reading.wire));
        if (sv->reading.alt)
            fprintf(f, " or %s", diag_wire_words(sv->reading.alt));
        if (sv->reading.client[0])
            fprintf(f, " (%s%s)", sv->reading.client, sv->reading.inferred ? ", inferred" : "");
    }
    if (sv->username[0])
        fprintf(f, ", user %s", sv->username);
    if (sv->password)
        fprintf(f, ", %s password", diag_password_name(sv->password));
    if (sv->auth)
        fprintf(f, ", auth %s", diag_auth_name(sv->auth));
    fputc('\n', f);
}

static void print_provider(const diag_report *r, FILE *f)
{
    fprintf(f, "provider: %s (%s)", r->provider[0] ? r->provider : "unknown", how_names[r->how]);
    if (r->profile_origin[0] && (r->how == DIAG_PROVIDER_GIVEN || r->how == DIAG_PROVIDER_INFERRED))
        fprintf(f, ", facts from %s", r->profile_origin);
    fputc('\n', f);
    for (size_t i = 0; i < r->n_evidence; i++) {
        char at[DIAG_ORIGIN_MAX + 16];
        diag_origin_format(&r->evidence[i].at, at, sizeof at);
        fprintf(f, "  evidence: %s -> %s%s%s\n", r->evidence[i].what, r->evidence[i].provider, at[0] ? " at " : "", at);
    }
}

void diag_report_print(const diag_report *r, const diag_settings *s, FILE *f)
{
    const diag_finding *list[DIAG_MAX_FINDINGS];
    if (s->email[0] || s->client[0])
        fprintf(f, "account: %s%s%s\n", s->email[0] ? s->email : "(no address)", s->client[0] ? ", client " : "",
                s->client);
    print_provider(r, f);
    size_t n = sorted(r, DIAG_KIND_SETTING, list);
    static const diag_server_id order[] = {DIAG_ACCOUNT, DIAG_IN, DIAG_OUT};
    for (size_t k = 0; k < 3; k++) {
        if (order[k] == DIAG_ACCOUNT) {
            bool any = false;
            for (size_t i = 0; i < n; i++)
                any |= list[i]->server == DIAG_ACCOUNT;
            if (!any)
                continue;
            fprintf(f, "\naccount:\n");
        } else {
            fputc('\n', f);
            print_server(s, order[k], f);
        }
        for (size_t i = 0; i < n; i++)
            if (list[i]->server == order[k])
                print_finding(list[i], f);
    }
    size_t np = sorted(r, DIAG_KIND_POSSIBLE_CAUSE, list);
    if (np) {
        fprintf(f, "\npossible causes if the settings are right (account states settings cannot show):\n");
        for (size_t i = 0; i < np; i++) {
            fprintf(f, "  (%s)", diag_server_name(list[i]->server));
            print_finding(list[i], f);
        }
    }
    if (r->n_cannot) {
        fprintf(f, "\ncannot tell:\n");
        for (size_t i = 0; i < r->n_cannot; i++)
            fprintf(f, "  %s %s: %s\n", diag_server_name(r->cannot[i].server), r->cannot[i].what, r->cannot[i].why);
    }
    fprintf(f, "\nsummary: %zu error(s), %zu warning(s), %zu info; %zu possible cause(s); %zu cannot tell",
            r->n_severity[DIAG_ERROR], r->n_severity[DIAG_WARNING], r->n_severity[DIAG_INFO], np, r->n_cannot);
    if (r->dropped)
        fprintf(f, "; %zu more findings not kept", r->dropped);
    fputc('\n', f);
}

/* ---- JSON --------------------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *origin_json(const diag_origin *o)
{
    char buf[DIAG_ORIGIN_MAX + 16];
    diag_origin_format(o, buf, sizeof buf);
    return str_or_null(buf);
}

static json_t *cite_json(const diag_cite *c)
{
    json_t *j = json_object();
    json_object_set_new(j, "doc", json_string(c->doc));
    json_object_set_new(j, "line", c->line ? json_integer(c->line) : json_null());
    json_object_set_new(j, "section", str_or_null(c->section));
    json_object_set_new(j, "tag", str_or_null(c->tag));
    json_object_set_new(j, "lang", str_or_null(c->lang));
    json_object_set_new(j, "quote", str_or_null(c->quote));
    json_object_set_new(j, "gloss", str_or_null(c->gloss));
    return j;
}

static json_t *finding_json(const diag_finding *fd)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(fd->rule->id));
    json_object_set_new(j, "severity", json_string(diag_severity_name(fd->severity)));
    json_object_set_new(j, "trigger", json_string(diag_trigger_name(fd->rule->trigger)));
    json_object_set_new(j, "server", json_string(diag_server_name(fd->server)));
    json_object_set_new(j, "field", str_or_null(diag_field_name(fd->field)));
    json_object_set_new(j, "at", origin_json(&fd->at));
    json_object_set_new(j, "title", json_string(fd->title));
    json_object_set_new(j, "detail", str_or_null(fd->detail));
    json_object_set_new(j, "wire", str_or_null(fd->wire));
    json_object_set_new(j, "reply", str_or_null(fd->reply));
    json_object_set_new(j, "reply_key", str_or_null(fd->reply_key));
    json_object_set_new(j, "fix", str_or_null(fd->fix));
    json_t *src = json_array();
    for (int i = 0; i < DIAG_MAX_CITES && fd->rule->cite[i].doc; i++)
        json_array_append_new(src, cite_json(&fd->rule->cite[i]));
    json_object_set_new(j, "sources", src);
    return j;
}

static json_t *server_json(const diag_server *sv)
{
    json_t *j = json_object();
    json_t *given = json_array();
    for (int k = DIAG_F_PROTOCOL; k < DIAG_F_COUNT; k++)
        if (sv->given[k])
            json_array_append_new(given, json_string(diag_field_name((diag_field)k)));
    json_object_set_new(j, "given", given);
    json_object_set_new(j, "protocol", str_or_null(diag_proto_name(sv->proto)));
    json_object_set_new(j, "protocol_inferred", json_boolean(sv->proto_inferred));
    json_object_set_new(j, "server", str_or_null(sv->host));
    json_object_set_new(j, "port", sv->port ? json_integer(sv->port) : json_null());
    json_object_set_new(j, "security", str_or_null(sv->security));
    json_t *rd = json_object();
    json_object_set_new(rd, "wire", str_or_null(diag_wire_name(sv->reading.wire)));
    json_object_set_new(rd, "alt", str_or_null(diag_wire_name(sv->reading.alt)));
    json_object_set_new(rd, "client", str_or_null(sv->reading.client));
    json_object_set_new(rd, "via_generic", json_boolean(sv->reading.via_generic));
    json_object_set_new(rd, "inferred", json_boolean(sv->reading.inferred));
    json_object_set_new(rd, "observed", json_boolean(sv->reading.observed));
    json_object_set_new(rd, "note", str_or_null(sv->reading.note));
    json_object_set_new(rd, "source", str_or_null(sv->reading.source));
    json_object_set_new(rd, "at", origin_json(&sv->reading.at));
    json_object_set_new(j, "reading", rd);
    json_object_set_new(j, "username", str_or_null(sv->username));
    json_object_set_new(j, "password", str_or_null(diag_password_name(sv->password)));
    json_object_set_new(j, "auth_label", str_or_null(sv->auth_label));
    json_object_set_new(j, "auth", str_or_null(diag_auth_name(sv->auth)));
    return j;
}

static json_t *report_json(const diag_report *r, const diag_settings *s)
{
    json_t *j = json_object();
    json_object_set_new(j, "email", str_or_null(s->email));
    json_object_set_new(j, "client", str_or_null(s->client));
    json_t *pv = json_object();
    json_object_set_new(pv, "name", str_or_null(r->provider));
    json_object_set_new(pv, "how", json_string(how_names[r->how]));
    json_object_set_new(pv, "profile", str_or_null(r->profile_origin));
    json_t *ev = json_array();
    for (size_t i = 0; i < r->n_evidence; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "provider", json_string(r->evidence[i].provider));
        json_object_set_new(e, "what", json_string(r->evidence[i].what));
        json_object_set_new(e, "at", origin_json(&r->evidence[i].at));
        json_array_append_new(ev, e);
    }
    json_object_set_new(pv, "evidence", ev);
    json_object_set_new(j, "provider", pv);
    json_t *st = json_object();
    json_object_set_new(st, "incoming", server_json(&s->server[DIAG_IN]));
    json_object_set_new(st, "outgoing", server_json(&s->server[DIAG_OUT]));
    json_object_set_new(j, "settings", st);
    const diag_finding *list[DIAG_MAX_FINDINGS];
    static const char *const keys[] = {"findings", "possible_causes"};
    size_t counts[2];
    for (int k = 0; k < 2; k++) {
        json_t *a = json_array();
        counts[k] = sorted(r, k == 0 ? DIAG_KIND_SETTING : DIAG_KIND_POSSIBLE_CAUSE, list);
        for (size_t i = 0; i < counts[k]; i++)
            json_array_append_new(a, finding_json(list[i]));
        json_object_set_new(j, keys[k], a);
    }
    json_t *ct = json_array();
    for (size_t i = 0; i < r->n_cannot; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "server", json_string(diag_server_name(r->cannot[i].server)));
        json_object_set_new(c, "field", str_or_null(diag_field_name(r->cannot[i].field)));
        json_object_set_new(c, "what", json_string(r->cannot[i].what));
        json_object_set_new(c, "why", json_string(r->cannot[i].why));
        json_array_append_new(ct, c);
    }
    json_object_set_new(j, "cannot_tell", ct);
    json_t *sum = json_object();
    for (int sev = 0; sev < DIAG_SEVERITY_COUNT; sev++)
        json_object_set_new(sum, diag_severity_name((diag_severity)sev), json_integer((json_int_t)r->n_severity[sev]));
    json_object_set_new(sum, "possible_causes", json_integer((json_int_t)counts[1]));
    json_object_set_new(sum, "cannot_tell", json_integer((json_int_t)r->n_cannot));
    json_object_set_new(sum, "dropped", json_integer((json_int_t)r->dropped));
    json_object_set_new(j, "summary", sum);
    return j;
}

int diag_report_write_json(const diag_report *r, const diag_settings *s, FILE *f)
{
    json_t *j = report_json(r, s);
    if (!j)
        return -1;
    int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    return rc == 0 ? 0 : -1;
}

int diag_catalogue_write_json(FILE *f)
{
    json_t *a = json_array();
    for (size_t i = 0; diag_rule_at(i); i++) {
        const diag_rule *r = diag_rule_at(i);
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(r->id));
        json_object_set_new(j, "trigger", json_string(diag_trigger_name(r->trigger)));
        json_object_set_new(j, "provider", str_or_null(r->provider));
        json_t *protos = json_array();
        for (int p = DIAG_PROTO_IMAP; p < DIAG_PROTO_COUNT; p++)
            if (r->protos & DIAG_PBIT(p))
                json_array_append_new(protos, json_string(diag_proto_name((diag_proto)p)));
        json_object_set_new(j, "protocols", protos);
        json_object_set_new(j, "port", r->port ? json_integer(r->port) : json_null());
        json_object_set_new(j, "auth", str_or_null(diag_auth_name(r->auth)));
        json_object_set_new(j, "severity", json_string(diag_severity_name(r->severity)));
        json_object_set_new(j, "kind", json_string(r->kind == DIAG_KIND_SETTING ? "setting" : "possible-cause"));
        json_object_set_new(j, "field", str_or_null(diag_field_name(r->field)));
        json_object_set_new(j, "title", str_or_null(r->title));
        json_object_set_new(j, "wire", str_or_null(r->wire));
        json_object_set_new(j, "fix", str_or_null(r->fix));
        json_t *src = json_array();
        for (int k = 0; k < DIAG_MAX_CITES && r->cite[k].doc; k++)
            json_array_append_new(src, cite_json(&r->cite[k]));
        json_object_set_new(j, "sources", src);
        json_array_append_new(a, j);
    }
    int rc = json_dumpf(a, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(a);
    if (rc == 0 && fputc('\n', f) == EOF)
        rc = -1;
    return rc == 0 ? 0 : -1;
}
