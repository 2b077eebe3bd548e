/* replay_scn.c -- a recorded connection as a client-role scenario (replay_scn.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/cli.h"
#include "harness/replay_scn.h"
#include "proto/base64.h"
#include "servers/profile.h"

typedef struct scn_state {
    FILE *f;
    diag_proto proto;
    const char *pw;            /* "account.password" or "account.app_password" */
    unsigned vars;             /* var counter */
    bool sasl_login_pw;        /* next AUTH LOGIN continuation is the password */
    bool pop_multiline;        /* the last POP3 command answers with a listing */
    bool in_listing;           /* skipping a POP3 listing up to "." */
    int sasl;                  /* 0 none, 1 PLAIN, 2 LOGIN, 3 other */
} scn_state;

/* A scenario string: C escapes for quotes, backslashes and control bytes; '{' doubled so
 * recorded text is never read as a substitution. */
static void put_esc(FILE *f, const char *s, size_t n)
{
    for (const char *e = s + n; s < e; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '{')
            fputs("{{", f);
        else if (ch == '}')
            fputs("}}", f);
        else if (ch < 0x20 || ch >= 0x7f) /* bytes outside printable ASCII: the language wants \xHH */
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
}

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    put_esc(f, s, strlen(s));
    fputc('"', f);
}

static diag_proto guess_proto(const log_conn *k)
{
    if (k->proto)
        return k->proto;
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        if (r->kind != LOG_DATA || r->dir != LOG_DIR_S)
            continue;
        if (!strncmp(r->text, "* ", 2))
            return DIAG_PROTO_IMAP;
        if (!strncmp(r->text, "+OK", 3) || !strncmp(r->text, "-ERR", 4))
            return DIAG_PROTO_POP3;
        if (isdigit((unsigned char)r->text[0]))
            return DIAG_PROTO_SMTP;
    }
    return log_proto_of_port(k->port);
}

/* AUTH PLAIN <b64>: a var with the recorded identity and the password variable. */
static bool plain_ir(scn_state *st, const char *head, const char *b64)
{
    char dec[1024];
    mr_error err;
    int m = b64_decode(b64, strlen(b64), dec, sizeof dec - 1, 0, &err);
    if (m <= 0)
        return false;
    dec[m] = 0;
    const char *z1 = memchr(dec, 0, (size_t)m);
    if (!z1)
        return false;
    const char *authcid = z1 + 1;
    if (authcid >= dec + m || !memchr(authcid, 0, (size_t)(dec + m - authcid)))
        return false;
    char id[512];
    snprintf(id, sizeof id, "%s", authcid);
    unsigned v = ++st->vars;
    fprintf(st->f, "var      plain%u=", v);
    char val[1200];
    snprintf(val, sizeof val, "%s", id);
    fputs("\"\\x00", st->f);
    for (const char *p = val; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', st->f);
        if (*p == '{' || *p == '}')
            fputc(*p, st->f);
        fputc(*p, st->f);
    }
    fprintf(st->f, "\\x00{%s}\"\n", st->pw);
    fprintf(st->f, "send     \"%s{base64:plain%u}\"\n", head, v);
    return true;
}

