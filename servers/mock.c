/* mock.c -- see mock.h. */
#include "servers/errbuf.h"
#include "servers/mock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "servers/paths.h"
#include "servers/pki.h"
#include "servers/sessions.h"
#include "servers/tls.h"

struct mock {
    const profile *prof;
    mock_options opt;
    store *st;
    pki_paths *pki;
    SSL_CTX *tls[PKI_VARIANT_COUNT]; /* one context per certificate variant in use */
    server *srv;
    mock_listener listeners[PROFILE_MAX_LISTENERS];
    size_t nlisteners;
    mock_watcher *watchers;
};

mock_options mock_options_default(void)
{
    mock_options o = {
        .host = "127.0.0.1",
        .port_base = 10000,
        .seed = 1,
        .limits = server_limits_default(),
    };
    return o;
}

/* ---- watchers -------------------------------------------------------------------------- */

void mock_watch(mock *m, mock_watcher *w)
{
    w->prev = NULL;
    w->next = m->watchers;
    if (m->watchers)
        m->watchers->prev = w;
    m->watchers = w;
}

void mock_unwatch(mock *m, mock_watcher *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (m->watchers == w)
        m->watchers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

void mock_changed(mock *m)
{
    /* A watcher may unwatch itself (its session closing) while being told. */
    for (mock_watcher *w = m->watchers, *next; w; w = next) {
        next = w->next;
        w->changed(w);
    }
}

/* ---- store ----------------------------------------------------------------------------- */

static unsigned folder_attrs(const profile_folder *f)
{
    static const struct {
        const char *flag;
        unsigned attr;
    } special[] = {
        {"\\All", STORE_MB_ALL},         {"\\Archive", STORE_MB_ARCHIVE},
        {"\\Drafts", STORE_MB_DRAFTS},   {"\\Flagged", STORE_MB_FLAGGED},
        {"\\Junk", STORE_MB_JUNK},       {"\\Sent", STORE_MB_SENT},
        {"\\Trash", STORE_MB_TRASH},
    };
    unsigned attrs = 0;
    for (size_t i = 0; i < f->flags.n; i++)
        for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
            if (strcasecmp(f->flags.v[i], special[k].flag) == 0)
                attrs |= special[k].attr;
    return attrs;
}

/* Join a folder's message names into store_seed()'s "a.eml b.eml" form. */
static int seed_list(const profile_folder *f, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < f->messages.n; i++) {
        int k = snprintf(buf + n, cap - n, "%s%s.eml", i ? " " : "", f->messages.v[i]);
        if (k < 0 || (size_t)k >= cap - n)
            return -1;
        n += (size_t)k;
    }
    return 0;
}

static int open_store(mock *m, char *err, size_t errlen, int *env_error)
{
    store_config cfg;
    store_config_default(&cfg);
    cfg.spool = m->opt.spool_dir;
    if (store_open(&cfg, &m->st) != STORE_OK) {
        errbuf_set(err, errlen, "store: %s", m->st ? store_errmsg(m->st) : "cannot open");
        *env_error = 1;
        return -1;
    }
    char data[4096], messages[4096];
    if (paths_data_dir(data, sizeof data) < 0 ||
        paths_join(messages, sizeof messages, data, "profiles", "messages") < 0) {
        errbuf_set(err, errlen, "cannot find the data directory (set MAILRIG_DATA)");
        *env_error = 1;
        return -1;
    }
    const profile *p = m->prof;
    for (size_t i = 0; i < p->n_accounts; i++) {
        store_account *a;
        int loaded = 0;
        if (store_account_add(m->st, p->accounts[i].name, &a, &loaded) != STORE_OK)
            goto store_error;
        if (loaded)
            continue; /* the spool already has this account's mail */
        for (size_t k = 0; k < p->n_folders; k++) {
            const profile_folder *f = &p->folders[k];
            store_mailbox *mb;
            store_err e = store_mailbox_create(m->st, a, f->name, folder_attrs(f), &mb);
            if (e != STORE_OK && e != STORE_E_EXISTS)
                goto store_error;
            if (f->subscribed && store_mailbox_subscribe(m->st, a, f->name, 1) != STORE_OK)
                goto store_error;
            char list[4096];
            if (seed_list(f, list, sizeof list) != 0) {
                errbuf_set(err, errlen, "folder %s: too many seed messages", f->name);
                return -1;
            }
            if (list[0] && store_seed(m->st, a, f->name, messages, list) != STORE_OK)
                goto store_error;
        }
    }
    return 0;
store_error:
    errbuf_set(err, errlen, "store: %s", store_errmsg(m->st));
    *env_error = 1;
    return -1;
}

