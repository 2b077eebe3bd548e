/* adapters.c -- real mail clients under test; see adapters.h and clients/README.md.
 *
 * An adapter file is read whole, checked whole (every template variable known, every
 * security label's variables, the result patterns compiled), and kept as plain strings; a
 * run substitutes the settings into the templates, writes the client's files into a private
 * 0700 directory, and starts the program in its own process group so that a timeout kills
 * whatever the client started too.
 */
#include "harness/adapters.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "harness/scenario.h"
#include "proto/base64.h"
#include "servers/paths.h"

enum {
    MAX_ADAPTER_FILE = 64 * 1024,
    MAX_ITEMS = 128,            /* args, env entries, file lines, labels... per list */
    MAX_VALUE = 4096,           /* one substituted value */
    MAX_OUTPUT_REDACT = 8 << 20 /* output larger than this is cut before redaction */
};

/* The settings a scenario's `client` step may give (docs/scenario-language.md). */
static const char *const std_settings[] = {"server", "port",  "security", "user", "password",
                                           "cafile", "proto", "auth",     "from", "to"};
#define NSTD (sizeof std_settings / sizeof std_settings[0])

/* Variables the adapter itself provides, besides the settings. */
static const char *const builtin_vars[] = {"host",        "port",          "provider_port",
                                           "server",      "server_name",   "cafile",
                                           "workdir",     "password_file", "clients_dir",
                                           "security"};
#define NBUILTIN (sizeof builtin_vars / sizeof builtin_vars[0])

typedef struct item {
    char *key;     /* NULL for list items */
    char *val;
    unsigned line;
    int optional;  /* `opt =` argument: dropped when a variable in it is empty */
} item;

typedef struct list {
    item v[MAX_ITEMS];
    size_t n;
} list;

typedef struct label {  /* [security.LABEL] */
    char *name;
    list vars;
    unsigned line;
} label;

typedef struct file_tpl {  /* [file.NAME] */
    char *name;
    unsigned mode;
    list lines;
    unsigned line;
} file_tpl;

enum { PW_FILE = 1, PW_ENV, PW_ARGV };
enum { IN_NONE = 0, IN_MESSAGE };

struct adapter {
    char *name, *path, *dir;
    char *description, *program, *package, *protocols, *password_note, *security_default;
    int password_mode, stdin_mode;
    unsigned timeout_ms;
    list args, env, defaults, settings;
    label labels[16];
    size_t nlabels;
    file_tpl files[8];
    size_t nfiles;
    int success_exit[16];
    size_t nexit;
    pcre2_code *success_re, *failure_re;
};

/* ---- errors and small helpers ----------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort(); /* a few bytes: nothing sensible to do without them */
    return d;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static int list_add(list *l, const char *key, const char *val, unsigned line, int optional)
{
    if (l->n == MAX_ITEMS)
        return -1;
    l->v[l->n++] = (item){key ? xstrdup(key) : NULL, xstrdup(val), line, optional};
    return 0;
}

static const item *list_find(const list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].key && strcmp(l->v[i].key, key) == 0)
            return &l->v[i];
    return NULL;
}

static void list_free(list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].val);
    }
    l->n = 0;
}

void adapter_free(adapter *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->path);
    free(a->dir);
    free(a->description);
    free(a->program);
    free(a->package);
    free(a->protocols);
    free(a->password_note);
    free(a->security_default);
    list_free(&a->args);
    list_free(&a->env);
    list_free(&a->defaults);
    list_free(&a->settings);
    for (size_t i = 0; i < a->nlabels; i++) {
        free(a->labels[i].name);
        list_free(&a->labels[i].vars);
    }
    for (size_t i = 0; i < a->nfiles; i++) {
        free(a->files[i].name);
        list_free(&a->files[i].lines);
    }
    pcre2_code_free(a->success_re);
    pcre2_code_free(a->failure_re);
    free(a);
}

static int valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* ---- the file format --------------------------------------------------------------------- */

typedef struct loader {
    adapter *a;
    const char *path;
    char *section;      /* current section name */
    unsigned line;
    char *err;
    size_t errlen;
} loader;