static void client_rec(scn_state *st, const log_rec *r)
{
    const char *s = r->text;
    const char *red = strstr(s, "<redacted>");
    char w[3][64] = {"", "", ""};
    sscanf(s, "%63s %63s %63s", w[0], w[1], w[2]);
    bool auth = !strcasecmp(w[0], "AUTH"), authenticate = !strcasecmp(w[1], "AUTHENTICATE");
    if (auth || authenticate) {
        const char *mech = auth ? w[1] : w[2];
        st->sasl = !strcasecmp(mech, "PLAIN") ? 1 : !strcasecmp(mech, "LOGIN") ? 2 : 3;
        st->sasl_login_pw = false;
        const char *ir = strstr(s, mech) + strlen(mech);
        while (*ir == ' ')
            ir++;
        char head[256];
        snprintf(head, sizeof head, "%.*s", (int)(ir - s), s);
        if (*ir && st->sasl == 1 && plain_ir(st, head, ir))
            return;
        if (*ir && st->sasl == 2)
            st->sasl_login_pw = true; /* the initial response was the user name */
    } else if (st->sasl && red) {
        if (st->sasl == 1 && plain_ir(st, "", s))
            return;
        if (st->sasl == 2) {
            fprintf(st->f, "send     \"{base64:%s}\"\n", st->pw);
            return;
        }
    } else if (st->sasl == 2 && !red) {
        st->sasl_login_pw = true;
    }
    if (st->proto == DIAG_PROTO_POP3) {
        st->pop_multiline = !strcasecmp(w[0], "CAPA") || !strcasecmp(w[0], "RETR") || !strcasecmp(w[0], "TOP") ||
                            ((!strcasecmp(w[0], "LIST") || !strcasecmp(w[0], "UIDL")) && !w[1][0]);
    }
    if (red) {
        fputs("send     \"", st->f);
        put_esc(st->f, s, (size_t)(red - s));
        fprintf(st->f, "{%s}", st->pw);
        put_esc(st->f, red + 10, strlen(red + 10));
        fputs("\"\n", st->f);
        return;
    }
    fputs("send     ", st->f);
    put_str(st->f, s);
    fputc('\n', st->f);
}

/* Whether the IMAP server line at i is followed, before the next client line, by more server
 * lines (so an expect-reply of the tagged line consumes it). */
static bool imap_more_follows(const log_conn *k, size_t i)
{
    for (size_t j = i + 1; j < k->n; j++) {
        const log_rec *r = &k->rec[j];
        if (r->kind != LOG_DATA)
            continue;
        return r->dir == LOG_DIR_S;
    }
    return false;
}

static void server_rec(scn_state *st, const log_conn *k, size_t i)
{
    const char *s = k->rec[i].text;
    FILE *f = st->f;
    switch (st->proto) {
    case DIAG_PROTO_SMTP:
        if (strlen(s) >= 3 && isdigit((unsigned char)s[0]) && (s[3] == ' ' || !s[3]))
            fprintf(f, "expect-reply %.3s\n", s);
        if (strncmp(s, "334", 3))
            st->sasl = 0;
        break;
    case DIAG_PROTO_POP3:
        if (st->in_listing) {
            st->in_listing = strcmp(s, ".") != 0;
            break;
        }
        if (!strncmp(s, "+OK", 3)) {
            fprintf(f, "expect-reply +OK%s\n", st->pop_multiline ? " multiline" : "");
            st->in_listing = st->pop_multiline;
            st->sasl = 0;
        } else if (!strncmp(s, "-ERR", 4)) {
            fputs("expect-reply -ERR\n", f);
            st->sasl = 0;
        } else if (s[0] == '+') {
            fputs("expect-reply +\n", f);
        }
        st->pop_multiline = false;
        break;
    default: { /* IMAP */
        if (s[0] == '+') {
            fputs("expect-reply +\n", f);
            break;
        }
        char tag[64] = "", status[16] = "";
        sscanf(s, "%63s %15s", tag, status);
        if (!strcmp(tag, "*")) {
            if (!imap_more_follows(k, i) || i == 0 || (!strcmp(status, "OK") && st->vars == 0 && !st->sasl &&
                                                       k->rec[0].dir == LOG_DIR_S && &k->rec[i] == &k->rec[0]))
                fprintf(f, "expect-reply * %s\n", status);
            break;
        }
        fprintf(f, "expect-reply %s %s\n", tag, status);
        st->sasl = 0;
    }
    }
}

