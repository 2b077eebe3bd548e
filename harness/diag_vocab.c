/* diag_vocab.c -- client UI vocabulary: the security and authentication labels each client
 * shows and what they do on the wire, per port where it differs (clients/ui/vocabulary.ini,
 * format in clients/ui/README.md), and diag_interpret(), which reads a user's settings with
 * it. See diag.h. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/diag.h"
#include "servers/paths.h"
#include "servers/suggest.h"
#include "servers/textline.h"

enum {
    VOCAB_MAX_FILE = 128 * 1024,
    MAX_CLIENTS = 16,
    MAX_ALIASES = 4,
    MAX_LABELS = 24,    /* per client and kind */
    MAX_CLAUSES = 6,    /* "PORTS: reading" clauses of one label */
    MAX_PORTS = 8,      /* ports of one clause */
    SOURCE_MAX = DIAG_TEXT_MAX / 2,
};

/* "465 993 995: implicit-tls" -- ports (none = any port) and one or two readings. */
typedef struct clause {
    unsigned ports[MAX_PORTS];
    size_t nports;
    diag_wire wire, alt;
} clause;

typedef struct sec_label {
    char label[DIAG_LABEL_MAX];
    clause c[MAX_CLAUSES];
    size_t nc;
    char note[SOURCE_MAX];
    char source[SOURCE_MAX]; /* "" = the client's */
    unsigned line;
} sec_label;

typedef struct auth_label {
    char label[DIAG_LABEL_MAX];
    diag_auth auth;
    char source[SOURCE_MAX];
    unsigned line;
} auth_label;

typedef struct vclient {
    char id[DIAG_NAME_MAX];
    char name[DIAG_LABEL_MAX];
    char aliases[MAX_ALIASES][DIAG_NAME_MAX];
    size_t naliases;
    char source[SOURCE_MAX];
    unsigned line;
    sec_label sec[MAX_LABELS];
    size_t nsec;
    auth_label auth[MAX_LABELS];
    size_t nauth;
} vclient;

struct diag_vocab {
    char file[DIAG_ORIGIN_MAX];
    vclient c[MAX_CLIENTS];
    size_t n;
};

/* ---- label comparison ------------------------------------------------------------------------ */

/* s lower-cased with runs of white space as one space and none at the edges, into out. */
static void normalise(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    bool space = false;
    for (; *s && n + 1 < cap; s++) {
        if (*s == ' ' || *s == '\t') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = (char)tolower((unsigned char)*s);
    }
    out[n] = '\0';
}

/* a and b equal ignoring ASCII case and runs of white space. */
static bool label_eq(const char *a, const char *b)
{
    char na[DIAG_LABEL_MAX + 8], nb[DIAG_LABEL_MAX + 8];
    normalise(a, na, sizeof na);
    normalise(b, nb, sizeof nb);
    return !strcmp(na, nb);
}

/* ---- loading ------------------------------------------------------------------------------------ */

typedef struct loader {
    diag_vocab *v;
    diag_msgs *m;
    const char *text;
    size_t len, pos;
    unsigned lineno;
    unsigned errors;
    vclient *cur;    /* the [client.ID] being read; NULL outside or after a bad header */
    bool skip;
    char *last_text; /* the name, source or note value last set: indented lines continue it */
    size_t last_cap;
    bool cont;       /* the line being handled is such a continuation */
} loader;