static int lerr(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int lerr(loader *L, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(L->err, L->errlen, "%s:%u: %s", L->path, L->line, msg);
}

static int parse_timeout(const char *v, unsigned *ms)
{
    char why[128];
    return sc_parse_duration(v, strlen(v), ms, why, sizeof why);
}

static int key_client(loader *L, const char *k, const char *v)
{
    adapter *a = L->a;
    char **slot = NULL;
    if (strcmp(k, "description") == 0)
        slot = &a->description;
    else if (strcmp(k, "program") == 0)
        slot = &a->program;
    else if (strcmp(k, "package") == 0)
        slot = &a->package;
    else if (strcmp(k, "protocols") == 0)
        slot = &a->protocols;
    else if (strcmp(k, "password_note") == 0)
        slot = &a->password_note;
    else if (strcmp(k, "security_default") == 0)
        slot = &a->security_default;
    if (slot) {
        free(*slot);
        *slot = xstrdup(v);
        return 0;
    }
    if (strcmp(k, "password") == 0) {
        a->password_mode = strcmp(v, "file") == 0 ? PW_FILE : strcmp(v, "env") == 0 ? PW_ENV
                           : strcmp(v, "argv") == 0 ? PW_ARGV : 0;
        return a->password_mode ? 0 : lerr(L, "password: unknown value '%s' (file, env or argv)", v);
    }
    if (strcmp(k, "stdin") == 0) {
        if (strcmp(v, "message") == 0 || strcmp(v, "none") == 0) {
            a->stdin_mode = strcmp(v, "message") == 0 ? IN_MESSAGE : IN_NONE;
            return 0;
        }
        return lerr(L, "stdin: unknown value '%s' (message or none)", v);
    }
    if (strcmp(k, "timeout") == 0)
        return parse_timeout(v, &a->timeout_ms) == 0
                   ? 0 : lerr(L, "timeout: '%s' is not a duration (e.g. 30s)", v);
    if (strcmp(k, "arg") == 0 || strcmp(k, "opt") == 0)
        return list_add(&a->args, NULL, v, L->line, k[0] == 'o') == 0
                   ? 0 : lerr(L, "more than %d arguments", MAX_ITEMS);
    if (strcmp(k, "settings") == 0) {
        char *copy = xstrdup(v), *save = NULL;
        for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save))
            if (!valid_name(w) || list_add(&a->settings, w, "", L->line, 0) < 0) {
                int r = lerr(L, "settings: bad setting name '%s'", w);
                free(copy);
                return r;
            }
        free(copy);
        return 0;
    }
    return lerr(L, "unknown key '%s' in [client]", k);
}

static int compile_re(loader *L, const char *v, pcre2_code **out)
{
    size_t n = strlen(v);
    int caseless = n >= 3 && v[n - 1] == 'i' && v[n - 2] == '/';
    if (n < 2 || v[0] != '/' || (v[n - 1] != '/' && !caseless))
        return lerr(L, "a pattern is written /regex/ or /regex/i, not '%s'", v);
    int code;
    PCRE2_SIZE off;
    pcre2_code_free(*out);
    *out = pcre2_compile((PCRE2_SPTR)v + 1, n - 2 - (size_t)caseless,
                         caseless ? PCRE2_CASELESS : 0, &code, &off, NULL);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return lerr(L, "bad regex at offset %zu: %s", (size_t)off, (char *)msg);
    }
    return 0;
}

static int key_result(loader *L, const char *k, const char *v)
{
    adapter *a = L->a;
    if (strcmp(k, "success_exit") == 0) {
        a->nexit = 0;
        char *copy = xstrdup(v), *save = NULL;
        for (char *w = strtok_r(copy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
            char *end;
            long x = strtol(w, &end, 10);
            if (*end || x < 0 || x > 255 || a->nexit == 16) {
                int r = lerr(L, "success_exit: '%s' is not an exit status 0..255", w);
                free(copy);
                return r;
            }
            a->success_exit[a->nexit++] = (int)x;
        }
        free(copy);
        return 0;
    }
    if (strcmp(k, "success_output") == 0)
        return compile_re(L, v, &a->success_re);
    if (strcmp(k, "failure_output") == 0)
        return compile_re(L, v, &a->failure_re);
    return lerr(L, "unknown key '%s' in [result]", k);
}

static int key_line(loader *L, const char *k, const char *v)
{
    adapter *a = L->a;
    const char *sec = L->section;
    if (strcmp(sec, "client") == 0)
        return key_client(L, k, v);
    if (strcmp(sec, "result") == 0)
        return key_result(L, k, v);
    if (strcmp(sec, "env") == 0 || strcmp(sec, "defaults") == 0) {
        list *l = sec[0] == 'e' ? &a->env : &a->defaults;
        if (list_find(l, k))
            return lerr(L, "'%s' set twice in [%s]", k, sec);
        return list_add(l, k, v, L->line, 0) == 0 ? 0 : lerr(L, "too many entries in [%s]", sec);
    }
    if (strncmp(sec, "security.", 9) == 0) {
        label *lb = &a->labels[a->nlabels - 1];
        return list_add(&lb->vars, k, v, L->line, 0) == 0 ? 0 : lerr(L, "too many entries");
    }
    if (strncmp(sec, "file.", 5) == 0) {
        file_tpl *f = &a->files[a->nfiles - 1];
        if (strcmp(k, "mode") == 0) {
            char *end;
            long m = strtol(v, &end, 8);
            if (*end || m < 0 || m > 0777)
                return lerr(L, "mode: '%s' is not an octal file mode (0600)", v);
            f->mode = (unsigned)m;
            return 0;
        }
        if (strcmp(k, "line") == 0)
            return list_add(&f->lines, NULL, v, L->line, 0) == 0 ? 0 : lerr(L, "too many lines");
        return lerr(L, "unknown key '%s' in [%s] (mode, line)", k, sec);
    }
    return lerr(L, "key '%s' outside a known section", k);
}

static int section_line(loader *L, char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != ']')
        return lerr(L, "a section header ends in ']'");
    s[n - 1] = 0;
    char *name = trim(s + 1);
    adapter *a = L->a;
    if (strncmp(name, "security.", 9) == 0 && name[9]) {
        for (size_t i = 0; i < a->nlabels; i++)
            if (strcasecmp(a->labels[i].name, name + 9) == 0)
                return lerr(L, "security label '%s' defined twice", name + 9);
        if (a->nlabels == sizeof a->labels / sizeof a->labels[0])
            return lerr(L, "too many security labels");
        a->labels[a->nlabels++] = (label){xstrdup(name + 9), {.n = 0}, L->line};
    } else if (strncmp(name, "file.", 5) == 0 && valid_name(name + 5)) {
        if (a->nfiles == sizeof a->files / sizeof a->files[0])
            return lerr(L, "too many files");
        a->files[a->nfiles++] = (file_tpl){xstrdup(name + 5), 0600, {.n = 0}, L->line};
    } else if (strcmp(name, "client") && strcmp(name, "result") && strcmp(name, "env") &&
               strcmp(name, "defaults")) {
        return lerr(L, "unknown section [%s] (client, security.LABEL, file.NAME, env, defaults, "
                       "result)", name);
    }
    free(L->section);
    L->section = xstrdup(name);
    return 0;
}