/* ---- TLS ------------------------------------------------------------------------------- */

static pki_variant variant_of(profile_cert c)
{
    switch (c) {
    case PROFILE_CERT_WRONG_HOST: return PKI_WRONG_HOST;
    case PROFILE_CERT_UNTRUSTED: return PKI_UNTRUSTED;
    case PROFILE_CERT_EXPIRED: return PKI_EXPIRED;
    case PROFILE_CERT_NORMAL: break;
    }
    return PKI_VALID;
}

static int needs_tls(const profile_listener *l)
{
    return l->mode == PROFILE_MODE_IMPLICIT_TLS || l->mode == PROFILE_MODE_STARTTLS;
}

static int prepare_tls(mock *m, char *err, size_t errlen, int *env_error)
{
    const profile *p = m->prof;
    const char *hosts[PKI_MAX_HOSTS];
    size_t nhosts = profile_hosts(p, hosts, PKI_MAX_HOSTS);
    if (nhosts > PKI_MAX_HOSTS) {
        errbuf_set(err, errlen, "profile %s names %zu hosts; certificates hold at most %d", p->name,
                nhosts, PKI_MAX_HOSTS);
        return -1;
    }
    char state[PKI_PATH_MAX];
    if (pki_default_state_dir(m->opt.state_dir, state, sizeof state, err, errlen) != 0) {
        *env_error = 1;
        return -1;
    }
    pki_profile_request pr = {.name = p->name, .hosts = hosts, .nhosts = nhosts};
    pki_request req = {.key_type = PKI_KEY_ECDSA_P256, .profiles = &pr, .nprofiles = 1};
    char perr[512];
    int r = pki_ensure(state, &req, &m->pki, perr, sizeof perr);
    if (r != PKI_OK) {
        errbuf_set(err, errlen, "pki: %s", perr);
        *env_error = r == PKI_ERR_ENV;
        return -1;
    }
    tls_server_config cfg = {
        .min_version = (int)p->tls.min_version,
        .max_version = (int)p->tls.max_version,
    };
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        pki_variant v = variant_of(l->cert);
        if (!needs_tls(l) || m->tls[v])
            continue;
        m->tls[v] = tls_server_ctx_from_pki(m->pki, p->name, v, &cfg, perr, sizeof perr);
        if (!m->tls[v]) {
            errbuf_set(err, errlen, "tls (%s certificate): %s", pki_variant_name(v), perr);
            *env_error = 1;
            return -1;
        }
    }
    return 0;
}

/* ---- listeners ------------------------------------------------------------------------- */

static listen_mode listen_mode_of(profile_mode m)
{
    switch (m) {
    case PROFILE_MODE_IMPLICIT_TLS: return LISTEN_IMPLICIT_TLS;
    case PROFILE_MODE_STARTTLS: return LISTEN_STARTTLS;
    case PROFILE_MODE_CLOSED: return LISTEN_CLOSED;
    case PROFILE_MODE_SILENT: return LISTEN_SILENT;
    case PROFILE_MODE_PLAIN: break;
    }
    return LISTEN_PLAIN;
}