static void report(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(loader *L, const char *fmt, ...)
{
    char msg[DIAG_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_msgs_add(L->m, "%s:%u: %s", L->v->file, L->lineno, msg);
    L->errors++;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static vclient *find_client(const diag_vocab *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++) {
        const vclient *c = &v->c[i];
        if (!strcasecmp(c->id, name))
            return (vclient *)c;
        for (size_t a = 0; a < c->naliases; a++)
            if (!strcasecmp(c->aliases[a], name))
                return (vclient *)c;
    }
    return NULL;
}

static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= DIAG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

/* "[client.ID]" */
static void open_section(loader *L, const char *s, size_t n)
{
    L->last_text = NULL;
    L->cur = NULL;
    L->skip = true;
    const char *close = memchr(s, ']', n);
    if (!close) {
        report(L, "section header without ']'");
        return;
    }
    size_t nn = (size_t)(close - s) - 1;
    if (nn < 8 || strncmp(s + 1, "client.", 7)) {
        report(L, "unknown section [%.*s] (accepted: [client.ID])", (int)nn, s + 1);
        return;
    }
    const char *id = s + 8;
    size_t idn = nn - 7;
    if (!id_ok(id, idn)) {
        report(L, "client id '%.*s': lower-case letters, digits and '-', at most %d characters", (int)idn, id,
               DIAG_NAME_MAX - 1);
        return;
    }
    char name[DIAG_NAME_MAX];
    memcpy(name, id, idn);
    name[idn] = '\0';
    if (find_client(L->v, name)) {
        report(L, "client '%s' defined twice", name);
        return;
    }
    if (L->v->n >= MAX_CLIENTS) {
        report(L, "more than %d clients", MAX_CLIENTS);
        return;
    }
    vclient *c = &L->v->c[L->v->n++];
    memcpy(c->id, name, idn + 1);
    c->line = L->lineno;
    L->cur = c;
    L->skip = false;
}

static bool check_line(loader *L, const char *s, size_t n)
{
    if (memchr(s, '\0', n)) {
        report(L, "NUL byte in line");
        return false;
    }
    if (n == 0 || *s == ';' || *s == '#')
        return true;
    if (*s == '[') {
        open_section(L, s, n);
        return !L->skip;
    }
    if (L->skip)
        return false;
    if (!L->cur) {
        report(L, "key outside a [client.ID] section");
        return false;
    }
    if (!memchr(s, '=', n)) {
        report(L, "expected 'key = value', a [client.ID] header or a comment");
        return false;
    }
    return true;
}

/* An indented line that looks like one of our keys is a mistake, not more text. */
static bool continuation_ok(loader *L, const char *s, size_t n)
{
    static const char *const prefixes[] = {"security.", "auth.", "note.", "source.", "name", "aliases"};
    const char *eq = memchr(s, '=', n);
    for (size_t i = 0; eq && i < sizeof prefixes / sizeof *prefixes; i++)
        if (!strncmp(s, prefixes[i], strlen(prefixes[i]))) {
            report(L, "indented line continues the value above; remove the indentation if it is a key");
            L->last_text = NULL;
            return false;
        }
    return true;
}

static char *read_line(char *buf, int num, void *stream)
{
    loader *L = stream;
    const char *p;
    size_t n;
    if (num < 3 || !textline_next(L->text, L->len, &L->pos, &p, &n))
        return NULL;
    L->lineno++;
    const char *text = p;
    size_t tn = n;
    while (tn && is_space(*text)) {
        text++;
        tn--;
    }
    while (tn && is_space(text[tn - 1]))
        tn--;
    /* An indented line continues a name, source or note value (long citations); anywhere
     * else indentation is dropped, so inih never joins it to the value above. */
    L->cont = text > p && tn && *text != '#' && *text != ';' && L->last_text;
    if (!L->cont) {
        p = text;
        n = tn;
    } else {
        n = (size_t)(text - p) + tn;
    }
    bool keep;
    if (n > (size_t)num - 2) {
        report(L, "line longer than %d characters: continue a long source or note on indented lines", num - 2);
        keep = false;
    } else if (L->cont) {
        keep = continuation_ok(L, text, tn);
    } else {
        keep = check_line(L, p, n);
    }
    if (!keep)
        n = 0;
    memcpy(buf, p, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return buf;
}

/* Parse "PORTS: a|b, *: c" into l->c. */
static int parse_reading(loader *L, sec_label *l, const char *value)
{
    char buf[256];
    if (strlen(value) >= sizeof buf) {
        report(L, "reading too long");
        return -1;
    }
    strcpy(buf, value);
    l->nc = 0;
    char *save = NULL;
    for (char *cl = strtok_r(buf, ",", &save); cl; cl = strtok_r(NULL, ",", &save)) {
        if (l->nc >= MAX_CLAUSES) {
            report(L, "more than %d clauses", MAX_CLAUSES);
            return -1;
        }
        clause *c = &l->c[l->nc++];
        memset(c, 0, sizeof *c);
        char *colon = strchr(cl, ':');
        char *modes = colon ? colon + 1 : cl;
        if (colon) {
            *colon = '\0';
            char *s2 = NULL;
            for (char *tok = strtok_r(cl, " \t", &s2); tok; tok = strtok_r(NULL, " \t", &s2)) {
                if (!strcmp(tok, "*"))
                    continue;
                char *end;
                long port = strtol(tok, &end, 10);
                if (*end || port < 1 || port > 65535 || c->nports >= MAX_PORTS) {
                    report(L, "'%s' is not a port (or more than %d ports in a clause)", tok, MAX_PORTS);
                    return -1;
                }
                c->ports[c->nports++] = (unsigned)port;
            }
        }
        char *bar = strchr(modes, '|');
        if (bar)
            *bar = '\0';
        char *parts[2] = {modes, bar ? bar + 1 : NULL};
        diag_wire *dst[2] = {&c->wire, &c->alt};
        for (int i = 0; i < 2 && parts[i]; i++) {
            char *w = parts[i];
            while (is_space(*w))
                w++;
            size_t wn = strlen(w);
            while (wn && is_space(w[wn - 1]))
                w[--wn] = '\0';
            *dst[i] = diag_wire_from_name(w);
            if (*dst[i] == DIAG_WIRE_UNSET) {
                report(L, "unknown wire mode '%s' (accepted: none, implicit-tls, starttls, starttls-if-available)", w);
                return -1;
            }
        }
    }
    if (l->nc == 0 || l->c[l->nc - 1].nports != 0) {
        report(L, "the last clause must hold for any port ('*: MODE' or a bare MODE)");
        return -1;
    }
    return 0;
}

static diag_auth auth_from_name(const char *s)
{
    for (int a = DIAG_AUTH_NONE; a < DIAG_AUTH_COUNT; a++)
        if (!strcmp(s, diag_auth_name((diag_auth)a)))
            return (diag_auth)a;
    return DIAG_AUTH_UNSET;
}

static sec_label *find_sec(vclient *c, const char *label)
{
    for (size_t i = 0; i < c->nsec; i++)
        if (label_eq(c->sec[i].label, label))
            return &c->sec[i];
    return NULL;
}

static auth_label *find_auth(vclient *c, const char *label)
{
    for (size_t i = 0; i < c->nauth; i++)
        if (label_eq(c->auth[i].label, label))
            return &c->auth[i];
    return NULL;
}

static int copy_text(loader *L, char *dst, size_t cap, const char *value, const char *what)
{
    if (strlen(value) >= cap) {
        report(L, "%s longer than %zu characters", what, cap - 1);
        return -1;
    }
    strcpy(dst, value);
    L->last_text = dst;
    L->last_cap = cap;
    return 0;
}

/* Append a continuation line to the text value above, with one space. */
static void append_text(loader *L, const char *value)
{
    size_t a = strlen(L->last_text), b = strlen(value);
    for (size_t i = 1; i < b; i++) /* inih r55 keeps inline comments on continuation lines */
        if (value[i] == ';' && is_space(value[i - 1])) {
            b = i;
            break;
        }
    while (b && is_space(value[b - 1]))
        b--;
    if (a + 1 + b >= L->last_cap) {
        report(L, "value longer than %zu characters", L->last_cap - 1);
        L->last_text = NULL;
        return;
    }
    L->last_text[a] = ' ';
    memcpy(L->last_text + a + 1, value, b);
    L->last_text[a + 1 + b] = '\0';
}

static void add_security(loader *L, const char *label, const char *value)
{
    vclient *c = L->cur;
    if (find_sec(c, label)) {
        report(L, "security label '%s' defined twice", label);
        return;
    }
    if (c->nsec >= MAX_LABELS || strlen(label) >= DIAG_LABEL_MAX || !*label) {
        report(L, "security label '%s': empty, too long, or more than %d labels", label, MAX_LABELS);
        return;
    }
    sec_label *l = &c->sec[c->nsec];
    memset(l, 0, sizeof *l);
    strcpy(l->label, label);
    l->line = L->lineno;
    if (parse_reading(L, l, value) == 0)
        c->nsec++;
}

static void add_auth(loader *L, const char *label, const char *value)
{
    vclient *c = L->cur;
    diag_auth a = auth_from_name(value);
    if (a == DIAG_AUTH_UNSET) {
        report(L, "unknown authentication '%s' (accepted: none, normal, spa, cram-md5, oauth2, gssapi, "
                  "tls-certificate)", value);
        return;
    }
    if (find_auth(c, label) || c->nauth >= MAX_LABELS || strlen(label) >= DIAG_LABEL_MAX || !*label) {
        report(L, "authentication label '%s': defined twice, empty, too long, or more than %d labels", label,
               MAX_LABELS);
        return;
    }
    auth_label *l = &c->auth[c->nauth++];
    memset(l, 0, sizeof *l);
    strcpy(l->label, label);
    l->auth = a;
    l->line = L->lineno;
}

/* note.security.LABEL / source.security.LABEL / source.auth.LABEL: after the label itself. */
static void add_annotation(loader *L, const char *key, const char *value)
{
    bool note = !strncmp(key, "note.", 5);
    const char *rest = key + (note ? 5 : 7);
    if (!strncmp(rest, "security.", 9)) {
        sec_label *l = find_sec(L->cur, rest + 9);
        if (!l) {
            report(L, "'%s' names no security label defined above (write security.%s first)", key, rest + 9);
            return;
        }
        copy_text(L, note ? l->note : l->source, SOURCE_MAX, value, key);
    } else if (!note && !strncmp(rest, "auth.", 5)) {
        auth_label *l = find_auth(L->cur, rest + 5);
        if (!l) {
            report(L, "'%s' names no authentication label defined above", key);
            return;
        }
        copy_text(L, l->source, SOURCE_MAX, value, key);
    } else {
        report(L, "unknown key '%s' (accepted: note.security.LABEL, source.security.LABEL, source.auth.LABEL)", key);
    }
}

static void add_aliases(loader *L, const char *value)
{
    char buf[256];
    if (copy_text(L, buf, sizeof buf, value, "aliases") < 0)
        return;
    char *save = NULL;
    for (char *a = strtok_r(buf, ", \t", &save); a; a = strtok_r(NULL, ", \t", &save)) {
        vclient *other = find_client(L->v, a);
        if (!id_ok(a, strlen(a)) || L->cur->naliases >= MAX_ALIASES || (other && other != L->cur)) {
            report(L, "alias '%s': not an id, taken by another client, or more than %d aliases", a, MAX_ALIASES);
            continue;
        }
        strcpy(L->cur->aliases[L->cur->naliases++], a);
    }
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    loader *L = user;
    vclient *c = L->cur;
    if (!c)
        return 1;
    if (L->cont) {
        append_text(L, value);
        return 1;
    }
    L->last_text = NULL;
    if (!*value) {
        report(L, "empty value for '%s'", name);
        return 1;
    }
    if (!strcmp(name, "name"))
        copy_text(L, c->name, sizeof c->name, value, "name");
    else if (!strcmp(name, "source"))
        copy_text(L, c->source, sizeof c->source, value, "source");
    else if (!strcmp(name, "aliases"))
        add_aliases(L, value);
    else if (!strncmp(name, "security.", 9))
        add_security(L, name + 9, value);
    else if (!strncmp(name, "auth.", 5))
        add_auth(L, name + 5, value);
    else if (!strncmp(name, "note.", 5) || !strncmp(name, "source.", 7))
        add_annotation(L, name, value);
    else
        report(L, "unknown key '%s' (accepted: name, aliases, source, security.LABEL, auth.LABEL, "
                  "note.security.LABEL, source.security.LABEL, source.auth.LABEL)", name);
    return 1;
}

/* Whole-file rules: every client has a name and a source; the generic client exists. */
static void check_clients(loader *L)
{
    for (size_t i = 0; i < L->v->n; i++) {
        vclient *c = &L->v->c[i];
        L->lineno = c->line;
        if (!c->name[0] || !c->source[0])
            report(L, "client '%s' needs a name and a source", c->id);
    }
    if (!find_client(L->v, "generic")) {
        L->lineno = 0;
        diag_msgs_add(L->m, "%s: no [client.generic] section (the labels any client may show)", L->v->file);
        L->errors++;
    }
}

diag_vocab *diag_vocab_load_string(const char *text, size_t len, const char *origin, diag_msgs *m)
{
    diag_vocab *v = calloc(1, sizeof *v);
    if (!v) {
        diag_msgs_add(m, "%s: out of memory", origin ? origin : "<vocabulary>");
        return NULL;
    }
    snprintf(v->file, sizeof v->file, "%s", origin ? origin : "<vocabulary>");
    if (len > VOCAB_MAX_FILE) {
        diag_msgs_add(m, "%s: larger than %d bytes", v->file, VOCAB_MAX_FILE);
        free(v);
        return NULL;
    }
    loader L = {.v = v, .m = m, .text = text, .len = len, .skip = false};
    ini_parse_stream(read_line, &L, on_entry, &L);
    check_clients(&L);
    if (L.errors) {
        free(v);
        return NULL;
    }
    return v;
}

diag_vocab *diag_vocab_load(const char *path, diag_msgs *m)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_msgs_add(m, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(VOCAB_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, VOCAB_MAX_FILE + 1, f) : 0;
    bool err = !buf || ferror(f);
    fclose(f);
    diag_vocab *v = NULL;
    if (err)
        diag_msgs_add(m, "%s: cannot read", path);
    else
        v = diag_vocab_load_string(buf, n, path, m);
    free(buf);
    return v;
}

void diag_vocab_free(diag_vocab *v)
{
    free(v);
}

int diag_vocab_default_path(char *buf, size_t cap)
{
    char data[DIAG_ORIGIN_MAX];
    if (paths_data_dir(data, sizeof data) < 0)
        return -1;
    int n = snprintf(buf, cap, "%s/clients/ui/vocabulary.ini", data);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ---- lookups --------------------------------------------------------------------------------- */

size_t diag_vocab_count(const diag_vocab *v)
{
    return v->n;
}

const char *diag_vocab_client_id(const diag_vocab *v, size_t i)
{
    return i < v->n ? v->c[i].id : NULL;
}

const char *diag_vocab_client_name(const diag_vocab *v, size_t i)
{
    return i < v->n ? v->c[i].name : NULL;
}

const char *diag_vocab_find_client(const diag_vocab *v, const char *name)
{
    const vclient *c = find_client(v, name);
    return c ? c->id : NULL;
}

/* The client for name (NULL or "" = generic). */
static vclient *client_or_generic(const diag_vocab *v, const char *client)
{
    vclient *c = client && *client ? find_client(v, client) : NULL;
    return c ? c : find_client(v, "generic");
}

/* The clause of l that holds on port; with port 0, the reading when every clause agrees. */
static const clause *clause_for(const sec_label *l, unsigned port, clause *tmp)
{
    if (port == 0) {
        for (size_t i = 1; i < l->nc; i++)
            if (l->c[i].wire != l->c[0].wire || l->c[i].alt != l->c[0].alt) {
                memset(tmp, 0, sizeof *tmp); /* depends on the port: no reading */
                return tmp;
            }
        return &l->c[0];
    }
    for (size_t i = 0; i < l->nc; i++) {
        if (l->c[i].nports == 0)
            return &l->c[i];
        for (size_t p = 0; p < l->c[i].nports; p++)
            if (l->c[i].ports[p] == port)
                return &l->c[i];
    }
    return &l->c[l->nc - 1];
}

static void fill_reading(const diag_vocab *v, const vclient *c, const sec_label *l, unsigned port,
                         diag_reading *out)
{
    clause tmp;
    const clause *cl = clause_for(l, port, &tmp);
    out->wire = cl->wire;
    out->alt = cl->alt;
    snprintf(out->client, sizeof out->client, "%s", c->id);
    snprintf(out->label, sizeof out->label, "%s", l->label);
    snprintf(out->note, sizeof out->note, "%s", l->note);
    snprintf(out->source, sizeof out->source, "%s", l->source[0] ? l->source : c->source);
    out->inferred = !strncmp(out->source, "[I]", 3);
    snprintf(out->at.file, sizeof out->at.file, "%s", v->file);
    out->at.line = l->line;
}

int diag_vocab_security(const diag_vocab *v, const char *client, const char *label, unsigned port,
                        diag_reading *out)
{
    memset(out, 0, sizeof *out);
    vclient *c = client_or_generic(v, client);
    vclient *g = find_client(v, "generic");
    const sec_label *l = c ? find_sec(c, label) : NULL;
    if (!l && g && g != c) {
        l = find_sec(g, label);
        out->via_generic = l != NULL;
        c = g;
    }
    if (!l)
        return -1;
    fill_reading(v, c, l, port, out);
    return 0;
}

int diag_vocab_auth(const diag_vocab *v, const char *client, const char *label, diag_auth *out, bool *via_generic)
{
    vclient *c = client_or_generic(v, client);
    vclient *g = find_client(v, "generic");
    const auth_label *l = c ? find_auth(c, label) : NULL;
    bool generic = false;
    if (!l && g && g != c) {
        l = find_auth(g, label);
        generic = l != NULL;
    }
    if (!l)
        return -1;
    *out = l->auth;
    if (via_generic)
        *via_generic = generic;
    return 0;
}

const char *diag_vocab_label_for(const diag_vocab *v, const char *client, diag_wire w, unsigned port)
{
    const vclient *order[2] = {client_or_generic(v, client), find_client(v, "generic")};
    for (int k = 0; k < 2; k++) {
        const vclient *c = order[k];
        for (size_t i = 0; c && i < c->nsec; i++) {
            clause tmp;
            const clause *cl = clause_for(&c->sec[i], port, &tmp);
            if (cl->wire == w && cl->alt == DIAG_WIRE_UNSET)
                return c->sec[i].label;
        }
    }
    return NULL;
}

int diag_vocab_labels(const diag_vocab *v, const char *client, const char *kind, char *buf, size_t cap)
{
    const vclient *c = client_or_generic(v, client);
    bool sec = !strcmp(kind, "security");
    size_t n = sec ? c->nsec : c->nauth, at = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + (at < cap ? at : cap), at < cap ? cap - at : 0, "%s\"%s\"", i ? ", " : "",
                         sec ? c->sec[i].label : c->auth[i].label);
        at += (size_t)(w > 0 ? w : 0);
    }
    return (int)at;
}

/* ---- interpreting settings ------------------------------------------------------------------ */

/* The closest label of client or generic to label, for "did you mean". */
static const char *near_label(const diag_vocab *v, const char *client, const char *label, bool sec)
{
    const char *cands[2 * MAX_LABELS];
    size_t n = 0;
    const vclient *order[2] = {client_or_generic(v, client), find_client(v, "generic")};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; order[k] && i < (sec ? order[k]->nsec : order[k]->nauth) && n < 2 * MAX_LABELS; i++)
            cands[n++] = sec ? order[k]->sec[i].label : order[k]->auth[i].label;
    return suggest_closest(label, strlen(label), cands, n);
}

static void label_error(const diag_vocab *v, const diag_settings *s, const diag_server *sv, diag_field f,
                        diag_msgs *m)
{
    bool sec = f == DIAG_F_SECURITY;
    const char *label = sec ? sv->security : sv->auth_label;
    char where[DIAG_ORIGIN_MAX + 16], mine[400], gen[400], hint[120] = "";
    diag_origin_format(&sv->at[f], where, sizeof where);
    diag_vocab_labels(v, s->client, sec ? "security" : "auth", mine, sizeof mine);
    diag_vocab_labels(v, "generic", sec ? "security" : "auth", gen, sizeof gen);
    const char *near = near_label(v, s->client, label, sec);
    if (near)
        snprintf(hint, sizeof hint, "did you mean \"%s\"? ", near);
    const char *who = s->client[0] ? s->client : "generic";
    if (!strcmp(who, "generic"))
        diag_msgs_add(m, "%s: unknown %s label \"%s\" (%saccepted: %s)", where, sec ? "security" : "authentication",
                      label, hint, gen);
    else
        diag_msgs_add(m, "%s: unknown %s label \"%s\" for %s (%saccepted: %s; and any client's: %s)", where,
                      sec ? "security" : "authentication", label, who, hint, mine, gen);
}

static int interpret_client(diag_settings *s, const diag_vocab *v, diag_msgs *m)
{
    if (!s->given[DIAG_F_CLIENT])
        return 0;
    const char *id = diag_vocab_find_client(v, s->client);
    if (id) {
        snprintf(s->client, sizeof s->client, "%s", id);
        return 0;
    }
    const char *ids[MAX_CLIENTS];
    char list[400] = "";
    size_t at = 0;
    for (size_t i = 0; i < v->n; i++) {
        ids[i] = v->c[i].id;
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", v->c[i].id);
        if (at >= sizeof list)
            at = sizeof list - 1;
    }
    const char *near = suggest_closest(s->client, strlen(s->client), ids, v->n);
    char where[DIAG_ORIGIN_MAX + 16], hint[80] = "";
    diag_origin_format(&s->at[DIAG_F_CLIENT], where, sizeof where);
    if (near)
        snprintf(hint, sizeof hint, "did you mean '%s'? ", near);
    diag_msgs_add(m, "%s: unknown client '%s' (%saccepted: %s)", where, s->client, hint, list);
    return 1;
}

/* An incoming server without a protocol: from its port, else its server name. */
static void infer_proto(diag_server *sv)
{
    if (sv->proto != DIAG_PROTO_UNSET)
        return;
    diag_proto p = sv->port == 993 || sv->port == 143   ? DIAG_PROTO_IMAP
                   : sv->port == 995 || sv->port == 110 ? DIAG_PROTO_POP3
                   : !strncmp(sv->host, "imap", 4)      ? DIAG_PROTO_IMAP
                   : !strncmp(sv->host, "pop", 3)       ? DIAG_PROTO_POP3
                                                        : DIAG_PROTO_UNSET;
    sv->proto = p;
    sv->proto_inferred = p != DIAG_PROTO_UNSET;
}

int diag_interpret(diag_settings *s, const diag_vocab *v, diag_msgs *m)
{
    int errors = interpret_client(s, v, m);
    const char *client = errors ? "" : s->client;
    for (int i = 0; i < DIAG_SERVERS; i++) {
        diag_server *sv = &s->server[i];
        if (i == DIAG_IN)
            infer_proto(sv);
        else if (sv->proto == DIAG_PROTO_UNSET) {
            sv->proto = DIAG_PROTO_SMTP;
            sv->proto_inferred = true;
        }
        if (sv->given[DIAG_F_SECURITY] && !sv->reading.observed &&
            diag_vocab_security(v, client, sv->security, sv->port, &sv->reading) < 0) {
            label_error(v, s, sv, DIAG_F_SECURITY, m);
            errors++;
        }
        if (sv->given[DIAG_F_AUTH]) {
            bool generic = false;
            if (diag_vocab_auth(v, client, sv->auth_label, &sv->auth, &generic) < 0) {
                label_error(v, s, sv, DIAG_F_AUTH, m);
                errors++;
            } else {
                snprintf(sv->auth_client, sizeof sv->auth_client, "%s", generic || !*client ? "generic" : client);
            }
        }
    }
    return errors;
}