/* Read "key = value" lines, "[section]" headers, ';' and '#' comments. */
static int parse_text(loader *L, char *text)
{
    char *save = NULL;
    L->line = 0;
    char *p = text;
    while (p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        L->line++;
        char *s = trim(p);
        p = nl ? nl + 1 : NULL;
        if (!*s || *s == '#' || *s == ';')
            continue;
        for (char *q = s; *q; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t')
                return lerr(L, "control character in the line");
        if (*s == '[') {
            if (section_line(L, s) < 0)
                return -1;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq)
            return lerr(L, "expected 'key = value' or '[section]'");
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        if (!*k)
            return lerr(L, "a key is missing before '='");
        if (!L->section)
            return lerr(L, "'%s' before any [section]", k);
        if (key_line(L, k, v) < 0)
            return -1;
    }
    (void)save;
    return 0;
}

/* ---- templates ------------------------------------------------------------------------- */

static int is_setting(const adapter *a, const char *name)
{
    if (a->settings.n)
        return list_find(&a->settings, name) != NULL;
    for (size_t i = 0; i < NSTD; i++)
        if (strcmp(std_settings[i], name) == 0)
            return 1;
    return 0;
}

static int is_label_var(const adapter *a, const char *name)
{
    for (size_t i = 0; i < a->nlabels; i++)
        if (list_find(&a->labels[i].vars, name))
            return 1;
    return 0;
}

/* A variable reference {name} or {url:name} (the value percent-encoded). Writes the name
 * into out. Returns the length of the reference, 0 for "{{" (a literal brace). */
static size_t ref_at(const char *p, char *out, size_t cap, int *url)
{
    if (p[1] == '{')
        return 0;
    const char *e = strchr(p, '}');
    size_t n = e ? (size_t)(e - p - 1) : 0;
    *url = n > 4 && strncmp(p + 1, "url:", 4) == 0;
    const char *s = p + 1 + (*url ? 4 : 0);
    n -= *url ? 4 : 0;
    if (!e || n == 0 || n >= cap)
        return (size_t)-1;
    memcpy(out, s, n);
    out[n] = 0;
    return (size_t)(e - p) + 1;
}

/* Check a template at load time: every {var} known; {password} only where allowed. */
static int check_template(loader *L, unsigned line, const char *t, int in_argv)
{
    L->line = line;
    for (const char *p = t; (p = strchr(p, '{')) != NULL;) {
        char name[64];
        int url;
        size_t k = ref_at(p, name, sizeof name, &url);
        if (k == 0) {
            p += 2;
            continue;
        }
        if (k == (size_t)-1)
            return lerr(L, "unterminated or empty {variable} in '%s' (write {{ for a brace)", t);
        int known = is_setting(L->a, name) || is_label_var(L->a, name) ||
                    list_find(&L->a->defaults, name) != NULL;
        for (size_t i = 0; i < NBUILTIN && !known; i++)
            known = strcmp(builtin_vars[i], name) == 0;
        if (!known)
            return lerr(L, "unknown variable {%s}", name);
        if (strcmp(name, "password") == 0 && in_argv && L->a->password_mode != PW_ARGV)
            return lerr(L, "{password} on the command line would show in ps; use "
                           "{password_file} or [env], or say password = argv with a "
                           "password_note when the client allows nothing else");
        p += k;
    }
    return 0;
}

static int check_all(loader *L)
{
    adapter *a = L->a;
    L->line = 1;
    if (!a->program)
        return lerr(L, "[client] has no program");
    if (!a->protocols)
        return lerr(L, "[client] has no protocols (imap smtp pop3)");
    if (!a->password_mode)
        a->password_mode = PW_FILE;
    if (a->password_mode == PW_ARGV && !a->password_note)
        return lerr(L, "password = argv needs a password_note saying why");
    for (size_t i = 0; i < a->args.n; i++)
        if (check_template(L, a->args.v[i].line, a->args.v[i].val, 1) < 0)
            return -1;
    for (size_t i = 0; i < a->env.n; i++)
        if (check_template(L, a->env.v[i].line, a->env.v[i].val, 0) < 0)
            return -1;
    for (size_t i = 0; i < a->defaults.n; i++)
        if (check_template(L, a->defaults.v[i].line, a->defaults.v[i].val, 0) < 0)
            return -1;
    for (size_t f = 0; f < a->nfiles; f++)
        for (size_t i = 0; i < a->files[f].lines.n; i++)
            if (check_template(L, a->files[f].lines.v[i].line, a->files[f].lines.v[i].val, 0) < 0)
                return -1;
    /* every label gives the same variables, so a template never meets a missing one */
    for (size_t i = 1; i < a->nlabels; i++)
        for (size_t k = 0; k < a->labels[0].vars.n; k++)
            if (!list_find(&a->labels[i].vars, a->labels[0].vars.v[k].key)) {
                L->line = a->labels[i].line;
                return lerr(L, "[security.%s] lacks '%s' (set in [security.%s])",
                            a->labels[i].name, a->labels[0].vars.v[k].key, a->labels[0].name);
            }
    if (a->security_default) {
        size_t i = 0;
        while (i < a->nlabels && strcasecmp(a->labels[i].name, a->security_default) != 0)
            i++;
        if (i == a->nlabels) {
            L->line = 1;
            return lerr(L, "security_default '%s' is not a [security.LABEL]", a->security_default);
        }
    }
    if (!a->nexit) {
        a->success_exit[0] = 0;
        a->nexit = 1;
    }
    return 0;
}

static int read_file(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    char *buf = malloc(MAX_ADAPTER_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_ADAPTER_FILE + 1, f) : 0;
    fclose(f);
    if (!buf)
        return fail(err, errlen, "%s: out of memory", path);
    if (n > MAX_ADAPTER_FILE) {
        free(buf);
        return fail(err, errlen, "%s: larger than %d bytes", path, MAX_ADAPTER_FILE);
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        return fail(err, errlen, "%s: not a text file (NUL byte)", path);
    }
    buf[n] = 0;
    *out = buf;
    return 0;
}

static int clients_dir_of(const char *clients_dir, char *buf, size_t cap)
{
    if (clients_dir)
        return snprintf(buf, cap, "%s", clients_dir) < (int)cap ? 0 : -1;
    char data[4096];
    if (paths_data_dir(data, sizeof data) < 0)
        return -1;
    return snprintf(buf, cap, "%s/clients", data) < (int)cap ? 0 : -1;
}

adapter *adapter_load(const char *clients_dir, const char *name, char *err, size_t errlen)
{
    char dir[4096], path[4200];
    if (!name || !valid_name(name)) {
        fail(err, errlen, "'%s' is not an adapter name (lower case, digits, '-', '_')",
             name ? name : "");
        return NULL;
    }
    if (clients_dir_of(clients_dir, dir, sizeof dir) < 0) {
        fail(err, errlen, "the clients directory path is too long");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s.ini", dir, name);
    char *text = NULL;   /* gcc -O1 -fsanitize: maybe-uninitialized after read_file */
    if (read_file(path, &text, err, errlen) < 0)
        return NULL;
    adapter *a = calloc(1, sizeof *a);
    if (!a) {
        free(text);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    a->name = xstrdup(name);
    a->path = xstrdup(path);
    a->dir = xstrdup(dir);
    a->timeout_ms = 30000;
    loader L = {a, path, NULL, 0, err, errlen};
    int r = parse_text(&L, text);
    if (r == 0)
        r = check_all(&L);
    free(L.section);
    free(text);
    if (r < 0) {
        adapter_free(a);
        return NULL;
    }
    return a;
}

/* ---- availability and setting checks ------------------------------------------------------ */

/* Find program on PATH (or as given, when it has a '/', relative to the clients dir). */
static int find_program(const adapter *a, char *out, size_t cap)
{
    const char *prog = a->program;
    if (strchr(prog, '/')) {
        if (prog[0] == '/')
            snprintf(out, cap, "%s", prog);
        else
            snprintf(out, cap, "%s/%s", a->dir, prog);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && (size_t)snprintf(out, cap, "%.*s/%s", (int)n, p, prog) < cap &&
            access(out, X_OK) == 0)
            return 0;
        p += n + (e ? 1 : 0);
    }
    return -1;
}

int adapter_available(const adapter *a, char *why, size_t whycap)
{
    char path[4096];
    if (find_program(a, path, sizeof path) == 0)
        return 1;
    if (a->package)
        fail(why, whycap, "%s: %s not found in PATH; install Debian package %s (ci/deps clients)",
             a->name, a->program, a->package);
    else
        fail(why, whycap, "%s: %s not found in PATH", a->name, a->program);
    return 0;
}

static const label *find_label(const adapter *a, const char *v)
{
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcasecmp(a->labels[i].name, v) == 0)
            return &a->labels[i];
    return NULL;
}

static void label_names(const adapter *a, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < a->nlabels && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s'%s'", i ? ", " : "", a->labels[i].name);
}

int adapter_check_setting(void *ctx, const char *adapter_name, const char *key,
                          const char *value, char *why, size_t whycap)
{
    char err[600];
    adapter *a = adapter_load((const char *)ctx, adapter_name, err, sizeof err);
    if (!a)
        return fail(why, whycap, "no client adapter '%s' (%s)", adapter_name, err);
    int r = 0;
    if (key && !is_setting(a, key)) {
        r = fail(why, whycap, "client %s has no setting '%s'", adapter_name, key);
    } else if (key && strcmp(key, "security") == 0 && value && !strchr(value, '{') &&
               !find_label(a, value)) {
        char names[300];
        label_names(a, names, sizeof names);
        r = fail(why, whycap, "client %s knows no security '%s' (its labels: %s)", adapter_name,
                 value, a->nlabels ? names : "none");
    } else if (key && strcmp(key, "port") == 0 && value && !strchr(value, '{')) {
        char *end;
        long p = strtol(value, &end, 10);
        if (*end || p < 1 || p > 65535)
            r = fail(why, whycap, "port '%s' is not 1..65535", value);
    } else if (key && strcmp(key, "proto") == 0 && value && !strchr(value, '{') &&
               (!a->protocols || !strstr(a->protocols, value))) {
        r = fail(why, whycap, "client %s speaks %s, not '%s'", adapter_name,
                 a->protocols ? a->protocols : "nothing", value);
    }
    adapter_free(a);
    return r;
}

/* ---- substitution ---------------------------------------------------------------------- */

typedef struct runctx {
    const adapter *a;
    const adapter_kv *kv;
    size_t nkv;
    const adapter_target *t;
    const label *sec;
    const char *workdir;
    char password_file[4200];
    char portbuf[16], pportbuf[16];
    char missing[64];         /* a setting a template needed and nobody gave */
} runctx;

static const char *kv_value(const runctx *r, const char *name)
{
    for (size_t i = 0; i < r->nkv; i++)
        if (strcmp(r->kv[i].key, name) == 0)
            return r->kv[i].value;
    return NULL;
}

/* The value of a variable, or NULL when it has none. */
static const char *var(runctx *r, const char *name)
{
    const adapter_target *t = r->t;
    if (strcmp(name, "host") == 0)
        return t->host ? t->host : "127.0.0.1";
    if (strcmp(name, "port") == 0) {
        snprintf(r->portbuf, sizeof r->portbuf, "%d", t->port);
        return r->portbuf;
    }
    if (strcmp(name, "provider_port") == 0) {
        snprintf(r->pportbuf, sizeof r->pportbuf, "%d", t->provider_port);
        return r->pportbuf;
    }
    if (strcmp(name, "cafile") == 0) {
        const char *v = kv_value(r, "cafile");
        return v ? v : t->cafile ? t->cafile : "";
    }
    if (strcmp(name, "server_name") == 0)
        return t->server_name && *t->server_name ? t->server_name : t->host ? t->host : "127.0.0.1";
    if (strcmp(name, "server") == 0) {
        const char *v = kv_value(r, "server");
        return v ? v : var(r, "server_name");
    }
    if (strcmp(name, "workdir") == 0)
        return r->workdir;
    if (strcmp(name, "clients_dir") == 0)
        return r->a->dir;
    if (strcmp(name, "password_file") == 0)
        return r->password_file;
    if (strcmp(name, "security") == 0)
        return r->sec ? r->sec->name : "";
    if (r->sec) {
        const item *it = list_find(&r->sec->vars, name);
        if (it)
            return it->val;
    }
    const char *v = kv_value(r, name);
    if (v)
        return v;
    const item *d = list_find(&r->a->defaults, name);
    return d ? d->val : NULL;
}

static size_t put_url(char *out, size_t k, size_t cap, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)v; *p && k + 4 < cap; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) {
            out[k++] = (char)*p;
        } else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    return k;
}