static plaintext_answer plaintext_of(profile_on_plaintext a)
{
    return a == PROFILE_PLAINTEXT_ALERT     ? PLAINTEXT_ALERT
           : a == PROFILE_PLAINTEXT_SILENCE ? PLAINTEXT_SILENCE
                                            : PLAINTEXT_CLOSE;
}

static int start_listeners(mock *m, char *err, size_t errlen, int *env_error)
{
    const profile *p = m->prof;
    for (size_t i = 0; i < p->n_listeners; i++) {
        const profile_listener *l = &p->listeners[i];
        mock_listener *ml = &m->listeners[m->nlisteners];
        *ml = (mock_listener){m, p, l, m->st, m->opt.seed, 0};
        session_factory factory = sessions_factory(l->proto);
        if (!factory && l->mode != PROFILE_MODE_CLOSED && l->mode != PROFILE_MODE_SILENT) {
            errbuf_set(err, errlen, "listener %u: no %s session in this build", l->port,
                    profile_proto_name(l->proto));
            return -1;
        }
        int local = m->opt.port_base ? m->opt.port_base + (int)l->port : 0;
        if (local > 65535) {
            errbuf_set(err, errlen, "listener %u: port base %d puts it at %d, past 65535", l->port,
                    m->opt.port_base, local);
            return -1;
        }
        listener_spec spec = {
            .protocol = profile_proto_name(l->proto),
            .provider_port = (int)l->port,
            .host = m->opt.host,
            .port = local,
            .mode = listen_mode_of(l->mode),
            .tls = needs_tls(l) ? m->tls[variant_of(l->cert)] : NULL,
            .cert = needs_tls(l) ? profile_cert_name(l->cert) : NULL,
            .on_plaintext = plaintext_of(l->plaintext),
            /* A ClientHello on a plaintext port is always handed to the session, whose
             * parser turns it into the protocol's error reply, or silence, or a close,
             * as the profile says (profile_on_hello); the carrier only names the event. */
            .on_client_hello = HELLO_SESSION,
            .starttls_vulnerable = p->tls.starttls_vulnerable,
            .idle_timeout_s = (int)profile_service_of(p, l->proto)->idle_timeout,
            .factory = factory,
            .factory_ctx = ml,
        };
        char lerr[256];
        int port = server_listen(m->srv, &spec, lerr, sizeof lerr);
        if (port < 0) {
            errbuf_set(err, errlen, "listen %s %u: %s", spec.protocol, l->port, lerr);
            *env_error = 1;
            return -1;
        }
        ml->port = port;
        m->nlisteners++;
    }
    return 0;
}

mock *mock_start(struct event_base *base, const profile *p, const mock_options *opt, char *err,
                 size_t errlen, int *env_error)
{
    *env_error = 0;
    mock *m = calloc(1, sizeof *m);
    if (!m) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    m->prof = p;
    m->opt = opt ? *opt : mock_options_default();
    if (!m->opt.host)
        m->opt.host = "127.0.0.1";
    if (open_store(m, err, errlen, env_error) != 0 || prepare_tls(m, err, errlen, env_error) != 0)
        goto fail;
    m->srv = server_new(base, &m->opt.limits, m->opt.log, m->opt.transcript_dir, err, errlen);
    if (!m->srv || start_listeners(m, err, errlen, env_error) != 0)
        goto fail;
    return m;
fail:
    mock_free(m);
    return NULL;
}

size_t mock_listener_count(const mock *m)
{
    return m->nlisteners;
}

const mock_listener *mock_listener_at(const mock *m, size_t i)
{
    return i < m->nlisteners ? &m->listeners[i] : NULL;
}

const char *mock_ca_file(const mock *m)
{
    return m->pki ? m->pki->ca_cert : "";
}

store *mock_store(const mock *m)
{
    return m->st;
}

int mock_connection_count(const mock *m)
{
    return m->srv ? server_connection_count(m->srv) : 0;
}