int replay_scn_write(const log_conn *k, const char *source, const char *profile_name, const char *const *sets,
                     size_t n_sets, bool app_password, FILE *f)
{
    scn_state st = {.f = f, .proto = guess_proto(k), .pw = app_password ? "account.app_password" : "account.password"};
    const char *base = strrchr(source, '/') ? strrchr(source, '/') + 1 : source;
    char name[128];
    size_t o = 0;
    for (const char *p = "replay-"; *p; p++)
        name[o++] = *p;
    for (const char *p = base; *p && o + 1 < sizeof name; p++)
        name[o++] = (char)(isalnum((unsigned char)*p) ? tolower((unsigned char)*p) : '-');
    name[o] = 0;
    fprintf(f, "# Written by `mailrig replay --to-scenario` from %s (line %u). Edit freely:\n"
               "# replies are checked by status only; credentials the log hid are {account.*}.\n",
            base, k->line);
    fprintf(f, "scenario %s\ndescribe ", name);
    char desc[300];
    snprintf(desc, sizeof desc, "replayed from %s", base);
    put_str(f, desc);
    fprintf(f, "\nprofile  %s\nrole     client\n", profile_name);
    for (size_t i = 0; i < n_sets; i++)
        fprintf(f, "set      %s\n", sets[i]);
    fputs("timeout  step=10s total=60s\n\n", f);
    const char *mode = k->implicit ? "implicit-tls" : "plain";
    unsigned port = log_proto_of_port(k->port) == st.proto ? k->port : 0;
    if (!st.proto)
        st.proto = DIAG_PROTO_IMAP;
    if (port)
        fprintf(f, "connect  %s %u %s\n", diag_proto_name(st.proto), port, mode);
    else
        fprintf(f, "connect  %s %s\n", diag_proto_name(st.proto), mode);
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        switch (r->kind) {
        case LOG_DATA:
            if (r->dir == LOG_DIR_C)
                client_rec(&st, r);
            else
                server_rec(&st, k, i);
            break;
        case LOG_TLS_OK:
            if (r->tls == LOG_TLS_AFTER_STARTTLS)
                fputs("starttls\n", f);
            break;
        case LOG_TLS_FAIL:
            fputs("tls      expect=fail\n", f);
            return ferror(f) ? -1 : 0;
        case LOG_ERROR:
            if (r->err == LOG_ERR_REFUSED) {
                fputs("expect-connect refused\n", f);
                return ferror(f) ? -1 : 0;
            }
            break;
        default: break;
        }
    }
    return ferror(f) ? -1 : 0;
}

/* A loose pattern for a client line: its command word (IMAP: tag and command) and "*". */
static void client_glob(FILE *f, const char *s)
{
    char w0[64] = "", w1[64] = "";
    sscanf(s, "%63s %63s", w0, w1);
    static const char *const imap_cmds[] = {"LOGIN", "AUTHENTICATE", "CAPABILITY", "SELECT", "EXAMINE", "LIST",
                                            "LSUB", "LOGOUT", "STARTTLS", "NOOP", "ID", "ENABLE", "NAMESPACE",
                                            "FETCH", "UID", "STATUS", "IDLE", "APPEND", "SEARCH", "STORE"};
    bool imap = false;
    for (size_t i = 0; i < sizeof imap_cmds / sizeof *imap_cmds; i++)
        imap |= !strcasecmp(w1, imap_cmds[i]);
    char pat[160];
    bool printable = true;
    for (const char *q = w0; *q; q++)
        printable &= (unsigned char)*q > 0x20 && (unsigned char)*q < 0x7f;
    if (imap)
        snprintf(pat, sizeof pat, "* %s*", w1);
    else if (strstr(s, "<redacted>") || !w0[0] || strpbrk(w0, "*?") || !printable)
        snprintf(pat, sizeof pat, "*");
    else
        snprintf(pat, sizeof pat, "%s*", w0);
    fputs("expect   ", f);
    put_str(f, pat);
    fputc('\n', f);
}