/* Substitute t into out. Returns 0; 1 when optional and a variable was empty or unset (the
 * argument is then dropped); -1 when a needed variable has no value (r->missing names it). */
static int subst(runctx *r, const char *t, char *out, size_t cap, int optional, int depth)
{
    size_t k = 0;
    for (const char *p = t; *p && k + 1 < cap;) {
        if (*p != '{') {
            out[k++] = *p++;
            continue;
        }
        char name[64];
        int url;
        size_t n = ref_at(p, name, sizeof name, &url);
        if (n == 0) {
            out[k++] = '{';
            p += 2;
            continue;
        }
        if (n == (size_t)-1)
            return -1;
        const char *v = var(r, name);
        if (!v || (!*v && optional)) {
            if (optional)
                return 1;
            snprintf(r->missing, sizeof r->missing, "%s", name);
            return -1;
        }
        char inner[MAX_VALUE];
        /* a [defaults] value may itself use variables (from = {user}); a setting's value is
         * taken as it is */
        const item *d = list_find(&r->a->defaults, name);
        if (d && v == d->val && strchr(v, '{') && depth < 2) {
            int s = subst(r, v, inner, sizeof inner, optional, depth + 1);
            if (s != 0)
                return s;
            v = inner;
        }
        if (url)
            k = put_url(out, k, cap, v);
        else
            for (; *v && k + 1 < cap; v++)
                out[k++] = *v;
        p += n;
    }
    out[k] = 0;
    return 0;
}

