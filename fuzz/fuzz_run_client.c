/* fuzz_run_client.c -- the scenario interpreter's client role against arbitrary server bytes.
 *
 * Input: byte 0 picks one of a fixed set of client-role scripts (SMTP with STARTTLS and AUTH,
 * IMAP with literals, continuations and captures, POP3 multi-line answers, line patterns with
 * regex captures); the rest is everything "the server" sends. The interpreter's `connect`
 * gets one end of a socketpair whose other end already holds those bytes and is shut for
 * writing (EOF after them), through run_deps.connect: no mock, no TCP, no TLS certificate
 * (starttls runs with verify=off and meets whatever bytes there are). This is the session
 * fuzz target style of STYLE.md (socketpair, ~10^3 exec/s), not a pure-parser one.
 *
 * Oracles: no crash, leak, hang (every wait is bounded by the scripts' 50 ms step timeout,
 * and EOF comes right after the data) or environment error (RUN_ERROR would mean the
 * interpreter blamed its environment for what a server sent); the account's secrets never
 * appear in the failure message or the transcript's records, whatever the server echoes; every
 * transcript line parses.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz/util.h"
#include "harness/run_internal.h"
#include "harness/scenario.h"
#include "servers/profile.h"
#include "servers/transcript.h"

#define PASSWORD "pw-secret-1"
#define APP_PASSWORD "app-secret-2"

static const char profile_text[] =
    "[profile]\nname = fuzz\n[imap]\nenabled = false\n[smtp]\nenabled = false\n"
    "[pop3]\nenabled = false\n[listener.143]\nprotocol = imap\nmode = closed\n"
    "[account.a]\nemail = user@fuzz.test\npassword = " PASSWORD "\napp_password = " APP_PASSWORD "\n";

#define HEAD(n) "scenario f" n "\nrole client\ntimeout step=50ms total=5s\n"

static const char *const scripts[] = {
    HEAD("0")
    "var plain=\"\\x00{account.email}\\x00{account.password}\"\n"
    "connect smtp 587 plain\n"
    "expect-reply 220 \"220 *\"\n"
    "send \"EHLO fuzz.test\"\n"
    "expect-reply 250 \"250-STARTTLS\" not \"250?AUTH*\" as ehlo\n"
    "send \"STARTTLS\"\n"
    "expect-reply 2xx\n"
    "starttls\n"
    "tls verify=off\n"
    "send \"AUTH PLAIN {base64:plain}\" \"MAIL FROM:<{account.email}>\"\n"
    "expect /^(?<code>[0-9]{3})[ -](?<text>.*)$/\n"
    "send \"RCPT TO:<{text}>\"\n"
    "expect-reply 25x\n"
    "send \"QUIT\"\n"
    "expect-closed\n",

    HEAD("1")
    "connect imap 143 plain\n"
    "expect-reply * OK \"* OK [CAPABILITY *\" /AUTH=(?<mech>[A-Z0-9-]+)/\n"
    "send \"a1 LOGIN {account.email} {account.app_password}\"\n"
    "expect-reply a1 OK \"a1 OK*\" as login\n"
    "send \"a2 SELECT INBOX\"\n"
    "expect-reply a2 OK /^\\* (?<n>[0-9]+) EXISTS/ not \"* BYE*\"\n"
    "send \"a3 FETCH {n} (BODY[] FLAGS)\"\n"
    "expect-reply a3 OK\n"
    "send \"a4 AUTHENTICATE {mech}\"\n"
    "expect-reply +\n"
    "send \"{base64:account.password}\"\n"
    "expect-reply a4 NO\n"
    "expect-reply * BYE\n"
    "expect-nothing 1ms\n"
    "expect-closed\n",

    HEAD("2")
    "connect pop3 110 plain\n"
    "expect-reply +OK \"+OK *\"\n"
    "send \"CAPA\"\n"
    "expect-reply +OK multiline \"SASL *\" \"STLS\"\n"
    "send \"USER {account.email}\" \"PASS {account.password}\"\n"
    "expect-reply +OK\n"
    "expect-reply -ERR \"-ERR [AUTH]*\"\n"
    "send \"AUTH PLAIN\"\n"
    "expect-reply +\n"
    "send \"{base64:account.app_password}\"\n"
    "expect-reply +OK\n"
    "send \"LIST\" \"RETR 1\"\n"
    "expect-reply +OK multiline\n"
    "expect-reply +OK multiline /^Subject: (?<subject>.*)$/i\n"
    "send \"TOP 1 {subject}\"\n"
    "expect-reply +OK multiline\n"
    "send \"STLS\"\n"
    "expect-reply +OK\n"
    "starttls\n"
    "tls verify=off\n"
    "expect-closed\n",

    HEAD("3")
    "connect imap 143 plain\n"
    "expect \"* OK*\" /^\\* OK \\[CAPABILITY (?<caps>[^]]*)\\]/ exact \"+ \" as both\n"
    "send-raw \"a1 ID {caps}\\r\\n\" \"{both}\\n\"\n"
    "expect \"a1 ?? *\" /^\\* (?<w>\\w+) (?:\\{(?<len>[0-9]+)\\})?$/\n"
    "send \"{w} {len} {account.password}\"\n"
    "expect exact \"* BYE\" as bye\n"
    "expect-nothing 1ms\n"
    "close\n",
};

enum { NSCRIPTS = sizeof scripts / sizeof scripts[0], MAX_INPUT = 64 * 1024 };

static sc_scenario *parsed[NSCRIPTS];
static profile *prof;
static char work_dir[] = "/tmp/mailrig-fuzz-run-XXXXXX";

/* What connect hands out: the server's bytes, then EOF. */
typedef struct feed {
    const uint8_t *data;
    size_t size;
    int server_fd;      /* kept open until the run ends */
} feed;