int replay_scn_write_server(const log_conn *k, const char *source, const char *profile_name, const char *client_line,
                            FILE *f)
{
    diag_proto proto = guess_proto(k);
    if (!proto)
        proto = DIAG_PROTO_IMAP;
    const char *base = strrchr(source, '/') ? strrchr(source, '/') + 1 : source;
    fprintf(f, "# Written by `mailrig replay --to-scenario --role server` from %s (line %u): mailrig\n"
               "# serves the recorded replies; client lines are matched by their command word.\n",
            base, k->line);
    fputs("scenario replay-server\ndescribe ", f);
    char desc[300];
    snprintf(desc, sizeof desc, "the recorded server side of %s", base);
    put_str(f, desc);
    unsigned port = log_proto_of_port(k->port) == proto ? k->port
                    : proto == DIAG_PROTO_SMTP       ? 587
                    : proto == DIAG_PROTO_POP3       ? (k->implicit ? 995 : 110)
                                                     : (k->implicit ? 993 : 143);
    fprintf(f, "\nprofile  %s\nrole     server\n\nlisten   %s %u %s\n", profile_name, diag_proto_name(proto), port,
            k->implicit ? "implicit-tls" : "plain");
    if (client_line && client_line[0])
        fprintf(f, "client   %s\n", client_line);
    else
        fputs("# client ADAPTER SETTING=VALUE...   (name the client under test here)\n", f);
    bool in_send = false;
    for (size_t i = 0; i < k->n; i++) {
        const log_rec *r = &k->rec[i];
        if (r->kind == LOG_DATA && r->dir == LOG_DIR_S) {
            fputs(in_send ? " " : "send     ", f);
            put_str(f, r->text);
            in_send = true;
            continue;
        }
        if (in_send)
            fputc('\n', f);
        in_send = false;
        if (r->kind == LOG_DATA)
            client_glob(f, r->text);
        else if (r->kind == LOG_TLS_OK && r->tls == LOG_TLS_AFTER_STARTTLS)
            fputs("starttls\n", f);
    }
    if (in_send)
        fputc('\n', f);
    if (client_line && client_line[0]) {
        const log_rec *last = NULL;
        for (size_t i = 0; i < k->n; i++)
            if (k->rec[i].kind == LOG_DATA && k->rec[i].dir == LOG_DIR_S)
                last = &k->rec[i];
        const char *t = last ? last->text : "";
        const char *sp = strchr(t, ' ');
        bool failed = t[0] == '4' || t[0] == '5' || !strncmp(t, "-ERR", 4) ||
                      (sp && (!strncmp(sp + 1, "NO ", 3) || !strncmp(sp + 1, "BAD ", 4)));
        fprintf(f, "expect-client exit=%s timeout=20s   # as the recording ended; edit as needed\n",
                failed ? "nonzero" : "0");
    }
    return ferror(f) ? -1 : 0;
}

int replay_write_scenario(const log_conn *k, const char *source, const char *profile_name, const char *const *sets,
                          size_t n_sets, const char *path)
{
    profile_diag d = {0};
    profile_opts po = {.sets = sets, .n_sets = n_sets};
    profile *p = profile_load(profile_name, &po, &d);
    if (!p) {
        profile_diag_print(&d, stderr);
        profile_diag_free(&d);
        return cli_usage_error("replay", "--profile %s: cannot load it", profile_name);
    }
    profile_diag_free(&d);
    const profile_service *sv = k->proto == DIAG_PROTO_SMTP   ? &p->smtp.s
                                : k->proto == DIAG_PROTO_POP3 ? &p->pop3.s
                                                              : &p->imap.s;
    bool app = sv->passwords == PROFILE_PW_APP;
    profile_free(p);
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_env_error("replay", "cannot write %s", path);
    int rc = replay_scn_write(k, source, profile_name, sets, n_sets, app, f);
    if (fclose(f) != 0 || rc < 0)
        return cli_env_error("replay", "write error on %s", path);
    fprintf(stderr, "replay: wrote %s\n", path);
    return EXIT_PASS;
}