/* ---- starting ------------------------------------------------------------------------- */

static int write_text(const char *path, unsigned mode, const char *text, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    if (fchmod(fd, mode) < 0) { /* the umask must not widen or narrow what the client needs */
        close(fd);
        return -1;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

static int write_files(runctx *r, char *err, size_t errlen)
{
    const adapter *a = r->a;
    const char *pw = kv_value(r, "password");
    if (pw && write_text(r->password_file, 0600, pw, strlen(pw)) < 0)
        return fail(err, errlen, "%s: %s", r->password_file, strerror(errno));
    for (size_t f = 0; f < a->nfiles; f++) {
        const file_tpl *ft = &a->files[f];
        size_t cap = 64 * 1024, k = 0;
        char *text = malloc(cap);
        if (!text)
            return fail(err, errlen, "out of memory");
        for (size_t i = 0; i < ft->lines.n; i++) {
            char line[MAX_VALUE];
            if (subst(r, ft->lines.v[i].val, line, sizeof line, 0, 0) < 0) {
                free(text);
                return fail(err, errlen, "client %s: setting '%s' is needed (%s:%u)", a->name,
                            r->missing, a->path, ft->lines.v[i].line);
            }
            k += (size_t)snprintf(text + k, cap - k, "%s\n", line);
            if (k >= cap) {
                free(text);
                return fail(err, errlen, "client %s: file %s is too large", a->name, ft->name);
            }
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", r->workdir, ft->name);
        int w = write_text(path, ft->mode, text, k);
        free(text);
        if (w < 0)
            return fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    return 0;
}

/* The message a sending client reads on stdin. */
static int write_message(runctx *r, const char *path)
{
    char from[512], to[512];
    const char *user = kv_value(r, "user");
    const char *fallback = user && strchr(user, '@') ? user : "mailrig@example.com";
    if (!var(r, "from") || subst(r, "{from}", from, sizeof from, 0, 0) != 0)
        snprintf(from, sizeof from, "%s", fallback);
    if (!var(r, "to") || subst(r, "{to}", to, sizeof to, 0, 0) != 0)
        snprintf(to, sizeof to, "%s", from);
    /* Local text, as a user's mail program hands it over: LF line ends (the client makes
     * them CRLF on the wire). */
    char msg[2048];
    int n = snprintf(msg, sizeof msg,
                     "From: <%s>\nTo: <%s>\nSubject: mailrig client test\n"
                     "Message-ID: <client-test@mailrig.invalid>\n\n"
                     "A message sent by a client under test.\n",
                     from, to);
    return write_text(path, 0600, msg, (size_t)n);
}

typedef struct argv_buf {
    char *v[MAX_ITEMS + 2];
    size_t n;
    char *env[MAX_ITEMS + 8];
    size_t nenv;
} argv_buf;

static void argv_free(argv_buf *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i]);
    for (size_t i = 0; i < b->nenv; i++)
        free(b->env[i]);
}

static int build_argv(runctx *r, const char *program, argv_buf *b, char *err, size_t errlen)
{
    const adapter *a = r->a;
    b->v[b->n++] = xstrdup(program);
    for (size_t i = 0; i < a->args.n;) {
        /* A run of `opt` lines up to the first one with a variable is one group ("--cacert",
         * "{cafile}"): all of it goes when that variable is empty. */
        size_t end = i + 1;
        if (a->args.v[i].optional)
            while (end - 1 < a->args.n && a->args.v[end - 1].optional &&
                   !strchr(a->args.v[end - 1].val, '{') && end < a->args.n &&
                   a->args.v[end].optional)
                end++;
        char *vals[MAX_ITEMS];
        size_t nv = 0;
        int drop = 0;
        for (size_t j = i; j < end; j++) {
            char val[MAX_VALUE];
            int s = subst(r, a->args.v[j].val, val, sizeof val, a->args.v[j].optional, 0);
            if (s < 0) {
                for (size_t k = 0; k < nv; k++)
                    free(vals[k]);
                return fail(err, errlen, "client %s: setting '%s' is needed (%s:%u)", a->name,
                            r->missing, a->path, a->args.v[j].line);
            }
            drop |= s == 1 || (a->args.v[j].optional && !val[0]);
            vals[nv++] = xstrdup(val);
        }
        for (size_t k = 0; k < nv; k++) {
            if (drop)
                free(vals[k]);
            else
                b->v[b->n++] = vals[k];
        }
        i = end;
    }
    b->v[b->n] = NULL;
    /* A small, known environment: no HOME of the person running the tests, no proxies. */
    const char *path = getenv("PATH");
    char buf[MAX_VALUE + 64];
    snprintf(buf, sizeof buf, "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    b->env[b->nenv++] = xstrdup(buf);
    snprintf(buf, sizeof buf, "HOME=%s", r->workdir);
    b->env[b->nenv++] = xstrdup(buf);
    b->env[b->nenv++] = xstrdup("LANG=C");
    b->env[b->nenv++] = xstrdup("LC_ALL=C");
    snprintf(buf, sizeof buf, "TMPDIR=%s", r->workdir);
    b->env[b->nenv++] = xstrdup(buf);
    for (size_t i = 0; i < a->env.n; i++) {
        char val[MAX_VALUE];
        if (subst(r, a->env.v[i].val, val, sizeof val, 0, 0) < 0)
            return fail(err, errlen, "client %s: setting '%s' is needed (%s:%u)", a->name,
                        r->missing, a->path, a->env.v[i].line);
        snprintf(buf, sizeof buf, "%s=%s", a->env.v[i].key, val);
        b->env[b->nenv++] = xstrdup(buf);
    }
    b->env[b->nenv] = NULL;
    return 0;
}

static int check_settings(const adapter *a, const adapter_kv *kv, size_t nkv, const label **sec,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < nkv; i++) {
        if (!kv[i].key || !kv[i].value)
            return fail(err, errlen, "client %s: a setting without key or value", a->name);
        if (!is_setting(a, kv[i].key))
            return fail(err, errlen, "client %s has no setting '%s'", a->name, kv[i].key);
    }
    const char *s = NULL;
    for (size_t i = 0; i < nkv; i++)
        if (strcmp(kv[i].key, "security") == 0)
            s = kv[i].value;
    if (!s)
        s = a->security_default;
    *sec = NULL;
    if (s) {
        *sec = find_label(a, s);
        if (!*sec) {
            char names[300];
            label_names(a, names, sizeof names);
            return fail(err, errlen, "client %s knows no security '%s' (its labels: %s)",
                        a->name, s, a->nlabels ? names : "none");
        }
    } else if (a->nlabels) {
        return fail(err, errlen, "client %s: setting 'security' is needed (one of its labels)",
                    a->name);
    }
    return 0;
}

static void child(const char *prog, argv_buf *b, int in, int out, const char *workdir, int errp)
{
    setpgid(0, 0); /* its own group: a timeout kills what the client started too */
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || chdir(workdir) < 0) {
        int e = errno;
        (void)!write(errp, &e, sizeof e);
        _exit(127);
    }
    signal(SIGPIPE, SIG_DFL);
    execve(prog, b->v, b->env);
    int e = errno;
    (void)!write(errp, &e, sizeof e);
    _exit(127);
}

int adapter_start(const adapter *a, const adapter_kv *kv, size_t nkv, const adapter_target *t,
                  const char *work_dir, adapter_proc *proc, char *err, size_t errlen)
{
    memset(proc, 0, sizeof *proc);
    proc->pid = -1;
    proc->output_fd = -1;
    runctx r = {a, kv, nkv, t, NULL, NULL, "", "", "", ""};
    if (check_settings(a, kv, nkv, &r.sec, err, errlen) < 0)
        return -1;
    char program[4096];
    if (find_program(a, program, sizeof program) < 0) {
        adapter_available(a, err, errlen);
        return -1;
    }
    if (snprintf(proc->workdir, 4000, "%s/client-%s-XXXXXX", work_dir ? work_dir : "/tmp",
                 a->name) >= 4000 ||
        !mkdtemp(proc->workdir))
        return fail(err, errlen, "%s: cannot make the client's directory: %s", proc->workdir,
                    strerror(errno));
    r.workdir = proc->workdir;
    snprintf(r.password_file, sizeof r.password_file, "%.4000s/password", proc->workdir);
    snprintf(proc->output_path, sizeof proc->output_path, "%.4000s/output", proc->workdir);
    argv_buf b = {.n = 0};
    int in = -1, out = -1, pipefd[2] = {-1, -1};
    int rc = -1;
    if (write_files(&r, err, errlen) < 0 || build_argv(&r, program, &b, err, errlen) < 0)
        goto done;
    char inpath[4200];
    snprintf(inpath, sizeof inpath, "%s/message.eml", proc->workdir);
    if (a->stdin_mode == IN_MESSAGE && write_message(&r, inpath) < 0) {
        fail(err, errlen, "%s: %s", inpath, strerror(errno));
        goto done;
    }
    in = open(a->stdin_mode == IN_MESSAGE ? inpath : "/dev/null", O_RDONLY | O_CLOEXEC);
    out = open(proc->output_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0 || pipe(pipefd) < 0 || fcntl(pipefd[0], F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(pipefd[1], F_SETFD, FD_CLOEXEC) < 0) {
        fail(err, errlen, "client %s: %s", a->name, strerror(errno));
        goto done;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fail(err, errlen, "client %s: fork: %s", a->name, strerror(errno));
        goto done;
    }
    if (pid == 0)
        child(program, &b, in, out, proc->workdir, pipefd[1]);
    setpgid(pid, pid); /* also here: no race with an early kill */
    close(pipefd[1]);
    pipefd[1] = -1;
    int e = 0;
    ssize_t got = read(pipefd[0], &e, sizeof e);
    if (got == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        fail(err, errlen, "client %s: cannot run %s: %s", a->name, program, strerror(e));
        goto done;
    }
    proc->pid = pid;
    proc->output_fd = out;
    out = -1;
    rc = 0;
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    argv_free(&b);
    return rc;
}

/* ---- waiting, killing, redacting ---------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wait for pid at most ms; returns 1 when it ended (status filled), 0 otherwise. */
static int wait_for(pid_t pid, double ms, int *status)
{
    double end = now_ms() + ms;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD))
            return 1;
        if (now_ms() >= end)
            return 0;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* SIGTERM to the group, SIGKILL after 2 s. Returns the wait status. */
static int stop_group(pid_t pid, int *status)
{
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    if (wait_for(pid, 2000, status))
        return 0;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    return wait_for(pid, 5000, status) ? 0 : -1;
}

void adapter_kill(adapter_proc *proc)
{
    if (!proc || proc->pid <= 0)
        return;
    int status;
    if (!wait_for(proc->pid, 0, &status))
        stop_group(proc->pid, &status);
    kill(-proc->pid, SIGKILL); /* anything the client left behind in its group */
    proc->pid = -1;
    if (proc->output_fd >= 0)
        close(proc->output_fd);
    proc->output_fd = -1;
}

/* Replace every occurrence of needle in buf[0..*n) with "<redacted>" (in place: the result
 * never grows beyond *n + 10 per hit; buf has room for cap bytes). */
static void redact_one(char *buf, size_t *n, size_t cap, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl < 3) /* a one- or two-letter "password" would redact half the output */
        return;
    static const char mark[] = "<redacted>";
    size_t ml = sizeof mark - 1;
    for (size_t i = 0; i + nl <= *n;) {
        if (memcmp(buf + i, needle, nl) != 0) {
            i++;
            continue;
        }
        if (*n - nl + ml > cap)
            return;
        memmove(buf + i + ml, buf + i + nl, *n - i - nl);
        memcpy(buf + i, mark, ml);
        *n = *n - nl + ml;
        i += ml;
    }
}