void mock_free(mock *m)
{
    if (!m)
        return;
    server_free(m->srv); /* sessions go first: they hold store views and watchers */
    for (size_t i = 0; i < PKI_VARIANT_COUNT; i++)
        SSL_CTX_free(m->tls[i]);
    pki_paths_free(m->pki);
    store_close(m->st);
    free(m);
}

/* ---- reporting ------------------------------------------------------------------------- */

static const char *tls_word(profile_mode mode)
{
    return listen_mode_name(listen_mode_of(mode));
}

static json_t *listener_json(const mock_listener *ml)
{
    return json_pack("{s:s, s:i, s:s, s:i, s:s}", "protocol", profile_proto_name(ml->pl->proto),
                     "provider_port", (int)ml->pl->port, "host", ml->mock->opt.host, "port",
                     ml->port, "tls", tls_word(ml->pl->mode));
}

static json_t *account_json(const profile *p, const profile_account *a)
{
    json_t *names = json_object();
    for (int proto = 0; proto < PROFILE_PROTO_COUNT; proto++) {
        char user[320];
        profile_account_username(p, a, (profile_proto)proto, user, sizeof user);
        json_object_set_new(names, profile_proto_name((profile_proto)proto), json_string(user));
    }
    char state[128];
    profile_state_format(a->state, state, sizeof state);
    return json_pack("{s:s, s:s, s:o, s:s, s:s?, s:s?, s:s}", "name", a->name, "email", a->email,
                     "username", names, "password", a->password, "app_password", a->app_password,
                     "oauth_token", a->oauth_token, "state", state);
}

static json_t *mock_json(const mock *m)
{
    json_t *listeners = json_array(), *accounts = json_array();
    for (size_t i = 0; i < m->nlisteners; i++)
        json_array_append_new(listeners, listener_json(&m->listeners[i]));
    for (size_t i = 0; i < m->prof->n_accounts; i++)
        json_array_append_new(accounts, account_json(m->prof, &m->prof->accounts[i]));
    return json_pack("{s:s, s:s, s:o, s:o}", "profile", m->prof->name, "ca_file", mock_ca_file(m),
                     "listeners", listeners, "accounts", accounts);
}

int mock_write_ports_file(const mock *m, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
        errbuf_set(err, errlen, "%s: path too long", path);
        return -1;
    }
    json_t *j = mock_json(m);
    int r = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (r != 0 || rename(tmp, path) != 0) {
        errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void squeeze_spaces(char *s)
{
    char *o = s;
    for (; *s; s++)
        if (*s != ' ')
            *o++ = *s;
    *o = '\0';
}

void mock_print_summary(const mock *m, FILE *f)
{
    const profile *p = m->prof;
    fprintf(f, "profile %s\n", p->name);
    fprintf(f, "ca_file %s\n", mock_ca_file(m));
    for (size_t i = 0; i < m->nlisteners; i++) {
        const mock_listener *ml = &m->listeners[i];
        fprintf(f, "listener protocol=%s provider_port=%u host=%s port=%d tls=%s\n",
                profile_proto_name(ml->pl->proto), ml->pl->port, m->opt.host, ml->port,
                tls_word(ml->pl->mode));
    }
    for (size_t i = 0; i < p->n_accounts; i++) {
        const profile_account *a = &p->accounts[i];
        char state[128], user[PROFILE_PROTO_COUNT][320];
        profile_state_format(a->state, state, sizeof state);
        squeeze_spaces(state); /* "imap-disabled, not-signed-in" -> one key=value word */
        for (int proto = 0; proto < PROFILE_PROTO_COUNT; proto++)
            profile_account_username(p, a, (profile_proto)proto, user[proto], sizeof user[proto]);
        fprintf(f, "account name=%s email=%s imap_user=%s smtp_user=%s pop3_user=%s password=%s "
                   "app_password=%s state=%s\n",
                a->name, a->email, user[PROFILE_IMAP], user[PROFILE_SMTP], user[PROFILE_POP3],
                a->password, a->app_password ? a->app_password : "-", state);
    }
}