static int feed_connect(void *ctx, sc_proto proto, unsigned port, int *fd)
{
    (void)proto;
    (void)port;
    feed *f = ctx;
    if (f->server_fd >= 0)
        return -1;   /* one connection per input: a second connect is refused */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    int buf = 4 * MAX_INPUT;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    size_t off = 0;
    while (off < f->size) {
        ssize_t w = write(sv[1], f->data + off, f->size - off);
        if (w <= 0)
            break;   /* the rest does not fit: the server "sent" less */
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    f->server_fd = sv[1];
    *fd = sv[0];
    return 0;
}

/* Files of one run are removed after it, so only the (empty) directory can outlive a
 * fuzzer stopped with _exit. */
static void remove_work_files(void)
{
    static const char *const files[] = {"mailrig.tr", "transcript.log"};
    char path[sizeof work_dir + 32];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", work_dir, files[i]);
        unlink(path);
    }
}

static void remove_work_dir(void)
{
    remove_work_files();
    rmdir(work_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(mkdtemp(work_dir) != NULL);
    atexit(remove_work_dir);
    profile_diag d = {0};
    prof = profile_load_string(profile_text, sizeof profile_text - 1, "<fuzz>", NULL, &d);
    if (!prof)
        profile_diag_print(&d, stderr);
    FUZZ_CHECK(prof != NULL);
    profile_diag_free(&d);
    for (size_t i = 0; i < NSCRIPTS; i++) {
        sc_diags diags = {0};
        parsed[i] = sc_parse_mem("fuzz.scn", scripts[i], strlen(scripts[i]), NULL, &diags);
        if (!parsed[i])
            sc_diags_print(stderr, &diags);
        FUZZ_CHECK(parsed[i] != NULL);
        sc_diags_free(&diags);
    }
    return 0;
}

static int contains(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

/* The transcript must hold no secret: in the bytes of its data records (decoded: an escape
 * such as "\x9a" followed by "pp-..." only looks like a secret in the escaped text) and in
 * the text of the others. */
static void check_transcript(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    static char line[1 << 16], bytes[1 << 16];
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = '\0';
        transcript_rec rec;
        mr_error e;
        FUZZ_CHECK(transcript_parse(line, n, &rec, &e) == 0);
        const char *p = line;
        size_t len = n;
        if (rec.kind == TR_DATA_LINE || rec.kind == TR_DATA_RAW) {
            long got = transcript_unescape(&rec, bytes, sizeof bytes, &e);
            FUZZ_CHECK(got >= 0);
            p = bytes;
            len = (size_t)got;
        }
        FUZZ_CHECK(!contains(p, len, PASSWORD));
        FUZZ_CHECK(!contains(p, len, APP_PASSWORD));
    }
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!prof)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1 || size > MAX_INPUT)
        return 0;
    const sc_scenario *sc = parsed[data[0] % NSCRIPTS];
    feed f = {data + 1, size - 1, -1};
    run_deps deps = {.connect = feed_connect, .ctx = &f, .profile = prof};
    run_env env = {.work_dir = work_dir, .seed = 1};
    run_result res;
    run_verdict v = run_scenario_with(sc, &env, &deps, &res);
    if (f.server_fd >= 0)
        close(f.server_fd);
    if (v == RUN_ERROR || getenv("FUZZ_RUN_VERBOSE"))
        fprintf(stderr, "script %d: verdict %d at step %d: %s\n", data[0] % NSCRIPTS, v,
                res.failed_step, res.message);
    FUZZ_CHECK(v == RUN_PASS || v == RUN_FAIL);
    FUZZ_CHECK(!contains(res.message, strlen(res.message), PASSWORD));
    FUZZ_CHECK(!contains(res.message, strlen(res.message), APP_PASSWORD));
    check_transcript(res.transcript);
    remove_work_files();
    run_result_free(&res);
    return 0;
}