/* Redact every secret value, and the base64 forms a verbose client prints (the value alone,
 * and a SASL PLAIN message with the user). */
static int redact_output(const char *path, const adapter_kv *kv, size_t nkv)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = MAX_OUTPUT_REDACT + 4096 * 16;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, MAX_OUTPUT_REDACT, f);
    fclose(f);
    const char *user = "";
    for (size_t i = 0; i < nkv; i++)
        if (strcmp(kv[i].key, "user") == 0)
            user = kv[i].value;
    for (size_t i = 0; i < nkv; i++) {
        if (!kv[i].secret || !kv[i].value)
            continue;
        const char *v = kv[i].value;
        redact_one(buf, &n, cap, v);
        char plain[1024], b64[1500];
        size_t pl = (size_t)snprintf(plain, sizeof plain, "%c%s%c%s", 0, user, 0, v);
        mr_error err;
        const char *forms[2] = {v, plain};
        size_t lens[2] = {strlen(v), pl < sizeof plain ? pl : 0};
        for (int k = 0; k < 2; k++) {
            int m = lens[k] ? b64_encode(forms[k], lens[k], b64, sizeof b64 - 1, &err) : -1;
            if (m > 0 && (size_t)m < sizeof b64) {
                b64[m] = 0;
                while (m > 0 && b64[m - 1] == '=') /* also when a client drops the padding */
                    b64[--m] = 0;
                redact_one(buf, &n, cap, b64);
            }
        }
    }
    int rc = write_text(path, 0600, buf, n);
    free(buf);
    return rc;
}

static int output_matches(const char *path, pcre2_code *re)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    char line[8192];
    int hit = 0;
    while (!hit && md && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        hit = pcre2_match(re, (PCRE2_SPTR)line, n, 0, 0, md, NULL) >= 0;
    }
    pcre2_match_data_free(md);
    fclose(f);
    return hit;
}

int adapter_wait(adapter_proc *proc, const adapter *a, const adapter_kv *kv, size_t nkv,
                 unsigned timeout_ms, adapter_outcome *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!proc || proc->pid <= 0)
        return fail(err, errlen, "client %s: not running", a ? a->name : "?");
    int status = 0;
    unsigned limit = timeout_ms ? timeout_ms : a->timeout_ms;
    if (!wait_for(proc->pid, limit, &status)) {
        out->timed_out = 1;
        stop_group(proc->pid, &status);
    }
    kill(-proc->pid, SIGKILL); /* children the client left running */
    proc->pid = -1;
    if (proc->output_fd >= 0)
        close(proc->output_fd);
    proc->output_fd = -1;
    if (WIFEXITED(status)) {
        out->exited = !out->timed_out;
        out->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->signal = WTERMSIG(status);
    }
    if (redact_output(proc->output_path, kv, nkv) < 0)
        return fail(err, errlen, "%s: cannot redact: %s", proc->output_path, strerror(errno));
    /* the password file has done its job: do not leave it behind with the transcripts; the
     * client's configuration files stay for whoever debugs a run, without the secrets */
    char path[4200];
    snprintf(path, sizeof path, "%s/password", proc->workdir);
    unlink(path);
    for (size_t f = 0; f < a->nfiles; f++) {
        snprintf(path, sizeof path, "%s/%s", proc->workdir, a->files[f].name);
        if (redact_output(path, kv, nkv) < 0 && errno != ENOENT)
            return fail(err, errlen, "%s: cannot redact: %s", path, strerror(errno));
    }
    int ok = out->exited;
    if (ok) {
        int hit = 0;
        for (size_t i = 0; i < a->nexit; i++)
            hit |= a->success_exit[i] == out->exit_code;
        ok = hit;
    }
    if (ok && a->success_re)
        ok = output_matches(proc->output_path, a->success_re);
    if (ok && a->failure_re)
        ok = !output_matches(proc->output_path, a->failure_re);
    out->success = ok;
    return 0;
}
